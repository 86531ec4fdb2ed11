package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

// thePlan is the one answer the fixes are drawn from: made once per input from the same facts
// the rules read (rules.Run makes it; a rule checked on its own makes it on first use).
func (in *Input) thePlan() *plan.Plan {
	if in.Plan == nil {
		in.Plan = plan.Make(plan.Input{Snapshot: in.Snapshot, Chain: in.Chain, Configs: in.Configs, Profile: in.Profile, ExpectConnections: in.ExpectConnections})
	}
	return in.Plan
}

// planFix is the fix of a finding about sysctls of a namespace: the plan's targets for the keys,
// its file, its commands and the lines it removes. Where the plan changes none of the keys (the
// value is where the hard constraints and the profile want it, or they conflict) the fix says
// why instead of proposing a second answer. ok is false when the plan has nothing on the keys.
func planFix(in *Input, ns model.Namespace, keys ...string) (*model.Fix, bool) {
	p := in.thePlan()
	scope := plan.ScopeOf(ns)
	var changes []*plan.Change
	for _, k := range keys {
		if c, ok := p.Find(scope, k); ok {
			changes = append(changes, c)
		}
	}
	if len(changes) == 0 {
		var why []string
		for _, k := range keys {
			if v, ok := p.Target(scope, k); ok {
				rs := p.Why(scope, k)
				reason := ""
				if len(rs) > 0 {
					reason = ": " + rs[0].Text
				}
				why = append(why, fmt.Sprintf("keeptune plan keeps %s = %s%s", k, v, reason))
			}
		}
		if len(why) == 0 {
			return nil, false
		}
		return &model.Fix{Note: strings.Join(why, "; ") + "."}, true
	}
	fix := &model.Fix{}
	if len(changes) == 1 {
		fix.Key, fix.Current, fix.Proposed = changes[0].Key, changes[0].From.Value, changes[0].To
	}
	var lines, now []string
	for _, c := range changes {
		lines = append(lines, fmt.Sprintf("%s = %s", c.Key, c.To))
		for _, st := range c.Apply {
			if st.Kind == plan.StepCommand && st.Where == "now" {
				now = append(now, st.Text)
			}
		}
	}
	fix.Line = strings.Join(lines, "\n")
	fix.Apply = plan.JoinSysctlW(now)
	var notes []string
	if scope.Kind == plan.ScopeHost && len(p.SysctlFiles) > 0 {
		fix.File = p.SysctlFiles[0].Path
		var removes []string
		for _, r := range p.Removes {
			for _, c := range changes {
				if r.Key == c.Key {
					removes = append(removes, fmt.Sprintf("%s:%d (%s)", r.File, r.Line, r.Text))
				}
			}
		}
		if len(removes) > 0 {
			notes = append(notes, "Delete "+strings.Join(removes, ", ")+" so that one file holds each value (keeptune plan lists every line to remove).")
		}
	} else if scope.Kind == plan.ScopeNetns {
		notes = append(notes, "To persist, set it where the namespace is made: pod securityContext.sysctls, docker run --sysctl, or the script that runs ip netns add (keeptune plan prints each).")
	}
	if c := changes[0]; len(c.Why) > 0 && c.Why[0].Kind == plan.ReasonHard {
		notes = append(notes, "The plan's value: "+c.Why[0].Text+".")
	}
	fix.Note = strings.Join(notes, " ")
	return fix, true
}

// sysctlFixFromPlan draws a fix from the plan where it covers the keys, and falls back on
// sysctlFix (which names the plan's file) for keys it does not plan.
func sysctlFixFromPlan(in *Input, ns model.Namespace, settings ...setting) *model.Fix {
	var keys []string
	for _, s := range settings {
		keys = append(keys, s.sysctl.Key)
	}
	if f, ok := planFix(in, ns, keys...); ok {
		return f
	}
	return sysctlFix(ns, settings...)
}

// removesNote lists the plan's removes of a key.
func removesNote(p *plan.Plan, key, fallback string) string {
	var rs []string
	for _, r := range p.Removes {
		if r.Key == key {
			rs = append(rs, fmt.Sprintf("%s:%d (%s)", r.File, r.Line, r.Text))
		}
	}
	if len(rs) == 0 {
		return fallback
	}
	return "Delete " + strings.Join(rs, ", ") + " so that one file holds " + key + "."
}

// chainFix draws a chain finding's fix from the plan: the first planned change among the hop
// side settings named "hop.side.key" (the chain file's terms), rendered with its directive and
// the constraint that decided it. Where the plan changes none of them it returns fallback
// without its alternatives (an "Or ..." note would be a second answer); fallback is nil when
// the finding has no setting of its own to propose.
func chainFix(in *Input, fallback *model.Fix, settings ...string) *model.Fix {
	p := in.thePlan()
	for _, s := range settings {
		parts := strings.SplitN(s, ".", 3)
		if len(parts) != 3 {
			continue
		}
		c, ok := p.FindHop(parts[0], parts[1], parts[2])
		if !ok {
			continue
		}
		fix := &model.Fix{Key: s, Current: humanValue(c.From.Value), Proposed: humanValue(c.To)}
		var notes []string
		for _, st := range c.Apply {
			if st.Kind == plan.StepLine {
				fix.Line = st.Text
				if st.Note != "" {
					notes = append(notes, st.Note+".")
				}
				break
			}
		}
		if len(c.Why) > 0 {
			notes = append(notes, "keeptune plan: "+c.Why[0].Text+".")
		}
		if c.Key == plan.KeyKeepalive {
			if hc, ok := p.Find(plan.Scope{Kind: plan.ScopeHost}, model.KeyKeepaliveTime); ok {
				notes = append(notes, fmt.Sprintf("Its timers are the host's: %s = %s (keeptune plan -o sysctl).", hc.Key, hc.To))
			}
		}
		fix.Note = strings.Join(notes, " ")
		return fix
	}
	if fallback != nil {
		// The alternatives ("Or shorten ...") are dropped: the plan chose; where the line goes stays.
		if i := strings.Index(" "+fallback.Note, " Or "); i >= 0 {
			fallback.Note = strings.TrimSpace(fallback.Note[:i])
		}
	}
	return fallback
}

// humanValue renders a planned duration ("65s") the way findings write durations ("1m5s").
func humanValue(v string) string {
	if d, err := time.ParseDuration(v); err == nil {
		return human(d)
	}
	return v
}
