package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

func TestNATIdleBound(t *testing.T) {
	for _, tc := range []struct{ nat, want time.Duration }{
		{30 * time.Second, 26 * time.Second}, // 26 s fires by 29.3 s at the latest; 27 s may fire at 30.4 s
		{350 * time.Second, 311 * time.Second},
		{2 * time.Second, time.Second},
		{time.Second, 0},
	} {
		got := natIdleBound(tc.nat)
		if got != tc.want {
			t.Errorf("natIdleBound(%v) = %v, want %v", tc.nat, got, tc.want)
		}
		if got > 0 && AcceptWindow(got).High >= tc.nat {
			t.Errorf("natIdleBound(%v) = %v: its latest probe %v is not before the NAT forgets", tc.nat, got, AcceptWindow(got).High)
		}
		if AcceptWindow(got+time.Second).High < tc.nat {
			t.Errorf("natIdleBound(%v) = %v is not the largest: %v also fits", tc.nat, got, got+time.Second)
		}
	}
}

func TestUnackedTheoryDefault(t *testing.T) {
	// The kernel default tcp_retries2=15: a budget of 924.6 s, counted from the first RTO
	// retransmission and checked at RTO firings: a few seconds more (computed, not written down).
	if got := unackedTheory(15, 0); got < 924600*time.Millisecond || got > 935*time.Second {
		t.Errorf("tcp_retries2=15 gives %v, want about 15 min 25 s to 15 min 35 s", got)
	}
}

// judgeGoals on hand-built runs: the verdict follows the real (unscaled) settings, references do
// not decide, and a failing case names its bound.
func TestJudgeGoalsNAT(t *testing.T) {
	goal := Goal{Profile: "test", MaxDetection: 10 * time.Minute, MaxUnacked: 5 * time.Minute}
	mk := func(idle time.Duration, scale int, outcome string) Report {
		real := Settings{Label: "x", Config: keepalive.Config{Idle: idle, Interval: 10 * time.Second, Count: 3}}
		s, _ := real.Scale(scale)
		rep := Report{Runs: []Run{
			{Scenario: "nat-expiry", Case: "client: no keepalive", Settings: Settings{Label: "keepalive off"}, Reference: true, Outcome: "ETIMEDOUT", Verdict: Pass},
			{Scenario: "nat-expiry", Case: "client: keepalive", Settings: s, Outcome: outcome, Verdict: Pass},
		}}
		judgeGoals(&rep, Options{Settings: real, TimeScale: scale, NATTimeout: 30 * time.Second, Goal: goal})
		return rep
	}
	above := mk(60*time.Second, 10, "ETIMEDOUT")
	if above.GoalMet() {
		t.Errorf("idle 60 s behind a 30 s NAT: goal met")
	}
	if b := above.Runs[1].Goal.Bound; !strings.Contains(b, "keepalive idle must be below 27s to keep a 30s NAT open") {
		t.Errorf("bound = %q", b)
	}
	if !above.Runs[0].Goal.Reference || above.Runs[0].Goal.Met {
		t.Errorf("no-keepalive case: %+v, want a reference that did not survive", above.Runs[0].Goal)
	}
	below := mk(20*time.Second, 10, "survives")
	if !below.GoalMet() {
		t.Errorf("idle 20 s behind a 30 s NAT: goal not met: %+v", below.Runs[1].Goal)
	}
	// 28 s scaled by 10 is 3 s, which survives a 3 s lab NAT only by luck; in real time it is too close.
	close := mk(28*time.Second, 10, "survives")
	if close.GoalMet() {
		t.Errorf("idle 28 s behind a 30 s NAT: goal met, but the probe may leave after the NAT forgot")
	}
}

func TestJudgeGoalsUnackedUsesHostRetries2(t *testing.T) {
	s := Settings{Label: "x", Config: keepalive.Config{Idle: time.Minute, Interval: 10 * time.Second, Count: 3}}
	m := 13 * time.Second
	rep := Report{Runs: []Run{{Scenario: "unacked-data", Case: "tcp_retries2=5", Settings: s, Measured: &m, Verdict: Pass}}}
	judgeGoals(&rep, Options{Settings: s, Retries2: 5, HostRetries2: 15, Goal: Goal{Profile: "general", MaxUnacked: 5 * time.Minute}})
	g := rep.Runs[0].Goal
	if g.Met || rep.GoalMet() {
		t.Errorf("host tcp_retries2=15 against a 5 min limit: goal met")
	}
	if !strings.Contains(g.Got, "tcp_retries2=15") || !strings.Contains(g.Bound, "tcp_retries2 to at most") {
		t.Errorf("got %q, bound %q", g.Got, g.Bound)
	}
	if rep.Runs[0].MeasuredReal != nil {
		t.Errorf("a tcp_retries2=5 measurement is not the host's real time")
	}
}
