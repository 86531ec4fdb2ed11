package lab

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"

	"testing"
	"time"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veths and nftables tables (CI runs as root)")
	}
}

// newLab builds a lab and checks, when the test ends, that Close left nothing behind.
func newLab(t *testing.T, spec Spec) *Lab {
	t.Helper()
	l, err := New(context.Background(), spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		AssertGone(t, l.ID)
	})
	return l
}

// AssertGone fails t if anything of run id is left.
func AssertGone(t testing.TB, id string) {
	t.Helper()
	left, err := Leftovers()
	if err != nil {
		t.Errorf("Leftovers: %v", err)
	}
	for _, l := range left {
		if l.RunID == id {
			t.Errorf("left behind by run %s: %v", id, l)
		}
	}
}

// echo accepts one connection and echoes it.
func echo(t *testing.T, l *Lab, ln *net.TCPListener) {
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		l.Track(c)
		io.Copy(c, c)
	}()
}

func roundTrip(t *testing.T, c net.Conn) error {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		t.Fatalf("echo: got %q", buf)
	}
	return nil
}

func TestLabTopologies(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"direct-v4", Spec{Topology: Direct, Family: IPv4}},
		{"routed-v4", Spec{Topology: Routed, Family: IPv4}},
		{"direct-v6", Spec{Topology: Direct, Family: IPv6}},
		{"routed-v6-nat", Spec{Topology: Routed, Family: IPv6, NAT: &NAT{IdleTimeout: 30 * time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLab(t, tc.spec)
			for _, n := range l.nodes {
				if _, err := os.Stat(nsPathOf(n.Name)); err != nil {
					t.Errorf("namespace %s not pinned: %v", n.Name, err)
				}
			}
			addr := netip.AddrPortFrom(l.ServerAddr(), 7000)
			ln, err := l.Listen(ctx, l.Server, &net.ListenConfig{}, addr)
			if err != nil {
				t.Fatal(err)
			}
			echo(t, l, ln)
			c, err := l.Dial(ctx, l.Client, &net.Dialer{Timeout: 2 * time.Second}, addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := roundTrip(t, c); err != nil {
				t.Fatalf("round trip: %v", err)
			}
			if tc.spec.NAT != nil {
				// The server sees the middlebox's address, not the client's.
				v, err := l.Middlebox.Sysctl("net.netfilter.nf_conntrack_tcp_timeout_established")
				if err != nil || v != "30" {
					t.Errorf("conntrack timeout in the middlebox = %q, %v; want 30", v, err)
				}
			}
			if err := l.Blackhole(Both, AtReceiver); err != nil {
				t.Fatal(err)
			}
			if err := roundTrip(t, c); err == nil {
				t.Fatal("round trip through a blackhole succeeded")
			}
			d, err := l.Dropped()
			if err != nil || d.Blackholed == 0 {
				t.Errorf("Dropped = %+v, %v; want some blackholed packets", d, err)
			}
			if err := l.Heal(); err != nil {
				t.Fatal(err)
			}
			// The earlier write is still queued: once healed, it is retransmitted and echoed.
			c.SetDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatalf("after Heal: %v", err)
			}
		})
	}
}

func TestBlackholeAtMiddleboxNeedsRouted(t *testing.T) {
	requireRoot(t)
	l := newLab(t, Spec{Topology: Direct})
	if err := l.Blackhole(Both, AtMiddlebox); err == nil {
		t.Fatal("Blackhole at the middlebox of a direct lab: want an error")
	}
}

func TestDoRestoresThread(t *testing.T) {
	requireRoot(t)
	l := newLab(t, Spec{Topology: Direct})
	self, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := l.Client.Do(func() error {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside == self {
		t.Fatalf("Do ran in the caller's namespace %s", inside)
	}
	// Many goroutines later, no thread of this process may be left in a lab namespace.
	for range 50 {
		l.Server.Do(func() error { return nil })
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		ns, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err == nil && ns != self {
			t.Errorf("thread %s is in %s, not %s", task.Name(), ns, self)
		}
	}
	wantErr := errors.New("x")
	if err := l.Client.Do(func() error { return wantErr }); err != wantErr {
		t.Errorf("Do returned %v, want fn's error", err)
	}
}

func TestNodeSysctlIsPerNamespace(t *testing.T) {
	requireRoot(t)
	l := newLab(t, Spec{Topology: Direct})
	host, err := os.ReadFile("/proc/sys/net/ipv4/tcp_retries2")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Client.SetSysctl("net.ipv4.tcp_retries2", "4"); err != nil {
		t.Fatal(err)
	}
	if v, _ := l.Client.Sysctl("net.ipv4.tcp_retries2"); v != "4" {
		t.Errorf("client tcp_retries2 = %q, want 4", v)
	}
	after, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_retries2")
	if string(after) != string(host) {
		t.Errorf("host tcp_retries2 changed from %q to %q", host, after)
	}
	if err := l.Client.SetSysctl("kernel.panic", "1"); err == nil || !strings.Contains(err.Error(), "not a network sysctl") {
		t.Errorf("SetSysctl(kernel.panic) = %v, want a refusal", err)
	}
	st, err := l.Server.ReadNetFile("sockstat")
	if err != nil || !strings.Contains(string(st), "TCP: inuse 0") {
		t.Errorf("server sockstat = %q, %v; want an empty namespace", st, err)
	}
}

func TestCleanupRemovesDeadRunsOnly(t *testing.T) {
	requireRoot(t)
	live := newLab(t, Spec{Topology: Direct})
	dead, err := New(context.Background(), Spec{Topology: Routed, NAT: &NAT{IdleTimeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a killed run: drop the lock without removing anything.
	dead.lock.Close()
	for _, n := range dead.nodes {
		n.close()
	}
	removed, inUse, err := Cleanup(live.ID, dead.ID)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	kinds := map[string]int{}
	for _, r := range removed {
		if r.RunID != dead.ID {
			t.Errorf("Cleanup removed %v of a live run", r)
		}
		kinds[r.Kind]++
	}
	if kinds["netns"] != 3 || kinds["lock"] != 1 {
		t.Errorf("removed %v, want 3 namespaces and 1 lock", removed)
	}
	if len(inUse) == 0 {
		t.Errorf("Cleanup did not report the live run as in use")
	}
	AssertGone(t, dead.ID)
	if _, err := os.Stat(nsPathOf(live.Client.Name)); err != nil {
		t.Errorf("Cleanup removed a live run's namespace: %v", err)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	for _, s := range []Spec{
		{Topology: Direct, NAT: &NAT{IdleTimeout: time.Second}},
		{Topology: Routed, NAT: &NAT{IdleTimeout: 1500 * time.Millisecond}},
		{Topology: Routed, NAT: &NAT{IdleTimeout: 0}},
		{Topology: Direct, Family: 5},
	} {
		if _, err := New(context.Background(), s); err == nil {
			t.Errorf("New(%+v): want an error", s)
		}
	}
}
