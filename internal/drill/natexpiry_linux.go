package drill

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
)

// runNATExpiry: a NAT between client and server forgets flows idle longer than T. A connection
// idles past T once without keepalive and once with the settings under test, for each NAT
// behaviour asked for (drop silently, or reset).
//
// Theory, for the client:
//   - no keepalive: the flow is forgotten; the next write is invalid at the NAT. A dropping
//     NAT leaves the client retransmitting until tcp_retries2 gives up (a silent hang); a
//     resetting NAT answers with a RST at once.
//   - keepalive with idle < T: every probe refreshes the NAT's entry; the connection survives.
//   - keepalive with idle >= T: the entry is gone before the first probe; a dropping NAT lets
//     keepalive declare the peer dead (idle + intvl*probes), a resetting NAT resets at idle.
//
// The server, on the far side of the NAT, is judged too: without keepalive it never learns
// (a zombie), with keepalive it fails the same way the client does.
func runNATExpiry(ctx context.Context, e *env) ([]Run, error) {
	t, note := ScaleSeconds("NAT idle timeout", e.opts.NATTimeout, e.opts.TimeScale)
	if note != "" {
		e.logf("nat-expiry: %s", note)
	}
	var runs []Run
	for _, onExp := range e.opts.OnExpiry {
		for _, withKA := range []bool{false, true} {
			rs, err := natOnce(ctx, e, lab.NAT{IdleTimeout: t, OnExpiry: onExp}, withKA)
			runs = append(runs, rs...)
			if err != nil {
				return runs, err
			}
		}
	}
	return runs, nil
}

func natOnce(ctx context.Context, e *env, nat lab.NAT, withKA bool) ([]Run, error) {
	var s, cs, ss *Settings
	kaName := "no keepalive"
	if withKA {
		st := e.settings
		s = &st
		kaName = "keepalive " + st.String()
		cs, ss = e.endSettings(s)
	}
	spec := e.labSpec(&nat)
	caseName := fmt.Sprintf("%s, NAT %s after %v", kaName, nat.OnExpiry, nat.IdleTimeout)
	if withKA {
		caseName = fmt.Sprintf("keepalive, NAT %s after %v", nat.OnExpiry, nat.IdleTimeout)
		if e.opts.Ends != BothEnds {
			caseName = fmt.Sprintf("keepalive on the %s, NAT %s after %v", e.opts.Ends, nat.OnExpiry, nat.IdleTimeout)
		}
	}
	exp := [2]natExpect{natTheoryEnds(nat, cs, ss, e.opts.Retries2, false), natTheoryEnds(nat, ss, cs, e.opts.Retries2, true)}
	e.logf("nat-expiry: %s: expect client %s, server %s", caseName, exp[0].outcome, exp[1].outcome)

	l, err := e.newLab(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	for _, n := range []*lab.Node{l.Client, l.Server} {
		if err := n.SetSysctl("net.ipv4.tcp_retries2", fmt.Sprint(e.opts.Retries2)); err != nil {
			return nil, err
		}
	}
	if err := applySysctls(cs, l.Client); err != nil {
		return nil, err
	}
	if err := applySysctls(ss, l.Server); err != nil {
		return nil, err
	}
	p, err := connectPair(ctx, l, cs, ss)
	if err != nil {
		return nil, err
	}
	time.Sleep(settle)
	var last [2]time.Time
	for i := range last {
		if last[i], err = p.lastReceived(i); err != nil {
			return nil, err
		}
	}
	p.tl.at(last[0], "client", "last segment received")
	p.tl.at(last[1], "server", "last segment received")
	if !withKA || s.Idle >= nat.IdleTimeout {
		p.tl.at(last[1].Add(nat.IdleTimeout), "middlebox", fmt.Sprintf("NAT forgets the idle flow (timeout %v)", nat.IdleTimeout))
	} else {
		p.tl.at(last[1].Add(nat.IdleTimeout), "middlebox", fmt.Sprintf("NAT forgets flows idle %v: this one was refreshed by keepalive before", nat.IdleTimeout))
	}
	ws := [2]*watcher{watch(p.client, "client", p.tl), watch(p.server, "server", p.tl)}

	// Idle past T (and, if keepalive is to fail, until it has had time to).
	hold := natIdlePhase(nat)
	if exp[0].fails() && !exp[0].fromW {
		hold = max(hold, AcceptWindow(exp[0].after).High+waitMargin(exp[0].after))
	}
	e.logf("nat-expiry: idling %v", hold.Round(time.Millisecond))
	deadline := last[0].Add(hold)
	if done, err := ws[0].wait(ctx, deadline); err != nil {
		return nil, err
	} else if !done {
		// Still open on the client: send data through the (perhaps forgotten) flow.
		if exp[0].outcome == "ETIMEDOUT" && exp[0].fromW {
			m, err := retransModel(p.client, l.Client)
			if err != nil {
				return nil, err
			}
			exp[0].after, exp[0].alt = m.GiveUp(e.opts.Retries2, 0)
			exp[0].rule = m.Rule(e.opts.Retries2, 0) + ": the write is retransmitted into the NAT until the kernel gives up (a silent hang)"
		}
		wrote := time.Now()
		if _, err := p.client.Write([]byte("ping")); err != nil {
			return nil, fmt.Errorf("write in the lab: %w", err)
		}
		p.tl.at(wrote, "client", "writes after the idle phase")
		if exp[0].fromW {
			last[0] = wrote
		}
		// The server answers if the ping arrives; the client then reads it.
		wait := 2 * time.Second
		if exp[0].fromW {
			wait = AcceptWindow(exp[0].after).High + waitMargin(exp[0].after)
		}
		serverDone, _ := ws[1].wait(ctx, time.Now().Add(min(wait, natServerReceiveWait)))
		if serverDone && ws[1].err == nil {
			p.tl.at(ws[1].errAt, "server", "receives the data")
			p.server.Write([]byte("pong"))
		}
		if _, err := ws[0].wait(ctx, time.Now().Add(wait)); err != nil {
			return nil, err
		}
	}
	// Give the server its own chance to fail the same way, if theory says it will.
	if exp[1].fails() {
		if _, err := ws[1].wait(ctx, last[1].Add(AcceptWindow(exp[1].after).High+waitMargin(exp[1].after))); err != nil {
			return nil, err
		}
	}

	var runs []Run
	for i, side := range []string{"client", "server"} {
		x := exp[i]
		r := Run{Scenario: "nat-expiry", Case: side + ": " + caseName, Lab: labDesc(spec, lab.AtMiddlebox),
			TheoryRule: x.rule, Expected: x.outcome, Reference: !withKA}
		if own := [2]*Settings{cs, ss}[i]; own != nil {
			r.Settings = *own
		} else {
			r.Settings = Settings{Label: "keepalive off"}
		}
		if x.outcome == "ETIMEDOUT" || x.outcome == "ECONNRESET" {
			r.Theory = dur(x.after)
			r.TheoryAt = dur(last[i].Sub(p.tl.start) + x.after)
		}
		w := ws[i]
		select {
		case <-w.done:
			if w.err == nil && len(w.data) > 0 {
				r.Outcome = "survives"
				if side == "client" {
					p.tl.at(w.errAt, side, "receives the answer: the flow survived")
				}
			} else {
				r.Outcome = errName(w.err)
				p.tl.at(w.errAt, side, "read fails: "+r.Outcome)
				r.Measured = dur(w.errAt.Sub(last[i]))
			}
		default:
			r.Outcome = "no error"
			if x.outcome == "survives" && side == "server" {
				r.Outcome = "survives" // it never saw an error; the client's answer came through it
			}
			if ti, err := readTCPInfo(p.conn(i)); err == nil && ti.state == 1 {
				r.Notes = append(r.Notes, fmt.Sprintf("still ESTABLISHED %v after its last segment", time.Since(last[i]).Round(time.Second)))
			}
		}
		switch {
		case r.Outcome != x.outcome:
			r.Verdict = Fail
		case r.Theory != nil && r.Measured != nil:
			var note string
			r.Verdict, note = judgeRetrans(*r.Theory, x.alt, *r.Measured)
			if note != "" {
				r.Notes = append(r.Notes, note)
			}
		default:
			r.Verdict = Pass
		}
		if x.outcome == "ETIMEDOUT" && x.fromW {
			r.Notes = append(r.Notes, "silent hang: the application sees nothing until the retransmissions give up; "+
				budgetNote(e.opts.Retries2, 0, x.after))
		}
		runs = append(runs, r)
	}
	if d, err := l.Dropped(); err == nil && d.Invalid > 0 {
		p.tl.add("middlebox", natInvalidEvent(nat.OnExpiry, d.Invalid))
	}
	tl := p.tl.sorted()
	for i := range runs {
		runs[i].Timeline = tl
		e.logf("nat-expiry: %s: %s", runs[i].Case, runLine(runs[i]))
	}
	return runs, nil
}

func (p *pair) conn(i int) *net.TCPConn {
	if i == 0 {
		return p.client
	}
	return p.server
}
