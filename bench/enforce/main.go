//go:build linux

// Command enforce measures what `keeptune enforce` costs: loopback connections per second
// (connect, accept, close) made by a program inside a cgroup, with the policy attached and
// without it, in the same run.
//
// It creates a throw-away cgroup and a private bpffs (enforce.Sandbox: the host's /sys/fs/bpf is
// not touched) and starts one worker (this binary, -worker) in the cgroup: a program that never
// sets keepalive, one thread of blocking system calls making connections to its own loopback
// listener (socket, connect, accept4, close; the accepted end closes first with SO_LINGER 0, inherited from the listener, so
// that no TIME_WAIT piles up over a million connections). -ends says which ends of every
// connection are in the enforced cgroup: the worker makes its listener in one cgroup and its
// connections from another (server: a service whose clients are elsewhere; client; both: a
// program connecting to itself; none: what a policy costs the host's other connections). Rounds
// come in pairs: the policy attached (the sock_ops program, and in force mode the setsockopt
// guard, which sees no setsockopt in this unit: -unit setsockopt measures it) and nothing attached (the links removed: the kernel's
// cgroup hooks run no BPF; the programs stay loaded, so that attaching again takes well under a
// millisecond and rounds can be short), the pairs alternating which comes first. The median of
// the pairs' ratios cancels load that drifts over the run; every attached round checks in the
// counters that the program acted on the enforced ends only and no bpf_setsockopt failed. -rt gives the worker SCHED_FIFO on the last
// CPU, so that other load on a shared machine hardly reaches it, and -gap keeps it under the
// kernel's RT throttling; the worker reports how long it waited runnable in each round.
// -with noop|count-ops|app and -unit setsockopt are the controls docs/PERFORMANCE.md uses to
// find where the cost is.
//
// Run it as root:
//
//	go run ./bench/enforce -rounds 800 -round 40ms -gap 10ms -rt -mode default -side both -ends server
//	go run ./bench/enforce -rounds 800 -round 40ms -gap 10ms -rt -with noop -ends both
//	go run ./bench/enforce -rounds 40 -round 200ms -rt -mode force -unit setsockopt
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
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/enforce"
)

func main() {
	worker := flag.Bool("worker", false, "run as the worker (internal)")
	listenIn := flag.String("listen-cgroup", "", "worker: the cgroup to create the listener in (internal)")
	connectIn := flag.String("connect-cgroup", "", "worker: the cgroup to open connections from (internal)")
	ends := flag.String("ends", "both", "which ends of every connection are in the enforced cgroup: server (the listener and the connections it accepts; the clients are in another cgroup, as when a service is enforced), client (the connecting sockets; the listener is in another cgroup), both (a program connecting to itself: every connection pays twice), or none (both ends in another cgroup: what an enforced policy costs the host's other connections)")
	rounds := flag.Int("rounds", 10, "rounds per side (attached, not attached), alternating")
	round := flag.Duration("round", 2*time.Second, "length of one round")
	rt := flag.Bool("rt", false, "run the worker's measuring thread with SCHED_FIFO priority 10 on the last CPU: other load on a shared machine then hardly reaches it (it takes that CPU for the run)")
	bpfStats := flag.Bool("bpf-stats", false, "also report the programs' run time from the kernel's BPF statistics (adds a little cost to every run)")
	side := flag.String("side", "both", "policy side: both (both ends of every connection are in the cgroup: the worst case), accept or connect (one end)")
	mode := flag.String("mode", "force", "policy mode: force (sock_ops program and setsockopt guard) or default (sock_ops only)")
	gap := flag.Duration("gap", 100*time.Millisecond, "idle time before every round; with -rt it keeps the worker under the kernel's SCHED_FIFO budget of 950 ms per second (kernel.sched_rt_runtime_us), which would otherwise cut into rounds (the worker's wait time shows it)")
	idle := flag.Duration("idle", benchPolicy.Idle, "the policy's TCP_KEEPIDLE (0: not set)")
	intvl := flag.Duration("intvl", benchPolicy.Interval, "the policy's TCP_KEEPINTVL (0: not set)")
	probes := flag.Int("probes", benchPolicy.Probes, "the policy's TCP_KEEPCNT (0: not set)")
	userTimeout := flag.Duration("user-timeout", benchPolicy.UserTimeout, "the policy's TCP_USER_TIMEOUT (0: not set)")
	unit := flag.String("unit", "connection", "what the worker repeats: connection (socket, connect, accept, close) or setsockopt (TCP_NODELAY on one connected socket: what the force mode's guard costs every setsockopt call)")
	with := flag.String("with", "policy", "what the attached rounds have: policy (keeptune's), noop (a sock_ops program that does nothing: the kernel hook's own cost), count-ops (a sock_ops program counting the callbacks per connection) or app (nothing attached, the worker sets the same keepalive values itself)")
	flag.Parse()
	benchPolicy = enforce.Policy{Idle: *idle, Interval: *intvl, Probes: *probes, UserTimeout: *userTimeout}
	var err error
	if *worker {
		err = runWorker(*rt, *listenIn, *connectIn)
	} else {
		switch *with {
		case "policy", "noop", "count-ops", "app":
			plain = *unit
			switch *ends {
			case "both", "server", "client", "none":
				err = run(*rounds, *round, *gap, enforce.Mode(*mode), enforce.Side(*side), *ends, *with, *bpfStats, *rt)
			default:
				err = fmt.Errorf("-ends %q: want both, server, client or none", *ends)
			}
		default:
			err = fmt.Errorf("-with %q: want policy, noop, count-ops or app", *with)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/enforce:", err)
		os.Exit(1)
	}
}

// runWorker reads round lengths from stdin and answers each with the connections made. It is a
// program that never sets keepalive: one thread of plain blocking system calls (socket,
// connect, accept4, close; on loopback the handshake completes inside connect), closing the
// accepted end first with SO_LINGER 0 (set once on the listener) so that no TIME_WAIT piles up.
//
// A socket belongs to the cgroup of the process that created it, and an accepted socket to its
// listener's: the worker creates its listener in listenIn and then moves to connectIn, so that
// one thread makes connections whose two ends are in different cgroups (-ends server or client)
// without a second process and the context switches it would add to every connection.
func runWorker(rt bool, listenIn, connectIn string) error {
	runtime.LockOSThread()
	if err := joinCgroup(listenIn); err != nil {
		return err
	}
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	if err := joinCgroup(connectIn); err != nil {
		return err
	}
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
	// SO_LINGER 0 on the listener, which every accepted socket inherits (sk_clone_lock copies
	// the socket): the accepted end's close sends a reset and leaves no TIME_WAIT, without a
	// setsockopt(2) per connection, so that the unit is socket, connect, accept and close only.
	if err := unix.SetsockoptLinger(lfd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return err
	}
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
	// app: the worker turns keepalive on itself, on the ends in the enforced cgroup, with the
	// policy's values (what a program that sets keepalive pays, with nothing attached).
	app := func(fd int) {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(benchPolicy.Idle.Seconds()))
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(benchPolicy.Interval.Seconds()))
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, benchPolicy.Probes)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(benchPolicy.UserTimeout.Milliseconds()))
	}
	connection := func(setKeepalive bool) error {
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
		if setKeepalive {
			if appEnds == "both" || appEnds == "client" {
				app(cfd)
			}
			if appEnds == "both" || appEnds == "server" {
				app(afd)
			}
		}
		return unix.Close(afd)
	}
	one := func() error { return connection(false) }
	oneApp := func() error { return connection(true) }
	// setsockopt: one TCP_NODELAY call on a connected socket, the unit of -unit setsockopt.
	var optFD int = -1
	oneSetsockopt := func() error {
		if optFD < 0 {
			if optFD, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
				return err
			}
			if err := unix.Connect(optFD, sa); err != nil {
				return err
			}
		}
		return unix.SetsockoptInt(optFD, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		dur, how, _ := strings.Cut(in.Text(), " ")
		d, err := time.ParseDuration(dur)
		if err != nil {
			return err
		}
		conn := one
		switch {
		case strings.HasPrefix(how, "app"):
			_, appEnds, _ = strings.Cut(how, ":")
			conn = oneApp
		case how == "setsockopt":
			conn = oneSetsockopt
		}
		wait0 := runDelay()
		n := 0
		for deadline := time.Now().Add(d); time.Now().Before(deadline); n++ {
			if err := conn(); err != nil {
				return err
			}
		}
		fmt.Println(n, runDelay()-wait0)
	}
	return in.Err()
}

// appEnds is -ends, for the worker's app rounds (the "app" command names it).
var appEnds = "both"

// joinCgroup moves this process into the cgroup directory dir (cgroup v2 cgroup.procs).
func joinCgroup(dir string) error {
	if dir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
}

// runDelay is the time this thread has spent runnable but not running (the second field of
// /proc/thread-self/schedstat, in ns): preemption by other tasks and RT throttling show here.
func runDelay() int64 {
	data, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseInt(f[1], 10, 64)
	return v
}

// sockOpsNames are the sock_ops callbacks by number (enum in include/uapi/linux/bpf.h).
var sockOpsNames = []string{"VOID", "TIMEOUT_INIT", "RWND_INIT", "TCP_CONNECT_CB", "ACTIVE_ESTABLISHED_CB",
	"PASSIVE_ESTABLISHED_CB", "NEEDS_ECN", "BASE_RTT", "RTO_CB", "RETRANS_CB", "STATE_CB", "TCP_LISTEN_CB",
	"RTT_CB", "PARSE_HDR_OPT_CB", "HDR_OPT_LEN_CB", "WRITE_HDR_OPT_CB"}

// plain is what the worker repeats in rounds without the worker setting keepalive itself.
var plain = "connection"

// benchPolicy is what the attached rounds enforce (and the app rounds set by hand).
var benchPolicy = enforce.Policy{Idle: 60 * time.Second, Interval: 10 * time.Second, Probes: 6, UserTimeout: 2 * time.Minute}

func run(rounds int, round, gap time.Duration, mode enforce.Mode, side enforce.Side, ends, compare string, bpfStats, rt bool) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root (BPF programs, cgroups)")
	}
	if rt && busiestSecond(round, gap) > 900*time.Millisecond {
		fmt.Fprintf(os.Stderr, "bench/enforce: warning: with -rt, %s rounds and a -gap of %s keep the worker running up to %s in a second: the kernel throttles a SCHED_FIFO task after 950 ms in each second (kernel.sched_rt_runtime_us), in the middle of a round\n",
			round, gap, busiestSecond(round, gap))
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

	// The other cgroup, for the end of each connection that is not enforced: a sibling of the
	// sandbox's, named like it (keeptune-...-PID-NANOSECONDS) so that a later sandbox removes it
	// if this run is killed.
	peer := filepath.Join(filepath.Dir(sb.Dir), fmt.Sprintf("keeptune-benchpeer-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(peer, 0o755); err != nil {
		return fmt.Errorf("creating the peer cgroup: %w", err)
	}
	defer func() {
		if rerr := os.Remove(peer); rerr != nil && err == nil {
			err = fmt.Errorf("removing the peer cgroup: %w", rerr)
		}
	}()
	listenIn, connectIn := sb.Dir, sb.Dir
	switch ends {
	case "server":
		connectIn = peer
	case "client":
		listenIn = peer
	case "none":
		listenIn, connectIn = peer, peer
	}
	w, err := startWorker(sb.Dir, rt, listenIn, connectIn)
	if err != nil {
		return err
	}
	defer w.stop()
	pol := benchPolicy
	pol.Side, pol.Mode = side, mode
	if err := pol.Validate(); err != nil {
		return err
	}
	if bpfStats {
		// The kernel's run-time statistics of BPF programs (BPF_ENABLE_STATS: on only while this
		// descriptor is open, so kernel.bpf_stats_enabled is back as it was when the run ends).
		// They add two clock reads to every program run, so they are off unless asked.
		stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			return fmt.Errorf("enabling BPF run-time statistics: %w", err)
		}
		defer stats.Close()
	}
	var noop *ebpf.Program
	if compare == "noop" {
		// A sock_ops program that returns at once: what the kernel's cgroup hook costs on every
		// TCP callback, which no program can avoid.
		noop, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "keeptune_noop", Type: ebpf.SockOps, License: "Dual MIT/GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()}})
		if err != nil {
			return err
		}
		defer noop.Close()
	}
	var opsMap *ebpf.Map
	if compare == "count-ops" {
		// A sock_ops program that counts its runs by callback (op): which callbacks the kernel
		// makes for every connection, with no callback flags set (keeptune's program sets none).
		if opsMap, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: uint32(len(sockOpsNames))}); err != nil {
			return err
		}
		defer opsMap.Close()
		noop, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "keeptune_count", Type: ebpf.SockOps, License: "Dual MIT/GPL",
			Instructions: asm.Instructions{
				asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
				asm.JGE.Imm(asm.R2, int32(len(sockOpsNames)), "out"),
				asm.StoreMem(asm.RFP, -8, asm.R2, asm.Word),
				asm.LoadMapPtr(asm.R1, opsMap.FD()),
				asm.Mov.Reg(asm.R2, asm.RFP),
				asm.Add.Imm(asm.R2, -8),
				asm.FnMapLookupElem.Call(),
				asm.JEq.Imm(asm.R0, 0, "out"),
				asm.Mov.Imm(asm.R1, 1),
				asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0),
				asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
				asm.Return(),
			}})
		if err != nil {
			return err
		}
		defer noop.Close()
	}
	progTime, progRuns := map[string]time.Duration{}, map[string]uint64{}
	// measure runs one round; how is "app" when the worker sets keepalive itself.
	var waits []time.Duration
	measure := func(how string) (float64, error) {
		// With -rt this keeps the SCHED_FIFO worker under the kernel's 950 ms per second (the
		// warning above says when it does not). Without -rt it gives every round the same start.
		time.Sleep(gap)
		fmt.Fprintln(w.stdin, round, how)
		if !w.out.Scan() {
			return 0, fmt.Errorf("worker: %v", w.out.Err())
		}
		var n, wait int64
		if _, err := fmt.Sscan(w.out.Text(), &n, &wait); err != nil {
			return 0, fmt.Errorf("worker: %q: %w", w.out.Text(), err)
		}
		waits = append(waits, time.Duration(wait))
		return float64(n) / round.Seconds(), nil
	}
	var prevCounters enforce.Counters // the policy's counters after the last attached round
	// attached runs one round with the policy (or the comparison) in place, and removes it.
	attached := func(i int) (float64, error) {
		switch compare {
		case "app":
			return measure("app:" + ends)
		case "noop", "count-ops":
			l, err := link.AttachCgroup(link.CgroupOptions{Path: sb.Dir, Attach: ebpf.AttachCGroupSockOps, Program: noop})
			if err != nil {
				return 0, err
			}
			defer l.Close()
			return measure(plain)
		}
		if err := sb.Enforcer.Apply(sb.Target, pol); err != nil {
			return 0, err
		}
		a, err := measure(plain)
		if err != nil {
			return 0, err
		}
		st, err := sb.Enforcer.Status()
		if err != nil {
			return 0, err
		}
		if len(st.Entries) != 1 {
			return 0, fmt.Errorf("round %d: status lists %d policies, want 1", i, len(st.Entries))
		}
		// The counters add up over the rounds (the policy stays, only its links come and go):
		// this round's are the difference.
		total := st.Entries[0].Counters
		c := enforce.Counters{Connect: total.Connect - prevCounters.Connect, Accept: total.Accept - prevCounters.Accept, Errors: total.Errors - prevCounters.Errors}
		prevCounters = total
		wantConnect := side != enforce.SideAccept && (ends == "both" || ends == "client")
		wantAccept := side != enforce.SideConnect && (ends == "both" || ends == "server")
		if plain == "connection" && (wantConnect != (c.Connect > 0) || wantAccept != (c.Accept > 0)) || c.Errors != 0 {
			return 0, fmt.Errorf("round %d: the program did not act on every connection: %+v this round", i, c)
		}
		if bpfStats {
			for _, name := range []string{"keeptune_ops", "keeptune_guard"} {
				p, err := ebpf.LoadPinnedProgram(filepath.Join(sb.Enforcer.PinDir(), name), nil)
				if err != nil {
					return 0, err
				}
				ps, err := p.Stats()
				p.Close()
				if err != nil {
					return 0, err
				}
				progTime[name] += ps.Runtime
				progRuns[name] += ps.RunCount
			}
		}
		// The next round runs with nothing attached: removing the link pins detaches the
		// programs from the cgroup (the kernel's cgroup hooks then run no BPF at all), while
		// the programs and maps stay loaded, so that the next Apply only attaches the links
		// again (and writes the policy into their fresh storage) in well under a millisecond
		// instead of loading the programs: rounds can be short and the pairs many.
		links := filepath.Join(sb.Enforcer.PinDir(), "links")
		entries, err := os.ReadDir(links)
		if err != nil {
			return 0, err
		}
		for _, en := range entries {
			if err := os.Remove(filepath.Join(links, en.Name())); err != nil {
				return 0, err
			}
		}
		return a, nil
	}
	defer func() {
		if _, derr := sb.Enforcer.Detach(nil); derr != nil && err == nil {
			err = derr
		}
	}()
	if _, err := measure(plain); err != nil { // warm up
		return err
	}
	var with, without, ratios, ratiosAB, ratiosBA []float64
	var conns float64
	for i := 0; i < rounds; i++ {
		select {
		case <-sig:
			return errors.New("interrupted")
		default:
		}
		// Pairs alternate their order (attached first, then nothing first), so that whatever
		// the order itself does (the detach just before, the cache state) falls on both sides.
		var a, b float64
		if i%2 == 0 {
			if a, err = attached(i); err == nil {
				b, err = measure(plain)
			}
		} else {
			if b, err = measure(plain); err == nil {
				a, err = attached(i)
			}
		}
		if err != nil {
			return err
		}
		conns += a * round.Seconds()
		with, without, ratios = append(with, a), append(without, b), append(ratios, a/b)
		if i%2 == 0 {
			ratiosAB = append(ratiosAB, a/b)
		} else {
			ratiosBA = append(ratiosBA, a/b)
		}
	}
	var u unix.Utsname
	unix.Uname(&u)
	sched := "normal scheduling"
	if rt {
		sched = "worker SCHED_FIFO on one CPU"
	}
	sched += fmt.Sprintf(", %s idle before every round", gap)
	what := fmt.Sprintf("policy attached (idle %s, intvl %s, probes %d, user timeout %s), mode %s, side %s", pol.Idle, pol.Interval, pol.Probes, pol.UserTimeout, mode, side)
	endsText := map[string]string{"both": "both ends of every connection in the enforced cgroup", "server": "the server end (listener, accepted sockets) in the enforced cgroup, the client end in another",
		"client": "the client end in the enforced cgroup, the listener in another", "none": "neither end in the enforced cgroup"}[ends]
	switch compare {
	case "noop":
		what = "a sock_ops program that does nothing attached"
	case "count-ops":
		what = "a sock_ops program counting its runs by callback attached"
	case "app":
		what = "nothing attached; the worker sets the policy's keepalive values itself on the ends that would be enforced (5 setsockopt calls per socket)"
	}
	fmt.Printf("kernel %s; %s; %s; %d pairs of %s rounds (%s; against nothing attached; order alternating); %s; %d sockets given the policy\n\n",
		unix.ByteSliceToString(u.Release[:]), "unit "+plain, endsText, rounds, round, what, sched, prevCounters.Connect+prevCounters.Accept)
	fmt.Printf("| attached (median) | not attached (median) | median of the pairs' ratios | ratios, 10th-90th percentile | median ratio, attached first / second |\n|---|---|---|---|---|\n")
	per := "conn/s"
	if plain == "setsockopt" {
		per = "setsockopt/s"
	}
	fmt.Printf("| %.0f %s | %.0f %s | %.3f | %.3f-%.3f | %.3f / %.3f |\n", median(with), per, median(without), per, median(ratios),
		percentile(ratios, 0.1), percentile(ratios, 0.9), median(ratiosAB), median(ratiosBA))
	var waitMax time.Duration
	slow := 0
	for _, d := range waits {
		waitMax = max(waitMax, d)
		if d > round/100 {
			slow++
		}
	}
	fmt.Printf("\nworker's time runnable but not running per round: median %s, max %s; %d of %d rounds waited over 1%% of the round\n",
		time.Duration(medianDur(waits)).Round(time.Microsecond), waitMax.Round(time.Microsecond), slow, len(waits))
	if opsMap != nil {
		var parts []string
		for op, name := range sockOpsNames {
			var n uint64
			if err := opsMap.Lookup(uint32(op), &n); err != nil {
				return err
			}
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(n)/conns))
			}
		}
		fmt.Printf("\nsock_ops runs per connection (both ends) by callback: %s\n", strings.Join(parts, ", "))
	}
	if bpfStats && compare == "policy" {
		fmt.Printf("\nBPF run time (kernel statistics): keeptune_ops %d runs (%.1f per connection), %.0f ns per run; keeptune_guard %d runs, %.0f ns per run; %.0f ns of BPF per connection\n",
			progRuns["keeptune_ops"], float64(progRuns["keeptune_ops"])/conns, perRun(progTime["keeptune_ops"], progRuns["keeptune_ops"]),
			progRuns["keeptune_guard"], perRun(progTime["keeptune_guard"], progRuns["keeptune_guard"]),
			float64(progTime["keeptune_ops"]+progTime["keeptune_guard"])/conns)
	}
	return nil
}

// busiestSecond is the most the worker runs in any one second when rounds of round alternate
// with gaps of gap.
func busiestSecond(round, gap time.Duration) time.Duration {
	period := round + gap
	full := time.Second / period
	return time.Duration(full)*round + min(time.Second-time.Duration(full)*period, round)
}

func medianDur(v []time.Duration) float64 {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return median(f)
}

type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startWorker starts this binary as a worker inside the cgroup dir (clone3 CLONE_INTO_CGROUP);
// it makes its listener in listenIn and its connections from connectIn.
func startWorker(dir string, rt bool, listenIn, connectIn string) (*worker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	w := &worker{cmd: exec.Command(self, "-worker", "-rt="+strconv.FormatBool(rt), "-listen-cgroup", listenIn, "-connect-cgroup", connectIn)}
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

// schedFIFO makes the calling thread SCHED_FIFO at prio (on Linux, sched_setscheduler on pid 0
// changes the calling thread only): runWorker has locked itself to that thread, so every
// connection it measures runs under SCHED_FIFO; the Go runtime's other threads do not.
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
