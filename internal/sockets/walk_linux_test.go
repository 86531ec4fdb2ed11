package sockets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/netns"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "KEEPTUNE_SOCKETS_HELPER"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		os.Exit(helperDial(addr))
	}
	os.Exit(m.Run())
}

// helperDial connects to addr, sets keepalive 123/7/4 and TCP_USER_TIMEOUT 9000 ms on the socket
// (the values --deep must read back), says "ready" and waits for its stdin to close.
func helperDial(addr string) int {
	c, err := (&net.Dialer{KeepAlive: -1}).Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	if err := tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 123 * time.Second, Interval: 7 * time.Second, Count: 4}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rc, _ := tc.SyscallConn()
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 9000) })
	if serr != nil {
		fmt.Fprintln(os.Stderr, serr)
		return 1
	}
	fmt.Printf("ready %s\n", c.LocalAddr())
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// conns opens real loopback connections in known states on one listening port.
type testConns struct {
	ln       net.Listener
	port     uint16
	closers  []io.Closer
	ka       [2]net.Conn // client with keepalive 123/7/4, its server side (keepalive off)
	plain    [2]net.Conn // no keepalive on either side
	cwClient netip.AddrPort
	cwServer net.Conn // CLOSE_WAIT: the client closed, the server did not
	twClient netip.AddrPort
}

func (tc *testConns) Close() {
	for i := len(tc.closers) - 1; i >= 0; i-- {
		tc.closers[i].Close()
	}
}

func openTestConns(t *testing.T) *testConns {
	t.Helper()
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &testConns{ln: ln, port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	tc.closers = append(tc.closers, ln)
	t.Cleanup(tc.Close)
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	pair := func() [2]net.Conn {
		c, err := (&net.Dialer{KeepAlive: -1}).Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		tc.closers = append(tc.closers, c, s)
		return [2]net.Conn{c, s}
	}
	tc.ka = pair()
	if err := tc.ka[0].(*net.TCPConn).SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 123 * time.Second, Interval: 7 * time.Second, Count: 4}); err != nil {
		t.Fatal(err)
	}
	tc.plain = pair()
	// Data both ways, so idle times start from a known exchange.
	tc.plain[0].Write([]byte("ping"))
	buf := make([]byte, 4)
	io.ReadFull(tc.plain[1], buf)
	tc.plain[1].Write([]byte("pong"))
	io.ReadFull(tc.plain[0], buf)

	cw := pair()
	tc.cwClient = cw[0].LocalAddr().(*net.TCPAddr).AddrPort()
	tc.cwServer = cw[1]
	cw[0].Close() // FIN to the server, which never closes: CLOSE_WAIT there, FIN_WAIT2 here

	tw := pair()
	tc.twClient = tw[0].LocalAddr().(*net.TCPAddr).AddrPort()
	tw[0].Close()
	io.Copy(io.Discard, tw[1]) // EOF
	tw[1].Close()              // the client, which closed first, ends in TIME_WAIT

	// Let delayed ACKs and the closing handshakes settle.
	time.Sleep(300 * time.Millisecond)
	return tc
}

type sockKey struct{ local, peer netip.AddrPort }

func collect(t *testing.T, opts Options) map[sockKey]Socket {
	t.Helper()
	got := map[sockKey]Socket{}
	err := Walk(context.Background(), opts, func(s *Socket) error {
		got[sockKey{s.Local, s.Peer}] = *s
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

func addrOf(c net.Conn, local bool) netip.AddrPort {
	if local {
		return c.LocalAddr().(*net.TCPAddr).AddrPort()
	}
	return c.RemoteAddr().(*net.TCPAddr).AddrPort()
}

func keyOf(c net.Conn) sockKey { return sockKey{addrOf(c, true), addrOf(c, false)} }

func TestWalkKnownStates(t *testing.T) {
	tc := openTestConns(t)
	var stats Stats
	got := collect(t, Options{Filter: Filter{Ports: []uint16{tc.port}}, Info: true, Processes: true, Stats: &stats})
	me := os.Getpid()
	lnAddr := tc.ln.Addr().(*net.TCPAddr).AddrPort()

	type want struct {
		state State
		timer TimerKind
		ka    KeepaliveState
		owned bool
		flags []string
	}
	wants := map[sockKey]want{
		{lnAddr, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}: {StateListen, TimerNone, KeepaliveUnknown, true, nil},
		keyOf(tc.ka[0]):    {StateEstablished, TimerKeepalive, KeepaliveOn, true, nil},
		keyOf(tc.ka[1]):    {StateEstablished, TimerNone, KeepaliveOff, true, nil},
		keyOf(tc.plain[0]): {StateEstablished, TimerNone, KeepaliveOff, true, nil},
		keyOf(tc.plain[1]): {StateEstablished, TimerNone, KeepaliveOff, true, nil},
		keyOf(tc.cwServer): {StateCloseWait, TimerNone, KeepaliveOff, true, nil},
		// The client that closed first: an orphan in FIN_WAIT2. With tcp_fin_timeout <= 60 s the
		// kernel keeps it as a time-wait minisocket in substate FIN_WAIT2.
		{tc.cwClient, lnAddr}: {StateFinWait2, 0, 0, false, []string{"orphan-fin-wait2"}},
		{tc.twClient, lnAddr}: {StateTimeWait, TimerTimeWait, KeepaliveNA, false, nil},
	}
	for k, w := range wants {
		s, ok := got[k]
		if !ok {
			t.Errorf("%v -> %v (%v) missing from the dump", k.local, k.peer, w.state)
			continue
		}
		if s.State != w.state {
			t.Errorf("%v -> %v: state %v, want %v", k.local, k.peer, s.State, w.state)
		}
		if w.timer != 0 || w.state != StateFinWait2 {
			if s.Timer.Kind != w.timer {
				t.Errorf("%v -> %v (%v): timer %v, want %v", k.local, k.peer, s.State, s.Timer.Kind, w.timer)
			}
			if s.Keepalive.State != w.ka {
				t.Errorf("%v -> %v (%v): keepalive %v, want %v", k.local, k.peer, s.State, s.Keepalive.State, w.ka)
			}
		} else if s.Timer.Kind != TimerTimeWait && s.Timer.Kind != TimerFinWait2 {
			t.Errorf("orphan FIN_WAIT2: timer %v, want time-wait or fin-wait2", s.Timer.Kind)
		}
		if w.owned {
			if s.Owner == nil || s.Owner.PID != me || s.Inode == 0 {
				t.Errorf("%v -> %v (%v): owner %+v inode %d, want pid %d", k.local, k.peer, s.State, s.Owner, s.Inode, me)
			} else if s.Owner.Comm == "" || s.Owner.NetnsInode == 0 {
				t.Errorf("owner without name or namespace: %+v", s.Owner)
			}
		} else if s.Owner != nil || s.Inode != 0 {
			t.Errorf("%v -> %v (%v): owner %+v inode %d, want none", k.local, k.peer, s.State, s.Owner, s.Inode)
		}
		if w.flags != nil && strings.Join(s.Flags.Names(), ",") != strings.Join(w.flags, ",") {
			t.Errorf("%v -> %v (%v): flags %v, want %v", k.local, k.peer, s.State, s.Flags.Names(), w.flags)
		}
	}
	if len(got) != len(wants) {
		t.Errorf("dump has %d sockets on port %d, want %d: %v", len(got), tc.port, len(wants), got)
	}
	// The keepalive timer counts down from TCP_KEEPIDLE (123 s).
	if s := got[keyOf(tc.ka[0])]; s.Timer.Expires > 123*time.Second || s.Timer.Expires < 110*time.Second {
		t.Errorf("keepalive timer expires in %v, want just under 123s", s.Timer.Expires)
	}
	// tcp_info: the ping/pong was ~300 ms ago.
	if s := got[keyOf(tc.plain[0])]; !s.HasInfo || s.Info.LastDataRecv < 250 || s.Info.LastDataSent < 250 || s.Info.LastDataRecv > 10000 {
		t.Errorf("plain client idle: has %v recv %d ms send %d ms", s.HasInfo, s.Info.LastDataRecv, s.Info.LastDataSent)
	}
	if stats.Owners.Found != stats.Owners.Wanted || stats.Owners.Wanted != 6 {
		t.Errorf("owner stats: %+v (want all 6 sockets with an inode found)", stats.Owners)
	}

	// The same sockets through ss(8), when it is installed.
	compareWithSS(t, tc.port, got)

	// A close-wait socket older than the threshold is a leak.
	th := Options{Filter: Filter{Ports: []uint16{tc.port}, States: 1 << StateCloseWait}, Info: true, Thresholds: Thresholds{CloseWait: 100 * time.Millisecond}}
	cw := collect(t, th)
	if s, ok := cw[keyOf(tc.cwServer)]; !ok || !s.Flags.Has(FlagCloseWaitLeak) || len(cw) != 1 {
		t.Errorf("close-wait leak with a 100ms threshold: %v", cw)
	}
	// --idle and --no-keepalive.
	idle := collect(t, Options{Filter: Filter{Ports: []uint16{tc.port}, Idle: &IdleCond{">", 200 * time.Millisecond}, NoKeepalive: true}})
	for k, s := range idle {
		if s.State == StateListen || s.Keepalive.State != KeepaliveOff {
			t.Errorf("--idle >200ms --no-keepalive kept %v -> %v %v %v", k.local, k.peer, s.State, s.Keepalive.State)
		}
	}
	if _, ok := idle[keyOf(tc.plain[0])]; !ok {
		t.Errorf("--idle >200ms --no-keepalive dropped the idle plain connection")
	}
	if _, ok := idle[keyOf(tc.ka[0])]; ok {
		t.Errorf("--no-keepalive kept the keepalive connection")
	}
	// --pid: our own sockets only, found by walking only this process.
	mine := collect(t, Options{Filter: Filter{Ports: []uint16{tc.port}, PIDs: []int{me}}})
	if len(mine) != 6 {
		t.Errorf("--pid %d: %d sockets, want the 6 held by this process", me, len(mine))
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	byName := collect(t, Options{Filter: Filter{Ports: []uint16{tc.port}, Processes: []string{strings.TrimSpace(string(comm))}}})
	if len(byName) != 6 {
		t.Errorf("--process %s: %d sockets, want 6", comm, len(byName))
	}
}

// TestWalkIPv6 checks the IPv6 dump: a listener on ::1 and a connection to it, and an IPv4
// client of a dual-stack listener, which the kernel shows as IPv6 with a v4-mapped address.
func TestWalkIPv6(t *testing.T) {
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, err := (&net.Dialer{KeepAlive: 30 * time.Second}).Dial("tcp6", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dual, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	go func() {
		for {
			c, err := dual.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dport := dual.Addr().(*net.TCPAddr).Port
	c4, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", dport))
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	time.Sleep(100 * time.Millisecond)

	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	got := collect(t, Options{Filter: Filter{Ports: []uint16{port, uint16(dport)}}, Info: true, Processes: true})
	s, ok := got[keyOf(c)]
	if !ok || s.Family != afInet6 || !s.Local.Addr().Is6() || s.State != StateEstablished || s.Timer.Kind != TimerKeepalive ||
		s.Keepalive.State != KeepaliveOn || s.Owner == nil || s.Owner.PID != os.Getpid() || !s.HasInfo {
		t.Errorf("IPv6 client: %+v (found %v)", s, ok)
	}
	// The accepted side of the v4 client: an AF_INET6 socket with ::ffff:127.0.0.1.
	mapped := false
	for k, s := range got {
		if k.local.Port() == uint16(dport) && s.State == StateEstablished {
			mapped = s.Family == afInet6 && k.local.Addr().Is4In6() && k.peer.Addr().Unmap() == netip.MustParseAddr("127.0.0.1")
		}
	}
	if !mapped {
		t.Errorf("no v4-mapped accepted socket on the dual-stack port %d: %v", dport, got)
	}
	compareWithSS(t, port, filterPort(got, port))
}

func filterPort(m map[sockKey]Socket, port uint16) map[sockKey]Socket {
	out := map[sockKey]Socket{}
	for k, s := range m {
		if k.local.Port() == port || k.peer.Port() == port {
			out[k] = s
		}
	}
	return out
}

// compareWithSS checks the dump against `ss -tino` for the same port.
func compareWithSS(t *testing.T, port uint16, got map[sockKey]Socket) {
	t.Helper()
	ss, err := exec.LookPath("ss")
	if err != nil {
		t.Log("ss not installed: skipping the comparison with ss (apt-get install iproute2)")
		return
	}
	p := strconv.Itoa(int(port))
	out, err := exec.Command(ss, "-tinoaH", "( sport = :"+p+" or dport = :"+p+" )").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	ssState := map[string]State{"ESTAB": StateEstablished, "LISTEN": StateListen, "CLOSE-WAIT": StateCloseWait,
		"FIN-WAIT-2": StateFinWait2, "TIME-WAIT": StateTimeWait, "SYN-SENT": StateSynSent, "LAST-ACK": StateLastAck}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue // tcp_info continuation lines
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		n++
		local, err1 := netip.ParseAddrPort(strings.Replace(f[3], "*", "0.0.0.0", 1))
		peer, err2 := netip.ParseAddrPort(strings.Replace(f[4], "*", "0", 1))
		if err1 != nil || err2 != nil {
			t.Errorf("cannot parse ss line %q", line)
			continue
		}
		s, ok := got[sockKey{local, peer}]
		if !ok {
			t.Errorf("ss shows %s -> %s that keeptune did not", local, peer)
			continue
		}
		if st, ok := ssState[f[0]]; !ok || st != s.State {
			t.Errorf("%s -> %s: ss says %s, keeptune %v", local, peer, f[0], s.State)
		}
		timer := "none"
		if i := strings.Index(line, "timer:("); i >= 0 {
			timer = strings.SplitN(line[i+len("timer:("):], ",", 2)[0]
		}
		wantTimer := map[string][]TimerKind{"none": {TimerNone}, "on": {TimerRetransmit}, "keepalive": {TimerKeepalive, TimerFinWait2},
			"timewait": {TimerTimeWait}, "persist": {TimerZeroWindowProbe}, "unknown": {TimerDelack, TimerUnknown}}[timer]
		okTimer := false
		for _, k := range wantTimer {
			okTimer = okTimer || k == s.Timer.Kind
		}
		if !okTimer {
			t.Errorf("%s -> %s: ss timer %q, keeptune %v", local, peer, timer, s.Timer.Kind)
		}
		if i := strings.Index(line, "ino:"); i >= 0 {
			ino, _ := strconv.ParseUint(strings.Fields(line[i+4:])[0], 10, 32)
			if uint32(ino) != s.Inode {
				t.Errorf("%s -> %s: ss inode %d, keeptune %d", local, peer, ino, s.Inode)
			}
		}
	}
	if n != len(got) {
		t.Errorf("ss shows %d sockets on port %d, keeptune %d", n, port, len(got))
	}
}

// TestKernelBytecodeFilter checks that the port filter runs in the kernel: the sockets the
// kernel sends are only the matching ones, with equality ops and with ranges.
func TestKernelBytecodeFilter(t *testing.T) {
	var ports []uint16
	for i := 0; i < 3; i++ {
		ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		for j := 0; j < 2; j++ {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		ports = append(ports, uint16(ln.Addr().(*net.TCPAddr).Port))
	}
	time.Sleep(100 * time.Millisecond)
	d, err := dialDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	count := func(f *Filter, eq bool) (received int, ports map[uint16]int) {
		ports = map[uint16]int{}
		if eq {
			d.eq = 0
		} else {
			d.eq = -1
		}
		d.received = 0
		err := d.dump(context.Background(), afInet, AllStates, false, f, func(b []byte) error {
			var s Socket
			if err := decodeDiagMsg(b, &s); err != nil {
				return err
			}
			ports[s.Local.Port()]++
			return nil
		})
		if err != nil {
			t.Fatalf("dump with %+v (eq %v): %v", f, eq, err)
		}
		if eq && d.eq < 0 {
			t.Logf("this kernel refused equality bytecode: ranges used")
		}
		return d.received, ports
	}
	all, _ := count(&Filter{}, true)
	if all < 9 {
		t.Fatalf("unfiltered dump: %d sockets, want at least the 9 opened", all)
	}
	for _, eq := range []bool{true, false} {
		a := ports[0]
		if n, _ := count(&Filter{Ports: []uint16{a}}, eq); n != 5 {
			t.Errorf("eq %v: --port %d: the kernel sent %d sockets, want 5 (listener, 2 clients, 2 accepted)", eq, a, n)
		}
		if n, byPort := count(&Filter{LocalPorts: []uint16{a}}, eq); n != 3 || byPort[a] != 3 {
			t.Errorf("eq %v: --sport %d: the kernel sent %d sockets (%v), want 3 (listener, 2 accepted)", eq, a, n, byPort)
		}
		if n, _ := count(&Filter{PeerPorts: []uint16{a}}, eq); n != 2 {
			t.Errorf("eq %v: --dport %d: the kernel sent %d sockets, want 2 clients", eq, a, n)
		}
		if n, _ := count(&Filter{Ports: []uint16{ports[1], ports[2]}}, eq); n != 10 {
			t.Errorf("eq %v: two ports: the kernel sent %d sockets, want 10", eq, n)
		}
		if n, _ := count(&Filter{Ports: []uint16{ports[1]}, LocalPorts: []uint16{ports[1]}}, eq); n != 3 {
			t.Errorf("eq %v: port and sport: the kernel sent %d sockets, want 3", eq, n)
		}
	}
	// The state mask is kernel-side too.
	d.received = 0
	if err := d.dump(context.Background(), afInet, 1<<StateListen, false, &Filter{Ports: ports}, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if d.received != 3 {
		t.Errorf("LISTEN on 3 ports: the kernel sent %d sockets, want 3", d.received)
	}
}

// TestDeepReadsOtherProcess reads the keepalive options of a socket held by another process.
func TestDeepReadsOtherProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("--deep needs root (pidfd_getfd needs ptrace access to the other process)")
	}
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			acc <- c
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+ln.Addr().String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("helper: %q %v", line, err)
	}
	server := <-acc
	defer server.Close()
	helperAddr := netip.MustParseAddrPort(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	var stats Stats
	got := collect(t, Options{Filter: Filter{Ports: []uint16{port}, States: 1 << StateEstablished}, Deep: true, Stats: &stats})
	s, ok := got[sockKey{helperAddr, ln.Addr().(*net.TCPAddr).AddrPort()}]
	if !ok {
		t.Fatalf("helper's socket %v not in the dump: %v", helperAddr, got)
	}
	k := s.Keepalive
	if s.Owner == nil || s.Owner.PID != cmd.Process.Pid {
		t.Fatalf("owner %+v, want the helper pid %d", s.Owner, cmd.Process.Pid)
	}
	if !k.Deep || !k.Enabled || k.Idle != 123*time.Second || k.Interval != 7*time.Second || k.Count != 4 || k.UserTimeout != 9*time.Second {
		t.Errorf("deep read %+v, want on 123s/7s/4 UTO 9s (%v)", k, stats.DeepErr)
	}
	if k.State != KeepaliveOn {
		t.Errorf("keepalive state %v, want on", k.State)
	}
	sys := s.Netns.Sysctls
	if !sys.Known {
		t.Fatal("namespace sysctls unknown")
	}
	want := SetUserTimeout
	if sys.Idle != 123*time.Second {
		want |= SetIdle
	}
	if sys.Interval != 7*time.Second {
		want |= SetInterval
	}
	if sys.Count != 4 {
		want |= SetCount
	}
	if k.SetByProgram != want || k.Source() != "socket (set by program)" {
		t.Errorf("set by program %b source %q, want %b and socket (set by program)", k.SetByProgram, k.Source(), want)
	}
	// Our own accepted side has no keepalive: the values read are the namespace's.
	ours := got[sockKey{ln.Addr().(*net.TCPAddr).AddrPort(), helperAddr}]
	if !ours.Keepalive.Deep || ours.Keepalive.Enabled || ours.Keepalive.Idle != sys.Idle || ours.Keepalive.SetByProgram != 0 ||
		ours.Keepalive.Source() != "socket (same as namespace sysctls)" || ours.Keepalive.State != KeepaliveOff {
		t.Errorf("own accepted socket: %+v source %q", ours.Keepalive, ours.Keepalive.Source())
	}
	if stats.DeepFailed != 0 || stats.DeepRead != 2 {
		t.Errorf("deep stats: read %d failed %d (%v)", stats.DeepRead, stats.DeepFailed, stats.DeepErr)
	}
	// Every descriptor obtained was closed: this process holds no more sockets than before.
	if n := countFDs(t); n > 64 {
		t.Errorf("%d descriptors open after --deep: leaked?", n)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestDeepClosesDescriptors checks that --deep leaves no descriptor behind.
func TestDeepClosesDescriptors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("--deep needs root")
	}
	tc := openTestConns(t)
	before := countFDs(t)
	for i := 0; i < 3; i++ {
		collect(t, Options{Filter: Filter{Ports: []uint16{tc.port}}, Deep: true})
	}
	if after := countFDs(t); after != before {
		t.Errorf("descriptors: %d before, %d after three --deep walks", before, after)
	}
}

// TestWalkOtherNamespace opens a listener inside a fresh network namespace and finds it with
// Netns set to that namespace (and with "all"), and not in the own namespace.
func TestWalkOtherNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip(8) not installed (iproute2)")
	}
	name := fmt.Sprintf("kt-sockets-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	defer func() {
		exec.Command("ip", "netns", "del", name).Run()
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			t.Errorf("namespace %s left behind", name)
		}
	}()
	exec.Command("ip", "-n", name, "link", "set", "lo", "up").Run()
	var ln net.Listener
	err := inNetns("/run/netns/"+name, func() error {
		var err error
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	f := Filter{LocalPorts: []uint16{port}, States: 1 << StateListen}
	got := collect(t, Options{Filter: f, Netns: name, Processes: true})
	if len(got) != 1 {
		t.Fatalf("--netns %s: %d listeners on port %d, want 1", name, len(got), port)
	}
	for _, s := range got {
		if s.Netns.Name != name || s.Netns.Current || s.Owner == nil || s.Owner.PID != os.Getpid() || !s.Netns.Sysctls.Known {
			t.Errorf("socket in %s: netns %+v owner %+v", name, s.Netns, s.Owner)
		}
	}
	all := collect(t, Options{Filter: f, Netns: "all"})
	found := false
	for _, s := range all {
		found = found || s.Netns.Name == name
	}
	if !found {
		t.Errorf("--netns all did not find the listener in %s", name)
	}
	if own := collect(t, Options{Filter: f}); len(own) != 0 {
		// Another test could listen on the same port in the own namespace; only a socket that is
		// ours would be wrong.
		for _, s := range own {
			if s.Inode == got[sockKey{s.Local, s.Peer}].Inode {
				t.Errorf("the listener of %s shows in the own namespace", name)
			}
		}
	}
	// The thread that entered the namespace went back (or died): this goroutine's namespace is
	// still the own one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, _ := netns.Inode("/proc/thread-self/ns/net")
	pself, _ := netns.Inode("/proc/self/ns/net")
	if self != pself {
		t.Errorf("thread left in namespace %d, process in %d", self, pself)
	}
}

func TestResolveNamespacesErrors(t *testing.T) {
	_, err := resolveNamespaces("/proc", "no-such-namespace-here")
	if err == nil || !strings.Contains(err.Error(), "expected all, current") {
		t.Errorf("unknown name: %v", err)
	}
	_, err = resolveNamespaces("/proc", "999999999")
	if err == nil {
		t.Error("absent PID accepted")
	}
}

// TestWalkStopsOnCallbackError checks that an error from the callback ends the walk and leaves
// the connection usable (the rest of the dump drained).
func TestWalkStopsOnCallbackError(t *testing.T) {
	tc := openTestConns(t)
	stop := errors.New("stop")
	n := 0
	err := Walk(context.Background(), Options{Filter: Filter{Ports: []uint16{tc.port}}}, func(*Socket) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d callbacks, want stop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Walk(ctx, Options{}, func(*Socket) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// BenchmarkWalk walks the host's sockets as they are (run it while bench/sockets -hold holds
// many): headers only, with tcp_info, with processes, and the JSON rendering on top.
func BenchmarkWalk(b *testing.B) {
	for _, c := range []struct {
		name string
		opts Options
		json bool
	}{
		{"headers", Options{}, false},
		{"info", Options{Info: true}, false},
		{"processes", Options{Info: true, Processes: true}, false},
		{"processes-wanted", Options{Info: true, Processes: true, OwnerStrategy: OwnersWanted}, false},
		{"json", Options{Info: true, Processes: true}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf []byte
			n := 0
			for b.Loop() {
				n = 0
				err := Walk(context.Background(), c.opts, func(s *Socket) error {
					n++
					if c.json {
						buf = AppendJSON(buf[:0], s)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "sockets")
		})
	}
}

// BenchmarkIndexOwners times the process walk alone, wanting every socket descriptor.
func BenchmarkIndexOwners(b *testing.B) {
	for b.Loop() {
		if _, err := IndexOwners(context.Background(), OwnerQuery{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDumpSpansDatagrams reads a dump larger than one netlink datagram (the kernel fills at
// most 32 KiB per recvmsg) through the hand-written reader: every socket arrives once, and the
// same socket serves a second dump and a dump abandoned by its callback after that.
func TestDumpSpansDatagrams(t *testing.T) {
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns = 150
	accepted := make(chan net.Conn, conns)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range conns {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		defer (<-accepted).Close()
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	d, err := dialDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dump := func(fn func([]byte) error) (keys map[sockKey]int, bytes int, err error) {
		keys = map[sockKey]int{}
		err = d.dump(context.Background(), afInet, AllStates, true, &Filter{Ports: []uint16{port}}, func(b []byte) error {
			var s Socket
			if err := decodeDiagMsg(b, &s); err != nil {
				return err
			}
			keys[sockKey{s.Local, s.Peer}]++
			bytes += len(b)
			return fn(b)
		})
		return keys, bytes, err
	}
	for try := range 2 {
		keys, bytes, err := dump(func([]byte) error { return nil })
		if err != nil {
			t.Fatalf("dump %d: %v", try, err)
		}
		if bytes <= 32<<10 {
			t.Errorf("dump %d: %d bytes of messages, want more than one datagram's 32 KiB (%d sockets with tcp_info)", try, bytes, 2*conns+1)
		}
		if len(keys) != 2*conns+1 {
			t.Errorf("dump %d: %d distinct sockets, want %d (listener, %d each side)", try, len(keys), 2*conns+1, conns)
		}
		for k, n := range keys {
			if n != 1 {
				t.Errorf("dump %d: %v arrived %d times", try, k, n)
			}
		}
	}
	stop := errors.New("stop")
	if _, _, err := dump(func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("abandoned dump: %v, want stop", err)
	}
	if keys, _, err := dump(func([]byte) error { return nil }); err != nil || len(keys) != 2*conns+1 {
		t.Errorf("dump after an abandoned one: %d sockets, %v", len(keys), err)
	}
}
