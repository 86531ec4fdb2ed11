package probe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Limits and defaults of a probe run.
const (
	DefaultMaxConns = 64
	// MaxConnsLimit is the most connections a run may use: more would look like an attack to
	// the responder and to every middlebox on the way, and buys little (docs/probe.md).
	MaxConnsLimit      = 512
	DefaultMaxIdle     = 2 * time.Hour
	DefaultConnTimeout = 5 * time.Second
	// Base is the shortest idle length the search tests.
	Base = time.Second
	// pushFirst and pushGrowth schedule the responder's ticks on the server-refresh
	// connection: gaps of max(250 ms, 5 % of the time since the request) stay far below any
	// idle timeout the connection reaches.
	pushFirst  = 250 * time.Millisecond
	pushGrowth = 0.05
	// keepaliveIdle is TCP_KEEPIDLE and TCP_KEEPINTVL on the keepalive connection: well
	// below any timeout the search can tell from a path failure.
	keepaliveIdle = time.Second
	// controlIdle is what the control connection announces as its longest idle: it sends a
	// message every second.
	controlIdle = 30 * time.Second
	// slowAnswer is how long the run waits for the answer to a control message the responder's
	// kernel has acknowledged: the path works, the responder (or this program's reader) is
	// slow. Past it the responder is taken for stuck.
	slowAnswer = 10 * time.Second
)

// Options are the settings of a probe run.
type Options struct {
	// MaxConns is how many connections the run may open in all, the control connection
	// included. Default 64; at most MaxConnsLimit.
	MaxConns int
	// Precision is how narrow the bracket must get. Default: the larger of 1 s and 1 %.
	Precision Precision
	// MaxIdle is the longest idle length tested: a path that keeps flows this long is
	// reported as having no idle timeout. Default 2h, or just below the responder's idle
	// cap if that is shorter.
	MaxIdle time.Duration
	// ConnectTimeout bounds each connection attempt; HelloTimeout the hello's answer.
	// Default 5s each.
	ConnectTimeout, HelloTimeout time.Duration
	// ReplyTimeout is how long a probe's answer may take before the connection counts as
	// silently dropped. Default max(1s, 10 × the control connection's RTT).
	ReplyTimeout time.Duration
	// CheckKeepalive adds a connection kept only by TCP keepalive probes, to tell whether
	// the path's middleboxes count them as traffic.
	CheckKeepalive bool
	// Progress receives progress lines (nil: none).
	Progress io.Writer
	// Dial makes the connections (default: net.Dialer.DialContext).
	Dial Dialer
	// HTTP measures the idle timeout of a layer-7 balancer: the connections are HTTP/1.1
	// keep-alive connections to it (Run's addr is HTTP.Addr), the responder behind it a
	// `keeptune responder --http`.
	HTTP *HTTPTarget
}

func (o Options) withDefaults() Options {
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Precision == (Precision{}) {
		o.Precision = DefaultPrecision
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnTimeout
	}
	if o.HelloTimeout == 0 {
		o.HelloTimeout = DefaultConnTimeout
	}
	if o.Dial == nil {
		o.Dial = defaultDial
	}
	return o
}

// minConns is the fewest connections a run can work with: the control connection, the
// server-refresh connection, the keepalive one if asked for, and two for the search.
func (o Options) minConns() int {
	if o.HTTP != nil {
		return 3 // control and two for the search: no side tests through a layer-7 balancer
	}
	if o.CheckKeepalive {
		return 5
	}
	return 4
}

// Validate reports settings a run cannot use.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.MaxConns > MaxConnsLimit {
		errs = append(errs, fmt.Errorf("--max-conns %d is above the hard cap of %d: more connections look like an attack to the responder and the middleboxes, and barely speed the search up", o.MaxConns, MaxConnsLimit))
	} else if o.MaxConns < o.minConns() {
		errs = append(errs, fmt.Errorf("--max-conns %d: expected at least %d (control, server-refresh%s and two search connections)", o.MaxConns, o.minConns(), map[bool]string{true: ", keepalive", false: ""}[o.CheckKeepalive]))
	}
	p := o.Precision
	switch {
	case p.Fixed < 0 || p.Fraction < 0 || p.Floor < 0:
		errs = append(errs, errors.New("--precision must be positive"))
	case p.Fixed > 0 && p.Fixed < 10*time.Millisecond:
		errs = append(errs, fmt.Errorf("--precision %v: expected at least 10ms (the middlebox's own timer is coarser)", p.Fixed))
	case p.Fixed == 0 && (p.Fraction <= 0 || p.Fraction > 0.5):
		errs = append(errs, fmt.Errorf("--precision %g%%: expected more than 0%% and at most 50%%", p.Fraction*100))
	}
	if o.MaxIdle != 0 && (o.MaxIdle < 2*time.Second || o.MaxIdle > 48*time.Hour) {
		errs = append(errs, fmt.Errorf("--max-idle %v: expected 2s to 48h", o.MaxIdle))
	}
	if o.HTTP != nil && o.CheckKeepalive {
		errs = append(errs, errors.New("--check-keepalive-refresh does not go with --http: a layer-7 balancer terminates TCP, its keep-alive timer counts requests, not packets"))
	}
	if o.ConnectTimeout < 0 || o.HelloTimeout < 0 || o.ReplyTimeout < 0 {
		errs = append(errs, errors.New("timeouts must be positive"))
	}
	return errors.Join(errs...)
}

// ParseTarget splits HOST:PORT.
func ParseTarget(s string) (host string, port uint16, err error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil || h == "" {
		return "", 0, fmt.Errorf("target %q: expected HOST:PORT (for IPv6 [ADDR]:PORT), the address of a keeptune responder", s)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("target %q: port %q: expected 1 to 65535", s, p)
	}
	return h, uint16(n), nil
}

// Resolve turns HOST:PORT into one address: every connection of a run goes to the same
// one, and to nothing else.
func Resolve(ctx context.Context, target string) (netip.AddrPort, error) {
	host, port, err := ParseTarget(target)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), port), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: cannot resolve %q: %v", ErrUnreachable, host, err)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), port), nil
}

// runner is one probe run.
type runner struct {
	ctx   context.Context
	o     Options
	addr  netip.AddrPort
	start time.Time
	s     *search

	events chan connEvent
	opens  chan openResult
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	conns   map[int]*pconn
	closed  bool
	nextID  int
	opened  int
	pending map[int]uint32

	control    *pconn
	ctlErr     *connEvent // how the control connection ended
	ctlSeq     uint32
	ctlSentAt  time.Time
	ctlWaiting bool
	ctlLast    time.Time       // last answer on the control connection
	ctlSlow    bool            // an answer came after the reply timeout over a working path (noted once)
	rtts       []time.Duration // the control connection's round trips, the last ten
	pinged     bool            // rtts holds ping round trips, not the connection set-up
	rt         time.Duration

	notes   []string
	opening int // connections being opened
	// token identifies the run to the responder (protocol version 2).
	token [8]byte
	// attempts counts connection attempts, the control connection's included; the run makes
	// at most 2 × MaxConns (attemptBound). boundHit says which bound stopped it.
	attempts int
	boundHit string
	// backoff is the wait before the next attempt after the responder refused one; it doubles
	// with every refusal and resets with a success. nextOpen is when the next may start.
	backoff  time.Duration
	nextOpen time.Time
	refused  int
	// doneList holds connections the run is done with that the responder may still hold
	// (their path was cut): they are listed on the control connection (typeDone).
	doneList   []uint32
	doneTokens float64
	doneLast   time.Time
	ack        helloAck
	maxIdle    time.Duration
	refusals   map[ErrorCode]int
	openErr    error
	pushConn   *pconn
	progress   progress
}

type openResult struct {
	pc   *pconn
	role role
	at   time.Time
	err  error
}

// Run measures the idle timeout of the path to the responder at addr. It contacts addr and
// nothing else. On any return every connection it opened is closed.
func Run(ctx context.Context, addr netip.AddrPort, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	r := &runner{o: o, addr: addr, start: time.Now(), events: make(chan connEvent, 1024),
		opens: make(chan openResult, 64), done: make(chan struct{}), conns: map[int]*pconn{},
		pending: map[int]uint32{}, refusals: map[ErrorCode]int{}}
	r.progress = progress{w: o.Progress, start: r.start}
	rand.Read(r.token[:])
	defer r.shutdown()
	r.ctx = ctx
	return r.run(ctx)
}

func (r *runner) now() time.Duration { return time.Since(r.start) }

// register adds a connection to the run, or closes it if the run is over.
func (r *runner) register(pc *pconn, ro role) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		pc.close()
		return false
	}
	pc.id, pc.role = r.nextID, ro
	r.nextID++
	r.opened++
	r.conns[pc.id] = pc
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		pc.readLoop(r.events, r.done)
	}()
	return true
}

// shutdown closes every connection and waits for every goroutine of the run. Connections
// whose path works are finished cleanly (done, then FIN); the control connection goes last
// with "finished", on which the responder drops whatever of the run it still holds.
func (r *runner) shutdown() {
	r.mu.Lock()
	r.closed = true
	conns := make([]*pconn, 0, len(r.conns))
	for _, pc := range r.conns {
		conns = append(conns, pc)
	}
	r.mu.Unlock()
	close(r.done)
	for _, pc := range conns {
		switch {
		case pc == r.control:
		case pc.released:
			pc.close()
		default:
			pc.finish()
		}
	}
	if r.control != nil {
		if r.control.ack.Version >= 2 {
			r.control.send(appendFrame(nil, typeFinished, nil))
		}
		r.control.finish()
	}
	r.wg.Wait()
}

// attemptBound is the most connection attempts one run makes: twice --max-conns, the
// control connection's included (docs/probe.md).
func (r *runner) attemptBound() int { return 2 * r.o.MaxConns }

// release marks a connection as done after its path failed (a silent NAT drops the reset its
// close sends): the control connection lists it for the responder to drop.
func (r *runner) release(pc *pconn) {
	if pc == nil || pc.released || pc == r.control {
		return
	}
	pc.released = true
	pc.close()
	if pc.ack.Version >= 2 && pc.ack.ConnID != 0 {
		r.doneList = append(r.doneList, pc.ack.ConnID)
	}
}

// flushDone sends the done list on the control connection, at most 10 frames a second (well
// within the responder's frame rate).
func (r *runner) flushDone() {
	if len(r.doneList) == 0 || r.control == nil || r.ctlErr != nil {
		return
	}
	now := time.Now()
	r.doneTokens = min(10, r.doneTokens+now.Sub(r.doneLast).Seconds()*10)
	r.doneLast = now
	for len(r.doneList) > 0 && r.doneTokens >= 1 {
		n := min(len(r.doneList), maxDonePerFrame)
		if err := r.control.send(marshalDone(r.doneList[:n])); err != nil {
			return
		}
		r.doneList = r.doneList[n:]
		r.doneTokens--
	}
}

func (r *runner) conn(id int) *pconn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[id]
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	o := r.o
	r.attempts++
	ctl, err := r.dial(ctx, hello{Control: true, Token: r.token, MaxIdle: controlIdle})
	if err != nil {
		return nil, err
	}
	r.ctlLast = time.Now()
	if !r.register(ctl, roleControl) {
		return nil, ctx.Err()
	}
	r.control, r.ack = ctl, ctl.ack
	r.rtts = append(r.rtts, r.now())
	r.setRT()

	budget := o.MaxConns
	if int(r.ack.MaxPerSource) < budget {
		budget = int(r.ack.MaxPerSource)
		r.note("the responder allows %d connections from this address: the run uses %d, not %d", r.ack.MaxPerSource, budget, o.MaxConns)
		if budget < o.minConns() {
			return nil, fmt.Errorf("the responder allows only %d connections from this address; a run needs at least %d: raise its --max-per-source", budget, o.minConns())
		}
	}
	r.maxIdle = o.MaxIdle
	if r.maxIdle == 0 {
		r.maxIdle = DefaultMaxIdle
	}
	if cap := r.ack.IdleCap; cap > 0 && cap-max(time.Second, cap/100) < r.maxIdle {
		r.maxIdle = cap - max(time.Second, cap/100)
		if o.MaxIdle != 0 {
			r.note("the responder closes connections idle for %v: the search stops at %v (raise its --idle-cap to look further)", cap, r.maxIdle.Round(time.Second))
		}
	}
	sides := []role{roleServerPush}
	if o.CheckKeepalive {
		sides = append(sides, roleKeepalive)
	}
	if o.HTTP != nil {
		sides = nil
		r.note("%s", httpNote(o.HTTP, r.ack.IdleCap))
	}
	ladder := budget - 1 - len(sides)
	r.s = newSearch(searchConfig{Ladder: ladder, MaxConns: ladder, Base: Base, MaxIdle: r.maxIdle, Precision: o.Precision})
	r.s.setTimeouts(r.rt, r.suspect())
	r.progress.linef("probing %v with %d connections (RTT %v, reply timeout %v); a run takes about 1.1 × the timeout it finds",
		r.addr, budget, r.rtts[0].Round(10*time.Microsecond), r.rt)

	for _, ro := range sides {
		r.openAsync(ctx, ro)
	}
	for range ladder {
		r.openAsync(ctx, roleLadder)
	}
	r.doneLast = time.Now()

	timer := time.NewTimer(0)
	defer timer.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	r.pingControl()
	for {
		// Events that arrived while the loop was busy come first: an answer waiting in the
		// channel arrived in time (its kernel timestamp says when), and must not be overtaken
		// by a reply timeout judged on the loop's clock.
		r.drainEvents()
		now := r.now()
		if err := r.checkControl(); err != nil {
			return nil, err
		}
		r.markDelivered()
		r.apply(r.s.step(now))
		r.flushDone()
		if r.s.finished() {
			break
		}
		if r.boundHit != "" && r.opening == 0 && r.s.alive(roleLadder) == 0 {
			return r.result(), fmt.Errorf("%w: %s, and no search connection is left: the bracket is not narrow enough to report", ErrBound, r.boundHit)
		}
		r.progress.update(r.s, now)
		wake := r.s.next(now)
		d := time.Second
		if wake != never && wake-now < d {
			d = max(wake-now, 0)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return r.result(), ctx.Err()
		case ev := <-r.events:
			r.handle(ev)
		case or := <-r.opens:
			r.addOpened(or)
			if r.opening == 0 && r.s.alive(roleLadder) == 0 && !r.s.finished() && r.boundHit == "" && !r.wantsOpen() {
				return r.result(), r.noSearchConns()
			}
		case <-tick.C:
			r.pingControl()
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	// A path that failed during the last verdicts shows on the control connection.
	if err := r.finalControl(ctx); err != nil {
		return nil, err
	}
	if r.boundHit != "" {
		return r.result(), fmt.Errorf("%w: %s; the result would rest on fewer tests than the run planned", ErrBound, r.boundHit)
	}
	return r.result(), nil
}

// wantsOpen reports whether the search, which has had connections, waits for new ones the
// runner delays after a refusal. A run whose every search connection was refused from the
// start stops at once with the refusal instead.
func (r *runner) wantsOpen() bool {
	return r.refused > 0 && r.s.opened() > 0 && time.Now().Before(r.nextOpen)
}

// openAsync opens one connection for the role in the background, after the backoff of an
// earlier refusal. It opens nothing and reports false once the run has made its bound of
// attempts.
func (r *runner) openAsync(ctx context.Context, ro role) bool {
	if r.attempts >= r.attemptBound() {
		if r.boundHit == "" {
			r.boundHit = fmt.Sprintf("the run made its bound of %d connection attempts (2 x --max-conns %d; %d refused by the responder)",
				r.attemptBound(), r.o.MaxConns, r.refused)
			r.progress.linef("%s: no more connections are opened", r.boundHit)
		}
		return false
	}
	r.attempts++
	r.opening++
	wait := time.Until(r.nextOpen)
	if wait > 0 {
		// Spread the delayed attempts: one backoff step apart, not all at once.
		r.nextOpen = r.nextOpen.Add(max(r.backoff/4, 50*time.Millisecond))
	}
	announce := r.maxIdle + max(time.Second, r.maxIdle/10)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-r.done:
			}
			t.Stop()
		}
		pc, err := r.dial(ctx, hello{Token: r.token, MaxIdle: announce})
		var at time.Time
		if err == nil {
			at, _ = kernelTimes(pc.c) // the hello-ack's arrival
			switch ro {
			case roleServerPush:
				req := pushReq{First: pushFirst, Growth: pushGrowth}
				req.Ticks = min(maxTicks, req.ticksFor(r.maxIdle*11/10+time.Second)+1)
				err = pc.send(req.marshal(req.Ticks * FrameCost))
				_, at = kernelTimes(pc.c) // the client's last bytes
			case roleKeepalive:
				err = setKeepalive(pc.c, keepaliveIdle, keepaliveIdle)
			}
			if err != nil {
				pc.close()
				err = fmt.Errorf("set up the %v connection: %w", ro, err)
			}
		}
		select {
		case r.opens <- openResult{pc: pc, role: ro, at: at, err: err}:
		case <-r.done:
			if pc != nil {
				pc.finish()
			}
		}
	}()
	return true
}

// addOpened adds a newly opened connection to the search, or counts its failure. Failing to
// open a connection while others work costs the search some speed, not its result.
func (r *runner) addOpened(or openResult) {
	r.opening--
	if or.err != nil {
		var re *RefusedError
		switch {
		case errors.As(or.err, &re):
			r.refusals[re.Code]++
			r.refused++
			// Back off exponentially: a responder that refuses is full or rate limiting, and
			// more attempts only add load to it and to every middlebox on the way.
			r.backoff = min(max(2*r.backoff, 250*time.Millisecond), 16*time.Second)
			r.nextOpen = time.Now().Add(r.backoff)
		case r.openErr == nil:
			r.openErr = or.err
		}
		if or.role == roleLadder {
			r.s.openFailed()
		} else {
			r.note("the %v connection could not be opened (%v): that test is skipped", or.role, or.err)
		}
		return
	}
	r.backoff = 0
	if !r.register(or.pc, or.role) {
		return
	}
	if or.role == roleServerPush {
		r.pushConn = or.pc
	}
	r.s.add(or.pc.id, or.role, or.at.Sub(r.start))
}

// noSearchConns explains why the search has no connection left to work with.
func (r *runner) noSearchConns() error {
	for code, n := range r.refusals {
		return fmt.Errorf("the responder refused %d connection(s) and none is left for the search: %w", n, &RefusedError{Code: code})
	}
	if r.openErr != nil {
		return fmt.Errorf("no connection for the search could be opened (the control connection could): %w", r.openErr)
	}
	return errors.New("every connection of the search was lost")
}

// apply carries out the search's actions.
func (r *runner) apply(acts []action) {
	for _, a := range acts {
		switch a.kind {
		case actProbe:
			pc := r.conn(a.conn)
			if pc == nil {
				r.s.lost(a.conn)
				continue
			}
			seq, err := pc.probe(r.rt)
			if err != nil {
				if o, ok := endOutcome(err); ok {
					r.s.died(a.conn, r.now(), o)
				} else {
					r.s.lost(a.conn)
				}
				r.release(pc)
				continue
			}
			r.pending[a.conn] = seq
			_, sent := kernelTimes(pc.c)
			r.s.sent(a.conn, sent.Sub(r.start))
		case actClose:
			r.release(r.conn(a.conn))
		case actOpen:
			for range a.n {
				if !r.openAsync(r.ctx, roleLadder) {
					r.s.openFailed()
				}
			}
		}
	}
}

// handle applies one connection event.
func (r *runner) handle(ev connEvent) {
	at := ev.at.Sub(r.start)
	if r.control != nil && ev.conn == r.control.id {
		switch ev.kind {
		case evAnswer:
			if r.ctlWaiting && ev.seq == r.ctlSeq {
				r.ctlWaiting = false
				r.ctlLast = ev.at
				if !r.pinged {
					// The first sample timed the connection's set-up: replace it.
					r.rtts, r.pinged = r.rtts[:0], true
				}
				r.rtts = append(r.rtts, ev.at.Sub(r.ctlSentAt))
				if len(r.rtts) > 10 {
					r.rtts = r.rtts[len(r.rtts)-10:]
				}
				r.setRT()
				r.s.setTimeouts(r.rt, r.suspect())
			}
		default:
			r.ctlErr = &ev // checkControl reports it
		}
		return
	}
	switch ev.kind {
	case evAnswer:
		if seq, ok := r.pending[ev.conn]; ok && seq == ev.seq {
			delete(r.pending, ev.conn)
			r.s.answered(ev.conn, at, ev.heard)
		}
	case evEnd:
		delete(r.pending, ev.conn)
		if o, ok := endOutcome(ev.err); ok {
			r.s.died(ev.conn, at, o)
		} else {
			r.s.lost(ev.conn)
		}
		r.release(r.conn(ev.conn))
	case evRefused:
		delete(r.pending, ev.conn)
		r.s.lost(ev.conn)
		r.note("the responder closed a connection: %v", ev.code)
		r.release(r.conn(ev.conn))
	}
}

// dial opens one connection of the run: a responder's hello, or with --http the first
// request through the balancer.
func (r *runner) dial(ctx context.Context, h hello) (*pconn, error) {
	if r.o.HTTP != nil {
		return dialHTTP(ctx, r.o.Dial, r.o.HTTP, r.o.ConnectTimeout, r.o.HelloTimeout)
	}
	return dialHello(ctx, r.o.Dial, r.addr, r.o.ConnectTimeout, r.o.HelloTimeout, h)
}

// markDelivered tells the search which unanswered probes the far end's kernel has
// acknowledged: the path carried them, and a late answer is a busy responder, not a death.
// (A probe that is not acknowledged within the reply timeout dies by TCP_USER_TIMEOUT too.)
func (r *runner) markDelivered() {
	for id := range r.pending {
		if c := r.s.conn(id); c != nil && c.delivered {
			continue // known: no tcp_info read again on every turn of the loop
		}
		if pc := r.conn(id); pc != nil && delivered(pc.c) {
			r.s.acked(id)
		}
	}
}

// drainEvents handles every event already waiting, without blocking.
func (r *runner) drainEvents() {
	for {
		select {
		case ev := <-r.events:
			r.handle(ev)
		default:
			return
		}
	}
}

// setRT derives the reply timeout from the control connection's recent round trips.
func (r *runner) setRT() {
	if r.o.ReplyTimeout > 0 {
		r.rt = r.o.ReplyTimeout
		return
	}
	r.rt = max(time.Second, 10*slices.Max(r.rtts))
}

// suspect is how long an unanswered probe takes to be suspected dead: long past any RTT seen,
// so the search can plan on it while the reply timeout runs.
func (r *runner) suspect() time.Duration {
	return min(r.rt/2, max(100*time.Millisecond, 4*slices.Max(r.rtts)))
}

func (r *runner) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// pingControl sends the control connection's once-a-second message.
func (r *runner) pingControl() {
	if r.control == nil || r.ctlWaiting || r.ctlErr != nil {
		return
	}
	seq, err := r.control.probe(r.rt)
	if err != nil {
		r.ctlErr = &connEvent{kind: evEnd, at: time.Now(), err: err}
		return
	}
	r.ctlSeq, r.ctlSentAt, r.ctlWaiting = seq, time.Now(), true
}

// checkControl reports a path failure once the control connection has died.
func (r *runner) checkControl() error {
	at := func(t time.Time) string { return t.Sub(r.start).Round(100 * time.Millisecond).String() }
	if e := r.ctlErr; e != nil {
		what := "ended"
		if e.kind == evRefused {
			what = "was closed by the responder (" + e.code.String() + ")"
		} else if o, ok := endOutcome(e.err); ok {
			what = map[Outcome]string{Reset: "was reset", Closed: "was closed", Silent: "stopped getting answers"}[o]
		}
		return fmt.Errorf("%w: the control connection, which exchanges a message every second, %s %s into the run: the path or the responder failed; idle connections dying now says nothing about an idle timeout (run again when the path is stable)",
			ErrPathFailed, what, at(e.at))
	}
	if r.ctlWaiting && time.Since(r.ctlSentAt) > r.rt {
		// The reply timeout is a bound on the path: a message its far end's kernel has not
		// acknowledged within it is lost (TCP_USER_TIMEOUT is the same bound in the kernel).
		// An acknowledged message whose answer is late says the path works and the responder
		// (or this program, on a loaded host) is slow: wait for it, up to slowAnswer.
		late := time.Since(r.ctlSentAt)
		if delivered(r.control.c) && late <= max(slowAnswer, r.rt) {
			if !r.ctlSlow {
				r.ctlSlow = true
				r.note("the responder answered the control connection late (more than the %v reply timeout) although its kernel acknowledged the message: a busy responder or host, not the path", r.rt)
			}
			return nil
		}
		if delivered(r.control.c) {
			return fmt.Errorf("%w: the responder acknowledged the control connection's message (the path works) but did not answer within %v at %s into the run: it is overloaded or stuck",
				ErrPathFailed, max(slowAnswer, r.rt), at(r.ctlSentAt))
		}
		return fmt.Errorf("%w: the control connection, which exchanges a message every second, got no answer within %v at %s into the run: the path or the responder failed; idle connections dying now says nothing about an idle timeout (run again when the path is stable)",
			ErrPathFailed, r.rt, at(r.ctlSentAt))
	}
	return nil
}

// finalControl makes one more round trip on the control connection after the search ended,
// so that a path failing during the last verdicts is not taken for an idle timeout.
func (r *runner) finalControl(ctx context.Context) error {
	end := time.Now()
	for r.ctlLast.Before(end) {
		if err := r.checkControl(); err != nil {
			return err
		}
		if !r.ctlWaiting {
			r.pingControl()
			continue
		}
		wake := r.ctlSentAt.Add(r.rt)
		if time.Now().After(wake) {
			wake = r.ctlSentAt.Add(max(slowAnswer, r.rt)) // acknowledged, late: checkControl waits
		}
		t := time.NewTimer(time.Until(wake) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case ev := <-r.events:
			if ev.conn == r.control.id {
				r.handle(ev)
			}
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}
