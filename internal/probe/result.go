package probe

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Result is what a probe run measured.
type Result struct {
	Target netip.AddrPort
	// Found is true when a connection died: Hi is then the shortest idle length that died.
	// Otherwise the path kept every flow up to Lo (at least MaxIdle).
	Found bool
	// IdleTimeout is the middle of the bracket [Lo, Hi]: the path forgets flows idle
	// longer than Lo and no longer than Hi.
	IdleTimeout time.Duration
	Lo, Hi      time.Duration
	// Precision is the bracket width the run aimed for.
	Precision time.Duration
	// FailureMode is how idle connections died (Silent, Reset, Closed), "" if none did.
	FailureMode Outcome
	// ServerRefresh: whether the responder's bytes alone (the client sending nothing) kept
	// a flow past Hi. KeepaliveRefresh: whether TCP keepalive probes alone did (only with
	// Options.CheckKeepalive). nil when not measured.
	ServerRefresh, KeepaliveRefresh *bool
	Wall                            time.Duration
	// Connections is how many connections the run opened, the control connection included.
	Connections  int
	RTT          time.Duration // the control connection's, the largest of the last ten
	ReplyTimeout time.Duration
	MaxIdle      time.Duration
	// SeenAs is the client's address as the responder saw it: different from the client's
	// own when a NAT is on the path.
	SeenAs           netip.AddrPort
	ResponderIdleCap time.Duration
	// Disagreements counts tests that contradict the bracket (an idle length shorter than Lo
	// that died, or longer than Hi that survived): a path whose middleboxes do not agree.
	Disagreements int
	Tests         []Test
	Notes         []string
	// HTTP is the URL of an HTTP run (--http): the timeout is a layer-7 balancer's keep-alive
	// idle timeout; "" for a TCP run.
	HTTP string
	// ChainWritten is set by the caller once --write-chain has written the result into a
	// chain file: the text then does not advise doing it.
	ChainWritten bool
}

// LearnedSoFar says what an unfinished run had established: "flows idle 4 s survived; flows
// idle 9.2 s died".
func (r *Result) LearnedSoFar() string {
	var parts []string
	if r.Lo > 0 {
		parts = append(parts, fmt.Sprintf("flows idle %s survived", textfmt.Measured(r.Lo)))
	}
	if r.Found {
		parts = append(parts, fmt.Sprintf("flows idle %s died (%s)", textfmt.Measured(r.Hi), r.FailureMode))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("nothing yet (%s into the run, %d connections opened)", textfmt.Measured(r.Wall), r.Connections)
	}
	return strings.Join(parts, "; ") + fmt.Sprintf(" (%s into the run)", textfmt.Measured(r.Wall))
}

// Expiry is the failure mode in the chain file's words (on_expiry).
func (r *Result) Expiry() model.Expiry {
	switch r.FailureMode {
	case Silent:
		return model.ExpirySilent
	case Reset:
		return model.ExpiryReset
	case Closed:
		return model.ExpiryClose
	}
	return ""
}

func (r *runner) result() *Result {
	s := r.s
	res := &Result{Target: r.addr, Lo: s.lo, Wall: r.now(), Connections: r.opened, RTT: slices.Max(r.rtts),
		ReplyTimeout: r.rt, MaxIdle: r.maxIdle, SeenAs: r.ack.Client, ResponderIdleCap: r.ack.IdleCap,
		Tests: s.tests}
	if t := r.o.HTTP; t != nil {
		res.HTTP = t.URL()
	}
	res.Notes = append(res.Notes, r.notes...)
	if s.hi != never {
		res.Found, res.Hi = true, s.hi
		res.IdleTimeout = s.lo + (s.hi-s.lo)/2
		if s.hi <= s.lo {
			res.IdleTimeout = s.hi
		}
		res.Precision = s.cfg.Precision.at(s.lo, s.hi)
	} else {
		res.Precision = s.cfg.Precision.at(s.lo, never)
	}
	if s.gaveUp != "" {
		res.Notes = append(res.Notes, "the search stopped early: "+s.gaveUp)
	}

	// The failure mode: what most deaths looked like.
	best := 0
	for _, o := range []Outcome{Silent, Reset, Closed} {
		if n := s.modes[o]; n > best {
			res.FailureMode, best = o, n
		}
	}
	if len(s.modes) > 1 {
		res.Notes = append(res.Notes, fmt.Sprintf("idle connections died in different ways (%d silent, %d reset, %d closed): more than one middlebox may be on the path, or ECMP spreads flows over different ones",
			s.modes[Silent], s.modes[Reset], s.modes[Closed]))
	}

	if res.Found {
		for r, dst := range map[role]**bool{roleServerPush: &res.ServerRefresh, roleKeepalive: &res.KeepaliveRefresh} {
			if a := s.sideAlive[r]; a != nil {
				v := *a
				*dst = &v
			}
		}
		if res.ServerRefresh != nil && *res.ServerRefresh && (r.pushConn == nil || r.pushConn.ticks.Load() == 0) {
			res.ServerRefresh = nil
			res.Notes = append(res.Notes, "the server-refresh connection survived without receiving the responder's ticks: that test says nothing")
		}
	} else {
		res.Notes = append(res.Notes, fmt.Sprintf("no connection died: the path kept flows idle for %v, the longest this run tests (--max-idle)", res.Lo.Round(time.Second)))
	}

	// Disagreements: results on the wrong side of the bracket.
	var early, late []time.Duration
	for _, t := range s.tests {
		if t.Role != roleLadder.String() {
			continue
		}
		switch {
		case t.Outcome == Alive && res.Found && t.Idle >= res.Hi:
			late = append(late, t.Idle)
		case t.Outcome != Alive && t.Idle <= res.Lo:
			early = append(early, t.Idle)
		}
	}
	res.Disagreements = len(early) + len(late)
	if len(early) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("low confidence: %d connection(s) died idle no longer than %v, which another connection survived (shortest %v): the middlebox's timer is irregular, or flows take different paths",
			len(early), short(res.Lo), short(slices.Min(early))))
	}
	if len(late) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("low confidence: %d connection(s) survived idle %v or longer, which killed another (longest %v): the middlebox's timer is irregular, or flows take different paths",
			len(late), short(res.Hi), short(slices.Max(late))))
	}
	for _, t := range s.tests {
		// (An HTTP responder does not say when it last heard from the balancer.)
		if res.HTTP == "" && t.Outcome == Alive && t.Role == roleLadder.String() && t.Idle > 2*time.Second && t.Heard < t.Idle*9/10-time.Second {
			res.Notes = append(res.Notes, fmt.Sprintf("the responder heard from a connection %v before a probe the client sent after %v of silence: something between them sends on the connection's behalf (a proxy?)",
				short(t.Heard), short(t.Idle)))
			break
		}
	}
	for code, n := range r.refusals {
		res.Notes = append(res.Notes, fmt.Sprintf("the responder refused %d connection(s): %v", n, code))
	}
	if r.openErr != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("some connections could not be opened: %v", r.openErr))
	}
	return res
}

// short rounds a duration for people: milliseconds below 10 s, tenths of seconds above.
func short(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// progress writes a line to stderr every 10 s while nothing has died, at once when the first
// flow dies, and then when the bracket moves (at most every 2 s), with an estimate of the time
// left.
type progress struct {
	w              io.Writer
	start, last    time.Time
	lastLo, lastHi time.Duration
	died, ladder   bool
}

func (p *progress) linef(format string, args ...any) {
	if p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "keeptune probe: "+format+"\n", args...)
	p.last = time.Now()
}

func (p *progress) update(s *search, now time.Duration) {
	if p.w == nil {
		return
	}
	hiT := s.tentativeHi(now)
	since := time.Since(p.last)
	el := now.Round(time.Second)
	if hiT == never {
		if since < 10*time.Second {
			return
		}
		more := ""
		if !p.ladder {
			more = fmt.Sprintf(" (the search goes up to %v)", s.cfg.MaxIdle)
			p.ladder = true
		}
		p.linef("%v: flows idle %v survived; none has died yet%s", el, short(s.lo), more)
		return
	}
	first := !p.died
	changed := s.lo != p.lastLo || hiT != p.lastHi
	if !first && !(changed && since >= 2*time.Second) && since < 10*time.Second {
		return
	}
	p.died, p.lastLo, p.lastHi = true, s.lo, hiT
	left := ""
	if eta := s.eta(now); eta >= 0 {
		left = fmt.Sprintf("; about %v left", eta.Round(time.Second))
	}
	what := "the idle timeout is"
	if first {
		verb := "does not answer"
		if hiT == s.hi {
			verb = "died"
		}
		what = fmt.Sprintf("a flow idle %v %s: the idle timeout is", short(hiT), verb)
	}
	p.linef("%v: %s between %v and %v (aiming at ±%v)%s",
		el, what, short(s.lo), short(hiT), s.cfg.Precision.at(s.lo, hiT)/2, left)
}
