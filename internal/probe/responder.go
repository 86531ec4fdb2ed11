package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ResponderConfig bounds what a responder does for anyone who connects. The defaults make it
// safe to expose on the internet: a source gets a bounded number of connections and new
// connections per second, no connection receives more bytes than it sent, and idle
// connections are closed after IdleCap.
type ResponderConfig struct {
	// MaxPerSource is how many connections one source may hold open (a source is an IPv4
	// address or an IPv6 /64, since one IPv6 host often owns a whole /64). Default 128: twice
	// keeptune probe's default --max-conns.
	MaxPerSource int
	// MaxTotal is how many connections the responder holds open in total. Default 1024.
	MaxTotal int
	// ConnRate is how many new connections per second a source may open, with bursts up to
	// MaxPerSource. Default 32.
	ConnRate float64
	// FrameRate is how many messages per second a connection may send, with bursts of twice
	// as many. Default 20 (a probe sends one per second on its control connection).
	FrameRate float64
	// IdleCap closes connections that have sent nothing for this long. Default 2h. A probe
	// cannot measure idle timeouts longer than the responder's cap; the hello-ack tells it.
	IdleCap time.Duration
	// HelloTimeout is how long a new connection may take to send its hello. Default 10s.
	HelloTimeout time.Duration
	// UserTimeout is TCP_USER_TIMEOUT on accepted sockets: data to a client that vanished is
	// given up after this long instead of tcp_retries2's ~15 minutes. Default 30s.
	UserTimeout time.Duration
	// Logf, if set, receives one line per refused or closed connection.
	Logf func(format string, args ...any)
	// OnClose, if set, is called with every connection's byte counts when it closes (tests
	// use it to check that no connection ever sent more than it received).
	OnClose func(ConnStats)
}

// Responder limits and defaults.
const (
	DefaultMaxPerSource = 128
	DefaultMaxTotal     = 1024
	DefaultIdleCap      = 2 * time.Hour
	maxTicks            = 4096                   // ticks one push request may ask for
	minTickGap          = 100 * time.Millisecond // the shortest gap between ticks
)

func (c ResponderConfig) withDefaults() ResponderConfig {
	if c.MaxPerSource == 0 {
		c.MaxPerSource = DefaultMaxPerSource
	}
	if c.MaxTotal == 0 {
		c.MaxTotal = DefaultMaxTotal
	}
	if c.ConnRate == 0 {
		c.ConnRate = 32
	}
	if c.FrameRate == 0 {
		c.FrameRate = 20
	}
	if c.IdleCap == 0 {
		c.IdleCap = DefaultIdleCap
	}
	if c.HelloTimeout == 0 {
		c.HelloTimeout = 10 * time.Second
	}
	if c.UserTimeout == 0 {
		c.UserTimeout = 30 * time.Second
	}
	return c
}

// Validate reports values a responder cannot run with.
func (c ResponderConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MaxPerSource < 1 || c.MaxPerSource > 65535 {
		errs = append(errs, fmt.Errorf("max connections per source %d: expected 1 to 65535", c.MaxPerSource))
	}
	if c.MaxTotal < 1 {
		errs = append(errs, fmt.Errorf("max connections %d: expected at least 1", c.MaxTotal))
	}
	if c.ConnRate < 0 || c.FrameRate < 0 {
		errs = append(errs, errors.New("rates must be positive"))
	}
	if c.IdleCap < time.Second || c.IdleCap > 48*time.Hour {
		errs = append(errs, fmt.Errorf("idle cap %v: expected 1s to 48h", c.IdleCap))
	}
	return errors.Join(errs...)
}

// ConnStats is what one connection received and sent.
type ConnStats struct {
	Remote   netip.AddrPort
	Received int64 // bytes read from the client
	Sent     int64 // bytes written to it (never more than Received)
	Reason   string
}

// Responder is the far end of `keeptune probe`: it answers probes and pushes paid-for ticks.
type Responder struct {
	cfg ResponderConfig

	mu      sync.Mutex
	total   int
	sources map[netip.Prefix]*source
	// runs holds the connections of each version 2 run by its token, by the address the
	// responder sees each from, so a run's done and finished messages can drop them.
	runs   map[runKey]map[uint32]*rconn
	connID atomic.Uint32

	accepted, refused atomic.Int64
}

// runKey is a run: its token, within the source that announced it (one source cannot drop
// another's connections).
type runKey struct {
	src   netip.Prefix
	token [8]byte
}

type source struct {
	open   int
	tokens float64
	last   time.Time
}

// NewResponder checks cfg and returns a responder.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Responder{cfg: cfg.withDefaults(), sources: map[netip.Prefix]*source{}, runs: map[runKey]map[uint32]*rconn{}}, nil
}

// ListenConfig is how a responder's listener should be made: keepalive off (the responder's
// own keepalive probes would refresh the middlebox and hide its idle timeout) and plain TCP.
func ListenConfig() *net.ListenConfig {
	lc := &net.ListenConfig{KeepAlive: -1}
	lc.SetMultipathTCP(false)
	return lc
}

// Serve accepts connections on ln until ctx ends or ln fails, then closes every connection
// it holds and returns. It returns nil when ctx ended it.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE and friends: wait a little instead of spinning.
			r.logf("accept: %v", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			c.Close()
			continue
		}
		verdict, drop, src := r.admit(tc)
		if drop {
			// Nothing is sent: not even an error frame is paid for yet.
			tc.SetLinger(0)
			tc.Close()
			r.refused.Add(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.handle(ctx, tc, src, verdict)
		}()
	}
}

// Open returns how many connections the responder holds now.
func (r *Responder) Open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Stats returns how many connections were served and refused.
func (r *Responder) Stats() (accepted, refused int64) { return r.accepted.Load(), r.refused.Load() }

func (r *Responder) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// sourceOf groups addresses the way one client holds them: an IPv4 address, an IPv6 /64.
func sourceOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// admit counts a new connection against the limits. A connection over a limit is held until
// its hello arrives, which pays for the error frame that tells the client why (the code);
// far past the total limit it is dropped at once, with nothing sent. The zero code admits it.
func (r *Responder) admit(c *net.TCPConn) (code ErrorCode, drop bool, src netip.Prefix) {
	ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	src = sourceOf(ap.Addr())
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.total >= r.cfg.MaxTotal+r.cfg.MaxPerSource {
		// Far past the limit: not even refusals get a goroutine.
		return CodeFull, true, src
	}
	s := r.sources[src]
	if s == nil {
		if len(r.sources) > 4*r.cfg.MaxTotal {
			r.forget(now)
		}
		s = &source{tokens: float64(r.cfg.MaxPerSource), last: now}
		r.sources[src] = s
	}
	s.tokens = min(float64(r.cfg.MaxPerSource), s.tokens+now.Sub(s.last).Seconds()*r.cfg.ConnRate)
	s.last = now
	r.total++
	s.open++
	switch {
	case r.total > r.cfg.MaxTotal:
		return CodeFull, false, src
	case s.open > r.cfg.MaxPerSource:
		return CodeBusy, false, src
	case s.tokens < 1:
		return CodeRate, false, src
	}
	s.tokens--
	return 0, false, src
}

// forget drops sources that hold no connection and whose bucket is full again.
func (r *Responder) forget(now time.Time) {
	for p, s := range r.sources {
		if s.open == 0 && s.tokens+now.Sub(s.last).Seconds()*r.cfg.ConnRate >= float64(r.cfg.MaxPerSource) {
			delete(r.sources, p)
		}
	}
}

func (r *Responder) release(src netip.Prefix) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total--
	if s := r.sources[src]; s != nil {
		s.open--
	}
}

// rconn is one client connection on the responder's side. Every write goes through send,
// which refuses to send more bytes than the connection has received.
type rconn struct {
	c *net.TCPConn
	// dropped says why the run asked for this connection to be dropped ("" while it has not).
	dropped atomic.Pointer[string]

	mu       sync.Mutex
	received int64
	sent     int64
	heard    time.Time     // when the last bytes arrived
	silence  time.Duration // how long nothing had arrived before them
}

var errNoCredit = errors.New("not enough credit: the client has not sent enough bytes to pay for this")

// Read counts what arrives from the client: it is both the credit and the idle clock.
func (rc *rconn) Read(p []byte) (int, error) {
	n, err := rc.c.Read(p)
	if n > 0 {
		now := time.Now()
		rc.mu.Lock()
		rc.received += int64(n)
		rc.silence = now.Sub(rc.heard)
		rc.heard = now
		rc.mu.Unlock()
	}
	return n, err
}

// send writes b if the bytes received so far pay for it.
func (rc *rconn) send(b []byte) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.sent+int64(len(b)) > rc.received {
		return errNoCredit
	}
	rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	n, err := rc.c.Write(b)
	rc.sent += int64(n)
	return err
}

func (rc *rconn) lastHeard() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.heard
}

func (r *Responder) handle(ctx context.Context, c *net.TCPConn, src netip.Prefix, verdict ErrorCode) {
	defer r.release(src)
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	c.SetKeepAlive(false)
	setUserTimeout(c, r.cfg.UserTimeout)
	rc := &rconn{c: c, heard: time.Now()}
	reason := ""
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer func() {
		stop()
		c.Close()
		rc.mu.Lock()
		st := ConnStats{Remote: remote, Received: rc.received, Sent: rc.sent, Reason: reason}
		rc.mu.Unlock()
		if r.cfg.OnClose != nil {
			r.cfg.OnClose(st)
		}
	}()
	br := bufio.NewReaderSize(rc, 512)

	// The hello. Anything else gets no answer at all: a scanner learns nothing.
	c.SetReadDeadline(time.Now().Add(r.cfg.HelloTimeout))
	f, err := readFrame(br)
	var h hello
	if err == nil {
		h, err = parseHello(f)
	}
	if err != nil {
		reason = "no hello: " + err.Error()
		r.refused.Add(1)
		return
	}
	refuse := func(e errorMsg) {
		reason = "refused: " + e.Code.String()
		r.refused.Add(1)
		r.logf("responder: refused %v: %v", remote, e.Code)
		rc.send(e.marshal())
	}
	switch {
	case verdict == CodeFull:
		refuse(errorMsg{Code: CodeFull, Value: uint16(min(r.cfg.MaxTotal, 65535))})
		return
	case verdict == CodeBusy:
		refuse(errorMsg{Code: CodeBusy, Value: uint16(r.cfg.MaxPerSource)})
		return
	case verdict == CodeRate:
		refuse(errorMsg{Code: CodeRate})
		return
	case h.MinVersion > Version || h.MaxVersion < MinVersion:
		refuse(errorMsg{Code: CodeVersion, Value: Version})
		return
	}
	version := min(h.MaxVersion, Version)
	r.accepted.Add(1)
	ack := helloAck{Version: version, MaxPerSource: uint16(r.cfg.MaxPerSource), IdleCap: r.cfg.IdleCap, Client: remote, ConnID: r.connID.Add(1)}
	if err := rc.send(ack.marshal()); err != nil {
		reason = "hello-ack: " + err.Error()
		return
	}
	idleCap := r.cfg.IdleCap
	var key runKey
	if version >= 2 && h.Token != ([8]byte{}) {
		key = runKey{src: src, token: h.Token}
		r.join(key, ack.ConnID, rc)
		defer r.leave(key, ack.ConnID, h.Control)
		if h.MaxIdle > 0 {
			idleCap = min(idleCap, announcedCap(h.MaxIdle))
		}
	}

	frames := source{tokens: 2 * r.cfg.FrameRate, last: time.Now()}
	var pushStop func()
	defer func() {
		if pushStop != nil {
			pushStop()
		}
	}()
	for {
		deadline := rc.lastHeard().Add(idleCap)
		c.SetReadDeadline(deadline)
		f, err := readFrame(br)
		if err != nil {
			var ne net.Error
			switch {
			case rc.dropped.Load() != nil:
				reason = *rc.dropped.Load()
			case errors.As(err, &ne) && ne.Timeout() && time.Since(rc.lastHeard()) >= idleCap:
				reason = "idle cap"
				if idleCap < r.cfg.IdleCap {
					reason = fmt.Sprintf("idle cap %v announced by the run", idleCap)
				}
				rc.send(errorMsg{Code: CodeIdleCap, Value: uint16(min(idleCap/time.Minute, 65535))}.marshal())
			case errors.As(err, &ne) && ne.Timeout():
				reason = "stalled in the middle of a message"
			case errors.Is(err, errMalformed):
				reason = err.Error()
				rc.send(errorMsg{Code: CodeProtocol}.marshal())
			case errors.Is(err, io.EOF):
				reason = "closed by the client"
			default:
				reason = err.Error()
			}
			return
		}
		now := time.Now()
		frames.tokens = min(2*r.cfg.FrameRate, frames.tokens+now.Sub(frames.last).Seconds()*r.cfg.FrameRate)
		frames.last = now
		if frames.tokens < 1 {
			reason = "frame rate"
			rc.send(errorMsg{Code: CodeRate}.marshal())
			return
		}
		frames.tokens--
		switch f.Type {
		case typeProbe:
			m, err := parseProbeMsg(f, typeProbe)
			if err != nil {
				reason = err.Error()
				rc.send(errorMsg{Code: CodeProtocol}.marshal())
				return
			}
			// The answer says how long the connection was silent before this probe, as
			// the responder saw it: the client compares it with its own idle time.
			rc.mu.Lock()
			m.Heard = rc.silence
			rc.mu.Unlock()
			if err := rc.send(marshalAnswer(m)); err != nil {
				reason = "answer: " + err.Error()
				return
			}
		case typePush:
			req, err := parsePushReq(f)
			if err != nil {
				reason = err.Error()
				rc.send(errorMsg{Code: CodeProtocol}.marshal())
				return
			}
			if pushStop != nil {
				pushStop()
			}
			pushStop = r.push(rc, req)
		case typeDone:
			if list := parseDone(f); len(list) > 0 {
				if key != (runKey{}) {
					r.drop(key, list, "done: listed by the run's control connection")
				}
				continue
			}
			reason = "done: the client has finished with it"
			return
		case typeFinished:
			reason = "finished: the run is over"
			return
		default:
			// Unknown messages from a newer client are paid for and ignored.
		}
	}
}

// join registers a connection of a version 2 run.
func (r *Responder) join(key runKey, id uint32, rc *rconn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.runs[key]
	if m == nil {
		m = map[uint32]*rconn{}
		r.runs[key] = m
	}
	m[id] = rc
}

// leave unregisters a connection; when it is the run's control connection, the run is over
// and every connection it still has here is dropped: a probe that has gone (finished, killed,
// or cut off) leaves nothing open behind it.
func (r *Responder) leave(key runKey, id uint32, control bool) {
	r.mu.Lock()
	m := r.runs[key]
	delete(m, id)
	var rest []*rconn
	if control {
		for _, rc := range m {
			rest = append(rest, rc)
		}
		delete(r.runs, key)
	} else if len(m) == 0 {
		delete(r.runs, key)
	}
	r.mu.Unlock()
	for _, rc := range rest {
		rc.abort("dropped: the run's control connection ended")
	}
}

// drop aborts the listed connections of a run.
func (r *Responder) drop(key runKey, list []uint32, why string) {
	r.mu.Lock()
	var hit []*rconn
	for _, id := range list {
		if rc := r.runs[key][id]; rc != nil {
			hit = append(hit, rc)
		}
	}
	r.mu.Unlock()
	for _, rc := range hit {
		rc.abort(why)
	}
}

// abort closes the connection with a reset: the client has said it is gone (often behind a
// NAT that forgot the flow, where a FIN would be retransmitted for minutes).
func (rc *rconn) abort(why string) {
	if rc.dropped.CompareAndSwap(nil, &why) {
		rc.c.SetLinger(0)
		rc.c.Close()
	}
}

// push sends the ticks of req while the connection's credit pays for them. It returns a
// function that stops it.
func (r *Responder) push(rc *rconn, req pushReq) func() {
	req.First = max(req.First, minTickGap)
	req.Growth = min(max(req.Growth, 0), 1)
	req.Ticks = min(req.Ticks, maxTicks)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		start := time.Now()
		t := time.NewTimer(req.First)
		defer t.Stop()
		for k := 0; k < req.Ticks; k++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			since := time.Since(start)
			if err := rc.send(marshalTick(uint32(k), since)); err != nil {
				return // out of credit, or the connection failed
			}
			t.Reset(req.gap(since))
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}
