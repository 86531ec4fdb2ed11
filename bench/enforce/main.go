//go:build linux

// Command enforce measures what `keeptune enforce` costs: loopback connections per second
// (connect, accept, close) made by a program inside a cgroup, with the policy attached and
// without it, in the same run.
//
// It creates a throw-away cgroup and a private bpffs (enforce.Sandbox: the host's /sys/fs/bpf is
// not touched) and starts one worker (this binary, -worker) in the cgroup: a program that never
// sets keepalive, one thread of blocking system calls making connections to its own loopback
// listener (socket, connect, accept4, close; the accepted end closes first with SO_LINGER 0, so
// that no TIME_WAIT piles up over a million connections). Rounds come in pairs: the policy
// attached (the sock_ops program acting on both ends of every connection, and in force mode the
// setsockopt guard, which sees the SO_LINGER call), then nothing attached (detaching the last
// policy unloads everything). The median of the pairs' ratios cancels load that drifts over the
// run; every attached round checks in the counters that the program acted and no
// bpf_setsockopt failed. -rt gives the worker SCHED_FIFO on the last CPU, so that other load on
// a shared machine hardly reaches it.
//
// Run it as root:
//
//	go run ./bench/enforce -rounds 40 -round 250ms -rt -mode default
//	go run ./bench/enforce -rounds 40 -round 250ms -rt -mode force
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/enforce"
)

func main() {
	worker := flag.Bool("worker", false, "run as the worker (internal)")
	rounds := flag.Int("rounds", 10, "rounds per side (attached, not attached), alternating")
	round := flag.Duration("round", 2*time.Second, "length of one round")
	rt := flag.Bool("rt", false, "run the worker with SCHED_FIFO priority 10 on the last CPU, with one OS thread: other load on a shared machine then hardly reaches it (it takes that CPU for the run)")
	bpfStats := flag.Bool("bpf-stats", false, "also report the programs' run time from the kernel's BPF statistics (adds a little cost to every run)")
	side := flag.String("side", "both", "policy side: both (both ends of every connection are in the cgroup: the worst case), accept or connect (one end)")
	mode := flag.String("mode", "force", "policy mode: force (sock_ops program and setsockopt guard) or default (sock_ops only)")
	flag.Parse()
	var err error
	if *worker {
		err = runWorker(*rt)
	} else {
		err = run(*rounds, *round, enforce.Mode(*mode), enforce.Side(*side), *bpfStats, *rt)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/enforce:", err)
		os.Exit(1)
	}
}

// runWorker reads round lengths from stdin and answers each with the connections made. It is a
// program that never sets keepalive: one thread of plain blocking system calls (socket,
// connect, accept4, close; on loopback the handshake completes inside connect), closing the
// accepted end first with SO_LINGER 0 so that no TIME_WAIT piles up.
func runWorker(rt bool) error {
	runtime.LockOSThread()
	if rt {
		var set unix.CPUSet
		set.Set(runtime.NumCPU() - 1)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return err
		}
		if err := schedFIFO(10); err != nil {
			return fmt.Errorf("SCHED_FIFO: %w", err)
		}
	}
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return err
	}
	if err := unix.Listen(lfd, 1024); err != nil {
		return err
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		return err
	}
	linger := &unix.Linger{Onoff: 1, Linger: 0}
	one := func() error {
		cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(cfd)
		if err := unix.Connect(cfd, sa); err != nil {
			return err
		}
		afd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			return err
		}
		unix.SetsockoptLinger(afd, unix.SOL_SOCKET, unix.SO_LINGER, linger)
		return unix.Close(afd)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		d, err := time.ParseDuration(in.Text())
		if err != nil {
			return err
		}
		n := 0
		for deadline := time.Now().Add(d); time.Now().Before(deadline); n++ {
			if err := one(); err != nil {
				return err
			}
		}
		fmt.Println(n)
	}
	return in.Err()
}

func run(rounds int, round time.Duration, mode enforce.Mode, side enforce.Side, bpfStats, rt bool) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root (BPF programs, cgroups)")
	}
	sb, err := enforce.NewSandbox("keeptune-bench")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := sb.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	w, err := startWorker(sb.Dir, rt)
	if err != nil {
		return err
	}
	defer w.stop()
	pol := enforce.Policy{Idle: 60 * time.Second, Interval: 10 * time.Second, Probes: 6, UserTimeout: 2 * time.Minute, Side: side, Mode: mode}
	if err := pol.Validate(); err != nil {
		return err
	}
	if bpfStats {
		// The kernel's run-time statistics of BPF programs (BPF_ENABLE_STATS, held only while
		// this runs). They add two clock reads to every program run, so they are off unless asked.
		stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			return fmt.Errorf("enabling BPF run-time statistics: %w", err)
		}
		defer stats.Close()
	}
	progTime, progRuns := map[string]time.Duration{}, map[string]uint64{}
	measure := func() (float64, error) {
		fmt.Fprintln(w.stdin, round)
		if !w.out.Scan() {
			return 0, fmt.Errorf("worker: %v", w.out.Err())
		}
		n, err := strconv.ParseInt(w.out.Text(), 10, 64)
		return float64(n) / round.Seconds(), err
	}
	if _, err := measure(); err != nil { // warm up
		return err
	}
	var with, without, ratios []float64
	var touched uint64
	for i := 0; i < rounds; i++ {
		select {
		case <-sig:
			return errors.New("interrupted")
		default:
		}
		if err := sb.Enforcer.Apply(sb.Target, pol); err != nil {
			return err
		}
		a, err := measure()
		if err != nil {
			return err
		}
		st, err := sb.Enforcer.Status()
		if err != nil {
			return err
		}
		c := st.Entries[0].Counters
		if len(st.Entries) != 1 || (side != enforce.SideAccept && c.Connect == 0) || (side != enforce.SideConnect && c.Accept == 0) || c.Errors != 0 {
			return fmt.Errorf("round %d: the program did not act on every connection: %+v", i, st.Entries)
		}
		touched += st.Entries[0].Counters.Connect + st.Entries[0].Counters.Accept
		if bpfStats {
			for _, name := range []string{"keeptune_ops", "keeptune_guard"} {
				p, err := ebpf.LoadPinnedProgram(filepath.Join(sb.Enforcer.PinDir(), name), nil)
				if err != nil {
					return err
				}
				ps, err := p.Stats()
				p.Close()
				if err != nil {
					return err
				}
				progTime[name] += ps.Runtime
				progRuns[name] += ps.RunCount
			}
		}
		// Detaching the last policy unloads everything: the next round runs with nothing.
		if _, err := sb.Enforcer.Detach(nil); err != nil {
			return err
		}
		b, err := measure()
		if err != nil {
			return err
		}
		with, without, ratios = append(with, a), append(without, b), append(ratios, a/b)
	}
	var u unix.Utsname
	unix.Uname(&u)
	sched := "normal scheduling"
	if rt {
		sched = "worker SCHED_FIFO on one CPU"
	}
	fmt.Printf("kernel %s; %d pairs of %s rounds (policy attached, mode %s, side %s; then nothing attached); %s; %d sockets given the policy\n\n",
		unix.ByteSliceToString(u.Release[:]), rounds, round, mode, side, sched, touched)
	fmt.Printf("| attached (median) | not attached (median) | median of the pairs' ratios | ratios, 10th-90th percentile |\n|---|---|---|---|\n")
	fmt.Printf("| %.0f conn/s | %.0f conn/s | %.3f | %.3f-%.3f |\n", median(with), median(without), median(ratios), percentile(ratios, 0.1), percentile(ratios, 0.9))
	if bpfStats {
		connsTouched := float64(touched)
		if side == enforce.SideBoth {
			connsTouched /= 2
		}
		fmt.Printf("\nBPF run time (kernel statistics): keeptune_ops %d runs, %.0f ns per run; keeptune_guard %d runs, %.0f ns per run; %.0f ns of BPF per connection (both ends)\n",
			progRuns["keeptune_ops"], perRun(progTime["keeptune_ops"], progRuns["keeptune_ops"]),
			progRuns["keeptune_guard"], perRun(progTime["keeptune_guard"], progRuns["keeptune_guard"]),
			float64(progTime["keeptune_ops"]+progTime["keeptune_guard"])/connsTouched)
	}
	return nil
}

type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startWorker starts this binary as a worker inside the cgroup dir (clone3 CLONE_INTO_CGROUP).
func startWorker(dir string, rt bool) (*worker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	w := &worker{cmd: exec.Command(self, "-worker", "-rt="+strconv.FormatBool(rt))}
	w.cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Pdeathsig: syscall.SIGKILL}
	w.cmd.Stderr = os.Stderr
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w.out = bufio.NewScanner(stdout)
	return w, w.cmd.Start()
}

func (w *worker) stop() {
	w.stdin.Close()
	w.cmd.Process.Kill()
	w.cmd.Wait()
}

// schedFIFO makes the whole process SCHED_FIFO at prio (sched_setscheduler on pid 0 covers the
// calling thread; GOMAXPROCS 1 keeps the Go code on it).
func schedFIFO(prio int) error {
	param := struct{ prio int32 }{int32(prio)}
	_, _, errno := unix.Syscall(unix.SYS_SCHED_SETSCHEDULER, 0, 1 /* SCHED_FIFO */, uintptr(unsafe.Pointer(&param)))
	if errno != 0 {
		return errno
	}
	return nil
}

func percentile(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

func perRun(d time.Duration, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(n)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(v []float64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(parts, " ")
}
