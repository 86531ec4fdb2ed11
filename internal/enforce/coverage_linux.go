package enforce

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cilium/ebpf"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/keepalive"
)

// Coverage answers, for a process, which enforced cgroup's policy its new connections get. It
// reads the pins once; build it with ReadCoverage.
type Coverage struct {
	byPath map[string]Policy
	cache  map[int]covering
}

// covering is the policy that covers a process's new connections: desc is "" when none does.
type covering struct {
	desc string
	pol  Policy
}

// Empty reports whether nothing is enforced.
func (c *Coverage) Empty() bool { return c == nil || len(c.byPath) == 0 }

// covering finds the nearest enforced cgroup of pid, once per process: callers ask for every
// socket of a process.
func (c *Coverage) covering(pid int) covering {
	if v, ok := c.cache[pid]; ok {
		return v
	}
	var v covering
	if cg, err := CgroupOf(pid); err == nil {
		best := ""
		for p := range c.byPath {
			if (p == cg || isAncestor(p, cg)) && len(p) > len(best) {
				best = p
			}
		}
		if best != "" {
			v.pol = c.byPath[best]
			v.desc = fmt.Sprintf("%s: %s, %s mode", best, v.pol, v.pol.Mode)
		}
	}
	c.cache[pid] = v
	return v
}

// ForPID says which policy covers pid's new connections: "CGROUP: POLICY, MODE", or "" when
// none does (or the process is gone).
func (c *Coverage) ForPID(pid int) string {
	if c.Empty() {
		return ""
	}
	return c.covering(pid).desc
}

// SocketValues are a socket's keepalive options as getsockopt reads them: the public keepalive
// library's read-back type, which the socket table carries too.
type SocketValues = keepalive.Effective

// Carrying says which policy a socket of pid carries: the covering policy's description when
// the socket's values satisfy it (each value the policy sets is on the socket; in force mode a
// tighter one counts), "" when no policy covers pid or the socket does not carry it (a
// connection older than the policy, or one whose program set its own values afterwards).
func (c *Coverage) Carrying(pid int, v SocketValues) string {
	if c.Empty() {
		return ""
	}
	cov := c.covering(pid)
	if cov.desc == "" {
		return ""
	}
	pol := cov.pol
	ok := func(have, want time.Duration) bool {
		return want == 0 || have == want || (pol.Mode == ModeForce && have > 0 && have < want)
	}
	if pol.Keepalive() && !v.Enabled {
		return ""
	}
	if !ok(v.Idle, pol.Idle) || !ok(v.Interval, pol.Interval) || !ok(time.Duration(v.Count), time.Duration(pol.Probes)) || !ok(v.UserTimeout, pol.UserTimeout) {
		return ""
	}
	return cov.desc
}

// CgroupOf reads a process's cgroup v2 path from /proc/PID/cgroup (the "0::" line).
func CgroupOf(pid int) (string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("process %d has no cgroup v2 path", pid)
}

// Annotate fills each process's cgroup, and the policy that covers it when something is
// enforced, into the audit's socket summaries. It reads the pinned policy map only (no kernel
// checks: cheap enough for every exporter scrape) and only when it may (root, bpffs);
// otherwise the summaries carry the cgroups alone.
func Annotate(stats []model.SocketStats) {
	cov, _ := ReadCoverage("/sys/fs/bpf")
	for i := range stats {
		if cg, err := CgroupOf(stats[i].PID); err == nil {
			stats[i].Cgroup = cg
		}
		stats[i].Enforced = cov.ForPID(stats[i].PID)
	}
}

// ReadCoverage reads the policies pinned under bpffs/keeptune without loading anything; nothing
// pinned covers nothing.
func ReadCoverage(bpffs string) (*Coverage, error) {
	c := &Coverage{byPath: map[string]Policy{}, cache: map[int]covering{}}
	pin := filepath.Join(bpffs, PinDirName, mapPolicyName)
	if _, err := os.Stat(pin); err != nil {
		return c, nil
	}
	m, err := ebpf.LoadPinnedMap(pin, &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return c, err
	}
	defer m.Close()
	pols, err := policies(m)
	if err != nil {
		return c, err
	}
	mounts, err := readMounts("/proc/self/mountinfo")
	if err != nil {
		return c, err
	}
	root, _, ok := cgroup2Mount(mounts)
	if !ok {
		return c, nil
	}
	paths := cgroupPaths(root)
	for id, p := range pols {
		if path, ok := paths[id]; ok {
			c.byPath[path] = p
		}
	}
	return c, nil
}
