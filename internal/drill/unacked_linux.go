package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/lab"
)

// budgetNote compares the kernel's real give-up time with the plain budget.
func budgetNote(retries2 int, userTimeout, theory time.Duration) string {
	if userTimeout > 0 {
		return fmt.Sprintf("TCP_USER_TIMEOUT %v counts from the first RTO retransmission, not from the write: the error comes %.3fs after the write",
			userTimeout, theory.Seconds())
	}
	b := kernel.UnackedTimeout(retries2)
	return fmt.Sprintf("the tcp_retries2=%d budget is %.3fs; the kernel counts it from the first RTO retransmission and checks it only when an RTO fires: %.3fs after the write (x%.2f)",
		retries2, b.Seconds(), theory.Seconds(), float64(theory)/float64(b))
}

// runUnacked: the peer vanishes and the client then writes, so data stays unacknowledged.
// The keepalive timer stands aside while data is in flight: the retransmission timer decides,
// bounded by tcp_retries2 or, when set, TCP_USER_TIMEOUT. One run without a user timeout, and
// one with the settings' user timeout when they have one.
func runUnacked(ctx context.Context, e *env) ([]Run, error) {
	cases := []Settings{e.settings}
	cases[0].UserTimeout = 0
	if e.settings.UserTimeout > 0 {
		cases = append(cases, e.settings)
	} else {
		e.logf("unacked-data: the settings have no TCP_USER_TIMEOUT: only tcp_retries2 is drilled (add --user-timeout to compare)")
	}
	var runs []Run
	for _, s := range cases {
		r, err := unackedOnce(ctx, e, s)
		if r != nil {
			runs = append(runs, *r)
		}
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

func unackedOnce(ctx context.Context, e *env, s Settings) (*Run, error) {
	spec := e.labSpec(nil)
	at := e.opts.DropAt
	if spec.Topology == lab.Direct {
		at = lab.AtReceiver
	}
	r2 := e.opts.Retries2
	name := fmt.Sprintf("tcp_retries2=%d", r2)
	if s.UserTimeout > 0 {
		name = fmt.Sprintf("TCP_USER_TIMEOUT=%v", s.UserTimeout)
	}
	e.logf("unacked-data: %s, %s", name, labDesc(spec, at))
	l, err := e.newLab(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	for _, n := range []*lab.Node{l.Client, l.Server} {
		if err := n.SetSysctl("net.ipv4.tcp_retries2", fmt.Sprint(r2)); err != nil {
			return nil, err
		}
	}
	if err := applySysctls(&s, l.Client, l.Server); err != nil {
		return nil, err
	}
	p, err := connectPair(ctx, l, &s, &s)
	if err != nil {
		return nil, err
	}
	time.Sleep(settle)
	if err := l.Blackhole(lab.Both, at); err != nil {
		return nil, err
	}
	p.tl.add("lab", "peer vanishes: blackhole both directions at "+at.String())
	m, err := retransModel(p.client, l.Client)
	if err != nil {
		return nil, err
	}
	theory, alt := m.GiveUp(r2, s.UserTimeout)
	e.logf("unacked-data: %s: theory %.3fs (%s)", name, theory.Seconds(), m.Rule(r2, s.UserTimeout))
	w := watch(p.client, "client", p.tl)
	wrote := time.Now()
	if _, err := p.client.Write(make([]byte, 1000)); err != nil {
		return nil, fmt.Errorf("write in the lab: %w", err)
	}
	p.tl.at(wrote, "client", "writes 1000 bytes: never acknowledged")
	run := &Run{Scenario: "unacked-data", Case: name, Settings: s, Lab: labDesc(spec, at),
		Theory: dur(theory), TheoryRule: m.Rule(r2, s.UserTimeout), Expected: "ETIMEDOUT",
		Notes: []string{budgetNote(r2, s.UserTimeout, theory)}, TheoryAt: dur(wrote.Sub(p.tl.start) + theory)}
	deadline := time.Now().Add(AcceptWindow(theory).High + waitMargin(theory))
	done, err := w.wait(ctx, deadline)
	if err != nil {
		return nil, err
	}
	if !done {
		run.Outcome = fmt.Sprintf("no error %v after the write", time.Since(wrote).Round(time.Millisecond))
		run.Verdict = Late
	} else {
		run.Outcome = errName(w.err)
		p.tl.at(w.errAt, "client", "read fails: "+run.Outcome)
		run.Measured = dur(w.errAt.Sub(wrote))
		var note string
		run.Verdict, note = judgeRetrans(theory, alt, *run.Measured)
		if note != "" {
			run.Notes = append(run.Notes, note)
		}
		if run.Outcome != run.Expected {
			run.Verdict = Fail
		}
	}
	if s.Idle < theory {
		run.Notes = append(run.Notes, fmt.Sprintf("keepalive (idle %v) stayed silent: its timer does nothing while data is unacknowledged", s.Idle))
	}
	run.Timeline = p.tl.sorted()
	e.logf("unacked-data: %s: %s", name, runLine(*run))
	return run, nil
}
