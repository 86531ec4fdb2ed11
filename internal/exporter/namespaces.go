package exporter

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/kstats"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
)

// namespace is one network namespace in scope and how to reach it.
type namespace struct {
	Inode uint64
	// Path enters it: /proc/PID/ns/net of its first process, or its /run/netns pin.
	Path string
	// PID is a process inside it (0 for a pinned namespace without processes): its
	// /proc/PID/net shows the namespace's counters without entering it.
	PID  int
	Name string
}

// nsFacts is what one scrape read in one namespace.
type nsFacts struct {
	namespace
	// Sysctls are the per-namespace keys that could be read, by key.
	Sysctls map[string]float64
	// Conntrack count and limit, when nf_conntrack is loaded (HasConntrack).
	HasConntrack                   bool
	ConntrackCount, ConntrackLimit float64
	Counters                       kstats.Stats
	HasCounters                    bool
	// Gone is set when the namespace went away between listing and reading: it is left out.
	Gone   bool
	errors []readError
}

// readError is one thing a scrape could not read.
type readError struct {
	source string // netns, sysctl, conntrack, kstats, sockets, audit
	err    error
}

func (e readError) Error() string { return e.source + ": " + e.err.Error() }

// sysctlKeys are the per-namespace settings exported as keeptune_sysctl. conntrack's count and
// limit have metrics of their own.
var sysctlKeys = []string{
	model.KeyKeepaliveTime, model.KeyKeepaliveIntvl, model.KeyKeepaliveProbes,
	model.KeyRetries2, model.KeyFinTimeout, model.KeySynRetries,
	model.KeySomaxconn, model.KeyMaxSynBacklog, model.KeyConntrackEstablished,
}

// sysPath turns a dotted key into its /proc/sys path.
func sysPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// readSysctls reads the settings of the calling thread's namespace (run it inside netns.Do).
// A conntrack key that does not exist means nf_conntrack is not loaded: not an error.
func readSysctls(f *nsFacts) {
	f.Sysctls = map[string]float64{}
	for _, key := range sysctlKeys {
		v, err := readNumber(sysPath(key))
		if err != nil {
			if os.IsNotExist(err) && strings.HasPrefix(key, "net.netfilter.") {
				continue
			}
			f.errors = append(f.errors, readError{"sysctl", err})
			continue
		}
		f.Sysctls[key] = v
	}
	count, err := readNumber(sysPath(model.KeyConntrackCount))
	if err != nil {
		if !os.IsNotExist(err) {
			f.errors = append(f.errors, readError{"conntrack", err})
		}
		return
	}
	limit, err := readNumber(sysPath(model.KeyConntrackMax))
	if err != nil {
		f.errors = append(f.errors, readError{"conntrack", err})
		return
	}
	f.HasConntrack, f.ConntrackCount, f.ConntrackLimit = true, count, limit
}

func readNumber(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: expected a number, found %q", path, s)
	}
	return v, nil
}

// nsLabel is the value of the netns label: the namespace's inode, stable for its whole life
// (names built from processes change as they come and go; keeptune_netns_info maps one to the
// other).
func nsLabel(inode uint64) string { return strconv.FormatUint(inode, 10) }

// listNamespaces finds the network namespaces of all processes under procRoot and the `ip
// netns` pins, the host's first. With all false only keeptune's own namespace is listed.
func listNamespaces(procRoot string, all bool) ([]namespace, []readError) {
	self, err := netns.Inode(filepath.Join(procRoot, "self/ns/net"))
	if err != nil {
		return nil, []readError{{"netns", err}}
	}
	pid1, _ := netns.Inode(filepath.Join(procRoot, "1/ns/net"))
	isHost := func(ino uint64) string {
		if ino == netns.InitInode || (pid1 != 0 && ino == pid1) {
			return "host"
		}
		return ""
	}
	if !all {
		return []namespace{{Inode: self, Name: nsName(self, 0, "", isHost(self)), PID: os.Getpid()}}, nil
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, []readError{{"netns", err}}
	}
	byIno := map[uint64]*namespace{}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	for _, pid := range pids {
		path := netns.PIDPath(procRoot, pid)
		ino, err := netns.Inode(path)
		if err != nil {
			continue // exited, or a kernel thread's namespace we may not see
		}
		if byIno[ino] == nil {
			comm, _ := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "comm"))
			byIno[ino] = &namespace{Inode: ino, Path: path, PID: pid, Name: strings.TrimSpace(string(comm))}
		}
	}
	if pins, err := os.ReadDir(netns.RunDir); err == nil {
		for _, p := range pins {
			path := netns.NamedPath(p.Name())
			ino, err := netns.Inode(path)
			if err != nil {
				continue
			}
			if n := byIno[ino]; n != nil {
				n.Name = "netns " + p.Name()
				if n.Path == "" {
					n.Path = path
				}
				continue
			}
			byIno[ino] = &namespace{Inode: ino, Path: path, Name: "netns " + p.Name()}
		}
	}
	out := make([]namespace, 0, len(byIno))
	for _, n := range byIno {
		n.Name = nsName(n.Inode, n.PID, n.Name, isHost(n.Inode))
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b namespace) int {
		ah, bh := a.Name == "host", b.Name == "host"
		switch {
		case ah && !bh:
			return -1
		case bh && !ah:
			return 1
		}
		return cmp.Compare(a.Inode, b.Inode)
	})
	return out, nil
}

// nsName is how people know a namespace: "host", "netns NAME" for `ip netns` pins, or its
// first process ("pid 812 nginx").
func nsName(inode uint64, pid int, comm, host string) string {
	switch {
	case host != "":
		return host
	case strings.HasPrefix(comm, "netns "):
		return comm
	case pid != 0:
		return fmt.Sprintf("pid %d %s", pid, comm)
	}
	return fmt.Sprintf("net:[%d]", inode)
}
