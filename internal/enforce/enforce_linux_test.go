package enforce

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/sockets"
	"github.com/keeptune/keeptune/internal/testutil"
)

// The test binary doubles as the Go program run inside the enforced cgroup.
func TestMain(m *testing.M) {
	switch os.Getenv("KEEPTUNE_ENFORCE_HELPER") {
	case "go":
		goHelper()
		return
	case "open":
		_, err := Open(Options{BPFFS: os.Args[len(os.Args)-1], NoMount: true}, true)
		var me *MissingError
		fmt.Println(errors.As(err, &me) && me.Privilege, err)
		return
	case "apply", "detach":
		applyHelper(os.Getenv("KEEPTUNE_ENFORCE_HELPER"), os.Args[len(os.Args)-3], os.Args[len(os.Args)-2], os.Args[len(os.Args)-1])
		return
	}
	os.Exit(m.Run())
}

// goHelper dials the address in its argument twice: once with keepalive left alone entirely
// (KeepAlive: -1, a program that never sets it) and once with Go's defaults (the net package
// sets 15 s / 15 s / 9 after connect). It prints both local addresses and waits for stdin to
// close.
func goHelper() {
	addr := os.Args[len(os.Args)-1]
	never, err := (&net.Dialer{KeepAlive: -1}).Dial("tcp", addr)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	goDefault, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(never.LocalAddr(), goDefault.LocalAddr())
	io.Copy(io.Discard, os.Stdin)
}

// applyHelper is one `enforce apply` (or detach) run of its own: it opens an Enforcer on the
// bpffs and cgroup root, says "ready", waits for a line on stdin (so that several start at
// once) and applies a policy to (or detaches it from) the cgroup path, printing "ok" or the
// error.
func applyHelper(verb, bpffs, root, cgroup string) {
	e, err := Open(Options{BPFFS: bpffs, CgroupRoot: root, NoMount: true}, true)
	if err == nil {
		var t Target
		if t, err = e.Resolve(Scope{Cgroup: cgroup}); err == nil {
			fmt.Println("ready")
			bufio.NewScanner(os.Stdin).Scan()
			if verb == "apply" {
				err = e.Apply(t, Policy{Idle: 45 * time.Second, Probes: 4, Side: SideBoth, Mode: ModeForce})
			} else {
				_, err = e.Detach(&t)
			}
		}
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

// pyHelper connects to argv[1], optionally turns keepalive off and asks for a long idle time
// (argv[2] == "off", which also asks for 3600 s on its listener after listen and turns keepalive
// off on the connection it accepts), asks for a short idle time and sets TCP_NODELAY and SO_LINGER 7 s
// (argv[2] == "tight"), or asks for a short idle time and interval before it connects
// (argv[2] == "tight-before"), then listens and accepts one connection; it prints its connection's local
// address, its listener's address, TCP_NODELAY and SO_LINGER of its connection and the
// listener's TCP_KEEPIDLE, and waits for stdin to close. It never enables keepalive.
const pyHelper = `
import socket, struct, sys
addr = (sys.argv[1].rsplit(":", 1)[0], int(sys.argv[1].rsplit(":", 1)[1]))
if sys.argv[2] == "tight-before":
    c = socket.socket()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 2)
    c.connect(addr)
else:
    c = socket.create_connection(addr)
if sys.argv[2] == "off":
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 3600)
if sys.argv[2] == "tight":
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 7))
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
if sys.argv[2] == "off":
    l.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 3600)
linger = struct.unpack("ii", c.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
print("%s:%d %s:%d" % (c.getsockname() + l.getsockname()), c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), "%d/%d" % linger,
      l.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), flush=True)
a, _ = l.accept()
if sys.argv[2] == "off":
    a.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
print("accepted", flush=True)
sys.stdin.read()
`

// helper is a process started in the sandbox's cgroup.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startHelper(t *testing.T, sb *Sandbox, env []string, name string, args ...string) *helper {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	attr, fd, err := sb.ProcAttr()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd.SysProcAttr = attr
	return start(t, cmd)
}

// start starts cmd with pipes to its stdin and stdout, and kills it when the test ends.
func start(t *testing.T, cmd *exec.Cmd) *helper {
	t.Helper()
	cmd.Stderr = os.Stderr
	h := &helper{cmd: cmd}
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.out = bufio.NewScanner(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return h
}

func (h *helper) line(t *testing.T) []string {
	t.Helper()
	if !h.out.Scan() {
		t.Fatalf("%s printed nothing: %v", h.cmd.Path, h.out.Err())
	}
	f := strings.Fields(h.out.Text())
	if len(f) > 0 && f[0] == "error" {
		t.Fatalf("%s: %s", h.cmd.Path, h.out.Text())
	}
	return f
}

func tcpAddr(t *testing.T, s string) *net.TCPAddr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// socketOf reads, through pidfd_getfd, the options of pid's socket from local to peer.
func socketOf(t *testing.T, pid int, local, peer *net.TCPAddr) testutil.SocketKeepalive {
	t.Helper()
	for i := 0; i < 100; i++ {
		got, found, _ := testutil.ServerSocket(t, []int{pid}, local, peer)
		if found {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid %d holds no socket %s -> %s", pid, local, peer)
	return testutil.SocketKeepalive{}
}

type wantSock struct {
	keepalive                     bool
	idle, intvl, cnt, userTimeout int
}

func check(t *testing.T, what string, got testutil.SocketKeepalive, want wantSock) {
	t.Helper()
	g := wantSock{got.Keepalive, got.Idle, got.Interval, got.Count, got.UserTimeout}
	if g != want {
		t.Errorf("%s: got keepalive=%v idle=%d intvl=%d cnt=%d user_timeout=%dms, want keepalive=%v idle=%d intvl=%d cnt=%d user_timeout=%dms",
			what, g.keepalive, g.idle, g.intvl, g.cnt, g.userTimeout, want.keepalive, want.idle, want.intvl, want.cnt, want.userTimeout)
	}
}

// listener accepts on loopback outside the cgroup and hands the connections over.
func listener(t *testing.T) (net.Listener, chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln, conns
}

func newSandbox(t *testing.T) *Sandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("enforce needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN for the private bpffs)")
	}
	sb, err := NewSandbox("keeptune-test")
	if err != nil {
		var me *MissingError
		if errors.As(err, &me) && !me.Privilege {
			t.Skipf("this system lacks what enforce needs: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	})
	return sb
}

func TestEnforceOnRealPrograms(t *testing.T) {
	sb := newSandbox(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (.ci/run installs it)")
	}
	sysIdle := testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_time")
	sysIntvl := testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_intvl")
	sysCnt := testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_probes")

	pol := Policy{Idle: 11 * time.Second, Interval: 3 * time.Second, Probes: 4, UserTimeout: 23 * time.Second, Side: SideBoth, Mode: ModeDefault}
	if err := sb.Enforcer.Apply(sb.Target, pol); err != nil {
		t.Fatal(err)
	}
	want := wantSock{true, 11, 3, 4, 23000}
	goEnv := append(os.Environ(), "KEEPTUNE_ENFORCE_HELPER=go")
	ln, conns := listener(t)
	lnAddr := ln.Addr().(*net.TCPAddr)

	t.Run("default mode", func(t *testing.T) {
		// Python, connecting and accepting, never touching keepalive.
		p := startHelper(t, sb, nil, py, "-c", pyHelper, lnAddr.String(), "plain")
		f := p.line(t)
		pyLocal, pyListen := tcpAddr(t, f[0]), tcpAddr(t, f[1])
		check(t, "python's connection", socketOf(t, p.cmd.Process.Pid, pyLocal, lnAddr), want)
		in, err := (&net.Dialer{KeepAlive: -1}).Dial("tcp", pyListen.String())
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		p.line(t) // accepted
		check(t, "python's accepted connection", socketOf(t, p.cmd.Process.Pid, pyListen, in.LocalAddr().(*net.TCPAddr)), want)
		// sockets --deep's view: the python connections carry the policy, the test's do not.
		cov, err := ReadCoverage(sb.BPFFS())
		if err != nil {
			t.Fatal(err)
		}
		marked := map[int]int{}
		carrying := func(pid int, k sockets.Keepalive) string {
			return cov.Carrying(pid, k.Effective)
		}
		err = sockets.Walk(context.Background(), sockets.Options{Processes: true, Deep: true, Enforcement: carrying,
			Filter: sockets.Filter{PIDs: []int{p.cmd.Process.Pid, os.Getpid()}, Ports: []uint16{uint16(lnAddr.Port), uint16(pyListen.Port)}}},
			func(s *sockets.Socket) error {
				if s.Keepalive.Enforced != "" {
					if !strings.HasPrefix(s.Keepalive.Enforced, sb.Target.Path+": keepalive 11s/3s/4, user timeout 23s") {
						t.Errorf("enforced: %q", s.Keepalive.Enforced)
					}
					marked[s.Owner.PID]++
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if marked[p.cmd.Process.Pid] != 2 || marked[os.Getpid()] != 0 {
			t.Errorf("sockets marked enforced per pid: %v, want python's 2 connections only", marked)
		}
		// The test's own socket is outside the cgroup: untouched.
		check(t, "a socket outside the cgroup", socketOf(t, os.Getpid(), in.LocalAddr().(*net.TCPAddr), pyListen), wantSock{false, sysIdle, sysIntvl, sysCnt, 0})

		// Go: a dialer that never sets keepalive gets the policy; Go's default dialer sets its
		// own 15/15/9 after connect, which wins in default mode (the user timeout stays).
		g := startHelper(t, sb, goEnv, os.Args[0], "-test.run=^$", lnAddr.String())
		f = g.line(t)
		check(t, "Go, keepalive never set", socketOf(t, g.cmd.Process.Pid, tcpAddr(t, f[0]), lnAddr), want)
		check(t, "Go, default dialer", socketOf(t, g.cmd.Process.Pid, tcpAddr(t, f[1]), lnAddr), wantSock{true, 15, 15, 9, 23000})

		// A program that turns keepalive off after connect wins in default mode.
		off := startHelper(t, sb, nil, py, "-c", pyHelper, lnAddr.String(), "off")
		f = off.line(t)
		check(t, "python turning keepalive off (default mode)", socketOf(t, off.cmd.Process.Pid, tcpAddr(t, f[0]), lnAddr), wantSock{false, 3600, 3, 4, 23000})
	})

	t.Run("force mode", func(t *testing.T) {
		pol.Mode = ModeForce
		if err := sb.Enforcer.Apply(sb.Target, pol); err != nil {
			t.Fatal(err)
		}
		off := startHelper(t, sb, nil, py, "-c", pyHelper, lnAddr.String(), "off")
		f := off.line(t)
		check(t, "python turning keepalive off and asking for 3600 s idle (force mode)", socketOf(t, off.cmd.Process.Pid, tcpAddr(t, f[0]), lnAddr), want)
		if len(f) < 5 || f[4] != "11" {
			t.Errorf("python's listener asking for 3600 s idle after listen (force mode): reads back %v, want 11", f[4:])
		}
		// What the guard lets through reaches the kernel as the program passed it: a tighter idle
		// time, and options it does not police (an int and a struct).
		tight := startHelper(t, sb, nil, py, "-c", pyHelper, lnAddr.String(), "tight")
		f = tight.line(t)
		check(t, "python asking for a tighter idle time (force mode)", socketOf(t, tight.cmd.Process.Pid, tcpAddr(t, f[0]), lnAddr), wantSock{true, 5, 3, 4, 23000})
		if len(f) < 4 || f[2] != "1" || f[3] != "1/7" {
			t.Errorf("options the guard does not police, read back by the program: TCP_NODELAY and SO_LINGER %v, want 1 and 1/7", f[2:])
		}
		// Values tighter than the policy, set before connect, stay when the connection is
		// established (the socket holds them in jiffies, the policy in seconds).
		before := startHelper(t, sb, nil, py, "-c", pyHelper, lnAddr.String(), "tight-before")
		f = before.line(t)
		check(t, "python setting a tighter idle time and interval before connect (force mode)", socketOf(t, before.cmd.Process.Pid, tcpAddr(t, f[0]), lnAddr), wantSock{true, 5, 2, 4, 23000})
		g := startHelper(t, sb, goEnv, os.Args[0], "-test.run=^$", lnAddr.String())
		f = g.line(t)
		check(t, "Go's default dialer capped to the policy (force mode)", socketOf(t, g.cmd.Process.Pid, tcpAddr(t, f[1]), lnAddr), want)
	})

	t.Run("force mode, accept side only", func(t *testing.T) {
		pol.Mode, pol.Side = ModeForce, SideAccept
		if err := sb.Enforcer.Apply(sb.Target, pol); err != nil {
			t.Fatal(err)
		}
		// The service's own outgoing connections are not the policy's: what the program sets
		// after connect stays, the guard included.
		g := startHelper(t, sb, goEnv, os.Args[0], "-test.run=^$", lnAddr.String())
		f := g.line(t)
		check(t, "Go's default dialer (force mode, side accept)", socketOf(t, g.cmd.Process.Pid, tcpAddr(t, f[1]), lnAddr), wantSock{true, 15, 15, 9, 0})
		off := startHelper(t, sb, nil, py, "-c", pyHelper, lnAddr.String(), "off")
		f = off.line(t)
		check(t, "python turning keepalive off on its outgoing connection (force mode, side accept)", socketOf(t, off.cmd.Process.Pid, tcpAddr(t, f[0]), lnAddr), wantSock{false, 3600, sysIntvl, sysCnt, 0})
		if len(f) < 5 || f[4] != "11" {
			t.Errorf("python's listener asking for 3600 s idle after listen (force mode, side accept): reads back %v, want 11", f[4:])
		}
		// The connections it accepts are: turning keepalive off there is overridden.
		in, err := (&net.Dialer{KeepAlive: -1}).Dial("tcp", f[1])
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		off.line(t) // accepted
		check(t, "python turning keepalive off on an accepted connection (force mode, side accept)", socketOf(t, off.cmd.Process.Pid, tcpAddr(t, f[1]), in.LocalAddr().(*net.TCPAddr)), want)
	})

	st, err := sb.Enforcer.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Entries) != 1 || st.Entries[0].ID != sb.Target.ID || st.Entries[0].Link != sb.Target.Path || st.Entries[0].Guard != sb.Target.Path {
		t.Fatalf("status: %+v, want one force policy on %s linked there", st.Entries, sb.Target.Path)
	}
	c := st.Entries[0].Counters
	// Connections opened in the cgroup and given the policy: python 2 in default mode and 3 in
	// force mode, Go 2 in each (none with side accept); accepted: python's 1 in default mode and
	// 1 with side accept. Guard: python's SO_KEEPALIVE=0 and TCP_KEEPIDLE=3600, Go's idle,
	// interval and count on its default dial (python's tighter idle time passes), python's 3600 s
	// on its listener in both force runs, and with side accept python's SO_KEEPALIVE=0 on the
	// accepted connection only. Already set: the tighter
	// values python set before connect, and the idle time the accepted connection of side accept
	// inherited from its listener (capped there to the policy's).
	if c.AlreadySet != 2 {
		t.Errorf("counters %+v, want already_set 2", c)
	}
	if c.Connect != 9 || c.Accept != 2 || c.GuardRewrites != 8 || c.Errors != 0 {
		t.Errorf("counters %+v, want connect 9, accept 2, guard_rewrites 8, errors 0", c)
	}
	for len(conns) > 0 {
		(<-conns).Close()
	}

	// Detach: nothing of keeptune stays in the kernel or in bpffs.
	objs := pinnedObjects(t, sb.Enforcer.PinDir())
	if _, err := sb.Enforcer.Detach(nil); err != nil {
		t.Fatal(err)
	}
	// (A fresh bpffs may hold the kernel's own maps.debug and progs.debug: bpf_preload.)
	if _, err := os.Stat(sb.Enforcer.PinDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after detach: %v, want it gone", sb.Enforcer.PinDir(), err)
	}
	assertNoPins(t, sb.bpffs)
	assertGone(t, objs)
}

// kernelObjects are the BPF programs and maps one enforcer holds, by id.
type kernelObjects struct {
	progs []ebpf.ProgramID
	maps  []ebpf.MapID
}

// pinnedObjects reads the ids of what the enforcer pinned under pinDir: its links (and the
// programs they attach), programs and maps, and every map those programs use. The check after
// detach looks for exactly these: go test runs packages in parallel, and the drill's and the
// CLI's enforce tests load keeptune_ programs of their own at the same time.
func pinnedObjects(t *testing.T, pinDir string) kernelObjects {
	t.Helper()
	var objs kernelObjects
	addProg := func(id ebpf.ProgramID) {
		objs.progs = append(objs.progs, id)
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			t.Fatalf("program %d: %v", id, err)
		}
		defer p.Close()
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		if ids, ok := info.MapIDs(); ok {
			objs.maps = append(objs.maps, ids...)
		}
	}
	err := filepath.WalkDir(pinDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if l, err := link.LoadPinnedLink(path, nil); err == nil {
			defer l.Close()
			info, err := l.Info()
			if err != nil {
				return err
			}
			addProg(info.Program)
			return nil
		}
		if p, err := ebpf.LoadPinnedProgram(path, nil); err == nil {
			defer p.Close()
			info, err := p.Info()
			if err != nil {
				return err
			}
			if id, ok := info.ID(); ok {
				addProg(id)
			}
			return nil
		}
		m, err := ebpf.LoadPinnedMap(path, nil)
		if err != nil {
			return fmt.Errorf("pin %s is no link, program or map: %w", path, err)
		}
		defer m.Close()
		info, err := m.Info()
		if err != nil {
			return err
		}
		if id, ok := info.ID(); ok {
			objs.maps = append(objs.maps, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(objs.progs)
	objs.progs = slices.Compact(objs.progs)
	slices.Sort(objs.maps)
	objs.maps = slices.Compact(objs.maps)
	if len(objs.progs) == 0 || len(objs.maps) == 0 {
		t.Fatalf("found %d programs and %d maps pinned under %s: the check after detach would prove nothing", len(objs.progs), len(objs.maps), pinDir)
	}
	return objs
}

// assertGone checks that the kernel has freed every program and map of objs (bpf syscalls by
// id; ids are allocated cyclically, so a freed one is not handed out again at once).
func assertGone(t *testing.T, objs kernelObjects) {
	t.Helper()
	var left []string
	// The kernel frees them after an RCU grace period: give it a moment.
	for i := 0; i < 100; i++ {
		left = left[:0]
		for _, id := range objs.progs {
			if p, err := ebpf.NewProgramFromID(id); err == nil {
				name := "?"
				if info, err := p.Info(); err == nil {
					name = info.Name
				}
				left = append(left, fmt.Sprintf("program %s (id %d)", name, id))
				p.Close()
			}
		}
		for _, id := range objs.maps {
			if m, err := ebpf.NewMapFromID(id); err == nil {
				name := "?"
				if info, err := m.Info(); err == nil {
					name = info.Name
				}
				left = append(left, fmt.Sprintf("map %s (id %d)", name, id))
				m.Close()
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("left in the kernel after detach: %s", strings.Join(left, ", "))
}

func TestSandboxRemovesItsCgroup(t *testing.T) {
	sb := newSandbox(t)
	dir := sb.Dir
	if err := sb.Enforcer.Apply(sb.Target, Policy{Idle: 30 * time.Second, Side: SideBoth, Mode: ModeForce}); err != nil {
		t.Fatal(err)
	}
	objs := pinnedObjects(t, sb.Enforcer.PinDir())
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	sb.Enforcer, sb.Dir, sb.bpffs = nil, "", ""
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s still there: %v", dir, err)
	}
	assertGone(t, objs)
}

// Concurrent `enforce apply` runs (separate processes, released at once) on sibling cgroups of
// one bpffs: the first ones race to create and pin the objects, later ones to add their policy
// and link. Each must succeed and every policy must stay, each with its own link; concurrent
// applies and detaches must leave exactly the applied ones. Without the lock the creators'
// pinning collides and the loser removes the winner's pins.
func TestConcurrentApplies(t *testing.T) {
	sb := newSandbox(t)
	const n = 6
	children := make([]string, n)
	for i := range children {
		children[i] = filepath.Join(sb.Dir, fmt.Sprintf("c%d", i))
		if err := os.Mkdir(children[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := sb.Enforcer.CgroupRoot()
	// run starts one helper per (verb, cgroup), waits until all are ready, releases them at once
	// and requires every one to succeed.
	run := func(verbs []string, cgroups []string) {
		t.Helper()
		var procs []*helper
		for i, cg := range cgroups {
			cmd := exec.Command(os.Args[0], "-test.run=^$", sb.BPFFS(), root, cg)
			cmd.Env = append(os.Environ(), "KEEPTUNE_ENFORCE_HELPER="+verbs[i])
			procs = append(procs, start(t, cmd))
		}
		for i, p := range procs {
			if !p.out.Scan() || p.out.Text() != "ready" {
				t.Fatalf("%s %s: %q", verbs[i], cgroups[i], p.out.Text())
			}
		}
		for _, p := range procs {
			p.stdin.Close()
		}
		for i, p := range procs {
			if !p.out.Scan() || p.out.Text() != "ok" {
				t.Errorf("concurrent %s on %s: %q", verbs[i], cgroups[i], p.out.Text())
			}
		}
	}
	// wantEnforced checks that exactly these children are enforced, each with its own link.
	wantEnforced := func(round string, want []int) {
		t.Helper()
		st, err := sb.Enforcer.Status()
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		got := map[string]string{}
		for _, en := range st.Entries {
			got[en.Path] = en.Link
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d policies, want %d: %v", round, len(got), len(want), got)
		}
		for _, i := range want {
			path := sb.Target.Path + "/" + filepath.Base(children[i])
			if link, ok := got[path]; !ok || link != path {
				t.Errorf("%s: %s has policy %v, link %q; want its own link", round, path, ok, link)
			}
		}
		links, err := os.ReadDir(filepath.Join(sb.Enforcer.PinDir(), "links"))
		if len(want) > 0 && (err != nil || len(links) != 2*len(want)) {
			t.Errorf("%s: %d pinned links (%v), want %d (sock_ops and guard per cgroup)", round, len(links), err, 2*len(want))
		}
	}
	all := []int{0, 1, 2, 3, 4, 5}
	for round := 0; round < 3; round++ {
		run([]string{"apply", "apply", "apply", "apply", "apply", "apply"}, children)
		wantEnforced(fmt.Sprintf("round %d, %d applies from nothing", round, n), all)
		if _, err := sb.Enforcer.Detach(nil); err != nil {
			t.Fatal(err)
		}
	}
	// Half applied first; then the other half applied while the first half is detached.
	run([]string{"apply", "apply", "apply"}, children[:3])
	run([]string{"detach", "apply", "detach", "apply", "detach", "apply"},
		[]string{children[0], children[3], children[1], children[4], children[2], children[5]})
	wantEnforced("applies and detaches at once", []int{3, 4, 5})
}

// assertNoPins checks that nothing but the kernel's own preload files is in the bpffs.
func assertNoPins(t *testing.T, bpffs string) {
	t.Helper()
	entries, err := os.ReadDir(bpffs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "maps.debug" && e.Name() != "progs.debug" {
			t.Errorf("%s left in bpffs", filepath.Join(bpffs, e.Name()))
		}
	}
}

// Without privilege, Open fails before loading anything and names the capabilities.
func TestOpenWithoutPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as nobody")
	}
	dir, err := os.MkdirTemp("", "keeptune-enforce-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "enforce.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$", dir)
	cmd.Env = append(os.Environ(), "KEEPTUNE_ENFORCE_HELPER=open")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := string(out)
	if !strings.HasPrefix(got, "true ") || !strings.Contains(got, "CAP_BPF") || !strings.Contains(got, "CAP_NET_ADMIN") {
		t.Errorf("as nobody: %q, want a privilege error naming CAP_BPF and CAP_NET_ADMIN", got)
	}
}
