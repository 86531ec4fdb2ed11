package kubernetes

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of kubernetes configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{k8sKeepaliveSysctls, k8sSysctlsHostNetwork}

func init() { configs.RegisterRules("kubernetes", rules...) }

var k8sKeepaliveSysctls = configs.Rule{
	ID: "KT885", Name: "kubernetes-pod-keepalive-sysctls", Severity: model.SeverityError,
	Title: "Pod without keepalive sysctls (kernel defaults in its namespace)",
	What: "Judges pods and pod templates (Deployment, StatefulSet, DaemonSet, Job, CronJob, ...) that set " +
		"net.ipv4.tcp_keepalive_time, _intvl or _probes in securityContext.sysctls against the profile like " +
		"the host (KT101: error when a dead peer is found too late, warning when too early, the kernel " +
		"defaults standing in for keys left out), and notes pods that set none or leave some out " +
		"(hostNetwork pods excepted).",
	Why: "A pod has a network namespace of its own, which starts with the kernel's defaults (7200 s, 75 s, " +
		"9 probes) whatever the node's sysctl files say: programs in it that turn keepalive on without their " +
		"own timers find a dead peer after 2 h 11 min, far beyond the CNI's, kube-proxy's and cloud load " +
		"balancers' idle timeouts. These three sysctls are safe (allowed without kubelet flags) since " +
		"Kubernetes 1.29.",
	Fix:    "spec.securityContext.sysctls with the three keys (values from the profile; k8s-pod: 600, 30, 5).",
	Source: "Kubernetes docs, \"Using sysctls in a Kubernetes Cluster\" (safe sysctls: net.ipv4.tcp_keepalive_time/intvl/probes since 1.29); net/ipv4/tcp_ipv4.c tcp_sk_init (per-namespace defaults)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, w := range c.Workloads {
				if w.HostNetwork {
					continue
				}
				if f, ok := k8sKeepaliveFinding(in, c, w); ok {
					out = append(out, f)
				}
			}
		}
		return out
	},
}

// k8sKeepaliveFinding judges a pod that sets keepalive sysctls like the host (KT101): the
// values it sets, with the kernel defaults for those it leaves out, against the profile.
// Outside the profile it is an error (detection too slow) or a warning (too fast); a pod that
// sets none, or leaves keys out within the profile, is a note. The fix is indented for the
// list it joins.
func k8sKeepaliveFinding(in *configs.RuleInput, c *Config, w *Workload) (model.Finding, bool) {
	p := in.Profile
	pIdle, pIntvl, pCnt := in.ProposedKeepalive()
	want := map[string]string{
		model.KeyKeepaliveTime: configs.SecondsValue(pIdle), model.KeyKeepaliveIntvl: configs.SecondsValue(pIntvl), model.KeyKeepaliveProbes: fmt.Sprint(pCnt),
	}
	k := c.Keepalive(w)
	d := kernel.DeadPeerDetection(k.Idle.Value, k.Interval.Value, k.Count.Value, 0)
	minDetection := kernel.DeadPeerDetection(p.Idle.Min, p.Interval.Min, p.Probes.Min, 0)
	sev := model.SeverityInfo
	explicit := len(KeepaliveKeys) > 0 && (w.Sysctl(model.KeyKeepaliveTime) != nil || w.Sysctl(model.KeyKeepaliveIntvl) != nil || w.Sysctl(model.KeyKeepaliveProbes) != nil)
	switch {
	case !explicit:
		// Nothing chosen: the kernel defaults, a note (keeptune cannot tell whether the pod's
		// programs enable keepalive at all).
	case p.MaxDetection > 0 && d > p.MaxDetection:
		sev = model.SeverityError
	case minDetection > 0 && d < minDetection:
		sev = model.SeverityWarning
	}
	var missing, set, fixKeys []string
	for _, key := range KeepaliveKeys {
		if w.Sysctl(key) == nil {
			missing = append(missing, key)
		} else {
			set = append(set, key)
		}
	}
	if sev == model.SeverityInfo && len(missing) == 0 {
		return model.Finding{}, false
	}
	fixKeys = missing
	if sev != model.SeverityInfo {
		fixKeys = KeepaliveKeys // out of the profile: all three take the profile's values
	}
	var entries []string
	for _, key := range fixKeys {
		entries = append(entries, fmt.Sprintf("- {name: %s, value: %q}", key, want[key]))
	}
	indent := func(prefix string, ls []string) string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = prefix + l
		}
		return strings.Join(out, "\n")
	}
	line := w.SpecLine
	snippet := "securityContext:\n  sysctls:\n" + indent("    ", entries)
	where := fmt.Sprintf("In the pod spec at line %d", w.SpecLine)
	switch {
	case len(w.Sysctls) > 0:
		// Entries join the existing list: no parents, the list's own indentation.
		line = w.Sysctls[0].Line
		snippet = indent("", entries)
		where = fmt.Sprintf("In securityContext.sysctls (its first entry is at line %d), at the indentation of its entries", line)
		if len(set) > 0 && sev != model.SeverityInfo {
			where += "; replace the entries for " + strings.Join(set, ", ")
		}
	case w.SecurityContextLine > 0:
		line = w.SecurityContextLine
		snippet = "sysctls:\n" + indent("  ", entries)
		where = fmt.Sprintf("In securityContext (line %d), indented one level below it", line)
	}
	var msg string
	values := fmt.Sprintf("idle %s, interval %s, %d probes", configs.Human(k.Idle.Value), configs.Human(k.Interval.Value), k.Count.Value)
	switch sev {
	case model.SeverityError:
		msg = fmt.Sprintf("%s finds a dead peer after %s (%s); the %s profile allows %s.", w.Label(), configs.Human(d), values, p.Name, configs.Human(p.MaxDetection))
	case model.SeverityWarning:
		msg = fmt.Sprintf("%s finds a dead peer after %s (%s), faster than the %s profile's %s: probes on every idle connection for little gain.", w.Label(), configs.Human(d), values, p.Name, configs.Human(minDetection))
	default:
		msg = fmt.Sprintf("%s does not set %s: its pod network namespace starts with the kernel defaults, so a dead peer is found after %s (%s).",
			w.Label(), strings.Join(missing, ", "), configs.Human(d), values)
	}
	if len(missing) > 0 && sev != model.SeverityInfo {
		msg += fmt.Sprintf(" It leaves %s at the kernel default.", strings.Join(missing, ", "))
	}
	return model.Finding{
		Severity: sev, Subject: "kubernetes " + w.Label(), Message: msg,
		Evidence: []model.Evidence{
			{Name: model.KeyKeepaliveTime, Value: configs.SecondsValue(k.Idle.Value), Source: k.Idle.Source},
			{Name: model.KeyKeepaliveIntvl, Value: configs.SecondsValue(k.Interval.Value), Source: k.Interval.Source},
			{Name: model.KeyKeepaliveProbes, Value: fmt.Sprint(k.Count.Value), Source: k.Count.Source},
		},
		Location: configs.Loc(c.File, line),
		Fix: &model.Fix{Key: "securityContext.sysctls", Line: snippet, File: c.File, FileLine: line,
			Note: where + ". Safe sysctls since Kubernetes 1.29; older clusters need the kubelet's --allowed-unsafe-sysctls."},
	}, true
}

var k8sSysctlsHostNetwork = configs.Rule{
	ID: "KT886", Name: "kubernetes-sysctls-with-host-network", Severity: model.SeverityError,
	Title: "Pod sets network sysctls with hostNetwork: true",
	What:  "Flags pods and pod templates that set net.* sysctls in securityContext.sysctls and also hostNetwork: true.",
	Why: "A hostNetwork pod shares the node's network namespace; the kubelet refuses to let it set " +
		"namespaced network sysctls (SysctlForbidden: \"not allowed with host net enabled\"), so the pod " +
		"never starts.",
	Fix:    "Drop hostNetwork: true, or drop the sysctls and set them on the node (/etc/sysctl.d).",
	Source: "Kubernetes pkg/kubelet/sysctl (namespaced sysctls are forbidden with host networking); docs \"Using sysctls in a Kubernetes Cluster\"",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, w := range c.Workloads {
				if !w.HostNetwork {
					continue
				}
				var net []string
				ev := []model.Evidence{{Name: "hostNetwork", Value: "true", Source: configs.Src(c.File, w.HostNetworkLine)}}
				for _, s := range w.Sysctls {
					if strings.HasPrefix(s.Name, "net.") {
						net = append(net, s.Name)
						ev = append(ev, model.Evidence{Name: s.Name, Value: s.Value, Source: configs.Src(c.File, s.Line)})
					}
				}
				if len(net) == 0 {
					continue
				}
				out = append(out, model.Finding{
					Severity: model.SeverityError, Subject: "kubernetes " + w.Label(),
					Message:  fmt.Sprintf("%s sets %s with hostNetwork: true: the kubelet rejects the pod (SysctlForbidden).", w.Label(), strings.Join(net, ", ")),
					Evidence: ev,
					Location: configs.Loc(c.File, w.HostNetworkLine),
					Fix: &model.Fix{Key: "hostNetwork", Current: "true", Proposed: "false", Line: "hostNetwork: false", File: c.File, FileLine: w.HostNetworkLine,
						Note: "Or remove the sysctls from the pod and set them on the node in /etc/sysctl.d."},
				})
			}
		}
		return out
	},
}
