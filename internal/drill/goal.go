package drill

import (
	"fmt"
	"math"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Goal is what the settings under test must achieve, in real (unscaled) time: the limits of a
// profile. A drill has two verdicts per run: the kernel against theory (Run.Verdict), and the
// settings against this goal (Run.Goal). The first says the lab behaved as modelled; the second
// says whether the user's settings work.
type Goal struct {
	// Profile names where the limits come from ("general", "api-gateway", a file).
	Profile string
	// MaxDetection is the longest a dead peer may go unnoticed (idle + intvl*probes).
	MaxDetection time.Duration
	// MaxUnacked is the longest unacknowledged data may hang before the application sees an error.
	MaxUnacked time.Duration
	// Retries2 is the profile's proposed tcp_retries2 (for the bound of unacked-data).
	Retries2 int
}

// GoalFromProfile takes a profile's limits.
func GoalFromProfile(p model.Profile) Goal {
	return Goal{Profile: p.Name, MaxDetection: p.MaxDetection, MaxUnacked: p.MaxUnackedTimeout, Retries2: p.Retries2}
}

// GoalVerdict judges one run's settings against the goal, in real time.
type GoalVerdict struct {
	Met bool
	// Reference runs other settings than those under test (nat-expiry without keepalive,
	// zombie-flood's --compare): they show what the settings save you from and never decide
	// the overall verdict.
	Reference bool
	// Want is what the case must achieve: "survive a 30 s NAT", "detect a dead peer within 2 min".
	Want string
	// Got is what the settings give in real time: "first probe after 60 s idle".
	Got string
	// Bound is the change that would make the case pass; empty when it passes.
	Bound string
}

// natIdleBound is the longest keepalive idle (whole seconds) whose first probe leaves before a
// NAT with idle timeout t forgets the flow, even when the keepalive timer fires as late as the
// timer wheel allows (AcceptWindow's upper end). 0 when no idle can.
func natIdleBound(t time.Duration) time.Duration {
	idle := time.Duration(math.Floor(float64(t)/(1+Lateness)/float64(time.Second))) * time.Second
	for idle >= time.Second && AcceptWindow(idle).High >= t {
		idle -= time.Second
	}
	return max(idle, 0)
}

// retries2Bound is the largest tcp_retries2 whose give-up time (with the lab's RTO model)
// stays within limit; 0 when none does.
func retries2Bound(limit time.Duration) int {
	best := 0
	for r := 1; r <= 15; r++ {
		if unackedTheory(r, 0) <= limit {
			best = r
		}
	}
	return best
}

// detectionBound says what would bring idle + intvl*probes within limit.
func detectionBound(s Settings, limit time.Duration) string {
	probes := s.Interval * time.Duration(s.Count)
	if idle := (limit - probes).Truncate(time.Second); idle >= time.Second {
		return fmt.Sprintf("idle + intvl x probes must be at most %s: with intvl %s x %d probes, keepalive idle must be at most %s (or set TCP_USER_TIMEOUT)",
			textfmt.Duration(limit), textfmt.Duration(s.Interval), s.Count, textfmt.Duration(idle))
	}
	return fmt.Sprintf("idle + intvl x probes must be at most %s: intvl %s x %d probes alone is %s; lower the probe count or interval too",
		textfmt.Duration(limit), textfmt.Duration(s.Interval), s.Count, textfmt.Duration(probes))
}

// judgeGoals fills every run's real-time values and goal verdict. real are the settings as
// requested (unscaled); compare the --compare settings, if any.
func judgeGoals(rep *Report, o Options) {
	n := time.Duration(max(o.TimeScale, 1))
	realS := o.Settings
	profile := "profile " + o.Goal.Profile
	for i := range rep.Runs {
		r := &rep.Runs[i]
		g := &GoalVerdict{}
		scaled := func() {
			if r.Theory != nil {
				r.TheoryReal = dur(*r.Theory * n)
			}
			if r.Measured != nil {
				r.MeasuredReal = dur(*r.Measured * n)
			}
		}
		if r.Server != nil {
			judgeServerGoal(r, g, o.Goal, profile)
			r.Goal = g
			continue
		}
		switch r.Scenario {
		case "dead-peer":
			scaled()
			if r.Reference {
				g.Reference = true
				g.Want = "detect a dead peer"
				g.Got = "no keepalive at this end (the chain's): it never learns"
				break
			}
			det := realS.Detection()
			r.TheoryReal = dur(det)
			g.Want = fmt.Sprintf("detect a dead peer within %s (%s)", textfmt.Duration(o.Goal.MaxDetection), profile)
			g.Got = fmt.Sprintf("detected after %s (%s)", textfmt.Duration(det), detectionRule(realS))
			g.Met = det <= o.Goal.MaxDetection && r.Verdict == Pass
			if det > o.Goal.MaxDetection {
				g.Bound = detectionBound(realS, o.Goal.MaxDetection)
			}
		case "unacked-data":
			limit := o.Goal.MaxUnacked
			g.Want = fmt.Sprintf("report unacknowledged data as an error within %s (%s)", textfmt.Duration(limit), profile)
			if r.Settings.UserTimeout > 0 {
				t := unackedTheory(0, realS.UserTimeout)
				r.TheoryReal = dur(t)
				if r.Measured != nil {
					r.MeasuredReal = dur(*r.Measured - r.Settings.UserTimeout + realS.UserTimeout)
				}
				g.Got = fmt.Sprintf("error after about %s (TCP_USER_TIMEOUT %s from the first retransmission)", textfmt.Duration(t), textfmt.Duration(realS.UserTimeout))
				g.Met = t <= limit && r.Verdict == Pass
				if t > limit {
					g.Bound = fmt.Sprintf("TCP_USER_TIMEOUT must be at most %s", textfmt.Duration(limit-(t-realS.UserTimeout)))
				}
				break
			}
			// tcp_retries2 cannot be scaled: the lab ran its own value; the goal is the host's.
			r2 := o.Retries2
			if o.HostRetries2 > 0 {
				r2 = o.HostRetries2
			}
			t := unackedTheory(r2, 0)
			r.TheoryReal = dur(t)
			if r2 == o.Retries2 {
				r.MeasuredReal = r.Measured
			} else {
				r.Notes = append(r.Notes, fmt.Sprintf("the lab used tcp_retries2=%d (%s); this host's tcp_retries2=%d means about %s with the lab's RTO, longer on slower paths",
					o.Retries2, textfmt.Duration(unackedTheory(o.Retries2, 0)), r2, textfmt.Duration(t)))
			}
			g.Got = fmt.Sprintf("error after about %s (tcp_retries2=%d)", textfmt.Duration(t), r2)
			if o.HostRetries2 > 0 {
				g.Got = fmt.Sprintf("error after about %s (this host's tcp_retries2=%d)", textfmt.Duration(t), r2)
			}
			g.Reference = realS.UserTimeout > 0
			g.Met = t <= limit && (r2 != o.Retries2 || r.Verdict == Pass)
			if t > limit {
				if k := retries2Bound(limit); k > 0 {
					g.Bound = fmt.Sprintf("set TCP_USER_TIMEOUT to at most %s, or tcp_retries2 to at most %d (about %s)",
						textfmt.Duration(limit-unackedTheory(0, 0)), k, textfmt.Duration(unackedTheory(k, 0)))
				} else {
					g.Bound = fmt.Sprintf("set TCP_USER_TIMEOUT to at most %s", textfmt.Duration(limit-unackedTheory(0, 0)))
				}
			}
		case "nat-expiry":
			if r.Reference {
				// Without keepalive the error comes from retransmissions (tcp_retries2 and the
				// RTO cannot be scaled) or from the NAT's reset: already real time.
				r.TheoryReal, r.MeasuredReal = r.Theory, r.Measured
			} else {
				scaled()
			}
			t := o.NATTimeout
			g.Want = fmt.Sprintf("survive a NAT that forgets idle flows after %s", textfmt.Duration(t))
			if r.Reference { // no keepalive: the reference
				g.Reference = true
				g.Got = "no keepalive: nothing refreshes the NAT's entry"
				g.Met = r.Outcome == "survives"
				break
			}
			bound := natIdleBound(t)
			g.Got = fmt.Sprintf("first keepalive probe after %s idle", textfmt.Duration(realS.Idle))
			g.Met = realS.Idle <= bound && r.Outcome == "survives" && r.Verdict == Pass
			if realS.Idle > bound {
				if bound == 0 {
					g.Bound = fmt.Sprintf("no keepalive idle of whole seconds reliably keeps a %s NAT open", textfmt.Duration(t))
				} else {
					g.Bound = fmt.Sprintf("keepalive idle must be below %s to keep a %s NAT open (at most %s: a keepalive timer may fire 12.5%% late)",
						textfmt.Duration(bound+time.Second), textfmt.Duration(t), textfmt.Duration(bound))
				}
			}
		case "zombie-flood":
			s := realS
			if r.Reference && o.Compare != nil {
				s = *o.Compare
				g.Reference = true
			}
			scaled()
			if r.Reclaim != nil {
				r.MeasuredReal = dur(r.Reclaim.Max * n)
			}
			det := s.Detection()
			r.TheoryReal = dur(det)
			g.Want = fmt.Sprintf("reclaim every vanished client's socket within %s (%s)", textfmt.Duration(o.Goal.MaxDetection), profile)
			g.Got = fmt.Sprintf("reclaimed after %s (%s)", textfmt.Duration(det), detectionRule(s))
			all := r.Reclaim != nil && r.Reclaim.Reclaimed == r.Reclaim.Sockets
			g.Met = det <= o.Goal.MaxDetection && all && r.Verdict == Pass
			if det > o.Goal.MaxDetection {
				g.Bound = detectionBound(s, o.Goal.MaxDetection)
			}
		case "http-keepalive-race":
			g.Reference = r.Reference
			g.Want = "no request fails when the proxy reuses a pooled connection"
			if h := r.HTTP; h != nil {
				g.Got = fmt.Sprintf("%d of %d requests failed (%.1f per 1000)", h.Failures(), h.Requests, h.PerThousand())
				g.Met = h.Failures() == 0 && r.Verdict == Pass
				if fix := raceFixIdle(o.Proxy, o.PoolIdle); o.BackendIdle < fix {
					g.Bound = fmt.Sprintf("the backend's keep-alive idle timeout must be above the longest %s keeps an idle pooled connection (pool idle %s): %s or more, as drilled in the fix case, or shorten the pool's (KT701, docs/rules.md#kt701)",
						o.Proxy, textfmt.Duration(o.PoolIdle), textfmt.Duration(fix))
				}
			}
		default:
			continue
		}
		if !g.Met && g.Bound == "" && !g.Reference {
			g.Bound = "the lab did not behave as theory says (kernel verdict " + string(r.Verdict) + "): see the notes"
		}
		r.Goal = g
	}
}

// GoalMet is the overall verdict: every run that is not a reference met the goal.
func (r Report) GoalMet() bool {
	decided := false
	for _, run := range r.Runs {
		if run.Goal == nil || run.Goal.Reference {
			continue
		}
		decided = true
		if !run.Goal.Met {
			return false
		}
	}
	return decided
}
