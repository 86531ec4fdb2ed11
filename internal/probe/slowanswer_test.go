package probe

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowProxy forwards TCP between a probe and a responder on loopback. Its kernel acknowledges
// what the probe sends at once (the path works), while on the connections slow picks (by the
// order it accepted them: 1 is the run's control connection) it holds back, once, what the
// responder sends: a responder, or a host, too busy to answer within the reply timeout.
type slowProxy struct {
	addr        string
	after, hold time.Duration
	slow        func(n int) bool
	mu          sync.Mutex
	n           int
}

func startSlowProxy(t *testing.T, to string, after, hold time.Duration, slow func(n int) bool) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{addr: ln.Addr().String(), after: after, hold: hold, slow: slow}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.n++
			first := p.slow(p.n)
			p.mu.Unlock()
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(s, c); s.(*net.TCPConn).CloseWrite() }()
			go func() {
				defer wg.Done()
				defer c.Close()
				defer s.Close()
				if !first {
					io.Copy(c, s)
					return
				}
				start, held := time.Now(), false
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if n > 0 && !held && time.Since(start) > p.after {
						held = true
						time.Sleep(p.hold)
					}
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// TestControlAnswerLate: the control connection's answer comes 2.5 s late (more than the 1 s
// reply timeout) over a path whose kernel acknowledged the message. That is a busy responder,
// not a failed path: the run goes on, notes it, and ends with its result. (Before, it failed
// with "got no answer within 1s", as TestProbeLab did twice at load 19-28.)
func TestControlAnswerLate(t *testing.T) {
	tr := startResponder(t, ResponderConfig{})
	p := startSlowProxy(t, tr.addr.String(), 1500*time.Millisecond, 2500*time.Millisecond, func(n int) bool { return n == 1 })
	res, err := Run(context.Background(), mustAddrPort(t, p.addr), Options{MaxIdle: 3 * time.Second, MaxConns: 8})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Found {
		t.Errorf("found an idle timeout of %v on a path without one", res.IdleTimeout)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "answered the control connection late") {
		t.Errorf("notes %q lack the late answer", res.Notes)
	}
	t.Logf("wall %v, notes %q", res.Wall, res.Notes)
}

// TestSearchAnswerLate: the answers on the search's connections come 2.5 s late, once each,
// over a path that delivered the probes (the proxy's kernel acknowledged them) and has no idle
// timeout. A late answer is a busy responder: no connection may count as silently dropped, and
// the run must find no timeout. (Before, each late answer was a death at its idle length: a
// timeout "found" on a path without one.)
func TestSearchAnswerLate(t *testing.T) {
	tr := startResponder(t, ResponderConfig{})
	p := startSlowProxy(t, tr.addr.String(), 1500*time.Millisecond, 2500*time.Millisecond, func(n int) bool { return n >= 3 })
	res, err := Run(context.Background(), mustAddrPort(t, p.addr), Options{MaxIdle: 3 * time.Second, MaxConns: 8})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Found {
		t.Errorf("found an idle timeout of %v (%v) on a path without one: late answers counted as deaths", res.IdleTimeout, res.FailureMode)
	}
	t.Logf("wall %v, %d tests, notes %q", res.Wall, len(res.Tests), res.Notes)
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
