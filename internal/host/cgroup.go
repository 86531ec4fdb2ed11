package host

import (
	"bytes"
	"regexp"
	"strings"
)

var (
	// podRe finds a Kubernetes pod UID in a cgroup path: kubepods/burstable/pod<uid>/... with
	// the cgroupfs driver, kubepods-burstable-pod<uid with '_'>.slice with the systemd driver.
	podRe = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`)
	// scopeRe finds a container ID in a systemd scope: docker-<id>.scope, cri-containerd-<id>.scope,
	// crio-<id>.scope, libpod-<id>.scope (podman).
	scopeRe = regexp.MustCompile(`(docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope`)
	// dirRe finds a container ID with the cgroupfs driver: /docker/<id>, /libpod_parent/libpod-<id>.
	dirRe = regexp.MustCompile(`/(docker|libpod)[/-]([0-9a-f]{64})(?:/|$)`)
	// lxcRe finds an LXC container name: /lxc.payload.<name> (LXC 4+) or /lxc/<name>.
	lxcRe = regexp.MustCompile(`/lxc(?:\.payload\.|/)([^/]+)`)
)

var runtimeNames = map[string]string{
	"docker":         "docker",
	"cri-containerd": "containerd",
	"crio":           "cri-o",
	"libpod":         "podman",
}

// cgroupPaths returns the cgroup paths of a /proc/PID/cgroup file, the unified hierarchy's
// ("0::/...") first, then the systemd named hierarchy's of cgroup v1 ("1:name=systemd:/..."),
// then the others.
func cgroupPaths(cgroup []byte) []string {
	var first, second, rest []string
	for _, line := range bytes.Split(cgroup, []byte{'\n'}) {
		// hierarchy-ID:controller-list:cgroup-path; the path may itself contain ':'.
		parts := bytes.SplitN(line, []byte{':'}, 3)
		if len(parts) != 3 {
			continue
		}
		p := string(parts[2])
		switch {
		case string(parts[0]) == "0" && len(parts[1]) == 0:
			first = append(first, p)
		case string(parts[1]) == "name=systemd":
			second = append(second, p)
		default:
			rest = append(rest, p)
		}
	}
	return append(append(first, second...), rest...)
}

// systemdUnit returns the system service a process runs in ("nginx.service") from its
// /proc/PID/cgroup, or "" when it runs in none: a scope (a login session, a container), a
// process of a user's service manager (user@1000.service), whose units /etc/systemd/system
// drop-ins do not reach, or a cgroup namespace that hides the path.
func systemdUnit(cgroup []byte) string {
	path := ""
	for _, p := range cgroupPaths(cgroup) {
		if p != "/" && p != "" {
			path = p // the first hierarchy that places the process somewhere (hybrid setups leave 0:: at /)
			break
		}
	}
	unit := ""
	for _, c := range strings.Split(path, "/") {
		if strings.HasPrefix(c, "user@") && strings.HasSuffix(c, ".service") {
			return ""
		}
		if strings.HasSuffix(c, ".service") {
			unit = c
		}
	}
	return unit
}

// containerHint reads a /proc/PID/cgroup file and says which container or pod the process
// belongs to ("docker 0123456789ab", "k8s pod 8d2c...", "lxc web1"), or "" when the paths do
// not tell (a process on the host, or a cgroup namespace that hides the paths). A pod wins over
// its containers: the network namespace belongs to the pod.
func containerHint(cgroup []byte) string {
	var container string
	for _, p := range cgroupPaths(cgroup) {
		if m := podRe.FindStringSubmatch(p); m != nil && strings.Contains(p, "kubepods") {
			return "k8s pod " + strings.ReplaceAll(m[1], "_", "-")
		}
		if container != "" {
			continue
		}
		if m := scopeRe.FindStringSubmatch(p); m != nil {
			container = runtimeNames[m[1]] + " " + m[2][:12]
		} else if m := dirRe.FindStringSubmatch(p); m != nil {
			container = runtimeNames[m[1]] + " " + m[2][:12]
		} else if m := lxcRe.FindStringSubmatch(p); m != nil {
			container = "lxc " + m[1]
		}
	}
	return container
}
