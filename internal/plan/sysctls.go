package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// limit is a hard upper bound on a namespace's keepalive idle time, and why.
type limit struct {
	max    time.Duration
	reason Reason
}

// idleLimits are the hard upper bounds the chain puts on the keepalive idle time of the
// namespace keeptune runs in: every local hop side whose sockets take their keepalive values
// from the host's sysctls (software that turns SO_KEEPALIVE on without its own values) or that
// has no keepalive yet (the fix turns it on with the host's values) must send its first probe
// before each middlebox on its segment that counts probes forgets the flow, where connections
// can idle that long (KT703, KT704: chain.KeepaliveLimit).
func idleLimits(c *model.Chain) []limit {
	if c == nil {
		return nil
	}
	var out []limit
	for _, seg := range chain.Segments(c) {
		for _, e := range []chain.Endpoint{seg.Opener, seg.Acceptor} {
			if !e.Hop.Local || e.L7 != nil || !takesHostKeepalive(e.Side) {
				continue
			}
			for _, mi := range seg.Middleboxes {
				mh := &c.Hops[mi]
				mb := mh.Middlebox
				if !keepaliveMustRefresh(seg, mb) {
					continue
				}
				t := mb.IdleTimeout.Value
				l := chain.KeepaliveLimit(t)
				out = append(out, limit{max: l, reason: Reason{
					Kind: ReasonHard, Op: "<=", Bound: secs(l),
					Text: fmt.Sprintf("%s forgets idle flows after %s: %s's first keepalive probe must leave by %s (its %s)",
						hopLabel(mh), textfmt.Seconds(t), e.Hop.Name, textfmt.Seconds(l), marginText(t)),
					Source: mb.IdleTimeout.Source,
				}})
			}
		}
	}
	return out
}

// takesHostKeepalive reports whether a local side's keepalive idle comes from the namespace's
// sysctls: keepalive is on without a value of the software's own, or it is off (the plan's fix
// turns it on, with the host's values).
func takesHostKeepalive(s *model.Side) bool {
	k := s.TCP
	if !k.Enabled.Known || !k.Enabled.Value {
		return true
	}
	if !k.Idle.Known {
		return true
	}
	switch k.Idle.Source.Kind {
	case model.SourceSysctlFile, model.SourceKernelDefault, model.SourceRuntime, model.SourceLive:
		return true
	}
	return false
}

// target is the value the plan picks for one sysctl in one namespace.
type target struct {
	sysctl model.Sysctl
	to     string
	why    []Reason
}

// planNamespace picks the keepalive, retransmission and conntrack sysctls of one namespace.
// Hard bounds apply to the namespace keeptune runs in (local hops live there).
func planNamespace(in *Input, ns model.Namespace, limits []limit) []target {
	p := in.Profile
	ka := ns.Keepalive
	var out []target
	prof := model.Source{Kind: model.SourceProfile, Detail: p.Source}

	// Idle: the profile's range cut by every hard bound.
	hardMax := time.Duration(-1)
	var hardWhy []Reason
	for _, l := range limits {
		if hardMax < 0 || l.max < hardMax {
			hardMax = l.max
		}
	}
	for _, l := range limits {
		if l.max == hardMax {
			hardWhy = append(hardWhy, l.reason)
		}
	}
	idle := pickDuration(ka.Idle, p.Idle, hardMax)
	interval := pickDuration(ka.Interval, p.Interval, -1)
	count := pickInt(ka.Count, p.Probes)
	// Detection within the profile: where the values kept from today exceed it together, take
	// the profile's recommendations (the idle still under the hard bound).
	if kernel.DeadPeerDetection(idle, interval, count, 0) > p.MaxDetection {
		idle = pickDuration(model.Setting[time.Duration]{}, p.Idle, hardMax)
		interval, count = p.Interval.Recommended, p.Probes.Recommended
	}
	idleWhy := append([]Reason{}, hardWhy...)
	switch {
	case hardMax >= 0 && idle == hardMax && hardMax < p.Idle.Min:
		idleWhy[0].Text = fmt.Sprintf("idle %s, below the %s profile's %s, because %s", textfmt.Seconds(idle), p.Name, rangeText(p.Idle), hardWhy[0].Text)
		idleWhy = append(idleWhy, Reason{Kind: ReasonProfile, Op: "in", Bound: secsRange(p.Idle),
			Text: fmt.Sprintf("the %s profile's range %s gives way to the hard bound", p.Name, rangeText(p.Idle)), Source: prof})
	case hardMax >= 0 && idle == hardMax && hardMax < p.Idle.Recommended:
		idleWhy[0].Text = fmt.Sprintf("idle %s, below the %s profile's recommended %s, because %s", textfmt.Seconds(idle), p.Name, textfmt.Seconds(p.Idle.Recommended), hardWhy[0].Text)
		idleWhy = append(idleWhy, profileReason(p, "idle", p.Idle, idle, ka.Idle, prof))
	default:
		idleWhy = append(idleWhy, profileReason(p, "idle", p.Idle, idle, ka.Idle, prof))
	}
	out = appendTarget(out, ns, model.KeyKeepaliveTime, secs(idle), idleWhy)
	out = appendTarget(out, ns, model.KeyKeepaliveIntvl, secs(interval), []Reason{profileReason(p, "interval", p.Interval, interval, ka.Interval, prof)})
	cr := Reason{Kind: ReasonProfile, Op: "in", Bound: fmt.Sprintf("%d-%d", p.Probes.Min, p.Probes.Max), Source: prof,
		Text: fmt.Sprintf("probes %d, in the %s profile's %d-%d", count, p.Name, p.Probes.Min, p.Probes.Max)}
	if !ka.Count.Known || ka.Count.Value != count {
		cr.Text = fmt.Sprintf("probes %d, the %s profile's recommendation (range %d-%d)", count, p.Name, p.Probes.Min, p.Probes.Max)
	}
	out = appendTarget(out, ns, model.KeyKeepaliveProbes, strconv.Itoa(count), []Reason{cr})

	// tcp_retries2: the hang on unacknowledged data within the profile (KT201).
	if s, r, ok := sysctlInt(ns.Sysctls, model.KeyRetries2); ok {
		to := int(r)
		// No Op/Bound: the profile bounds the give-up time, not tcp_retries2's value, and a
		// bound is in the setting's syntax (docs/json.md); the text says both.
		why := Reason{Kind: ReasonProfile, Source: prof,
			Text: fmt.Sprintf("tcp_retries2 = %d %s, within the %s profile's %s", r, givesUp(int(r)), p.Name, textfmt.Seconds(p.MaxUnackedTimeout))}
		if kernel.UnackedTimeout(int(r)) > p.MaxUnackedTimeout {
			to = p.Retries2
			nowHang, _ := kernel.LowLatency().GiveUp(int(r), 0)
			why.Text = fmt.Sprintf("tcp_retries2 = %d %s; with %d now: %s after the write (budget %s); the %s profile allows a budget of %s",
				to, givesUp(to), r, textfmt.Duration(nowHang), textfmt.Duration(kernel.UnackedTimeout(int(r))), p.Name, textfmt.Seconds(p.MaxUnackedTimeout))
		}
		out = append(out, target{sysctl: s, to: strconv.Itoa(to), why: []Reason{why}})
	}

	// Connection tracking must outlive the first keepalive probe (KT301).
	if ct := ns.Conntrack; ct != nil && ct.EstablishedTimeout.Known {
		if s, ok := model.Lookup(ns.Sysctls, model.KeyConntrackEstablished); ok && s.Readable {
			est := ct.EstablishedTimeout.Value
			to := est
			why := Reason{Kind: ReasonHard, Op: ">=", Bound: secs(idle), Source: ct.EstablishedTimeout.Source,
				Text: fmt.Sprintf("conntrack keeps idle established flows for %s, longer than the keepalive idle %s", textfmt.Seconds(est), textfmt.Seconds(idle))}
			if est < idle {
				to = ConntrackAbove(p, kernel.DeadPeerDetection(idle, interval, count, 0))
				why.Text = fmt.Sprintf("conntrack must keep idle established flows longer than the keepalive idle %s (now %s): %s covers the profile's longest detection time",
					textfmt.Seconds(idle), textfmt.Seconds(est), textfmt.Seconds(to))
			}
			out = append(out, target{sysctl: s, to: secs(to), why: []Reason{why}})
		}
	}
	return out
}

// ConntrackAbove is the connection-tracking established timeout keeptune proposes when it is
// shorter than the keepalive idle time: the profile's longest detection time, or the planned
// detection when longer, rounded to minutes plus one minute (KT301).
func ConntrackAbove(p model.Profile, detection time.Duration) time.Duration {
	return max(p.MaxDetection, detection).Round(time.Minute) + time.Minute
}

// pickDuration keeps a value inside the profile's range and under the hard bound (hardMax < 0:
// none); otherwise it takes the recommendation, cut to the hard bound.
func pickDuration(cur model.Setting[time.Duration], r model.DurationRange, hardMax time.Duration) time.Duration {
	ok := func(d time.Duration) bool { return hardMax < 0 || d <= hardMax }
	if cur.Known && r.Contains(cur.Value) && ok(cur.Value) {
		return cur.Value
	}
	if ok(r.Recommended) {
		return r.Recommended
	}
	return hardMax // as close to the recommendation (or the range) as the bound allows
}

func pickInt(cur model.Setting[int], r model.IntRange) int {
	if cur.Known && r.Contains(cur.Value) {
		return cur.Value
	}
	return r.Recommended
}

func profileReason(p model.Profile, what string, r model.DurationRange, to time.Duration, cur model.Setting[time.Duration], src model.Source) Reason {
	text := fmt.Sprintf("%s %s, in the %s profile's %s", what, textfmt.Seconds(to), p.Name, rangeText(r))
	if !cur.Known || cur.Value != to {
		text = fmt.Sprintf("%s %s, the %s profile's recommendation (range %s)", what, textfmt.Seconds(to), p.Name, rangeText(r))
		if to != r.Recommended {
			text = fmt.Sprintf("%s %s, within the %s profile's %s", what, textfmt.Seconds(to), p.Name, rangeText(r))
		}
	}
	return Reason{Kind: ReasonProfile, Op: "in", Bound: secsRange(r), Text: text, Source: src}
}

func appendTarget(out []target, ns model.Namespace, key, to string, why []Reason) []target {
	s, ok := model.Lookup(ns.Sysctls, key)
	if !ok || !s.Readable {
		return out
	}
	return append(out, target{sysctl: s, to: to, why: why})
}

// sysctlInt returns a readable sysctl's value as an integer.
func sysctlInt(list []model.Sysctl, key string) (model.Sysctl, int64, bool) {
	s, ok := model.Lookup(list, key)
	if !ok || !s.Readable {
		return s, 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s.Value), 10, 64)
	return s, v, err == nil
}

func secs(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

func secsRange(r model.DurationRange) string { return secs(r.Min) + "-" + secs(r.Max) }

// rangeText renders a profile range for people: "180-300 s".
func rangeText(r model.DurationRange) string { return secsRange(r) + " s" }

func hopLabel(h *model.Hop) string {
	if h.Catalog != "" {
		return fmt.Sprintf("%s (%s)", h.Name, h.Catalog)
	}
	return h.Name
}

// givesUp says when the kernel gives up on unacknowledged data with tcp_retries2 = r in the
// words and numbers audit's KT201 uses: the moment after the write on a low-latency path, and
// the retransmission budget the profile is compared with.
func givesUp(r int) string {
	hang, _ := kernel.LowLatency().GiveUp(r, 0)
	return fmt.Sprintf("gives up on unacknowledged data %s after the write on a low-latency path (budget %s)", textfmt.Duration(hang), textfmt.Duration(kernel.UnackedTimeout(r)))
}

// marginText says how chain.KeepaliveLimit got from a middlebox's idle timeout t to the limit:
// the probe margin, and the rounding down when there was one (350 s: 315 s, rounded to 300 s).
func marginText(t time.Duration) string {
	m := chain.ProbeMargin(t)
	s := "timeout minus keeptune's margin of " + textfmt.Seconds(m)
	if l := chain.KeepaliveLimit(t); l != t-m {
		s += " is " + textfmt.Duration(t-m) + ", rounded down to " + textfmt.Duration(l)
	}
	return s
}
