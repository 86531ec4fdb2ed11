package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors a probe run ends with. Each comes wrapped with what was seen and what to do.
var (
	// ErrUnreachable: the connection attempt got no answer (or no route).
	ErrUnreachable = errors.New("target unreachable")
	// ErrRefused: nothing listens on the target port.
	ErrRefused = errors.New("connection refused")
	// ErrNotResponder: something listens, but it does not speak keeptune's protocol.
	ErrNotResponder = errors.New("the far end is not a keeptune responder")
	// ErrPathFailed: the control connection, busy every second, died too: the path or the
	// responder failed, so deaths of idle connections say nothing about an idle timeout.
	ErrPathFailed = errors.New("path failure")
	// ErrBound: the run reached one of its bounds (connection attempts, docs/probe.md) and
	// stopped rather than report a figure the bound degraded.
	ErrBound = errors.New("run bound reached")
)

// RefusedError is a responder's refusal (its limits, or no common protocol version).
type RefusedError struct {
	Code  ErrorCode
	Value int
}

func (e *RefusedError) Error() string {
	switch e.Code {
	case CodeBusy:
		return fmt.Sprintf("the responder refused the connection: too many connections from this address (its limit is %d): lower --max-conns or raise the responder's --max-per-source", e.Value)
	case CodeFull:
		return fmt.Sprintf("the responder refused the connection: it holds its maximum of %d connections", e.Value)
	case CodeRate:
		return "the responder refused the connection: too many new connections per second from this address"
	case CodeVersion:
		return fmt.Sprintf("the responder speaks protocol version %d only, this keeptune speaks %d: use the same keeptune release at both ends", e.Value, Version)
	case CodeIdleCap:
		return fmt.Sprintf("the responder closed the connection after its idle cap (%d min)", e.Value)
	}
	return "the responder refused the connection: " + e.Code.String()
}

// Dialer opens a TCP connection with d's settings. The default is d.DialContext; the lab's
// tests dial from inside a network namespace.
type Dialer func(ctx context.Context, d *net.Dialer, addr netip.AddrPort) (*net.TCPConn, error)

func defaultDial(ctx context.Context, d *net.Dialer, addr netip.AddrPort) (*net.TCPConn, error) {
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// dialer is how every probe connection is made: no keepalive (Go's default 15 s keepalive
// would refresh the middlebox and hide any timeout above 15 s) and plain TCP (Multipath TCP
// refuses TCP_USER_TIMEOUT).
func dialer(timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	d.SetMultipathTCP(false)
	return d
}

// classifyDial turns a failed connection attempt into an error that says which failure it
// was.
func classifyDial(ctx context.Context, addr netip.AddrPort, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: nothing listens on %v (the host answered with a reset)", ErrRefused, addr)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Errorf("%w: no route to %v (%v)", ErrUnreachable, addr, err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: no answer to the connection attempt to %v within %v: the host is down, a firewall drops the traffic, or the path is broken",
			ErrUnreachable, addr, timeout)
	}
	return fmt.Errorf("connect to %v: %w", addr, err)
}

// pconn is one connection of a probe run, on the client side.
type pconn struct {
	id   int
	role role
	c    *net.TCPConn
	br   *bufio.Reader
	ack  helloAck

	wmu sync.Mutex
	seq uint32

	ticks     atomic.Int64
	closeOnce sync.Once
	// released: the run is done with it because its path failed (runner.release).
	released bool
	// http is set on the connections of an HTTP run (--http): requests and responses instead
	// of frames.
	http *HTTPTarget
}

// dialHello connects to addr and exchanges the hello.
func dialHello(ctx context.Context, dial Dialer, addr netip.AddrPort, connectTimeout, helloTimeout time.Duration, h hello) (*pconn, error) {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	c, err := dial(dctx, dialer(connectTimeout), addr)
	cancel()
	if err != nil {
		return nil, classifyDial(ctx, addr, connectTimeout, err)
	}
	pc := &pconn{c: c, br: bufio.NewReaderSize(c, 256)}
	if err := pc.hello(ctx, addr, helloTimeout, h); err != nil {
		pc.close()
		return nil, err
	}
	return pc, nil
}

// hello sends keeptune's hello and reads the answer. Whatever is not a hello-ack or a
// responder's refusal means the far end is something else, and the error shows what it said.
func (pc *pconn) hello(ctx context.Context, addr netip.AddrPort, timeout time.Duration, h hello) error {
	setUserTimeout(pc.c, timeout)
	stop := context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Now()) })
	defer stop()
	pc.c.SetDeadline(time.Now().Add(timeout))
	defer pc.c.SetDeadline(time.Time{})
	h.MinVersion, h.MaxVersion = MinVersion, Version
	if _, err := pc.c.Write(h.marshal()); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v closed the connection before keeptune's hello was sent (%v)", ErrNotResponder, addr, err)
	}
	head, err := pc.br.Peek(headerSize)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		got := pc.br.Buffered()
		var ne net.Error
		switch {
		case got > 0:
			b, _ := pc.br.Peek(got)
			return notResponder(addr, b)
		case errors.As(err, &ne) && ne.Timeout():
			return fmt.Errorf("%w: %v accepted the connection but did not answer keeptune's hello within %v (a keeptune responder answers at once; this server waits for its own protocol)",
				ErrNotResponder, addr, timeout)
		default:
			return fmt.Errorf("%w: %v closed the connection on keeptune's hello without an answer (%v); a keeptune responder past its connection limit does this too",
				ErrNotResponder, addr, errName(err))
		}
	}
	if head[1] != 0 || (head[0] != typeHelloAck && head[0] != typeError) {
		b, _ := pc.br.Peek(pc.br.Buffered())
		return notResponder(addr, b)
	}
	f, err := readFrame(pc.br)
	if err != nil {
		return fmt.Errorf("%w: %v sent a truncated answer to the hello (%v)", ErrNotResponder, addr, err)
	}
	if f.Type == typeError {
		e, err := parseError(f)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotResponder, err)
		}
		return &RefusedError{Code: e.Code, Value: int(e.Value)}
	}
	ack, err := parseHelloAck(f)
	if err != nil {
		return notResponder(addr, f.Payload)
	}
	if ack.Version < MinVersion || ack.Version > Version {
		return &RefusedError{Code: CodeVersion, Value: int(ack.Version)}
	}
	pc.ack = ack
	return nil
}

// notResponder describes what a non-responder sent back.
func notResponder(addr netip.AddrPort, b []byte) error {
	if len(b) >= headerSize+len(magic) && b[0] == typeHello && string(b[headerSize:headerSize+len(magic)]) == string(magic[:]) {
		return fmt.Errorf("%w: %v sent keeptune's hello back: it is an echo server", ErrNotResponder, addr)
	}
	return fmt.Errorf("%w: %v answered keeptune's hello with %s", ErrNotResponder, addr, preview(b))
}

// preview shows the first bytes a server sent, printable.
func preview(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	s := strconv.QuoteToASCII(string(b))
	if strings.HasPrefix(string(b), "HTTP/") {
		s += " (an HTTP server)"
	} else if strings.HasPrefix(string(b), "SSH-") {
		s += " (an SSH server)"
	}
	return s
}

func errName(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return err.Error()
}

// send writes one frame.
func (pc *pconn) send(b []byte) error {
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	pc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := pc.c.Write(b)
	return err
}

// probe sends a probe whose answer must come within rt: TCP_USER_TIMEOUT makes the kernel
// stop retransmitting it into a silent path at about the same time.
func (pc *pconn) probe(rt time.Duration) (uint32, error) {
	setUserTimeout(pc.c, rt)
	pc.wmu.Lock()
	pc.seq++
	seq := pc.seq
	pc.wmu.Unlock()
	if pc.http != nil {
		return seq, pc.send(pc.http.request(seq))
	}
	return seq, pc.send(marshalProbe(seq))
}

// finish tells the responder this connection is done and closes it cleanly (FIN): for a
// connection whose path still works at the end of a run.
func (pc *pconn) finish() {
	if pc.ack.Version >= 2 && pc.http == nil {
		pc.send(appendFrame(nil, typeDone, nil))
	}
	pc.closeOnce.Do(func() { pc.c.Close() })
}

// close closes the connection at once with a reset: no FIN handshake through a path that
// may be dead, no TIME_WAIT left behind. A silent NAT drops that reset too, so the run also
// lists the connection on its control connection (typeDone) for the responder to drop.
func (pc *pconn) close() {
	pc.closeOnce.Do(func() {
		pc.c.SetLinger(0)
		pc.c.Close()
	})
}

// connEvent is what a connection's reader reports.
type connEvent struct {
	conn  int
	kind  evKind
	seq   uint32
	heard time.Duration
	at    time.Time
	err   error
	code  ErrorCode
}

type evKind int

const (
	evAnswer  evKind = iota // an answer to a probe
	evEnd                   // the connection ended (err: EOF, reset, timeout, ...)
	evRefused               // the responder sent an error frame (code)
)

// readLoop reads what the responder sends until the connection ends, and reports answers,
// refusals and the end on events. Ticks are only counted.
func (pc *pconn) readLoop(events chan<- connEvent, done <-chan struct{}) {
	report := func(e connEvent) bool {
		e.conn = pc.id
		select {
		case events <- e:
			return true
		case <-done:
			return false
		}
	}
	if pc.http != nil {
		pc.readHTTP(report)
		return
	}
	for {
		f, err := readFrame(pc.br)
		if err != nil {
			report(connEvent{kind: evEnd, at: time.Now(), err: err})
			return
		}
		setQuickAck(pc.c)
		at, _ := kernelTimes(pc.c)
		switch f.Type {
		case typeAnswer:
			m, err := parseProbeMsg(f, typeAnswer)
			if err == nil && !report(connEvent{kind: evAnswer, seq: m.Seq, heard: m.Heard, at: at}) {
				return
			}
		case typeTick:
			pc.ticks.Add(1)
		case typeError:
			e, _ := parseError(f)
			report(connEvent{kind: evRefused, code: e.Code, at: at})
			return
		}
	}
}

// endOutcome says what a connection's end means for the path: a reset, a close, or silence
// (the kernel gave up retransmitting: TCP_USER_TIMEOUT).
func endOutcome(err error) (Outcome, bool) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Closed, true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset, true
	case errors.Is(err, syscall.ETIMEDOUT):
		return Silent, true
	}
	return "", false
}
