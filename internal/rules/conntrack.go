package rules

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

var conntrackBelowKeepalive = Rule{
	ID: "KT301", Name: "conntrack-timeout-below-keepalive", Severity: model.SeverityError,
	Title: "Conntrack forgets idle flows before the first keepalive probe",
	What: "Where nf_conntrack is loaded, compares net.netfilter.nf_conntrack_tcp_timeout_established " +
		"with the namespace's tcp_keepalive_time.",
	Why: "A NAT or stateful firewall on this host forgets an established flow after that timeout. " +
		"If it is shorter than the keepalive idle time, the first probe arrives after the entry is " +
		"gone: with nf_conntrack_tcp_loose=0 or a rule dropping INVALID packets the flow is dead, " +
		"silently, and the application hangs until its own timeout (kubermatic/kubelb#539; moby#31208).",
	Fix: "Raise nf_conntrack_tcp_timeout_established above the longest keepalive cycle (keeptune " +
		"proposes the profile's longest detection time), or lower tcp_keepalive_time below it.",
	Source: "Documentation/networking/nf_conntrack-sysctl.rst; net/netfilter/nf_conntrack_proto_tcp.c",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, ns := range in.Snapshot.Namespaces {
			ct := ns.Conntrack
			if ct == nil || !ct.EstablishedTimeout.Known || !ns.Keepalive.Idle.Known {
				continue
			}
			est, idle := ct.EstablishedTimeout.Value, ns.Keepalive.Idle.Value
			if est >= idle {
				continue
			}
			s, _ := model.Lookup(ns.Sysctls, model.KeyConntrackEstablished)
			proposed := in.Profile.MaxDetection
			if d, ok := ns.Keepalive.DetectionTime(); ok && d > proposed {
				proposed = d
			}
			proposed = proposed.Round(time.Minute) + time.Minute
			ev := []model.Evidence{{Name: model.KeyConntrackEstablished, Value: seconds(est), Source: ct.EstablishedTimeout.Source},
				{Name: model.KeyKeepaliveTime, Value: seconds(idle), Source: ns.Keepalive.Idle.Source}}
			out = append(out, model.Finding{
				Severity: model.SeverityError, Subject: subject(ns, model.KeyConntrackEstablished), Namespace: nsLabel(ns),
				Message: fmt.Sprintf("Connection tracking forgets an idle established flow after %s, before the first keepalive probe at %s: "+
					"NAT and stateful firewall rules on this host then drop or reset the connection's next packet.", human(est), human(idle)),
				Evidence: ev,
				Location: model.LocationOf(ct.EstablishedTimeout.Source),
				Fix:      sysctlFixFromPlan(in, ns, setting{sysctl: s, proposed: secondsValue(proposed)}),
			})
		}
		return out
	},
}
