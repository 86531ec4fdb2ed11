//go:build linux

// Command exporter benchmarks a scrape of `keeptune exporter` against a scrape of the real
// node_exporter (Debian's prometheus-node-exporter, tcpstat collector on) on the same sockets
// in one run.
//
// It opens N established TCP sockets on loopback (N/2 connections) accepted on P listening
// ports, spread over worker processes that each hold both ends of their connections (at most
// -per-worker sockets each, below the RLIMIT_NOFILE hard limit of 20,000 on the machines this
// ran on: raising it needs CAP_SYS_RESOURCE). Then it starts keeptune's exporter and two
// node_exporters (the default collectors plus tcpstat, as users run it; and tcpstat alone),
// scrapes each several times, alternating, and prints the median scrape times, the ratio, each
// exporter's peak RSS (VmHWM) and the number of series as Markdown for docs/PERFORMANCE.md.
//
// Cleanup: workers reset every connection (SO_LINGER 0, no TIME_WAIT left) when their stdin
// closes, which the parent does on exit, on error and on Ctrl-C; workers and exporters get
// SIGKILL if the parent dies (PR_SET_PDEATHSIG).
//
// Run it as root (both exporters then see every process):
//
//	go build -o /tmp/keeptune ./cmd/keeptune
//	sudo go run ./bench/exporter -keeptune /tmp/keeptune -sockets 20000,200000 -ports 1000 -reps 7
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
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
		fmt.Fprintln(os.Stderr, "bench/exporter:", err)
		os.Exit(1)
	}
}

func run() error {
	keeptune := flag.String("keeptune", "./keeptune", "keeptune binary")
	nodeExporter := flag.String("node-exporter", "prometheus-node-exporter", "node_exporter binary")
	sizes := flag.String("sockets", "20000,200000", "socket counts (each connection is 2 sockets)")
	ports := flag.Int("ports", 1000, "listening ports the connections are accepted on")
	reps := flag.Int("reps", 7, "scrapes of each exporter (the median is reported)")
	perWorker := flag.Int("per-worker", 18000, "sockets held by one worker process (below its RLIMIT_NOFILE hard limit)")
	hold := flag.Bool("hold", false, "open the first size's sockets and hold them until Ctrl-C (for profiling by hand)")
	flag.Parse()
	for _, bin := range []string{*keeptune, *nodeExporter} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s: %w (go build -o /tmp/keeptune ./cmd/keeptune; apt-get install prometheus-node-exporter)", bin, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	counts, err := loadgen.ParseSizes(*sizes)
	if err != nil {
		return err
	}
	if *hold {
		return loadgen.Hold(ctx, "bench/exporter", counts[0], *perWorker, *ports)
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	neVersion, _ := exec.Command(*nodeExporter, "--version").CombinedOutput()
	fmt.Printf("<!-- bench/exporter: %s, kernel %s, %d CPUs, %s, %s -->\n\n", time.Now().UTC().Format(time.RFC3339),
		strings.TrimSpace(string(kernel)), runtime.NumCPU(), firstLine(string(neVersion)), runtime.Version())
	fmt.Println("| sockets | listening ports | exporter | command | median scrape | keeptune's / this | CPU per scrape | peak RSS | series |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, n := range counts {
		conns := n / 2
		ws, err := loadgen.StartLogged(ctx, "bench/exporter", conns, *perWorker, *ports)
		if err != nil {
			ws.Close()
			return err
		}
		err = measure(ctx, n, *ports, *reps, *keeptune, *nodeExporter)
		ws.Close()
		if err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
	}
	return nil
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// server is one exporter process under test.
type server struct {
	name string
	argv []string
	addr string
	cmd  *exec.Cmd
	cold time.Duration
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the exporter and waits for its first good scrape, whose duration it keeps: for
// keeptune that is the cold scrape (no process is known yet, every descriptor is read).
func (s *server) start(ctx context.Context) error {
	s.cmd = exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// Wait for the port first, so that the first scrape timed is a whole one.
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			d, _, err := s.scrape()
			if err != nil {
				return err
			}
			s.cold = d
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not serve on %s", s.name, s.addr)
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// scrape fetches /metrics and returns its duration and body.
func (s *server) scrape() (time.Duration, []byte, error) {
	start := time.Now()
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	d := time.Since(start)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("%s: %s", s.name, resp.Status)
	}
	return d, b, err
}

// peakRSS is the process's VmHWM in KiB.
func (s *server) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// cpu is the process's user and system time so far.
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): utime is the 14th field of the
	// line, stime the 15th, in clock ticks (USER_HZ, 100 on Linux).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// series counts the samples of a scrape whose names start with one of the prefixes.
func series(body []byte, prefixes ...string) int {
	n := 0
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				n++
				break
			}
		}
	}
	return n
}

func measure(ctx context.Context, n, ports, reps int, keeptune, nodeExporter string) error {
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	add := func(name string, argv func(addr string) []string) error {
		addr, err := freePort()
		if err != nil {
			return err
		}
		s := &server{name: name, argv: argv(addr), addr: addr}
		servers = append(servers, s)
		return s.start(ctx)
	}
	if err := add("keeptune", func(a string) []string {
		return []string{keeptune, "exporter", "--listen", a, "--audit-interval", "0"}
	}); err != nil {
		return err
	}
	if err := add("node_exporter", func(a string) []string {
		return []string{nodeExporter, "--web.listen-address=" + a, "--collector.tcpstat"}
	}); err != nil {
		return err
	}
	if err := add("node_exporter (tcpstat only)", func(a string) []string {
		return []string{nodeExporter, "--web.listen-address=" + a, "--collector.disable-defaults", "--collector.tcpstat"}
	}); err != nil {
		return err
	}
	times := make([][]time.Duration, len(servers))
	bodies := make([][]byte, len(servers))
	cpu0 := make([]time.Duration, len(servers))
	for j, s := range servers {
		cpu0[j] = s.cpu()
	}
	for i := 0; i < reps; i++ {
		for j, s := range servers {
			d, b, err := s.scrape()
			if err != nil {
				return err
			}
			times[j] = append(times[j], d)
			bodies[j] = b
		}
	}
	med := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	kt := med(times[0])
	scanned := ""
	for _, l := range strings.Split(string(bodies[0]), "\n") {
		if strings.HasPrefix(l, "keeptune_exporter_sockets_scanned ") {
			scanned = strings.TrimPrefix(l, "keeptune_exporter_sockets_scanned ")
		}
	}
	for j, s := range servers {
		m := med(times[j])
		var count int
		if j == 0 {
			count = series(bodies[j], "keeptune_")
		} else {
			count = series(bodies[j], "node_tcp_connection_states")
		}
		what := "keeptune_"
		if j > 0 {
			what = "node_tcp_connection_states"
		}
		ratio := "-"
		if j > 0 {
			ratio = fmt.Sprintf("%.2f", float64(kt)/float64(m))
		}
		cmd := strings.Join(append([]string{"keeptune"}, s.argv[1:]...), " ")
		if j > 0 {
			cmd = strings.Join(append([]string{"prometheus-node-exporter"}, s.argv[1:]...), " ")
		}
		cpuPer := (s.cpu() - cpu0[j]) / time.Duration(reps)
		fmt.Printf("| %d | %d | %s | `%s` | %.0f ms | %s | %.0f ms | %.1f MiB | %d %s |\n", n, ports, s.name, cmd,
			float64(m)/float64(time.Millisecond), ratio, float64(cpuPer)/float64(time.Millisecond), float64(s.peakRSS())/1024, count, what)
	}
	fmt.Printf("\n%d sockets: keeptune's first scrape (every process's descriptors read, no owner cached yet) took %.0f ms; keeptune_exporter_sockets_scanned %s.\n\n",
		n, float64(servers[0].cold)/float64(time.Millisecond), scanned)
	return nil
}
