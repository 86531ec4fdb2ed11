package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
)

// labSpec is the lab a scenario needs: routed when the drop is at the middlebox.
func (e *env) labSpec(nat *lab.NAT) lab.Spec {
	s := lab.Spec{Topology: lab.Direct, Family: e.opts.Family, NAT: nat}
	if e.opts.DropAt == lab.AtMiddlebox || nat != nil {
		s.Topology = lab.Routed
	}
	return s
}

func labDesc(s lab.Spec, at lab.DropAt) string {
	d := fmt.Sprintf("%v %v", s.Family, s.Topology)
	if s.NAT != nil {
		return d + fmt.Sprintf(", NAT forgets idle flows after %v (%v)", s.NAT.IdleTimeout, s.NAT.OnExpiry)
	}
	if s.Topology == lab.Direct {
		at = lab.AtReceiver
	}
	return d + ", blackhole at " + at.String()
}

// runDeadPeer: an idle connection with keepalive; the peer vanishes (a blackhole in both
// directions); each side should declare the connection dead at the keepalive detection time
// after the last segment it received.
func runDeadPeer(ctx context.Context, e *env) ([]Run, error) {
	if e.opts.ServerCmd != "" {
		return runServerCmd(ctx, e, "dead-peer", 1)
	}
	s := e.settings
	spec := e.labSpec(nil)
	at := e.opts.DropAt
	if spec.Topology == lab.Direct {
		at = lab.AtReceiver
	}
	theory := s.Detection()
	e.logf("dead-peer: %v, %s; theory %v (%s)", s, labDesc(spec, at), theory, detectionRule(s))
	l, err := e.newLab(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	cs, ss := e.endSettings(&s)
	if err := applySysctls(cs, l.Client); err != nil {
		return nil, err
	}
	if err := applySysctls(ss, l.Server); err != nil {
		return nil, err
	}
	var p *pair
	if e.opts.Enforce {
		var done func()
		p, done, err = enforcedPair(ctx, e, l, cs, ss)
		if done != nil {
			defer done()
		}
	} else {
		p, err = connectPair(ctx, l, cs, ss)
	}
	if err != nil {
		return nil, err
	}
	time.Sleep(settle)
	if err := l.Blackhole(lab.Both, at); err != nil {
		return nil, err
	}
	p.tl.add("lab", "peer vanishes: blackhole both directions at "+at.String())
	sides := []struct {
		name string
		w    *watcher
		last time.Time
	}{{name: "client"}, {name: "server"}}
	for i, conn := range p.ends() {
		last, err := p.lastReceived(i)
		if err != nil {
			return nil, err
		}
		sides[i].last = last
		p.tl.at(last, sides[i].name, "last segment received")
		sides[i].w = watch(conn, sides[i].name, p.tl)
	}
	deadline := time.Now().Add(AcceptWindow(theory).High + waitMargin(theory))
	e.logf("dead-peer: waiting up to %v for both sides to give up", time.Until(deadline).Round(time.Second))
	var runs []Run
	for i, sd := range sides {
		done, err := sd.w.wait(ctx, deadline)
		if err != nil {
			return nil, err
		}
		if own := [2]*Settings{cs, ss}[i]; own == nil {
			// The end the chain leaves without keepalive never learns: a reference.
			r := Run{Scenario: "dead-peer", Case: sd.name + " side (no keepalive in the chain)", Settings: Settings{Label: "keepalive off"},
				Lab: labDesc(spec, at), TheoryRule: "no keepalive: an idle end never learns that its peer vanished", Expected: "no error",
				Outcome: "no error", Verdict: Pass, Reference: true}
			if done {
				r.Outcome = errName(sd.w.err)
				r.Verdict = Fail
			}
			runs = append(runs, r)
			continue
		}
		kase := sd.name + " side"
		if e.opts.Enforce && sd.name == "server" {
			kase = "server side (a program that never sets keepalive, in a cgroup under keeptune enforce)"
		}
		r := Run{Scenario: "dead-peer", Case: kase, Settings: s, Lab: labDesc(spec, at),
			Theory: dur(theory), TheoryRule: detectionRule(s), Expected: "ETIMEDOUT",
			TheoryAt: dur(sd.last.Sub(p.tl.start) + theory)}
		if !done {
			r.Outcome = fmt.Sprintf("no error %v after the last segment", time.Since(sd.last).Round(time.Millisecond))
			r.Verdict = Late
		} else {
			r.Outcome = errName(sd.w.err)
			p.tl.at(sd.w.errAt, sd.name, "read fails: "+r.Outcome)
			r.Measured = dur(sd.w.errAt.Sub(sd.last))
			r.Verdict = Judge(theory, *r.Measured)
			if r.Outcome != r.Expected {
				r.Verdict = Fail
			}
			if s.UserTimeout > 0 && r.Verdict == Early {
				r.Notes = append(r.Notes, "with TCP_USER_TIMEOUT the kill comes at the first keepalive firing at or after the user timeout; "+
					"a late earlier firing can already be past it")
			}
		}
		runs = append(runs, r)
	}
	if d, err := l.Dropped(); err == nil {
		p.tl.add("lab", blackholeEvent(d.Blackholed))
	}
	tl := p.tl.sorted()
	for i := range runs {
		runs[i].Timeline = tl
		e.logf("dead-peer: %s: %s", runs[i].Case, runLine(runs[i]))
	}
	return runs, nil
}

// waitMargin is how long past the accepted window a drill keeps waiting before it calls a
// run LATE with no error at all.
func waitMargin(theory time.Duration) time.Duration {
	return max(2*time.Second, theory/10)
}

func runLine(r Run) string {
	s := string(r.Verdict) + ": " + r.Outcome
	if r.Measured != nil {
		s += fmt.Sprintf(" after %.3fs", r.Measured.Seconds())
	}
	if r.Theory != nil {
		s += fmt.Sprintf(" (theory %.3fs)", r.Theory.Seconds())
	}
	return s
}
