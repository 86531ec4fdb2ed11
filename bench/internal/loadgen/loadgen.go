//go:build linux

// Package loadgen holds established TCP connections on loopback for the benchmarks that compare
// keeptune with a peer on the same sockets (bench/sockets against ss, bench/exporter against
// node_exporter).
//
// The connections are spread over worker processes (the benchmark's own binary started again,
// told by an environment variable that it is a worker) that each hold both ends of theirs: at
// most perWorker sockets each, so that RLIMIT_NOFILE need not exceed its hard limit (raising it
// needs CAP_SYS_RESOURCE). Each worker listens on its own 127.0.0.W address (W from 2; 127.0.0.1
// is left to the host), so no destination needs more ephemeral ports than the range holds.
// Dialed sockets have keepalive on with the kernel's timings (2 h: no probes during a run),
// accepted ones have it off, so both keepalive states are present.
//
// Cleanup: workers close every connection with SO_LINGER 0 (RST, no TIME_WAIT left behind) when
// their stdin closes, which Close does and which happens when the parent exits; a worker whose
// parent dies gets SIGKILL (PR_SET_PDEATHSIG).
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// workerEnv carries a worker's job: "CONNS ADDR PORTS".
const workerEnv = "KEEPTUNE_BENCH_WORKER"

// RunIfWorker runs the worker and exits when this process was started as one by Start; it
// returns at once otherwise. Call it first in main.
func RunIfWorker() {
	job := os.Getenv(workerEnv)
	if job == "" {
		return
	}
	var conns, ports int
	var addr string
	if _, err := fmt.Sscan(job, &conns, &addr, &ports); err != nil {
		fmt.Fprintf(os.Stderr, "worker: bad %s=%q: %v\n", workerEnv, job, err)
		os.Exit(2)
	}
	if err := work(conns, addr, ports); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ParseSizes parses a benchmark's -sockets list ("100000,200000") into socket counts (each
// connection is two sockets, so a count is at least 2).
func ParseSizes(list string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("invalid -sockets %q", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// StartLogged is Start that says on stderr, after prog, what it opened and how long it took.
func StartLogged(ctx context.Context, prog string, conns, perWorker, ports int) (*Workers, error) {
	start := time.Now()
	w, err := Start(ctx, conns, perWorker, ports)
	if err == nil {
		fmt.Fprintf(os.Stderr, "%s: %d connections (%d sockets) on %d ports in %d worker processes in %v\n",
			prog, conns, 2*conns, ports, w.Count, time.Since(start).Round(time.Millisecond))
	}
	return w, err
}

// Hold opens sockets sockets and holds them until ctx ends (a benchmark's -hold flag, for
// profiling by hand).
func Hold(ctx context.Context, prog string, sockets, perWorker, ports int) error {
	w, err := StartLogged(ctx, prog, sockets/2, perWorker, ports)
	defer w.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: holding %d sockets until Ctrl-C\n", prog, sockets)
	<-ctx.Done()
	return nil
}

// Workers are the processes holding the connections of one size.
type Workers struct {
	procs  []*exec.Cmd
	stdins []io.Closer
	// Port is one worker's first listening port, for comparisons filtered by port.
	Port string
	// Count is how many worker processes hold the connections.
	Count int
}

// Start starts enough workers to hold conns connections, at most perWorker sockets' worth
// each, accepted on ports listening ports shared out among them (at least one per worker). It
// returns when every connection is established and accepted. On error the caller still Closes
// what it got.
func Start(ctx context.Context, conns, perWorker, ports int) (*Workers, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &Workers{}
	per := max(perWorker/2, 1) // connections per worker: each is two sockets
	nw := (conns + per - 1) / per
	if nw > 250 {
		return w, errors.New("more than 250 workers: raise -per-worker")
	}
	type ready struct {
		line string
		err  error
	}
	readyc := make(chan ready, nw)
	for i := range nw {
		c := conns / nw
		if i < conns%nw {
			c++
		}
		p := ports / nw
		if i < ports%nw {
			p++
		}
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d 127.0.0.%d %d", workerEnv, c, i+2, max(p, 1)))
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
		w.Count++
		go func() {
			line, err := bufio.NewReader(stdout).ReadString('\n')
			readyc <- ready{line, err}
		}()
	}
	for range nw {
		select {
		case r := <-readyc:
			f := strings.Fields(r.line)
			if r.err != nil || len(f) != 3 || f[0] != "ready" {
				return w, fmt.Errorf("a worker failed to open its connections: %q %v", r.line, r.err)
			}
			w.Port = f[2]
		case <-ctx.Done():
			return w, ctx.Err()
		case <-time.After(5 * time.Minute):
			return w, errors.New("workers not ready after 5 minutes")
		}
	}
	time.Sleep(time.Second) // let delayed ACKs settle
	return w, nil
}

// Close tells every worker to reset its connections and exit, and waits for them (killing a
// worker that does not exit within 30 s).
func (w *Workers) Close() {
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

// work listens on nports ports of addr, opens conns connections spread over them, holds both
// ends, says "ready CONNS PORT", and resets them all when stdin closes.
func work(conns int, addr string, nports int) error {
	// Raise the soft descriptor limit to what is needed: up to the hard limit anyone may, beyond
	// it only with CAP_SYS_RESOURCE (and fs.nr_open permitting).
	need := uint64(2*conns + nports + 64)
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
		return fmt.Errorf("RLIMIT_NOFILE %d is below the %d descriptors needed: lower -per-worker", lim.Cur, need)
	}
	var mu sync.Mutex
	held := make([]*net.TCPConn, 0, 2*conns)
	var lns []net.Listener
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lns {
			l.Close()
		}
		for _, c := range held {
			c.SetLinger(0)
			c.Close()
		}
		held = nil
	}
	defer closeAll()
	accepted := make(chan struct{}, conns)
	for range nports {
		ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", addr+":0")
		if err != nil {
			return err
		}
		mu.Lock()
		lns = append(lns, ln)
		mu.Unlock()
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
	}
	d := net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}}
	for i := range conns {
		target := lns[i%len(lns)].Addr().String()
		c, err := d.Dial("tcp4", target)
		if err != nil {
			return fmt.Errorf("connection %d to %s: %w", i, target, err)
		}
		mu.Lock()
		held = append(held, c.(*net.TCPConn))
		mu.Unlock()
	}
	for i := range conns {
		select {
		case <-accepted:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("only %d of %d connections accepted", i, conns)
		}
	}
	fmt.Printf("ready %d %s\n", conns, strconv.Itoa(lns[0].Addr().(*net.TCPAddr).Port))
	io.Copy(io.Discard, os.Stdin)
	return nil
}
