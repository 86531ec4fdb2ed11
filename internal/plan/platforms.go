package plan

import (
	"fmt"
	"strings"
)

// kubernetesSafe are the sysctls the kubelet allows in a pod's securityContext.sysctls without
// --allowed-unsafe-sysctls (pkg/kubelet/sysctl/safe_sysctls.go; the keepalive triple and
// tcp_fin_timeout are safe since Kubernetes 1.29). tcp_retries2 and the conntrack keys are not.
var kubernetesSafe = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
}

// namespaced reports whether a key is per network namespace (it can be set in a pod or a
// container at all).
func namespaced(key string) bool { return strings.HasPrefix(key, "net.") }

func unsafeSysctls(ts []target) []string {
	var out []string
	for _, t := range ts {
		if namespaced(t.sysctl.Key) && !kubernetesSafe[t.sysctl.Key] {
			out = append(out, t.sysctl.Key)
		}
	}
	return out
}

// kubernetesPatch is a strategic-merge patch of a pod template's securityContext.sysctls with
// the namespace's planned values (kubectl patch deployment NAME --patch-file FILE).
func kubernetesPatch(ts []target) string {
	var b strings.Builder
	b.WriteString("Kubernetes: the pod's network namespace is made from the pod spec; patch its template (kubectl patch deployment NAME --patch-file keeptune-sysctls.yaml):\n")
	b.WriteString("spec:\n  template:\n    spec:\n      securityContext:\n        sysctls:\n")
	for _, t := range ts {
		if namespaced(t.sysctl.Key) {
			fmt.Fprintf(&b, "        - name: %s\n          value: \"%s\"\n", t.sysctl.Key, t.to)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// dockerFlags are the docker run (and compose `sysctls:`) flags with the planned values.
func dockerFlags(ts []target) string {
	var flags []string
	for _, t := range ts {
		if namespaced(t.sysctl.Key) {
			flags = append(flags, fmt.Sprintf("--sysctl %s=%s", t.sysctl.Key, t.to))
		}
	}
	return "Docker: docker run " + strings.Join(flags, " ") + " ..."
}
