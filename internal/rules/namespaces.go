package rules

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

var namespaceDefaults = Rule{
	ID: "KT501", Name: "netns-kernel-defaults", Severity: model.SeverityError,
	Title: "Network namespace left at kernel keepalive defaults",
	What: "With --all-netns, flags every network namespace other than the one keeptune runs in whose " +
		"tcp_keepalive_time, _intvl and _probes are all the kernel defaults (7200/75/9). Error when " +
		"the resulting detection time is outside the profile (it then stands in for KT101), warning " +
		"otherwise.",
	Why: "Keepalive sysctls are per network namespace and a new namespace starts from the kernel " +
		"defaults, not from the host's values: containers and pods never see /etc/sysctl.d. The host " +
		"looks tuned while every containerised service detects dead peers after 2 h 11 min.",
	Fix: "Set the values where the namespace is created: Kubernetes pod spec.securityContext.sysctls " +
		"(the keepalive keys are safe sysctls since 1.29), docker run --sysctl, or ip netns exec NAME " +
		"sysctl -w in the script that creates it.",
	Source: "net/ipv4/sysctl_net_ipv4.c (per-netns since Linux 4.5); Kubernetes docs, Using sysctls in a Kubernetes Cluster",
	Check: func(in *Input) []model.Finding {
		host := currentNamespace(in.Snapshot)
		var out []model.Finding
		for _, ns := range in.Snapshot.Namespaces {
			if ns.Current {
				continue
			}
			if !atKernelDefaults(ns) {
				continue
			}
			ka := ns.Keepalive
			sev := model.SeverityWarning
			if detectionOutsideProfile(ns, in.Profile) {
				sev = model.SeverityError
			}
			d, _ := ka.DetectionTime()
			msg := fmt.Sprintf("Namespace %s still has the kernel's keepalive defaults (%s/%s/%d): containers do not inherit the host's sysctls.",
				nsLabel(ns), human(ka.Idle.Value), human(ka.Interval.Value), ka.Count.Value)
			detection := fmt.Sprintf(" A dead peer is detected after %s; the %s profile allows %s.", human(d), in.Profile.Name, human(in.Profile.MaxDetection))
			if hk := host.Keepalive; hk.Idle.Known && hk.Idle.Source.Kind != model.SourceKernelDefault {
				msg = fmt.Sprintf("Namespace %s still has the kernel's keepalive defaults (%s/%s/%d) while %s is tuned (%s/%s/%d): "+
					"the host's sysctl.d files never reach it.", nsLabel(ns), human(ka.Idle.Value), human(ka.Interval.Value), ka.Count.Value,
					nsLabel(host), human(hk.Idle.Value), human(hk.Interval.Value), hk.Count.Value)
			}
			msg += detection
			ev := keepaliveEvidence(in, ns)
			if len(ns.PIDs) > 0 {
				var pids []string
				for _, p := range ns.PIDs {
					pids = append(pids, fmt.Sprint(p))
				}
				ev = append(ev, model.Evidence{Name: "processes", Value: strings.Join(pids, " ")})
			}
			out = append(out, model.Finding{
				Severity: sev, Subject: "network namespace " + nsLabel(ns), Namespace: nsLabel(ns),
				Message: msg, Evidence: ev,
				Fix: sysctlFixFromPlan(in, ns, recommendedKeepalive(ns, in.Profile)...),
			})
		}
		return out
	},
}
