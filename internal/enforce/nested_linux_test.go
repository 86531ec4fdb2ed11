package enforce

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNestedPolicies checks that a socket gets the policy of its nearest enforced cgroup, and
// is counted there only: every enforced cgroup has its own sock_ops link, and the link of the
// outer one runs for the inner one's sockets too (after the inner one's), so it must stand back.
// With the inner policy detached, the outer one serves the inner cgroup again.
func TestNestedPolicies(t *testing.T) {
	sb := newSandbox(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (.ci/run installs it)")
	}
	innerDir := filepath.Join(sb.Dir, "inner")
	if err := os.Mkdir(innerDir, 0o755); err != nil {
		t.Fatal(err)
	}
	inner, err := sb.Enforcer.Resolve(Scope{Cgroup: innerDir})
	if err != nil {
		t.Fatal(err)
	}
	outerPol := Policy{Idle: 11 * time.Second, Interval: 3 * time.Second, Probes: 4, UserTimeout: 23 * time.Second, Side: SideBoth, Mode: ModeDefault}
	innerPol := Policy{Idle: 17 * time.Second, Interval: 5 * time.Second, Probes: 2, Side: SideBoth, Mode: ModeDefault}
	if err := sb.Enforcer.Apply(sb.Target, outerPol); err != nil {
		t.Fatal(err)
	}
	if err := sb.Enforcer.Apply(inner, innerPol); err != nil {
		t.Fatal(err)
	}
	ln, _ := listener(t)
	lnAddr := ln.Addr().(*net.TCPAddr)
	// connect starts the Python helper in dir; it connects to the test's listener.
	connect := func(dir string) (pid int, local *net.TCPAddr) {
		t.Helper()
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd := exec.Command(py, "-c", pyHelper, lnAddr.String(), "plain")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Setpgid: true}
		h := start(t, cmd)
		return cmd.Process.Pid, tcpAddr(t, h.line(t)[0])
	}
	counters := func() map[string]Counters {
		t.Helper()
		st, err := sb.Enforcer.Status()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Counters{}
		for _, en := range st.Entries {
			if en.Link != en.Path {
				t.Errorf("%s is served by the link of %s, want its own", en.Path, en.Link)
			}
			out[en.Path] = en.Counters
		}
		return out
	}

	pid, local := connect(innerDir)
	check(t, "a connection of the inner cgroup", socketOf(t, pid, local, lnAddr), wantSock{true, 17, 5, 2, 0})
	c := counters()
	if c[inner.Path].Connect != 1 || c[sb.Target.Path] != (Counters{}) || c[inner.Path].Errors != 0 {
		t.Errorf("after the inner connection: inner %+v, outer %+v; want 1 connection counted in the inner cgroup only", c[inner.Path], c[sb.Target.Path])
	}
	pid, local = connect(sb.Dir)
	check(t, "a connection of the outer cgroup", socketOf(t, pid, local, lnAddr), wantSock{true, 11, 3, 4, 23000})
	c = counters()
	if c[inner.Path].Connect != 1 || c[sb.Target.Path].Connect != 1 {
		t.Errorf("after the outer connection: inner %+v, outer %+v; want one each", c[inner.Path], c[sb.Target.Path])
	}

	if _, err := sb.Enforcer.Detach(&inner); err != nil {
		t.Fatal(err)
	}
	pid, local = connect(innerDir)
	check(t, "a connection of the inner cgroup after its policy went", socketOf(t, pid, local, lnAddr), wantSock{true, 11, 3, 4, 23000})
	if c = counters(); c[sb.Target.Path].Connect != 2 {
		t.Errorf("after the inner policy went: outer %+v, want 2 connections", c[sb.Target.Path])
	}
	// Applied again, the inner policy starts from zero (the kernel kept the cgroup's storage).
	if err := sb.Enforcer.Apply(inner, innerPol); err != nil {
		t.Fatal(err)
	}
	if c = counters(); c[inner.Path] != (Counters{}) {
		t.Errorf("a new inner policy starts with %+v, want zero", c[inner.Path])
	}
}
