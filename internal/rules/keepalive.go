package rules

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

var keepaliveDetection = Rule{
	ID: "KT101", Name: "keepalive-detection-time", Severity: model.SeverityError,
	Title: "Dead-peer detection time outside the profile",
	What: "Computes how long the kernel takes to declare a silent, idle peer dead on a socket with " +
		"SO_KEEPALIVE: tcp_keepalive_time + tcp_keepalive_intvl × tcp_keepalive_probes, per network " +
		"namespace, and compares it with the profile's longest acceptable detection time (by default " +
		"idle.max + interval.max × probes.max). Error when slower; warning when faster than the " +
		"profile's fastest (idle.min + interval.min × probes.min). A namespace other than keeptune's " +
		"own that is entirely at kernel defaults is reported by KT501 instead, which names the cause.",
	Why: "Until a dead peer is detected its connection holds a socket, a file descriptor, buffers " +
		"and often a worker or a pool slot, and a client waiting on it hangs. The kernel defaults " +
		"(7200/75/9) take 2 h 11 min 15 s. Detecting much faster than the profile probes often enough " +
		"to kill connections over a briefly lossy path.",
	Fix: "Write the profile's recommended values to a sysctl.d file that is applied last, and apply " +
		"them with sysctl -w. In a container or pod namespace set them where the namespace is made " +
		"(pod securityContext.sysctls, docker run --sysctl). Only sockets that enable SO_KEEPALIVE " +
		"use these values; programs that set TCP_KEEPIDLE/INTVL/CNT themselves (Go does) ignore them.",
	Source: "net/ipv4/tcp_timer.c tcp_keepalive_timer; Documentation/networking/ip-sysctl.rst; the workload profile (keeptune's choice of ranges, no primary source: keeptune profiles NAME)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		p := in.Profile
		for _, ns := range in.Snapshot.Namespaces {
			d, ok := ns.Keepalive.DetectionTime()
			if !ok || atKernelDefaults(ns) {
				continue // an untouched container namespace: KT501 reports it with the cause
			}
			ka := ns.Keepalive
			formula := fmt.Sprintf("idle %s + %d probes × %s", human(ka.Idle.Value), ka.Count.Value, human(ka.Interval.Value))
			minDetection := kernel.DeadPeerDetection(p.Idle.Min, p.Interval.Min, p.Probes.Min, 0)
			f := model.Finding{
				Subject:   "keepalive dead-peer detection in " + nsLabel(ns),
				Namespace: nsLabel(ns),
				Evidence:  keepaliveEvidence(in, ns),
				Location:  model.LocationOf(ka.Idle.Source),
			}
			f.Evidence = append(f.Evidence, model.Evidence{Name: "detection time", Value: fmt.Sprintf("%s (%s)", human(d), formula)},
				model.Evidence{Name: "profile " + p.Name + " allows", Value: fmt.Sprintf("%s to %s", human(minDetection), human(p.MaxDetection)), Source: model.Source{Kind: model.SourceProfile, Detail: p.Source}})
			switch {
			case d > p.MaxDetection:
				f.Severity = model.SeverityError
				f.Message = fmt.Sprintf("A peer that vanishes silently is detected only after %s (%s); the %s profile allows at most %s. "+
					"Until then the connection holds a socket, a descriptor and often a worker or pool slot.",
					human(d), formula, p.Name, human(p.MaxDetection))
			case d < minDetection:
				f.Severity = model.SeverityWarning
				f.Message = fmt.Sprintf("Dead peers are declared after %s (%s), faster than the %s profile's %s: "+
					"a briefly lossy path kills healthy idle connections, and probes cost traffic on every idle connection.",
					human(d), formula, p.Name, human(minDetection))
			default:
				continue
			}
			f.Fix = sysctlFixFromPlan(in, ns, recommendedKeepalive(ns, p)...)
			out = append(out, f)
		}
		return out
	},
}

// keepaliveEvidence lists the three keepalive sysctls of a namespace, each marked when it is
// outside the profile's range.
func keepaliveEvidence(in *Input, ns model.Namespace) []model.Evidence {
	var ev []model.Evidence
	for _, rr := range keepaliveRanges {
		s, ok := model.Lookup(ns.Sysctls, rr.key)
		if !ok || !s.Readable {
			continue
		}
		e := evidence(s)
		if v, known := rr.get(ns.Keepalive); known {
			if min, max, _ := rr.rng(in.Profile); v < min || v > max {
				e.Value += fmt.Sprintf(", outside %d-%d%s", min, max, rr.unit)
			}
		}
		ev = append(ev, e)
	}
	return ev
}

// detectionOutsideProfile reports whether KT101 flags the namespace (it then proposes all three
// keepalive values, and the single-value rules stay quiet to keep the list short).
func detectionOutsideProfile(ns model.Namespace, p model.Profile) bool {
	d, ok := ns.Keepalive.DetectionTime()
	return ok && (d > p.MaxDetection || d < kernel.DeadPeerDetection(p.Idle.Min, p.Interval.Min, p.Probes.Min, 0))
}

// atKernelDefaults reports whether a namespace other than keeptune's own still has all three
// keepalive sysctls at the kernel's defaults: nobody configured it.
func atKernelDefaults(ns model.Namespace) bool {
	ka := ns.Keepalive
	return !ns.Current && ka.Idle.Known && ka.Interval.Known && ka.Count.Known &&
		ka.Idle.Source.Kind == model.SourceKernelDefault && ka.Interval.Source.Kind == model.SourceKernelDefault &&
		ka.Count.Source.Kind == model.SourceKernelDefault
}

// recommendedKeepalive proposes the profile's recommended triple.
func recommendedKeepalive(ns model.Namespace, p model.Profile) []setting {
	var out []setting
	want := map[string]string{
		model.KeyKeepaliveTime:   secondsValue(p.Idle.Recommended),
		model.KeyKeepaliveIntvl:  secondsValue(p.Interval.Recommended),
		model.KeyKeepaliveProbes: fmt.Sprint(p.Probes.Recommended),
	}
	for _, key := range []string{model.KeyKeepaliveTime, model.KeyKeepaliveIntvl, model.KeyKeepaliveProbes} {
		if s, ok := model.Lookup(ns.Sysctls, key); ok {
			out = append(out, setting{sysctl: s, proposed: want[key]})
		}
	}
	return out
}

// keepaliveRange ties one keepalive sysctl to its value in KeepaliveSettings and its profile range.
type keepaliveRange struct {
	key, what, unit string
	get             func(model.KeepaliveSettings) (int64, bool)
	rng             func(model.Profile) (min, max, rec int64)
}

var keepaliveRanges = []keepaliveRange{
	{model.KeyKeepaliveTime, "idle time before the first probe", " s",
		func(k model.KeepaliveSettings) (int64, bool) { return secs(k.Idle.Value), k.Idle.Known },
		func(p model.Profile) (int64, int64, int64) {
			return secs(p.Idle.Min), secs(p.Idle.Max), secs(p.Idle.Recommended)
		}},
	{model.KeyKeepaliveIntvl, "interval between unanswered probes", " s",
		func(k model.KeepaliveSettings) (int64, bool) { return secs(k.Interval.Value), k.Interval.Known },
		func(p model.Profile) (int64, int64, int64) {
			return secs(p.Interval.Min), secs(p.Interval.Max), secs(p.Interval.Recommended)
		}},
	{model.KeyKeepaliveProbes, "unanswered probes before the connection is dropped", "",
		func(k model.KeepaliveSettings) (int64, bool) { return int64(k.Count.Value), k.Count.Known },
		func(p model.Profile) (int64, int64, int64) {
			return int64(p.Probes.Min), int64(p.Probes.Max), int64(p.Probes.Recommended)
		}},
}

// rangeRule builds the rule that checks one keepalive value against a profile range.
func rangeRule(id, name string, rr keepaliveRange, why string) Rule {
	key, what, get, rng, unit := rr.key, rr.what, rr.get, rr.rng, rr.unit
	return Rule{
		ID: id, Name: name, Severity: model.SeverityWarning,
		Title: key + " outside the profile range",
		What: fmt.Sprintf("Compares %s (%s) in every audited namespace with the profile's range. "+
			"Quiet where KT101 already flags the detection time (its fix sets all three values) "+
			"or KT501 an untouched namespace.", key, what),
		Why: why,
		Fix: fmt.Sprintf("Set %s to the profile's recommended value in %s (named to sort after every other sysctl.d "+
			"file), delete the lines that set it elsewhere, then sysctl -w.", key, plan.DropIn),
		Source: "Documentation/networking/ip-sysctl.rst; the workload profile (keeptune's choice of ranges, no primary source: keeptune profiles NAME)",
		Check: func(in *Input) []model.Finding {
			var out []model.Finding
			min, max, rec := rng(in.Profile)
			for _, ns := range in.Snapshot.Namespaces {
				v, ok := get(ns.Keepalive)
				s, found := model.Lookup(ns.Sysctls, key)
				if !ok || !found || (v >= min && v <= max) || detectionOutsideProfile(ns, in.Profile) || atKernelDefaults(ns) {
					continue
				}
				dir := "above"
				if v < min {
					dir = "below"
				}
				out = append(out, model.Finding{
					Severity:  model.SeverityWarning,
					Subject:   subject(ns, key),
					Namespace: nsLabel(ns),
					Message: fmt.Sprintf("%s = %d%s is %s the %s profile's range %d-%d%s (%s).",
						key, v, unit, dir, in.Profile.Name, min, max, unit, what),
					Evidence: []model.Evidence{evidence(s), {Name: "profile " + in.Profile.Name + " range",
						Value: fmt.Sprintf("%d-%d%s, recommended %d%s", min, max, unit, rec, unit), Source: model.Source{Kind: model.SourceProfile, Detail: in.Profile.Source}}},
					Location: model.LocationOf(s.Source),
					Fix:      sysctlFixFromPlan(in, ns, setting{sysctl: s, proposed: fmt.Sprint(rec)}),
				})
			}
			return out
		},
	}
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

var keepaliveTimeRange = rangeRule("KT102", "keepalive-time-range", keepaliveRanges[0],
	"An idle time longer than the NAT, firewall and load balancer idle timeouts on the path means the "+
		"first probe arrives after the middlebox forgot the flow (AWS NLB 350 s, Azure LB 240 s); "+
		"a very short one sends probes on every briefly idle connection.")

var keepaliveIntvlRange = rangeRule("KT103", "keepalive-intvl-range", keepaliveRanges[1],
	"The interval multiplies with the probe count into most of the detection time; too short an "+
		"interval declares a peer dead during a brief outage or a congested moment.")

var keepaliveProbesRange = rangeRule("KT104", "keepalive-probes-range", keepaliveRanges[2],
	"Too few probes turn one lost packet into a dropped connection; too many stretch detection "+
		"(the default 9 adds 11 min 15 s after the idle time).")
