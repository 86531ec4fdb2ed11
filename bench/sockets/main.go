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
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
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
	worker := flag.Int("worker", 0, "internal: run as a worker holding this many connections")
	workerAddr := flag.String("worker-addr", "", "internal: the worker's listening address")
	auditView := flag.Bool("audit", false, "compare `keeptune audit --no-configs -o json` with `keeptune sockets --state connected -o json` (issue 13's goal: audit <= 1.2x sockets, RSS < 64 MiB) instead of keeptune with ss")
	hold := flag.Bool("hold", false, "open the first size's sockets and hold them until Ctrl-C (for profiling by hand)")
	flag.Parse()
	if *worker > 0 {
		return workerMain(*worker, *workerAddr)
	}
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

	var counts []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return fmt.Errorf("invalid -sockets %q", f)
		}
		counts = append(counts, n)
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
		ws, err := startWorkers(ctx, counts[0]/2, max(1, *perWorker/2))
		defer ws.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench/sockets: holding %d sockets until Ctrl-C\n", counts[0])
		<-ctx.Done()
		return nil
	}
	for _, n := range counts {
		ws, err := startWorkers(ctx, n/2, max(1, *perWorker/2))
		if err != nil {
			ws.Close()
			return err
		}
		err = measure(ctx, n, len(ws.procs), comparisons(ws.port), *reps, *keeptune)
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

// workers are the processes holding the connections of one size.
type workers struct {
	procs  []*exec.Cmd
	stdins []io.Closer
	// port is one worker's listening port, for the filtered comparison.
	port string
}

// Close tells every worker to reset its connections and exit, and waits for them (killing a
// worker that does not exit within 30 s).
func (w *workers) Close() {
	if w == nil {
		return
	}
	for _, in := range w.stdins {
		in.Close()
	}
	for _, p := range w.procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	w.procs, w.stdins = nil, nil
}

// startWorkers starts enough workers to hold conns connections, at most perWorker each.
func startWorkers(ctx context.Context, conns, perWorker int) (*workers, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &workers{}
	start := time.Now()
	type ready struct {
		line string
		err  error
	}
	readyc := make(chan ready)
	n := 0
	for left, i := conns, 0; left > 0; i++ {
		c := min(left, perWorker)
		left -= c
		// 127.0.0.1 is left to the host; workers use 127.0.0.2 and up.
		if i >= 250 {
			return w, fmt.Errorf("more than 250 workers: raise -per-worker")
		}
		addr := fmt.Sprintf("127.0.0.%d:0", i+2)
		cmd := exec.Command(self, "-worker", strconv.Itoa(c), "-worker-addr", addr)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return w, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return w, err
		}
		if err := cmd.Start(); err != nil {
			return w, err
		}
		w.procs = append(w.procs, cmd)
		w.stdins = append(w.stdins, stdin)
		n++
		go func() {
			line, err := bufio.NewReader(stdout).ReadString('\n')
			readyc <- ready{line, err}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case r := <-readyc:
			f := strings.Fields(r.line)
			if r.err != nil || len(f) != 3 || f[0] != "ready" {
				return w, fmt.Errorf("a worker failed to open its connections: %q %v", r.line, r.err)
			}
			w.port = f[2]
		case <-ctx.Done():
			return w, ctx.Err()
		case <-time.After(5 * time.Minute):
			return w, errors.New("workers not ready after 5 minutes")
		}
	}
	fmt.Fprintf(os.Stderr, "bench/sockets: %d connections (%d sockets) in %d worker processes in %v\n", conns, 2*conns, n, time.Since(start).Round(time.Millisecond))
	// Let delayed ACKs settle.
	time.Sleep(time.Second)
	return w, nil
}

// workerMain opens conns connections to its own listener on addr, holds both ends, says
// "ready", and resets them all when stdin closes.
func workerMain(conns int, addr string) error {
	// Raise the soft descriptor limit to what is needed: up to the hard limit anyone may, beyond
	// it only with CAP_SYS_RESOURCE (and fs.nr_open permitting).
	need := uint64(2*conns + 64)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur < need {
		want := unix.Rlimit{Cur: need, Max: max(lim.Max, need)}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &want) != nil {
			want = unix.Rlimit{Cur: lim.Max, Max: lim.Max}
			unix.Setrlimit(unix.RLIMIT_NOFILE, &want)
		}
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < need {
		return fmt.Errorf("worker: RLIMIT_NOFILE %d is below the %d descriptors needed: lower -per-worker", lim.Cur, need)
	}
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	held := make([]*net.TCPConn, 0, 2*conns)
	closeAll := func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.SetLinger(0)
			c.Close()
		}
		held = nil
	}
	defer closeAll()
	accepted := make(chan struct{}, conns)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c.(*net.TCPConn))
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	// Dialed sockets get keepalive with the kernel's timings (2 h: no probes during the run);
	// accepted ones none, so both keepalive states are present.
	d := net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}}
	target := ln.Addr().String()
	for i := 0; i < conns; i++ {
		c, err := d.Dial("tcp4", target)
		if err != nil {
			return fmt.Errorf("connection %d to %s: %w", i, target, err)
		}
		mu.Lock()
		held = append(held, c.(*net.TCPConn))
		mu.Unlock()
	}
	for i := 0; i < conns; i++ {
		select {
		case <-accepted:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("only %d of %d connections accepted", i, conns)
		}
	}
	fmt.Printf("ready %d %d\n", conns, ln.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, os.Stdin)
	return nil
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
