//go:build linux

// Command sockets benchmarks `keeptune sockets` against ss(8) on the same sockets in one run.
//
// It opens N established TCP sockets on loopback (N/2 connections), spread over worker
// processes that each hold both ends of their connections (at most -per-worker sockets each, so
// that RLIMIT_NOFILE need not exceed its hard limit: raising it needs CAP_SYS_RESOURCE), then
// times each pair of commands several times, alternating them, and prints the medians, the
// ratios and the peak RSS (from /usr/bin/time) as Markdown for docs/PERFORMANCE.md. Only
// loopback is used: each worker listens on its own 127.0.0.W address, so no destination needs
// more ephemeral ports than the range holds.
//
// Cleanup: workers close every connection with SO_LINGER 0 (RST, no TIME_WAIT left behind) when
// their stdin closes, which the parent does on exit, on error and on Ctrl-C; a worker whose
// parent dies gets SIGKILL (PR_SET_PDEATHSIG), and commands still running are killed.
//
// Run it as root (ss -p and keeptune see every process then):
//
//	go build -o /tmp/keeptune ./cmd/keeptune
//	sudo go run ./bench/sockets -keeptune /tmp/keeptune -sockets 100000,200000 -reps 7
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keeptune/keeptune/bench/internal/loadgen"
)

func main() {
	loadgen.RunIfWorker()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sockets:", err)
		os.Exit(1)
	}
}

type comparison struct {
	name, goal string
	goalRatio  float64 // 0: no ratio goal
	ss, kt     []string
}

func run() error {
	keeptune := flag.String("keeptune", "./keeptune", "keeptune binary to time")
	sizes := flag.String("sockets", "100000,200000", "socket counts to test (each connection is 2 sockets)")
	reps := flag.Int("reps", 7, "repetitions of each command (the median is reported)")
	perWorker := flag.Int("per-worker", 18000, "sockets held by one worker process (below its RLIMIT_NOFILE hard limit)")
	auditView := flag.Bool("audit", false, "compare `keeptune audit --no-configs -o json` with `keeptune sockets --state connected -o json` (issue 13's goal: audit <= 1.2x sockets, RSS < 64 MiB) instead of keeptune with ss")
	hold := flag.Bool("hold", false, "open the first size's sockets and hold them until Ctrl-C (for profiling by hand)")
	flag.Parse()
	if _, err := exec.LookPath("ss"); err != nil {
		return errors.New("ss not found: apt-get install -y iproute2")
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return errors.New("/usr/bin/time not found (it measures peak RSS): apt-get install -y time")
	}
	if _, err := os.Stat(*keeptune); err != nil {
		return fmt.Errorf("keeptune binary: %w (build it: go build -o /tmp/keeptune ./cmd/keeptune)", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	counts, err := loadgen.ParseSizes(*sizes)
	if err != nil {
		return err
	}

	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("<!-- bench/sockets: %s, kernel %s, %d CPUs, ss %s, %s -->\n\n", time.Now().UTC().Format(time.RFC3339),
		strings.TrimSpace(string(kernel)), runtime.NumCPU(), ssVersion(), runtime.Version())

	comparisons := func(port string) []comparison {
		return []comparison{
			{name: "headers only", goal: "-", ss: []string{"ss", "-tan"}, kt: []string{*keeptune, "sockets", "--no-info", "--no-processes"}},
			{name: "with tcp_info", goal: "<= 1.0", goalRatio: 1.0, ss: []string{"ss", "-tin"}, kt: []string{*keeptune, "sockets", "--state", "connected", "--no-processes"}},
			{name: "with processes", goal: "<= 0.5", goalRatio: 0.5, ss: []string{"ss", "-tinp"}, kt: []string{*keeptune, "sockets", "--state", "connected"}},
			{name: "JSON Lines, with processes", goal: "RSS <= 64 MiB", ss: []string{"ss", "-tinp"}, kt: []string{*keeptune, "sockets", "--state", "connected", "-o", "json"}},
			{name: "one listening port, with processes", goal: "-", ss: []string{"ss", "-tinp", "( sport = :" + port + " )"}, kt: []string{*keeptune, "sockets", "--sport", port}},
		}
	}

	if *auditView {
		// The baseline column holds keeptune sockets: the same socket table and process walk
		// that audit reads, without the host facts and rules.
		comparisons = func(string) []comparison {
			return []comparison{{name: "audit vs sockets (JSON, processes)", goal: "<= 1.2, RSS < 64 MiB", goalRatio: 1.2,
				ss: []string{*keeptune, "sockets", "--state", "connected", "-o", "json"},
				kt: []string{*keeptune, "audit", "--no-configs", "-o", "json", "--fail-on", "none"}}}
		}
	}
	if *hold {
		return loadgen.Hold(ctx, "bench/sockets", counts[0], *perWorker, 1)
	}
	for _, n := range counts {
		ws, err := loadgen.StartLogged(ctx, "bench/sockets", n/2, *perWorker, 1)
		if err != nil {
			ws.Close()
			return err
		}
		err = measure(ctx, n, ws.Count, comparisons(ws.Port), *reps, *keeptune)
		ws.Close()
		if err != nil {
			return err
		}
		// Let the resets settle before the next size.
		time.Sleep(2 * time.Second)
	}
	return nil
}

func ssVersion() string {
	out, _ := exec.Command("ss", "-V").Output()
	return strings.TrimSpace(strings.TrimPrefix(string(out), "ss utility, "))
}

type result struct {
	wall   time.Duration
	maxRSS int64 // KiB
}

// runOnce runs argv with stdout to /dev/null under /usr/bin/time and returns its wall time and
// peak RSS. The RSS comes from time(1), not from this process's wait4: Go starts children with
// vfork semantics, and the kernel carries the pre-exec memory (this process's) into the child's
// maxrss, which would hide the command's own peak.
func runOnce(ctx context.Context, argv []string) (result, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer null.Close()
	tf, err := os.CreateTemp("", "bench-sockets-time-*")
	if err != nil {
		return result{}, err
	}
	tf.Close()
	defer os.Remove(tf.Name())
	args := append([]string{"-f", "%M", "-o", tf.Name()}, argv...)
	cmd := exec.CommandContext(ctx, "/usr/bin/time", args...)
	cmd.Stdout = null
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr.String())
	}
	wall := time.Since(start)
	b, err := os.ReadFile(tf.Name())
	if err != nil {
		return result{}, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return result{}, fmt.Errorf("no output from /usr/bin/time for %s", strings.Join(argv, " "))
	}
	kib, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		return result{}, fmt.Errorf("/usr/bin/time said %q", b)
	}
	return result{wall: wall, maxRSS: kib}, nil
}

func median(rs []result) (time.Duration, int64) {
	ws := make([]time.Duration, len(rs))
	ms := make([]int64, len(rs))
	for i, r := range rs {
		ws[i], ms[i] = r.wall, r.maxRSS
	}
	slices.Sort(ws)
	return ws[len(ws)/2], slices.Max(ms)
}

// countLines runs argv and counts its output lines (a check, not timed).
func countLines(ctx context.Context, argv []string) (int, error) {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return bytes.Count(out, []byte("\n")), nil
}

func measure(ctx context.Context, n, nworkers int, comparisons []comparison, reps int, keeptune string) error {
	// Check first that both see the sockets.
	ssLines, err := countLines(ctx, []string{"ss", "-tanH"})
	if err != nil {
		return err
	}
	ktLines, err := countLines(ctx, []string{keeptune, "sockets", "--no-info", "--no-processes", "--no-header"})
	if err != nil {
		return err
	}
	fmt.Printf("### %d sockets\n\n", n)
	fmt.Printf("Sockets seen: ss -tan %d, keeptune %d (the %d opened, held by %d worker processes, plus the host's own).\n\n", ssLines, ktLines, n, nworkers)
	fmt.Println("| view | ss command | ss median | keeptune command | keeptune median | ratio | goal | ss peak RSS | keeptune peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, c := range comparisons {
		var ssR, ktR []result
		for i := 0; i < reps; i++ {
			// Alternate, so that neither always runs on a warm cache.
			for j, pick := range [][]string{c.ss, c.kt} {
				r, err := runOnce(ctx, pick)
				if err != nil {
					return err
				}
				if j == 0 {
					ssR = append(ssR, r)
				} else {
					ktR = append(ktR, r)
				}
			}
		}
		ssW, ssM := median(ssR)
		ktW, ktM := median(ktR)
		ratio := float64(ktW) / float64(ssW)
		goal := c.goal
		switch {
		case c.goalRatio > 0 && ratio <= c.goalRatio:
			goal += " (met)"
		case c.goalRatio > 0:
			goal += " (**missed**)"
		case strings.HasPrefix(c.goal, "RSS"):
			if ktM <= 64<<10 {
				goal += " (met)"
			} else {
				goal += " (**missed**)"
			}
		}
		fmt.Printf("| %s | `%s` | %s | `%s` | %s | %.2f | %s | %.1f MiB | %.1f MiB |\n", c.name,
			displayCmd(c.ss, keeptune), ms(ssW), displayCmd(c.kt, keeptune), ms(ktW), ratio, goal, float64(ssM)/1024, float64(ktM)/1024)
	}
	fmt.Println()
	// What the process walk did, for the record.
	cmd := exec.CommandContext(ctx, keeptune, "sockets", "--state", "connected", "-o", "json", "--stats")
	var stderr bytes.Buffer
	null, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	cmd.Stdout, cmd.Stderr = null, &stderr
	if err := cmd.Run(); err == nil {
		fmt.Printf("`keeptune sockets --state connected -o json --stats` said:\n\n```\n%s```\n\n", stderr.String())
	}
	null.Close()
	return nil
}

// displayCmd shows a command as a shell would take it, with the keeptune binary as "keeptune".
func displayCmd(argv []string, keeptune string) string {
	out := slices.Clone(argv)
	if out[0] == keeptune {
		out[0] = "keeptune"
	}
	for i, a := range out {
		if strings.ContainsAny(a, " ()") {
			out[i] = "'" + a + "'"
		}
	}
	return strings.Join(out, " ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
