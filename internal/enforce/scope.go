package enforce

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Scope names the cgroup to enforce on, the way the person knows it. Exactly one field is set.
type Scope struct {
	Cgroup    string // a path in the cgroup v2 hierarchy, or the directory's full path
	Unit      string // a systemd unit (nginx.service, or nginx)
	Pod       string // NAMESPACE/NAME of a Kubernetes pod running on this node
	Container string // a container id (docker, containerd, CRI-O, podman), 12 hex digits or more
}

// String says what the scope names, for messages.
func (s Scope) String() string {
	switch {
	case s.Cgroup != "":
		return "cgroup " + s.Cgroup
	case s.Unit != "":
		return "unit " + s.Unit
	case s.Pod != "":
		return "pod " + s.Pod
	case s.Container != "":
		return "container " + s.Container
	}
	return "no scope"
}

// Validate checks that exactly one way of naming the cgroup was used.
func (s Scope) Validate() error {
	n := 0
	for _, v := range []string{s.Cgroup, s.Unit, s.Pod, s.Container} {
		if v != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("name the cgroup: --cgroup PATH, --unit NAME.service, --pod NAMESPACE/NAME or --container ID")
	case n > 1:
		return errors.New("give only one of --cgroup, --unit, --pod and --container")
	}
	if s.Pod != "" {
		if ns, name, ok := strings.Cut(s.Pod, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("--pod %q: want NAMESPACE/NAME", s.Pod)
		}
	}
	if s.Container != "" && !containerIDRe.MatchString(s.Container) {
		return fmt.Errorf("--container %q: want the container id (at least 12 hex digits)", s.Container)
	}
	return nil
}

var containerIDRe = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// resolveScope finds the cgroup directory the scope names, as a path from the root of the v2
// hierarchy ("/system.slice/nginx.service"). cgroups is that hierarchy (rooted at its mount
// point, mountPoint being where it is mounted); podLogs is /var/log/pods, where the kubelet keeps
// one directory per pod named NAMESPACE_NAME_UID (the way to learn a pod's uid on the node
// without the API server).
func resolveScope(cgroups fs.FS, mountPoint string, podLogs fs.FS, s Scope) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	switch {
	case s.Cgroup != "":
		p := s.Cgroup
		if rel, ok := strings.CutPrefix(path.Clean(p), path.Clean(mountPoint)+"/"); ok && strings.HasPrefix(p, "/") {
			p = rel
		}
		p = strings.Trim(path.Clean("/"+p), "/")
		if p == "" {
			return "", errors.New("--cgroup /: refusing to enforce on the root cgroup (every process of the host); name a cgroup below it")
		}
		st, err := fs.Stat(cgroups, p)
		if err != nil {
			return "", fmt.Errorf("cgroup %s not found under %s: %w", "/"+p, mountPoint, err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("%s is not a cgroup directory", path.Join(mountPoint, p))
		}
		return "/" + p, nil
	case s.Unit != "":
		unit := s.Unit
		if !strings.Contains(unit, ".") {
			unit += ".service"
		}
		found := findDirs(cgroups, func(name string) bool { return name == unit })
		return pick(found, s, mountPoint, preferSystemSlice)
	case s.Pod != "":
		ns, name, _ := strings.Cut(s.Pod, "/")
		uid, err := podUID(podLogs, ns, name)
		if err != nil {
			return "", err
		}
		under := strings.ReplaceAll(uid, "-", "_")
		found := findDirs(cgroups, func(n string) bool {
			return strings.Contains(n, "pod"+uid) || strings.Contains(n, "pod"+under)
		})
		// The pod's own cgroup is the shallowest match; its containers are below it.
		found = shallowest(found)
		return pick(found, s, mountPoint, nil)
	default:
		id := s.Container
		found := findDirs(cgroups, func(n string) bool {
			if strings.Contains(n, "conmon") {
				return false
			}
			n = strings.TrimSuffix(n, ".scope")
			for _, prefix := range []string{"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-"} {
				n = strings.TrimPrefix(n, prefix)
			}
			return len(n) == 64 && strings.HasPrefix(n, id)
		})
		return pick(found, s, mountPoint, nil)
	}
}

// findDirs lists the directories (as /paths) whose name matches.
func findDirs(cgroups fs.FS, match func(string) bool) []string {
	var out []string
	_ = fs.WalkDir(cgroups, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return fs.SkipDir
		}
		if d.IsDir() && p != "." && match(d.Name()) {
			out = append(out, "/"+p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func shallowest(paths []string) []string {
	var out []string
	for _, p := range paths {
		covered := false
		for _, q := range paths {
			if q != p && strings.HasPrefix(p, q+"/") {
				covered = true
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

func preferSystemSlice(paths []string) []string {
	var sys []string
	for _, p := range paths {
		if strings.HasPrefix(p, "/system.slice/") {
			sys = append(sys, p)
		}
	}
	return sys
}

func pick(found []string, s Scope, mountPoint string, prefer func([]string) []string) (string, error) {
	if len(found) > 1 && prefer != nil {
		if p := prefer(found); len(p) == 1 {
			found = p
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%s: no cgroup for it under %s (is it running?)", s, mountPoint)
	}
	return "", fmt.Errorf("%s matches %d cgroups (%s): name one with --cgroup", s, len(found), strings.Join(found, ", "))
}

// podUID finds the pod's uid in the kubelet's log directories (NAMESPACE_NAME_UID).
func podUID(podLogs fs.FS, ns, name string) (string, error) {
	if podLogs == nil {
		return "", errors.New("--pod: no /var/log/pods on this host (is this a Kubernetes node?)")
	}
	entries, err := fs.ReadDir(podLogs, ".")
	if err != nil {
		return "", fmt.Errorf("--pod: reading the kubelet's /var/log/pods: %w (is this a Kubernetes node?)", err)
	}
	prefix := ns + "_" + name + "_"
	var uids []string
	for _, e := range entries {
		if uid, ok := strings.CutPrefix(e.Name(), prefix); ok && e.IsDir() && uid != "" && !strings.Contains(uid, "_") {
			uids = append(uids, uid)
		}
	}
	switch len(uids) {
	case 1:
		return uids[0], nil
	case 0:
		return "", fmt.Errorf("pod %s/%s does not run on this node (no /var/log/pods/%s*)", ns, name, prefix)
	}
	return "", fmt.Errorf("pod %s/%s has %d uids under /var/log/pods (%s): a pod replaced; wait for the kubelet to clean up or use --cgroup", ns, name, len(uids), strings.Join(uids, ", "))
}

// isAncestor reports whether cgroup a is a proper ancestor of b (both /paths).
func isAncestor(a, b string) bool {
	return a != b && strings.HasPrefix(b, strings.TrimSuffix(a, "/")+"/")
}
