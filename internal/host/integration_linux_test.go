//go:build linux

package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

// These tests create network namespaces and enter them: they run as root and skip otherwise.
// Everything they create is named keeptune-test-* and removed in t.Cleanup, also on failure.

const helperEnv = "KEEPTUNE_HOST_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "listen" {
		os.Exit(netnsListener())
	}
	os.Exit(m.Run())
}

// netnsListener runs in a child started with CLONE_NEWNET: it brings lo up, sets
// tcp_keepalive_time to 321 in its namespace, listens on 127.0.0.1, prints the port and waits
// for its stdin to close.
func netnsListener() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	if err := loopbackUp(); err != nil {
		return fail(err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("321"), 0); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// loopbackUp sets IFF_UP on lo: a new namespace starts with lo down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, bind-mounts them under /run/netns and enters them with setns")
	}
}

// checkGone fails the test if a path the test made is still there at the very end.
func checkGone(t *testing.T, p string) {
	t.Cleanup(func() {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (err %v)", p, err)
		}
	})
}

func findNetns(t *testing.T, s *model.Snapshot, inode uint64) model.Namespace {
	t.Helper()
	for _, n := range s.Namespaces {
		if n.Inode == inode {
			return n
		}
	}
	var names []string
	for _, n := range s.Namespaces {
		names = append(names, fmt.Sprintf("%s net:[%d]", n.Name, n.Inode))
	}
	t.Fatalf("namespace net:[%d] not found among %q; problems %+v", inode, names, s.Problems)
	return model.Namespace{}
}

func checkSysctl(t *testing.T, ns model.Namespace, key, value string, kind model.SourceKind) {
	t.Helper()
	s, ok := model.Lookup(ns.Sysctls, key)
	if !ok || !s.Readable || s.Value != value || s.Source.Kind != kind || len(s.Assignments) != 0 {
		t.Errorf("%s in %s = %+v, want %s from %s and no file assignments", key, ns.Name, s, value, kind)
	}
}

// TestIntegrationProcessNetns starts a Go child in a fresh network namespace that sets
// tcp_keepalive_time to 321 and listens on 127.0.0.1, pins the namespace under /run/netns, and
// checks that Collect enters it, attributes the listener to the child and recognises the child
// as a Go program.
func TestIntegrationProcessNetns(t *testing.T) {
	requireRoot(t)
	name := testutil.NetnsName(t)
	checkGone(t, "/run/netns/"+name)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=listen")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("helper pid %d still running", pid)
		}
	})
	portc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		portc <- strings.TrimSpace(line)
	}()
	var port string
	select {
	case port = <-portc:
	case <-time.After(20 * time.Second):
		t.Fatal("helper did not report its port")
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("helper said %q, want a port", port)
	}
	nsFile := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	inode, err := fileInode(nsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(nsFile, testutil.PinPath(t, name), "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount %s: %v", nsFile, err)
	}

	s, err := Collect(context.Background(), Options{Root: "/", AllNetns: true})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Namespaces[0].Current || s.Namespaces[0].Inode == inode {
		t.Errorf("first namespace = %+v, want the current one", s.Namespaces[0])
	}
	ns := findNetns(t, s, inode)
	t.Logf("namespace %q net:[%d] pids %v", ns.Name, ns.Inode, ns.PIDs)
	if ns.Name != name || ns.Current || !slices.Contains(ns.PIDs, pid) {
		t.Errorf("namespace = %q current=%v pids=%v; want %q holding pid %d", ns.Name, ns.Current, ns.PIDs, name, pid)
	}
	checkSysctl(t, ns, model.KeyKeepaliveTime, "321", model.SourceRuntime)
	checkSysctl(t, ns, model.KeyKeepaliveIntvl, "75", model.SourceKernelDefault)
	checkSysctl(t, ns, model.KeyKeepaliveProbes, "9", model.SourceKernelDefault)
	if ns.Keepalive.Idle.Value != 321*time.Second || ns.Keepalive.Interval.Value != 75*time.Second {
		t.Errorf("keepalive = %+v", ns.Keepalive)
	}

	var child *model.Process
	for i := range s.Processes {
		if s.Processes[i].PID == pid {
			child = &s.Processes[i]
		}
	}
	if child == nil {
		t.Fatalf("helper pid %d not among the processes; problems %+v", pid, s.Problems)
	}
	t.Logf("process %+v go %+v", *child, child.Go)
	if child.NetnsInode != inode || !slices.Contains(child.Listening, "127.0.0.1:"+port) || child.TCPSockets != 1 {
		t.Errorf("helper = %+v, want listening on 127.0.0.1:%s in net:[%d]", *child, port, inode)
	}
	if child.Go == nil || child.Go.Version != runtime.Version() || child.Go.Keepalive.Idle.Value != 15*time.Second {
		t.Errorf("helper's Go facts = %+v", child.Go)
	}
	if !child.NofileSoft.Known || !child.NofileHard.Known {
		t.Errorf("helper's RLIMIT_NOFILE unknown: %+v %+v", child.NofileSoft, child.NofileHard)
	}

	// Without AllNetns the namespace is only counted.
	s, err = Collect(context.Background(), Options{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Namespaces) != 1 || !s.Namespaces[0].Current {
		t.Errorf("namespaces without AllNetns = %+v", s.Namespaces)
	}
	if !hasProblem(s.Problems, "in use: not audited: add --all-netns") { // as root: the flag is all it takes
		t.Errorf("no problem counting the other namespaces: %+v", s.Problems)
	}
	for _, p := range s.Processes {
		if p.PID == pid {
			t.Errorf("helper in another namespace reported without AllNetns: %+v", p)
		}
	}
}

// TestIntegrationPinnedOnlyNetns makes a namespace that no process lives in: a locked thread
// unshares, sets tcp_keepalive_time to 322 inside, pins the namespace under /run/netns and
// returns to its own. Collect must find it through /run/netns alone and enter it.
func TestIntegrationPinnedOnlyNetns(t *testing.T) {
	requireRoot(t)
	p, name := testutil.PinnedNetns(t, func() error {
		// /proc/sys/net shows the namespace of the writing thread: this one's new namespace.
		return os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("322"), 0)
	})
	inode, err := fileInode(p)
	if err != nil {
		t.Fatal(err)
	}

	s, err := Collect(context.Background(), Options{Root: "/", AllNetns: true})
	if err != nil {
		t.Fatal(err)
	}
	ns := findNetns(t, s, inode)
	t.Logf("namespace %q net:[%d] pids %v", ns.Name, ns.Inode, ns.PIDs)
	if ns.Name != name || len(ns.PIDs) != 0 {
		t.Errorf("namespace = %q pids %v, want %q without processes", ns.Name, ns.PIDs, name)
	}
	checkSysctl(t, ns, model.KeyKeepaliveTime, "322", model.SourceRuntime)
	checkSysctl(t, ns, model.KeyKeepaliveIntvl, "75", model.SourceKernelDefault)
	checkSysctl(t, ns, model.KeyFinTimeout, "60", model.SourceKernelDefault)
	if own, err := fileInode("/proc/thread-self/ns/net"); err != nil || own == inode {
		t.Errorf("this thread is in net:[%d] (err %v) after Collect", own, err)
	}
}

// every thread where it was, many times over.
