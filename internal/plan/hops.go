package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Setting keys of hop sides, as the chain file names them.
const (
	KeyIdleTimeout    = "idle_timeout"       // keep-alive idle (downstream) or pool idle (upstream)
	KeyKeepalive      = "tcp_keepalive"      // SO_KEEPALIVE on, with the host's timers
	KeyKeepaliveIdle  = "tcp_keepalive.idle" // TCP_KEEPIDLE of the side's sockets
	poolShortenAbove  = 5 * time.Minute      // a pool kept longer than this is shortened rather than outwaited (KT701)
	sideDownstream    = "downstream"
	sideUpstream      = "upstream"
	keepaliveOnString = "on"
)

// planChain picks the hop-side settings of the chain, segment by segment: TCP keepalive where a
// layer-4 middlebox that counts probes would otherwise forget connections that can idle past it
// (KT702, KT703, KT704, KT708), then the backend's keep-alive idle above the pool in front of it
// (KT701), choosing the side whose change breaks no other constraint; a conflict where none does.
func (p *Plan) planChain(c *model.Chain) {
	if c == nil {
		return
	}
	for _, seg := range chain.Segments(c) {
		refreshed := p.planSegmentKeepalive(c, seg)
		p.planPoolRace(c, seg, refreshed)
		p.planGRPC(c, seg)
	}
	p.planUserTimeouts(c)
}

// planSegmentKeepalive makes TCP keepalive on the segment refresh every layer-4 middlebox that
// counts probes and may see the connection idle past its timeout; it returns whether keepalive
// refreshes the segment after the plan.
func (p *Plan) planSegmentKeepalive(c *model.Chain, seg chain.Segment) bool {
	limit := time.Duration(-1)
	var why []Reason
	for _, mi := range seg.Middleboxes {
		mh := &c.Hops[mi]
		mb := mh.Middlebox
		if !keepaliveMustRefresh(seg, mb) {
			continue
		}
		t := mb.IdleTimeout.Value
		l := chain.KeepaliveLimit(t)
		if limit < 0 || l < limit {
			limit = l
		}
		d, bounded := chain.Silence(seg)
		silence := "with no known limit"
		if bounded {
			silence = "for up to " + textfmt.Seconds(d)
		}
		why = append(why, Reason{Kind: ReasonHard, Op: "<=", Bound: secs(l) + "s", Source: mb.IdleTimeout.Source,
			Text: fmt.Sprintf("connections from %s to %s can stay silent %s, but %s forgets idle flows after %s: a keepalive probe must leave by %s (%s)",
				seg.Opener.Name(), seg.Acceptor.Name(), silence, hopLabel(mh), textfmt.Seconds(t), textfmt.Seconds(l), marginText(t))})
	}
	if limit < 0 {
		return false
	}
	refreshed := false
	for _, e := range []chain.Endpoint{seg.Opener, seg.Acceptor} {
		idle, known, on := e.KeepaliveOn()
		switch {
		case !on || e.L7 != nil:
			continue
		case e.Hop.Local && takesHostKeepalive(e.Side):
			refreshed = true // the host's tcp_keepalive_time is planned under the same bound
		case known && idle <= limit:
			refreshed = true
			p.Kept = append(p.Kept, Kept{Scope: hopScope(e.Hop, sideOf(seg, e), e.Side.TCP.Idle.Source), Key: KeyKeepaliveIdle,
				Value: durValue(e.Side.TCP.Idle), Why: why})
		case known:
			refreshed = true
			p.addHopChange(e, sideOf(seg, e), KeyKeepaliveIdle, e.Side.TCP.Idle, limit, why)
		}
	}
	if refreshed {
		return true
	}
	// Nobody probes: turn keepalive on at the acceptor (the server side, under the operator's
	// control), else at the opener.
	for _, e := range []chain.Endpoint{seg.Acceptor, seg.Opener} {
		if e.L7 != nil || e.Hop.Type == model.HopMiddlebox {
			continue
		}
		if e.Hop.Local {
			// Its sockets take the host's timers, planned under the same bound (idleLimits).
			ch := Change{Scope: hopScope(e.Hop, sideOf(seg, e), e.Side.TCP.Enabled.Source), Key: KeyKeepalive, From: boolValue(e.Side.TCP.Enabled), To: keepaliveOnString,
				Why: append(why, Reason{Kind: ReasonConsistency, Text: "with the host's keepalive timers, which the plan sets below the same bound"})}
			text, where := Directive(e.Hop, sideOf(seg, e), "keepalive-on", 0)
			ch.Apply = []Step{{Kind: StepLine, Where: e.Hop.Runtime, Text: text, Note: where}}
			p.addChange(ch)
		} else {
			p.addHopChange(e, sideOf(seg, e), KeyKeepaliveIdle, e.Side.TCP.Idle, limit, why)
		}
		return true
	}
	p.Conflicts = append(p.Conflicts, Conflict{Scope: Scope{Kind: ScopeHop, Name: seg.Opener.Name() + " -> " + seg.Acceptor.Name()},
		Key: KeyKeepaliveIdle, Constraints: why,
		Choices: []string{"raise the middlebox's idle timeout above the longest silence", "send application heartbeats on idle connections"}})
	return false
}

// planPoolRace keeps the acceptor's keep-alive idle above the opener's pool idle (KT701):
// raise the backend where the pool's idle is a few minutes at most and nothing forbids a longer
// idle, shorten the pool otherwise.
func (p *Plan) planPoolRace(c *model.Chain, seg chain.Segment, refreshed bool) {
	o, a := seg.Opener, seg.Acceptor
	backend, backendLimited := chain.Limited(a.Side.IdleTimeout)
	if !o.Side.Pools.Known || !o.Side.Pools.Value || !o.Side.IdleTimeout.Known || !backendLimited {
		return
	}
	if a.Side.Pools.Known && !a.Side.Pools.Value {
		return
	}
	pool, poolLimited := chain.Limited(o.Side.IdleTimeout)
	if poolLimited && backend >= pool+chain.PoolRaceMargin {
		return
	}
	poolText := "for ever (no idle timeout)"
	if poolLimited {
		poolText = textfmt.Seconds(pool)
	}
	why := Reason{Kind: ReasonHard, Op: ">=", Source: o.Side.IdleTimeout.Source,
		Text: fmt.Sprintf("%s keeps idle connections for reuse %s: %s must keep them at least %s longer, or a request meets a connection being closed",
			o.Name(), poolText, a.Name(), textfmt.Seconds(chain.PoolRaceMargin))}
	// A longer backend idle is safe only if no middlebox on the segment forgets the connection
	// first: keepalive refreshes those that count probes; the others bound the idle.
	ceiling := time.Duration(-1)
	for _, mi := range seg.Middleboxes {
		mb := c.Hops[mi].Middlebox
		if mb.IdleTimeout.Known && (!refreshed || !chain.CountsProbes(mb)) {
			if ceiling < 0 || mb.IdleTimeout.Value < ceiling {
				ceiling = mb.IdleTimeout.Value
			}
		}
	}
	if poolLimited && pool <= poolShortenAbove {
		raised := chain.BackendIdleAbove(pool)
		if ceiling < 0 || raised < ceiling {
			why.Bound = secs(pool+chain.PoolRaceMargin) + "s"
			p.addHopChange(a, sideDownstream, KeyIdleTimeout, a.Side.IdleTimeout, raised, []Reason{why})
			return
		}
	}
	skew := max(time.Second, backend/10)
	raw := backend - chain.PoolRaceMargin - skew
	shorter := max(raw, time.Second)
	why.Op, why.Bound = "<=", secs(backend-chain.PoolRaceMargin)+"s"
	why.Text = fmt.Sprintf("%s closes idle connections after %s: %s pool must drop them first, %s earlier (keeptune's race margin) and %s more for timer skew, so after %s",
		a.Name(), textfmt.Seconds(backend), textfmt.Possessive(o.Name()), textfmt.Seconds(chain.PoolRaceMargin), textfmt.Seconds(skew), textfmt.Seconds(shorter))
	if raw < time.Second {
		why.Text = fmt.Sprintf("%s closes idle connections after %s: %s pool must drop them first, %s earlier (keeptune's race margin); "+
			"%s is the shortest pool idle timeout and leaves no room for timer skew: raising %s keep-alive idle timeout is the safer change",
			a.Name(), textfmt.Seconds(backend), textfmt.Possessive(o.Name()), textfmt.Seconds(chain.PoolRaceMargin), textfmt.Seconds(shorter), textfmt.Possessive(a.Name()))
	}
	p.addHopChange(o, sideUpstream, KeyIdleTimeout, o.Side.IdleTimeout, shorter, []Reason{why})
}

func sideOf(seg chain.Segment, e chain.Endpoint) string {
	if e.Index == seg.Acceptor.Index {
		return sideDownstream
	}
	return sideUpstream
}

// hopScope is where a hop side's setting lives: the configuration block its value comes from,
// or the hop itself.
func hopScope(h *model.Hop, side string, src model.Source) Scope {
	s := Scope{Kind: ScopeHop, Name: fmt.Sprintf("%s %s", hopLabel(h), side), Hop: h.Name, Side: side}
	if src.Kind == model.SourceConfig && src.File != "" {
		s.Kind, s.File, s.Line = ScopeConfig, src.File, src.Line
		s.Name = fmt.Sprintf("%s %s (%s:%d)", h.Name, side, src.File, src.Line)
	}
	return s
}

// addHopChange plans a duration setting of a hop side, with the directive and code that set it.
func (p *Plan) addHopChange(e chain.Endpoint, side, key string, from model.Setting[time.Duration], to time.Duration, why []Reason) {
	dkey := "idle"
	if key == KeyKeepaliveIdle {
		dkey = "keepalive"
	}
	src := from.Source
	if key == KeyKeepaliveIdle && src.Kind != model.SourceConfig && e.Side.TCP.Enabled.Source.Kind == model.SourceConfig {
		src = e.Side.TCP.Enabled.Source // the line that turns keepalive on (nginx's listen) takes the idle too
	}
	ch := Change{Scope: hopScope(e.Hop, side, src), Key: key, From: durValue(from), To: durString(to), Why: why}
	text, where := Directive(e.Hop, side, dkey, to)
	ch.Apply = append(ch.Apply, Step{Kind: StepLine, Where: orChain(e.Hop.Runtime), Text: text, Note: where})
	if lang, code, ok := Snippet(e.Hop.Runtime, side, dkey, to); ok {
		ch.Apply = append(ch.Apply, Step{Kind: StepSnippet, Where: e.Hop.Runtime, Lang: lang, Text: code})
	}
	p.addChange(ch)
}

// addChange adds a change unless the setting in its scope is already planned: the first
// (hard) decision stands, and a second one would be a contradiction the plan never makes.
func (p *Plan) addChange(c Change) {
	if prev, ok := p.FindHop(c.Scope.Hop, c.Scope.Side, c.Key); ok && c.Scope.Hop != "" {
		if prev.To != c.To {
			prev.Why = append(prev.Why, c.Why...)
			if durMillis(c.To) < durMillis(prev.To) && c.Key != KeyIdleTimeout {
				prev.To = c.To // keepalive: the tighter bound serves both middleboxes
			}
		}
		return
	}
	p.Changes = append(p.Changes, c)
}

// FindHop returns the planned change of a hop side's setting, whichever scope holds it (the hop
// or its configuration block).
func (p *Plan) FindHop(hop, side, key string) (*Change, bool) {
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Scope.Hop == hop && c.Scope.Side == side && c.Key == key {
			return c, true
		}
	}
	return nil, false
}

func durValue(s model.Setting[time.Duration]) Value {
	if !s.Known {
		return Value{Source: s.Source}
	}
	return Value{Value: durString(s.Value), Known: true, Source: s.Source}
}

func boolValue(s model.Setting[bool]) Value {
	if !s.Known {
		return Value{Value: "off", Source: s.Source}
	}
	v := "off"
	if s.Value {
		v = "on"
	}
	return Value{Value: v, Known: true, Source: s.Source}
}

// durString writes a hop duration the way chain files take it: "80s", "1500ms".
func durString(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func durMillis(s string) int64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d.Milliseconds()
}

func orChain(runtime string) string {
	if runtime == "" {
		return "chain file"
	}
	return strings.ToLower(runtime)
}

// More hop-side keys.
const (
	KeyUserTimeout         = "user_timeout"               // TCP_USER_TIMEOUT
	KeyGRPCTime            = "grpc.time"                  // the client's keepalive ping interval
	KeyPermitWithoutStream = "grpc.permit_without_stream" // the server's EnforcementPolicy
)

// planUserTimeouts keeps every TCP_USER_TIMEOUT at least the side's keepalive cycle (a shorter
// one kills idle connections after fewer probes than configured) and below its read timeout (a
// longer one never fires first), KT705; where both cannot hold it is a conflict.
func (p *Plan) planUserTimeouts(c *model.Chain) {
	for i := range c.Hops {
		h := &c.Hops[i]
		for _, side := range []struct {
			name string
			s    *model.Side
		}{{sideDownstream, h.Downstream}, {sideUpstream, h.Upstream}} {
			s := side.s
			if s == nil || !s.TCP.UserTimeout.Known || s.TCP.UserTimeout.Value <= 0 {
				continue
			}
			uto := s.TCP.UserTimeout
			k := s.TCP
			lo, hi := time.Duration(0), time.Duration(-1)
			var why []Reason
			if k.Enabled.Known && k.Enabled.Value && k.Idle.Known && k.Interval.Known && k.Count.Known {
				lo = k.Idle.Value + k.Interval.Value*time.Duration(k.Count.Value)
				why = append(why, Reason{Kind: ReasonHard, Op: ">=", Bound: durString(lo), Source: k.Idle.Source,
					Text: fmt.Sprintf("at least the keepalive cycle %s + %d × %s = %s, or the kernel kills an idle connection after fewer probes",
						textfmt.Seconds(k.Idle.Value), k.Count.Value, textfmt.Seconds(k.Interval.Value), textfmt.Seconds(lo))})
			}
			if rt, ok := chain.Limited(s.ReadTimeout); ok {
				hi = rt - max(rt/10, time.Second)
				why = append(why, Reason{Kind: ReasonHard, Op: "<=", Bound: durString(hi), Source: s.ReadTimeout.Source,
					Text: fmt.Sprintf("below the read timeout %s (by 10%%, at least 1 s), so that a dead peer surfaces as ETIMEDOUT before the application gives up", textfmt.Seconds(rt))})
			}
			scope := hopScope(h, side.name, uto.Source)
			if hi >= 0 && lo > hi {
				p.Conflicts = append(p.Conflicts, Conflict{Scope: scope, Key: KeyUserTimeout, Constraints: why,
					Choices: []string{fmt.Sprintf("shorten %s keepalive (idle, interval or count) below %s", textfmt.Possessive(h.Name), textfmt.Seconds(hi)),
						fmt.Sprintf("raise %s read timeout above %s", textfmt.Possessive(h.Name), textfmt.Seconds(lo+max(lo/10, time.Second)))}})
				continue
			}
			to := uto.Value
			switch {
			case to < lo:
				to = lo
			case hi >= 0 && to > hi:
				to = hi
			default:
				continue
			}
			ch := Change{Scope: scope, Key: KeyUserTimeout, From: durValue(uto), To: durString(to), Why: why}
			ch.Apply = append(ch.Apply, Step{Kind: StepLine, Where: orChain(h.Runtime), Text: fmt.Sprintf("%s: {user_timeout: %s}", side.name, durString(to)),
				Note: fmt.Sprintf("chain file, hop %s; and TCP_USER_TIMEOUT on %s %s sockets", h.Name, textfmt.Possessive(h.Name), side.name)})
			if strings.HasPrefix(strings.ToLower(h.Runtime), "go") || strings.HasPrefix(strings.ToLower(h.Runtime), "grpc-go") {
				ch.Apply = append(ch.Apply, Step{Kind: StepSnippet, Where: "go", Lang: "go",
					Text: fmt.Sprintf("keepalive.Config{UserTimeout: %d * time.Millisecond} // github.com/keeptune/keeptune/keepalive, on the Dialer or ListenConfig\n", to.Milliseconds())})
			}
			p.addChange(ch)
		}
	}
}

// planGRPC makes a gRPC client's keepalive pings agree with the server's enforcement policy
// (KT706): pinging more often than MinTime, or without streams where the server forbids it,
// gets GOAWAY too_many_pings.
func (p *Plan) planGRPC(c *model.Chain, seg chain.Segment) {
	cl, sv := seg.Opener.Side.GRPC, seg.Acceptor.Side.GRPC
	if cl == nil || sv == nil {
		return
	}
	if cl.Time.Known && cl.Time.Value > 0 && sv.MinTime.Known && cl.Time.Value < sv.MinTime.Value {
		why := []Reason{{Kind: ReasonHard, Op: ">=", Bound: durString(sv.MinTime.Value), Source: sv.MinTime.Source,
			Text: fmt.Sprintf("%s enforces at least %s between pings (EnforcementPolicy.MinTime): pinging more often gets GOAWAY too_many_pings", seg.Acceptor.Name(), textfmt.Seconds(sv.MinTime.Value))}}
		ch := Change{Scope: hopScope(seg.Opener.Hop, sideUpstream, cl.Time.Source), Key: KeyGRPCTime, From: durValue(cl.Time), To: durString(sv.MinTime.Value), Why: why}
		ch.Apply = []Step{{Kind: StepLine, Where: "grpc", Text: fmt.Sprintf("keepalive.ClientParameters{Time: %s}", GoDuration(sv.MinTime.Value)), Note: "grpc-go client"},
			{Kind: StepSnippet, Where: "grpc", Lang: "go", Text: fmt.Sprintf("grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: %s}) // grpc-go\n", GoDuration(sv.MinTime.Value))}}
		p.addChange(ch)
	}
	if cl.PermitWithoutStream.Known && cl.PermitWithoutStream.Value && sv.PermitWithoutStream.Known && !sv.PermitWithoutStream.Value {
		why := []Reason{{Kind: ReasonHard, Op: "=", Bound: "true", Source: cl.PermitWithoutStream.Source,
			Text: fmt.Sprintf("%s pings with no active stream: %s must permit it, or idle connections get GOAWAY too_many_pings", seg.Opener.Name(), seg.Acceptor.Name())}}
		ch := Change{Scope: hopScope(seg.Acceptor.Hop, sideDownstream, sv.PermitWithoutStream.Source), Key: KeyPermitWithoutStream,
			From: Value{Value: "false", Known: true, Source: sv.PermitWithoutStream.Source}, To: "true", Why: why}
		ch.Apply = []Step{{Kind: StepLine, Where: "grpc", Text: "keepalive.EnforcementPolicy{PermitWithoutStream: true}", Note: "grpc-go server"},
			{Kind: StepSnippet, Where: "grpc", Lang: "go", Text: "grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{PermitWithoutStream: true}) // grpc-go server\n"}}
		p.addChange(ch)
	}
}

// keepaliveMustRefresh reports whether TCP keepalive on seg has to refresh mb: its idle timeout
// is known, it counts keepalive probes as traffic, and connections may idle past the timeout.
func keepaliveMustRefresh(seg chain.Segment, mb *model.Middlebox) bool {
	return mb.IdleTimeout.Known && chain.CountsProbes(mb) && chain.MayIdlePast(seg, mb.IdleTimeout.Value)
}
