package probe

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the responder on loopback: no privilege needed.

type testResponder struct {
	addr  netip.AddrPort
	mu    sync.Mutex
	stats []ConnStats
}

func startResponder(t *testing.T, cfg ResponderConfig) *testResponder {
	t.Helper()
	tr := &testResponder{}
	cfg.OnClose = func(s ConnStats) {
		tr.mu.Lock()
		tr.stats = append(tr.stats, s)
		tr.mu.Unlock()
	}
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenConfig().Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr.addr = ln.Addr().(*net.TCPAddr).AddrPort()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		// Every connection closed, none sent more than it received.
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, s := range tr.stats {
			if s.Sent > s.Received {
				t.Errorf("the responder sent %d bytes to %v, which sent it %d (%s)", s.Sent, s.Remote, s.Received, s.Reason)
			}
		}
	})
	return tr
}

func (tr *testResponder) connect(t *testing.T) (*pconn, error) {
	t.Helper()
	return dialHello(context.Background(), defaultDial, tr.addr, time.Second, time.Second, hello{})
}

// countingConn counts both directions from the client's side.
type countingConn struct {
	net.Conn
	mu       sync.Mutex
	sent, rx int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.rx += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.sent += int64(n)
	c.mu.Unlock()
	return n, err
}

// TestNoAmplification: a greedy client that asks for far more than it pays for never gets
// more bytes than it sent, on any connection, whatever it asks.
func TestNoAmplification(t *testing.T) {
	tr := startResponder(t, ResponderConfig{FrameRate: 1000})
	var wg sync.WaitGroup
	defer wg.Wait()
	for name, script := range map[string][][]byte{
		"hello only":             {hello{MinVersion: 1, MaxVersion: 1}.marshal()},
		"hello then junk":        {hello{MinVersion: 1, MaxVersion: 1}.marshal(), []byte("GIVE ME EVERYTHING")},
		"unpaid push":            {hello{MinVersion: 1, MaxVersion: 1}.marshal(), pushReq{First: time.Millisecond, Growth: 0, Ticks: 4096}.marshal(0)},
		"push paying 10 ticks":   {hello{MinVersion: 1, MaxVersion: 1}.marshal(), pushReq{First: time.Millisecond, Growth: 0, Ticks: 4096}.marshal(10 * FrameCost)},
		"short probes":           {hello{MinVersion: 1, MaxVersion: 1}.marshal(), appendFrame(nil, typeProbe, []byte{1})},
		"many probes":            append([][]byte{hello{MinVersion: 1, MaxVersion: 1}.marshal()}, repeat(marshalProbe(1), 50)...),
		"probes before hello":    {marshalProbe(1), marshalProbe(2)},
		"unsupported version":    {hello{MinVersion: 7, MaxVersion: 9}.marshal()},
		"short hello":            {appendFrame(nil, typeHello, magic[:])},
		"big padding no request": {hello{MinVersion: 1, MaxVersion: 1}.marshal(), appendFrame(nil, 'Z', make([]byte, 60000))},
	} {
		wg.Add(1)
		go t.Run(name, func(t *testing.T) {
			defer wg.Done()
			raw, err := net.Dial("tcp", tr.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			c := &countingConn{Conn: raw}
			defer c.Close()
			for _, b := range script {
				if _, err := c.Write(b); err != nil {
					break
				}
			}
			// Read whatever comes for a while: ticks are 100 ms apart at least.
			c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			io.Copy(io.Discard, c)
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.rx > c.sent {
				t.Errorf("received %d bytes for %d sent", c.rx, c.sent)
			}
			if name == "push paying 10 ticks" && c.rx < 10*FrameCost {
				t.Errorf("received %d bytes: the paid-for ticks did not come", c.rx)
			}
			if (name == "short hello" || name == "probes before hello") && c.rx != 0 {
				t.Errorf("a client without a valid hello got %d bytes", c.rx)
			}
		})
	}
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestPerSourceCap: the N+1st connection from one address is refused with a reason, and a
// slot frees when a connection closes.
func TestPerSourceCap(t *testing.T) {
	tr := startResponder(t, ResponderConfig{MaxPerSource: 3})
	var conns []*pconn
	for i := range 3 {
		pc, err := tr.connect(t)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		if pc.ack.MaxPerSource != 3 {
			t.Errorf("hello-ack says %d per source, want 3", pc.ack.MaxPerSource)
		}
		conns = append(conns, pc)
	}
	_, err := tr.connect(t)
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != CodeBusy || re.Value != 3 {
		t.Fatalf("4th connection: %v, want a refusal for too many connections (limit 3)", err)
	}
	if !strings.Contains(err.Error(), "lower --max-conns or raise the responder's --max-per-source") {
		t.Errorf("refusal %q says nothing actionable", err)
	}
	conns[0].close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		pc, err := tr.connect(t)
		if err == nil {
			pc.close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a connection closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pc := range conns[1:] {
		pc.close()
	}
}

func TestTotalCapAndRate(t *testing.T) {
	tr := startResponder(t, ResponderConfig{MaxTotal: 2})
	a, err := tr.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	b, err := tr.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	var re *RefusedError
	if _, err := tr.connect(t); !errors.As(err, &re) || re.Code != CodeFull {
		t.Errorf("3rd connection: %v, want a refusal (full)", err)
	}

	// Connection rate: a burst of MaxPerSource, then ConnRate per second.
	tr2 := startResponder(t, ResponderConfig{MaxPerSource: 4, ConnRate: 0.1})
	for i := range 4 {
		pc, err := tr2.connect(t)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		pc.close()
	}
	if _, err := tr2.connect(t); !errors.As(err, &re) || re.Code != CodeRate {
		t.Errorf("5th connection in a burst: %v, want a refusal (rate)", err)
	}
}

// TestFrameRate: a client flooding probes is cut off.
func TestFrameRate(t *testing.T) {
	tr := startResponder(t, ResponderConfig{FrameRate: 5})
	pc, err := tr.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.close()
	for range 30 {
		if err := pc.send(marshalProbe(1)); err != nil {
			break
		}
	}
	pc.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		f, err := readFrame(pc.br)
		if err != nil {
			t.Fatalf("the connection ended without a rate error: %v", err)
		}
		if f.Type == typeError {
			if e, _ := parseError(f); e.Code != CodeRate {
				t.Errorf("error %v, want rate", e.Code)
			}
			return
		}
	}
}

// TestIdleCap: a connection silent for longer than the cap is told so and closed.
func TestIdleCap(t *testing.T) {
	tr := startResponder(t, ResponderConfig{IdleCap: time.Second})
	pc, err := tr.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.close()
	if pc.ack.IdleCap != time.Second {
		t.Errorf("hello-ack says idle cap %v", pc.ack.IdleCap)
	}
	start := time.Now()
	pc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	f, err := readFrame(pc.br)
	if err != nil || f.Type != typeError {
		t.Fatalf("got %+v, %v; want an idle-cap error", f, err)
	}
	if e, _ := parseError(f); e.Code != CodeIdleCap {
		t.Errorf("error %v, want idle cap", e.Code)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v with a 1s cap", d)
	}
	if _, err := readFrame(pc.br); !errors.Is(err, io.EOF) {
		t.Errorf("after the idle-cap error: %v, want EOF", err)
	}
}

// TestProbeAnswers: a probe is answered with its sequence number and the responder's idea
// of the silence before it; ticks arrive as paid for.
func TestProbeAnswers(t *testing.T) {
	tr := startResponder(t, ResponderConfig{})
	pc, err := tr.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.close()
	if !pc.ack.Client.Addr().IsLoopback() {
		t.Errorf("seen as %v", pc.ack.Client)
	}
	time.Sleep(300 * time.Millisecond)
	seq, err := pc.probe(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc.c.SetReadDeadline(time.Now().Add(time.Second))
	f, err := readFrame(pc.br)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseProbeMsg(f, typeAnswer)
	if err != nil || m.Seq != seq || m.Heard < 250*time.Millisecond || m.Heard > time.Second {
		t.Errorf("answer %+v, %v; want seq %d and about 300ms heard", m, err, seq)
	}
	req := pushReq{First: 100 * time.Millisecond, Ticks: 3}
	if err := pc.send(req.marshal(3 * FrameCost)); err != nil {
		t.Fatal(err)
	}
	pc.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(pc.br)
	for i := range 3 {
		f, err := readFrame(br)
		if err != nil || f.Type != typeTick {
			t.Fatalf("tick %d: %+v, %v", i, f, err)
		}
	}
}

// TestNotResponder: a plain TCP server is recognised, whatever it does with the hello.
func TestNotResponder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(c net.Conn)
		want  string
	}{
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, "did not answer keeptune's hello within"},
		{"http", func(c net.Conn) {
			c.Read(make([]byte, 100))
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}, "an HTTP server"},
		{"banner", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")); io.Copy(io.Discard, c) }, "an SSH server"},
		{"echo", func(c net.Conn) { io.Copy(c, c) }, "echo server"},
		{"closes", func(c net.Conn) { c.Read(make([]byte, 100)); c.Close() }, "closed the connection on keeptune's hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
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
					go func() { defer c.Close(); tc.serve(c) }()
				}
			}()
			addr := ln.Addr().(*net.TCPAddr).AddrPort()
			_, err = Run(context.Background(), addr, Options{HelloTimeout: 500 * time.Millisecond})
			if !errors.Is(err, ErrNotResponder) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v; want ErrNotResponder saying %q", err, tc.want)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	_, err = Run(context.Background(), addr, Options{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "nothing listens on") {
		t.Errorf("Run = %v, want ErrRefused", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{MaxConns: 513}, "above the hard cap of 512"},
		{Options{MaxConns: 3}, "expected at least 4"},
		{Options{MaxConns: 4, CheckKeepalive: true}, "expected at least 5"},
		{Options{Precision: Precision{Fixed: time.Millisecond}}, "at least 10ms"},
		{Options{Precision: Precision{Fraction: 0.9}}, "at most 50%"},
		{Options{MaxIdle: time.Second}, "expected 2s to 48h"},
	} {
		if err := tc.o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, s := range []string{"host", ":80", "host:0", "host:99999", "[2001:db8::1]"} {
		if _, _, err := ParseTarget(s); err == nil {
			t.Errorf("ParseTarget(%q) accepted", s)
		}
	}
}

// TestAllSearchConnsRefused: a responder that refuses everything after the control
// connection ends the run with its reason instead of waiting.
func TestAllSearchConnsRefused(t *testing.T) {
	tr := startResponder(t, ResponderConfig{MaxPerSource: 128, ConnRate: 0.001})
	// Use up the burst but one.
	for range 127 {
		pc, err := tr.connect(t)
		if err != nil {
			t.Fatal(err)
		}
		pc.close()
	}
	start := time.Now()
	_, err := Run(context.Background(), tr.addr, Options{})
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != CodeRate {
		t.Fatalf("Run = %v, want the rate refusal", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}
