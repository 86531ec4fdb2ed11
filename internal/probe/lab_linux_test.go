package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
)

// The lab tests measure a real NAT (conntrack in a middlebox namespace, nf_conntrack_tcp_loose
// = 0, so a forgotten flow stays forgotten) with a responder in the server namespace and the
// probe in the client namespace. They run in parallel: each builds its own lab.
//
// Tolerance: on this kernel (6.18, HZ=250) conntrack checks an entry's expiry on every lookup
// (nf_ct_is_expired), so a flow dies when a packet arrives T after the last one, to the jiffy:
// runs at --precision 10ms put the alive/dead boundary within 8 ms of T every time (3, 7 and
// 13 s, drop and reset, docs/probe.md). The client's clock and conntrack's jiffies differ by
// at most a jiffy at each end, so the true boundary lies within 2 jiffies (8 ms) of T, and the
// tests require the bracket to hold a point within 8 ms of T, to be no wider than the
// precision, and the reported value (its middle) to be within half the precision plus 8 ms.

const (
	labPort = 4242
	jiffy   = 4 * time.Millisecond
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lab creates network namespaces, veths and nftables tables (CI runs as root)")
	}
}

// probeLab is a lab with a responder on its server.
type probeLab struct {
	*lab.Lab
	addr  netip.AddrPort
	mu    sync.Mutex
	stats []ConnStats
	// served: the test expects the responder to have served connections.
	served bool
	resp   *Responder
}

func newProbeLab(t *testing.T, spec lab.Spec, rc ResponderConfig) *probeLab {
	t.Helper()
	ctx := context.Background()
	l, err := lab.New(ctx, spec)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	pl := &probeLab{Lab: l, addr: netip.AddrPortFrom(l.ServerAddr(), labPort)}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-served
		// Every connection is closed now: none got more from the responder than it sent.
		pl.mu.Lock()
		if pl.served && len(pl.stats) == 0 {
			t.Errorf("the responder reports no connection")
		}
		for _, s := range pl.stats {
			if s.Sent > s.Received {
				t.Errorf("the responder sent %d bytes to %v, which sent it %d", s.Sent, s.Remote, s.Received)
			}
		}
		pl.mu.Unlock()
		if err := l.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
		left, err := lab.Remaining(l.ID)
		if err != nil {
			t.Errorf("lab leftovers: %v", err)
		}
		for _, x := range left {
			t.Errorf("lab %s left %v", l.ID, x)
		}
	})
	ln, err := l.Server.Listen(ctx, ListenConfig(), pl.addr)
	if err != nil {
		close(served)
		t.Fatal(err)
	}
	rc.OnClose = func(s ConnStats) {
		pl.mu.Lock()
		pl.stats = append(pl.stats, s)
		pl.mu.Unlock()
	}
	resp, err := NewResponder(rc)
	if err != nil {
		close(served)
		t.Fatal(err)
	}
	pl.resp = resp
	go func() {
		defer close(served)
		resp.Serve(sctx, ln)
	}()
	return pl
}

func (pl *probeLab) dial(ctx context.Context, d *net.Dialer, a netip.AddrPort) (*net.TCPConn, error) {
	return pl.Client.Dial(ctx, d, a)
}

// TestProbeLab runs its twelve cases at once, from goroutines rather than t.Parallel: `go
// test` runs only GOMAXPROCS parallel tests at a time, and the cases mostly wait on timers.
func TestProbeLab(t *testing.T) {
	requireRoot(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, fam := range []lab.Family{lab.IPv4, lab.IPv6} {
		for _, mode := range []lab.OnExpiry{lab.ExpiryDrop, lab.ExpiryReset} {
			for _, secs := range []int{3, 7, 13} {
				T := time.Duration(secs) * time.Second
				prec := DefaultPrecision
				if fam == lab.IPv6 {
					// A fine precision makes the search refine the bracket in rounds.
					prec = Precision{Fixed: 100 * time.Millisecond}
				}
				name := fmt.Sprintf("%v-%v-%ds", fam, mode, secs)
				wg.Add(1)
				go t.Run(name, func(t *testing.T) {
					defer wg.Done()
					pl := newProbeLab(t, lab.Spec{Topology: lab.Routed, Family: fam, NAT: &lab.NAT{IdleTimeout: T, OnExpiry: mode}}, ResponderConfig{})
					pl.served = true
					res, err := Run(context.Background(), pl.addr, Options{Precision: prec, CheckKeepalive: true, Dial: pl.dial})
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
					p := prec.at(res.Lo, res.Hi)
					t.Logf("T=%v: found %v in [%v, %v] (precision %v), %v, wall %v (%.2f T), %d connections, notes %q",
						T, res.IdleTimeout, res.Lo, res.Hi, p, res.FailureMode, res.Wall, float64(res.Wall)/float64(T), res.Connections, res.Notes)
					if !res.Found {
						t.Fatalf("no timeout found")
					}
					if res.Lo >= T+2*jiffy || res.Hi < T-2*jiffy {
						t.Errorf("bracket [%v, %v] misses T=%v (±%v)", res.Lo, res.Hi, T, 2*jiffy)
					}
					if res.Hi-res.Lo > p {
						t.Errorf("bracket [%v, %v] wider than the precision %v", res.Lo, res.Hi, p)
					}
					if d := (res.IdleTimeout - T).Abs(); d > p/2+2*jiffy {
						t.Errorf("found %v, %v from T=%v: more than half the precision + 2 jiffies", res.IdleTimeout, d, T)
					}
					want := map[lab.OnExpiry]Outcome{lab.ExpiryDrop: Silent, lab.ExpiryReset: Reset}[mode]
					if res.FailureMode != want {
						t.Errorf("failure mode %q, want %q", res.FailureMode, want)
					}
					// conntrack refreshes a flow on any packet: the responder's ticks and
					// TCP keepalive probes keep it.
					if res.ServerRefresh == nil || !*res.ServerRefresh {
						t.Errorf("server refresh %v, want true", fmtBool(res.ServerRefresh))
					}
					if res.KeepaliveRefresh == nil || !*res.KeepaliveRefresh {
						t.Errorf("keepalive refresh %v, want true", fmtBool(res.KeepaliveRefresh))
					}
					if res.Connections > DefaultMaxConns && prec == DefaultPrecision {
						t.Errorf("%d connections, more than %d", res.Connections, DefaultMaxConns)
					}
					if res.Disagreements > 0 {
						t.Errorf("%d disagreements: %q", res.Disagreements, res.Notes)
					}
					want4 := fam == lab.IPv4
					if !res.SeenAs.IsValid() || res.SeenAs.Addr().Is4() != want4 || res.SeenAs.Addr() == pl.Client.Addr {
						t.Errorf("the responder saw the client as %v: want the NAT's address, not the client's %v", res.SeenAs, pl.Client.Addr)
					}
					if t.Failed() {
						for _, x := range res.Tests {
							t.Logf("conn %2d %-11s idle %-12v at %-12v %s", x.Conn, x.Role, short(x.Idle), short(x.At), x.Outcome)
						}
					}
				})
			}
		}
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "null"
	}
	return strconv.FormatBool(*b)
}

// TestProbeBlackholed: a path broken from the start is unreachable, not a timeout of zero.
func TestProbeBlackholed(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	pl := newProbeLab(t, lab.Spec{Topology: lab.Routed, NAT: &lab.NAT{IdleTimeout: 5 * time.Second}}, ResponderConfig{})
	if err := pl.Blackhole(lab.Both, lab.AtMiddlebox); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Run(context.Background(), pl.addr, Options{ConnectTimeout: time.Second, Dial: pl.dial})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Run = %+v, %v; want ErrUnreachable", res, err)
	}
	if !strings.Contains(err.Error(), "no answer to the connection attempt") {
		t.Errorf("error %q does not say what happened", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 1s connect timeout", d)
	}
}

// TestProbePathFailure: a path that breaks in the middle of the search kills the control
// connection too: the run reports a path failure, not an idle timeout.
func TestProbePathFailure(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	pl := newProbeLab(t, lab.Spec{Topology: lab.Routed, NAT: &lab.NAT{IdleTimeout: 30 * time.Second}}, ResponderConfig{})
	time.AfterFunc(2500*time.Millisecond, func() { pl.Blackhole(lab.Both, lab.AtMiddlebox) })
	start := time.Now()
	res, err := Run(context.Background(), pl.addr, Options{Dial: pl.dial})
	if !errors.Is(err, ErrPathFailed) {
		t.Fatalf("Run = %+v, %v; want ErrPathFailed", res, err)
	}
	t.Logf("%v after %v", err, time.Since(start))
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("the failure took %v to show", d)
	}
}

// TestProbeCancel: cancelling the context closes every connection of the run at once.
func TestProbeCancel(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	pl := newProbeLab(t, lab.Spec{Topology: lab.Routed, NAT: &lab.NAT{IdleTimeout: 30 * time.Second}}, ResponderConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	if before, err := clientSockets(pl.Client); err != nil || len(before) != 0 {
		t.Fatalf("sockets in the client namespace before the run: %v, %v", before, err)
	}
	var during map[string]bool
	var herr error
	time.AfterFunc(2*time.Second, func() {
		during, herr = clientSockets(pl.Client)
		cancel()
	})
	start := time.Now()
	_, err := Run(ctx, pl.addr, Options{Dial: pl.dial, CheckKeepalive: true})
	returned := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if herr != nil {
		t.Fatal(herr)
	}
	if len(during) < DefaultMaxConns {
		t.Fatalf("%d sockets in the client namespace during the run, want %d", len(during), DefaultMaxConns)
	}
	if returned > 2500*time.Millisecond {
		t.Errorf("Run returned %v after the cancel", returned-2*time.Second)
	}
	after, err := clientSockets(pl.Client)
	if err != nil {
		t.Fatal(err)
	}
	for ino := range during {
		if after[ino] {
			t.Errorf("socket inode %s still exists in the client namespace", ino)
		}
	}
	// And the process holds none of them.
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		link, _ := os.Readlink("/proc/self/fd/" + fd.Name())
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && during[strings.TrimSuffix(ino, "]")] {
			t.Errorf("fd %s still holds %s", fd.Name(), link)
		}
	}
	t.Logf("%d sockets during the run, none after", len(during))
}

// clientSockets lists the inodes of the TCP sockets in the node's namespace.
func clientSockets(n *lab.Node) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := n.ReadNetFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && fields[9] != "0" {
				out[fields[9]] = true
			}
		}
	}
	return out, nil
}

// TestProbeNoStorm: three runs in a row through a NAT that silently drops forgotten flows.
// Such a NAT also drops the resets the probe closes dead connections with, so the responder
// would keep them (its keepalive is off by design) and fill its per-source limit. Each run must
// make at most 2 x --max-conns connection attempts, counted at the NAT (SYNs it forwarded),
// find the timeout within max(1 s, 1 %), and leave the responder holding nothing of it.
func TestProbeNoStorm(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	const T = 3 * time.Second
	pl := newProbeLab(t, lab.Spec{Topology: lab.Routed, NAT: &lab.NAT{IdleTimeout: T, OnExpiry: lab.ExpiryDrop}},
		ResponderConfig{MaxPerSource: 2 * DefaultMaxConns})
	pl.served = true
	prev, err := pl.Attempts()
	if err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 3; run++ {
		res, err := Run(context.Background(), pl.addr, Options{Dial: pl.dial})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		n, err := pl.Attempts()
		if err != nil {
			t.Fatal(err)
		}
		attempts := n - prev
		prev = n
		p := DefaultPrecision.at(res.Lo, res.Hi)
		t.Logf("run %d: %v in [%v, %v], %d connections, %d attempts at the NAT, wall %v", run, res.IdleTimeout, res.Lo, res.Hi, res.Connections, attempts, res.Wall)
		if attempts > 2*DefaultMaxConns {
			t.Errorf("run %d: %d connection attempts crossed the NAT, more than 2 x --max-conns = %d", run, attempts, 2*DefaultMaxConns)
		}
		if attempts < uint64(res.Connections) {
			t.Errorf("run %d: the NAT counted %d attempts for %d connections: the counter misses some", run, attempts, res.Connections)
		}
		if !res.Found || (res.IdleTimeout-T).Abs() > max(time.Second, T/100) || res.Hi-res.Lo > p {
			t.Errorf("run %d: found %v in [%v, %v], want within %v of %v", run, res.IdleTimeout, res.Lo, res.Hi, max(time.Second, T/100), T)
		}
		// The responder drops every connection of a finished run: the live ones said done and
		// closed, the ones the NAT cut off were listed on the control connection, and the
		// control connection's "finished" drops the rest.
		deadline := time.Now().Add(time.Second)
		for pl.resp.Open() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if open := pl.resp.Open(); open > 0 {
			t.Errorf("run %d: the responder still holds %d connections 1 s after the run", run, open)
		}
		if socks, err := clientSockets(pl.Server); err != nil || len(socks) != 1 {
			t.Errorf("run %d: %d sockets with an owner in the server namespace after the run, want only the listener (%v)", run, len(socks), err)
		}
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	reasons := map[string]int{}
	for _, s := range pl.stats {
		reasons[s.Reason]++
	}
	t.Logf("responder closed connections: %v", reasons)
	for r := range reasons {
		if strings.HasPrefix(r, "idle cap") || strings.HasPrefix(r, "refused") {
			t.Errorf("a connection ended by %q: the run did not release it", r)
		}
	}
}
