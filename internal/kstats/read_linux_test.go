package kstats

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/keeptune/keeptune/internal/testutil"
)

// The counters read through /proc/PID/net are those of the process's own namespace: a fresh
// namespace that made one failed connection attempt counts exactly that, whatever the host did.
func TestReadPerNamespace(t *testing.T) {
	testutil.RequireRoot(t, "creates a network namespace")
	var inside Stats
	testutil.PinnedNetns(t, func() error {
		// A connect to a closed port on the namespace's own loopback: one active open that fails.
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		if c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second); err == nil {
			c.Close()
			return errors.New("connect to port 1 in a fresh namespace succeeded")
		}
		inside, err = ReadThread()
		return err
	})
	for field, want := range map[string]uint64{"ActiveOpens": 1, "AttemptFails": 1} {
		if v, ok := inside.Tcp().Get(field); !ok || v != want {
			t.Errorf("fresh namespace after one refused connect: %s = %d, want %d", field, v, want)
		}
	}
	tcp := inside.Tcp()
	if v, _ := tcp.Get("PassiveOpens"); v != 0 {
		t.Errorf("a fresh namespace has PassiveOpens %d, want 0", v)
	}
	if v, _ := tcp.Get("CurrEstab"); v != 0 {
		t.Errorf("a fresh namespace has CurrEstab %d, want 0", v)
	}

	// A child in a namespace of its own, read through /proc/PID/net without setns.
	cmd := exec.Command("unshare", "-n", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	own, err := ReadPID("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Make sure our own namespace has traffic the child's lacks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	own2, err := ReadPID("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := own.Tcp().Get("ActiveOpens")
	a2, _ := own2.Tcp().Get("ActiveOpens")
	if a2 <= a1 {
		t.Errorf("own ActiveOpens did not grow after a connect: %d then %d", a1, a2)
	}
	// unshare needs a moment to move the child into its namespace before exec'ing sleep.
	deadline := time.Now().Add(5 * time.Second)
	for {
		link, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net")
		self, _ := os.Readlink("/proc/self/ns/net")
		if link != "" && link != self {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("child never entered its namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
	child, err := ReadPID("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := child.Tcp().Get("ActiveOpens"); v != 0 {
		t.Errorf("child's fresh namespace has ActiveOpens %d, want 0", v)
	}
}
