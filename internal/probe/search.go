package probe

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// This file is the search for a path's idle timeout T, without any I/O: it is told when
// connections open, answer or die, and says which connection to probe when. The real run
// (run.go) and the simulator in the tests drive the same code. docs/probe.md explains the
// algorithm and why it ends near 1.1 T.
//
// A connection refreshed (its last exchange) at time s and probed at time t tests the idle
// length t - s: an answer proves the path keeps flows idle that long (and refreshes the flow:
// a new idle period starts), silence, a reset or a close proves it does not. Each connection
// tests one length per idle period, and learning that a length L survives takes L.
//
// Two phases:
//
//   - Ladder, while nothing has died: connection k first tests Base·r^k, then every test of
//     a connection is Reuse (K) times its previous one, started as soon as the previous
//     answered. Together the tests form a geometric grid of ratio r = K^(1/n) over every
//     scale from Base to MaxIdle, and a test of length L ends at L·K/(K-1): the first death
//     is seen by about r·K/(K-1) ≈ 1.09 T with 60 connections.
//   - Window, once a test died (or is late enough to be suspected): the bracket (lo, hi) is
//     split into equal parts of at most the precision; the connections idle longest take the
//     highest points and are probed when their idle length reaches them. The connections
//     that answered early in the ladder have been idle since then, so at the first death
//     several of them are already idle for lengths inside the bracket: the refinement mostly
//     costs no waiting at all.

// Outcome is what one test showed.
type Outcome string

// The outcomes of a test. Silent, Reset and Closed are deaths (the failure modes).
const (
	Alive  Outcome = "alive"
	Silent Outcome = "silent-drop" // no answer within the reply timeout
	Reset  Outcome = "rst"         // the connection was reset
	Closed Outcome = "close"       // the connection was closed (FIN)
)

// role is what a connection is used for.
type role int

const (
	roleLadder     role = iota // the search itself
	roleServerPush             // idle from the client, fed by the responder's ticks
	roleKeepalive              // idle apart from TCP keepalive probes
	roleControl                // busy every second; not part of the search
)

func (r role) String() string {
	switch r {
	case roleServerPush:
		return "server-push"
	case roleKeepalive:
		return "keepalive"
	case roleControl:
		return "control"
	}
	return "search"
}

type cstate int

const (
	stIdle cstate = iota
	stProbing
	stDead
)

// never is a time that does not come.
const never = time.Duration(math.MaxInt64)

type sconn struct {
	id     int
	role   role
	state  cstate
	s      time.Duration // refreshed: when its last exchange ended
	target time.Duration // ladder: the idle length of its next ladder test
	plan   time.Duration // when to probe it next, or never
	sentAt time.Duration // probing: when the probe left
	age    time.Duration // probing: the idle length it tests
	// delivered (probing): the far end's kernel acknowledged the probe, so the path carried it;
	// its answer may come later than the reply timeout (a busy responder) without a death.
	delivered bool
}

// Test is one idle length tested.
type Test struct {
	Conn    int
	Role    string
	Idle    time.Duration // how long the connection had been idle
	At      time.Duration // when the outcome was known, from the start of the run
	Outcome Outcome
	// Heard is, for an answer, how long the responder had heard nothing from the connection
	// (its own view of Idle).
	Heard time.Duration
}

// Precision is how narrow the bracket must get: Fixed, or the larger of Floor and Fraction
// of the timeout.
type Precision struct {
	Fixed    time.Duration
	Fraction float64
	Floor    time.Duration
}

// DefaultPrecision is the larger of 1 s and 1 %.
var DefaultPrecision = Precision{Fraction: 0.01, Floor: time.Second}

func (p Precision) at(lo, hi time.Duration) time.Duration {
	if p.Fixed > 0 {
		return p.Fixed
	}
	mid := lo
	if hi != never {
		mid = lo + (hi-lo)/2
	}
	return max(p.Floor, time.Duration(p.Fraction*float64(mid)))
}

func (p Precision) String() string {
	if p.Fixed > 0 {
		return p.Fixed.String()
	}
	return fmt.Sprintf("max(%v, %g%%)", p.Floor, p.Fraction*100)
}

type searchConfig struct {
	Ladder int // ladder connections opened at the start
	// MaxConns is how many search connections may be open at once: the window phase opens
	// new ones in place of dead ones when it needs more, up to 4 × MaxConns in all.
	MaxConns  int
	Base      time.Duration // the shortest idle length tested
	MaxIdle   time.Duration // the longest; a path that keeps this survives "without a timeout"
	Precision Precision
}

// action is what the search asks the runner to do now.
type action struct {
	kind actKind
	conn int // probe, close
	n    int // open
}

type actKind int

const (
	actProbe actKind = iota
	actClose         // the connection is dead: close it
	actOpen          // open n more search connections
)

type search struct {
	cfg          searchConfig
	reuse, ratio float64

	conns   []*sconn // by id
	ladderN int      // ladder connections added so far
	opening int      // connections asked for and not yet added

	lo, hi       time.Duration // longest idle proven alive, shortest proven dead (never: none)
	rt           time.Duration // reply timeout
	suspectAfter time.Duration // a probe unanswered this long is suspected dead

	tests     []Test
	modes     map[Outcome]int
	sideAlive map[role]*bool
	finishAt  time.Duration // when the result became final (never: not yet)
	gaveUp    string
}

func newSearch(cfg searchConfig) *search {
	s := &search{cfg: cfg, hi: never, rt: time.Second, suspectAfter: 50 * time.Millisecond,
		modes: map[Outcome]int{}, sideAlive: map[role]*bool{}, finishAt: never}
	s.reuse, s.ratio = ladderParams(max(cfg.Ladder, 1))
	return s
}

// ladderParams picks K (reuse) and r = K^(1/n) to minimise the time of the first death,
// r·K/(K-1) times T at worst: a finer grid (small r) needs a larger K, whose delay 1/(K-1)
// shrinks in turn.
func ladderParams(n int) (reuse, ratio float64) {
	best := math.Inf(1)
	for k := 3.0; k <= 400; k *= 1.05 {
		r := math.Pow(k, 1/float64(n))
		if f := r * k / (k - 1); f < best {
			best, reuse, ratio = f, k, r
		}
	}
	return reuse, ratio
}

// setTimeouts takes the reply timeout and suspicion delay from the control connection's RTT.
func (s *search) setTimeouts(rt, suspect time.Duration) {
	s.rt, s.suspectAfter = rt, min(suspect, rt)
}

// add makes a newly opened connection (whose last exchange ended at at) part of the search.
func (s *search) add(id int, r role, at time.Duration) {
	for len(s.conns) <= id {
		s.conns = append(s.conns, nil)
	}
	c := &sconn{id: id, role: r, s: at, plan: never, target: s.cfg.MaxIdle}
	if r == roleLadder {
		if s.opening > 0 {
			s.opening--
		} else {
			c.target = min(s.cfg.MaxIdle, time.Duration(float64(s.cfg.Base)*math.Pow(s.ratio, float64(s.ladderN))))
			s.ladderN++
		}
	}
	s.conns[id] = c
}

// openFailed tells the search a connection it asked for could not be opened.
func (s *search) openFailed() {
	if s.opening > 0 {
		s.opening--
	}
}

func (s *search) conn(id int) *sconn {
	if id < 0 || id >= len(s.conns) {
		return nil
	}
	return s.conns[id]
}

// sent corrects when the probe on id left (the runner reads it from the kernel after the
// write): the idle length it tests is measured to that moment.
func (s *search) sent(id int, at time.Duration) {
	if c := s.conn(id); c != nil && c.state == stProbing && at >= c.s {
		c.sentAt, c.age, c.delivered = at, at-c.s, false
	}
}

// acked: the probe on id reached the far end's kernel (it acknowledged the data). An answer
// that is late after that is a slow responder, not a path that forgot the flow: the probe
// waits up to slowAnswer for it instead of the reply timeout, and is not suspected meanwhile.
func (s *search) acked(id int) {
	if c := s.conn(id); c != nil && c.state == stProbing {
		c.delivered = true
	}
}

// replyLimit is how long c's probe may go unanswered before c counts as silently dropped.
func (s *search) replyLimit(c *sconn) time.Duration {
	if c.delivered {
		return max(slowAnswer, s.rt)
	}
	return s.rt
}

// answered: the probe on id was answered at at.
func (s *search) answered(id int, at, heard time.Duration) {
	c := s.conn(id)
	if c == nil || c.state != stProbing {
		return
	}
	s.tests = append(s.tests, Test{Conn: id, Role: c.role.String(), Idle: c.age, At: at, Outcome: Alive, Heard: heard})
	c.state, c.s, c.plan = stIdle, at, never
	if c.role != roleLadder {
		s.side(c.role, true)
		return
	}
	if c.age > s.lo {
		s.lo = c.age
	}
	if c.age >= c.target {
		c.target = min(s.cfg.MaxIdle, time.Duration(float64(c.target)*s.reuse))
	}
}

// died: the connection id is dead, seen at at: its probe went unanswered, it was reset, or
// the middlebox closed it.
func (s *search) died(id int, at time.Duration, o Outcome) {
	c := s.conn(id)
	if c == nil || c.state == stDead {
		return
	}
	age := at - c.s
	if c.state == stProbing {
		age = c.age
	}
	c.state, c.plan = stDead, never
	s.tests = append(s.tests, Test{Conn: id, Role: c.role.String(), Idle: age, At: at, Outcome: o})
	if c.role != roleLadder {
		s.side(c.role, false)
		return
	}
	s.modes[o]++
	if age < s.hi {
		s.hi = age
	}
}

func (s *search) side(r role, alive bool) {
	if s.sideAlive[r] == nil {
		s.sideAlive[r] = &alive
	}
}

// lost: the connection id ended for a reason that says nothing about the path (the
// responder's idle cap, a local error). It leaves the search.
func (s *search) lost(id int) {
	if c := s.conn(id); c != nil {
		c.state, c.plan = stDead, never
	}
}

// tentativeHi is hi, or the shortest idle length whose probe is late enough to be suspected.
func (s *search) tentativeHi(now time.Duration) time.Duration {
	h := s.hi
	for _, c := range s.conns {
		if c != nil && c.role == roleLadder && c.state == stProbing && !c.delivered && now-c.sentAt >= s.suspectAfter && c.age < h {
			h = c.age
		}
	}
	return h
}

// found reports whether the bracket is final (narrow enough, or no timeout up to MaxIdle),
// and whether it has an upper end (a timeout was found).
func (s *search) found() (final, withT bool) {
	if s.lo >= s.cfg.MaxIdle {
		return true, false
	}
	if s.hi != never && s.hi-s.lo <= s.cfg.Precision.at(s.lo, s.hi) {
		return true, true
	}
	return false, false
}

func (s *search) finished() bool { return s.finishAt != never }

// margin is how far past hi a side test's idle length goes: enough that the flow would have
// died without the refresh under test. The precision (at least 1 s) is enough: a middlebox
// whose expiry wandered by more than that would have shown it as disagreements in the
// bracket, which was measured to the precision.
func (s *search) margin() time.Duration { return max(time.Second, s.cfg.Precision.at(s.lo, s.hi)) }

// step advances the search to now and returns what to do.
func (s *search) step(now time.Duration) []action {
	var acts []action
	for _, c := range s.conns {
		if c != nil && c.state == stProbing && now-c.sentAt >= s.replyLimit(c) {
			s.died(c.id, now, Silent)
			acts = append(acts, action{kind: actClose, conn: c.id})
		}
	}
	if s.finished() {
		return acts
	}
	final, withT := s.found()
	if final {
		if !s.planSides(now, withT) {
			s.finish(now)
			return acts
		}
	} else {
		if s.alive(roleLadder) == 0 && s.opening == 0 && s.opened() >= 4*s.cfg.MaxConns {
			s.gaveUp = fmt.Sprintf("all %d connections the search opened have died before the bracket narrowed to %v",
				s.opened(), s.cfg.Precision.at(s.lo, s.hi))
			s.finish(now)
			return acts
		}
		if n := s.replan(now); n > 0 {
			s.opening += n
			acts = append(acts, action{kind: actOpen, n: n})
		}
	}
	for _, c := range s.conns {
		if c != nil && c.state == stIdle && c.plan <= now {
			c.state, c.sentAt, c.age, c.plan = stProbing, now, now-c.s, never
			acts = append(acts, action{kind: actProbe, conn: c.id})
		}
	}
	return acts
}

func (s *search) finish(now time.Duration) {
	s.finishAt = now
	for _, c := range s.conns {
		if c != nil {
			c.plan = never
		}
	}
}

func (s *search) opened() int {
	n := 0
	for _, c := range s.conns {
		if c != nil && c.role == roleLadder {
			n++
		}
	}
	return n
}

func (s *search) alive(r role) int {
	n := 0
	for _, c := range s.conns {
		if c != nil && c.role == r && c.state != stDead {
			n++
		}
	}
	return n
}

// planSides plans the side tests once the bracket is final: each side connection is probed
// when its idle length passes hi by a margin. It reports whether any is still to come.
func (s *search) planSides(now time.Duration, withT bool) bool {
	pending := false
	for _, c := range s.conns {
		if c == nil || c.role == roleLadder {
			continue
		}
		if c.state != stDead {
			c.plan = never
		}
		if !withT || s.sideAlive[c.role] != nil || c.state == stDead {
			continue
		}
		pending = true
		if c.state == stIdle {
			c.plan = max(now, c.s+s.hi+s.margin())
		}
	}
	for _, c := range s.conns {
		if c != nil && c.role == roleLadder && c.state == stIdle {
			c.plan = never
		}
	}
	return pending
}

// replan sets when each idle search connection is probed next. It returns how many new
// connections the window needs (0 in the ladder phase).
func (s *search) replan(now time.Duration) int {
	hiT := s.tentativeHi(now)
	var cands []*sconn
	for _, c := range s.conns {
		if c == nil || c.role != roleLadder || c.state != stIdle {
			continue
		}
		c.plan = never
		switch {
		case hiT == never:
			c.plan = c.s + c.target // ladder
		case now-c.s >= hiT:
			c.plan = now // idle past the bracket: probably dead; find out
		default:
			cands = append(cands, c)
		}
	}
	if hiT == never {
		return 0
	}
	// The gaps between lo, the idle lengths already being tested, and hi.
	bounds := []time.Duration{s.lo, hiT}
	for _, c := range s.conns {
		if c != nil && c.role == roleLadder && c.state == stProbing && c.age > s.lo && c.age < hiT {
			bounds = append(bounds, c.age)
		}
	}
	slices.Sort(bounds)
	prec := s.cfg.Precision.at(s.lo, hiT)
	slices.SortFunc(cands, func(a, b *sconn) int { return cmp.Compare(a.s, b.s) }) // idle longest first
	inWindow := 0
	for _, c := range cands {
		if now-c.s > s.lo {
			inWindow++
		}
	}
	points, need := splitGaps(bounds, prec, inWindow, len(cands))
	for k, x := range points { // highest point to the connection idle longest
		c := cands[k]
		c.plan = max(now, c.s+x)
	}
	need -= len(cands) + s.opening
	room := min(s.cfg.MaxConns-s.alive(roleLadder)-s.opening, 4*s.cfg.MaxConns-s.opened()-s.opening)
	return max(min(need, room), 0)
}

// splitGaps chooses test points, highest first, that split every gap between consecutive
// bounds wider than prec into parts no wider than prec. It returns at most have points,
// and how many it needed. When more connections are idle inside the bracket already
// (inWindow), it uses that many points for a finer split: testing them costs no waiting.
func splitGaps(bounds []time.Duration, prec time.Duration, inWindow, have int) ([]time.Duration, int) {
	n := len(bounds) - 1
	counts := make([]int, n)
	need := 0
	for i := range n {
		if w := bounds[i+1] - bounds[i]; w > prec {
			counts[i] = int(math.Ceil(float64(w)/float64(prec))) - 1
			need += counts[i]
		}
	}
	if need == 0 {
		return nil, 0
	}
	total := min(max(need, inWindow), have)
	for sum := need; sum < total; sum++ { // more points where the parts are widest
		best := 0
		for i := range n {
			if wi, wb := bounds[i+1]-bounds[i], bounds[best+1]-bounds[best]; float64(wi)/float64(counts[i]+1) > float64(wb)/float64(counts[best]+1) {
				best = i
			}
		}
		counts[best]++
	}
	var points []time.Duration
	for i := n - 1; i >= 0; i-- {
		w := bounds[i+1] - bounds[i]
		for j := counts[i]; j >= 1; j-- {
			points = append(points, bounds[i]+time.Duration(float64(w)*float64(j)/float64(counts[i]+1)))
		}
	}
	if len(points) > have {
		// Too few connections: keep the points spread over the whole bracket.
		kept := make([]time.Duration, have)
		for k := range have {
			kept[k] = points[(2*k+1)*len(points)/(2*have)]
		}
		points = kept
	}
	return points, need
}

// next is when step must run again after now, or never.
func (s *search) next(now time.Duration) time.Duration {
	t := never
	for _, c := range s.conns {
		if c == nil {
			continue
		}
		switch c.state {
		case stIdle:
			t = min(t, c.plan)
		case stProbing:
			if c.role == roleLadder && !c.delivered && c.sentAt+s.suspectAfter > now {
				t = min(t, c.sentAt+s.suspectAfter)
			}
			t = min(t, c.sentAt+s.replyLimit(c))
		}
	}
	return t
}

// eta estimates how much longer the search takes, or -1 before anything has died.
func (s *search) eta(now time.Duration) time.Duration {
	if s.finished() {
		return 0
	}
	hiT := s.tentativeHi(now)
	if hiT == never {
		return -1
	}
	end := now
	for _, c := range s.conns {
		if c == nil {
			continue
		}
		switch {
		case c.state == stIdle && c.plan != never:
			end = max(end, c.plan+s.rt)
		case c.state == stProbing:
			end = max(end, c.sentAt+s.replyLimit(c))
		}
	}
	if final, withT := s.found(); !final || withT {
		// Side tests run to hi plus a margin from their start.
		for _, c := range s.conns {
			if c != nil && c.role != roleLadder && c.state == stIdle && s.sideAlive[c.role] == nil {
				end = max(end, c.s+hiT+s.margin())
			}
		}
	}
	return end - now
}
