package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
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

// otherSystems are the same keepalive targets on the other systems the hosting guides name, in
// their units: Windows' registry values are milliseconds (HKLM\SYSTEM\CurrentControlSet\Services
// \Tcpip\Parameters KeepAliveTime, KeepAliveInterval; the probe count is fixed at 10 since
// Vista; per socket SIO_KEEPALIVE_VALS), macOS and FreeBSD take net.inet.tcp.keepidle and
// keepintvl in milliseconds (sysctl_msec_to_ticks) and keepcnt as a count.
func otherSystems(key, to string) []Step {
	n, err := strconv.ParseInt(to, 10, 64)
	if err != nil {
		return nil
	}
	const reg = `reg add HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters /v %s /t REG_DWORD /d %d /f`
	switch key {
	case model.KeyKeepaliveTime:
		return []Step{
			{Kind: StepCommand, Where: "windows", Lang: "cmd", Text: fmt.Sprintf(reg, "KeepAliveTime", n*1000), Note: "milliseconds; read at boot; per socket: SIO_KEEPALIVE_VALS keepalivetime"},
			{Kind: StepCommand, Where: "macos", Lang: "sh", Text: fmt.Sprintf("sysctl -w net.inet.tcp.keepidle=%d", n*1000), Note: "milliseconds; persist in /etc/sysctl.conf"},
			{Kind: StepCommand, Where: "freebsd", Lang: "sh", Text: fmt.Sprintf("sysctl net.inet.tcp.keepidle=%d", n*1000), Note: "milliseconds; persist in /etc/sysctl.conf"},
		}
	case model.KeyKeepaliveIntvl:
		return []Step{
			{Kind: StepCommand, Where: "windows", Lang: "cmd", Text: fmt.Sprintf(reg, "KeepAliveInterval", n*1000), Note: "milliseconds; per socket: SIO_KEEPALIVE_VALS keepaliveinterval"},
			{Kind: StepCommand, Where: "macos", Lang: "sh", Text: fmt.Sprintf("sysctl -w net.inet.tcp.keepintvl=%d", n*1000), Note: "milliseconds"},
			{Kind: StepCommand, Where: "freebsd", Lang: "sh", Text: fmt.Sprintf("sysctl net.inet.tcp.keepintvl=%d", n*1000), Note: "milliseconds"},
		}
	case model.KeyKeepaliveProbes:
		return []Step{
			{Kind: StepLine, Where: "windows", Text: "Windows sends 10 probes, a number it does not let you change (since Vista): the detection time is KeepAliveTime + 10 x KeepAliveInterval"},
			{Kind: StepCommand, Where: "macos", Lang: "sh", Text: fmt.Sprintf("sysctl -w net.inet.tcp.keepcnt=%d", n)},
			{Kind: StepCommand, Where: "freebsd", Lang: "sh", Text: fmt.Sprintf("sysctl net.inet.tcp.keepcnt=%d", n)},
		}
	}
	return nil
}
