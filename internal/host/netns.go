package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
)

// netnsInfo is a network namespace found on the host.
type netnsInfo struct {
	Inode uint64
	// Procs are the processes living in it, by PID.
	Procs []*procInfo
	// Pinned are the `ip netns` files that hold it (host paths, /run/netns/NAME).
	Pinned []string
	// Current is the namespace keeptune reads /proc/sys in.
	Current bool
	// Host is the initial namespace (the one PID 1 of the host runs in).
	Host bool
	// Hint names the container or pod, from the cgroup of its first processes.
	Hint string
}

// parseNsLink reads the target of a /proc/PID/ns/net link, "net:[4026531833]".
func parseNsLink(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "net:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// readNsLink reads the network namespace inode of a /proc/PID or /proc/self directory.
func readNsLink(procDir string) (uint64, error) {
	p := filepath.Join(procDir, "ns/net")
	link, err := os.Readlink(p)
	if err != nil {
		return 0, err
	}
	ino, ok := parseNsLink(link)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected link target %q, expected net:[INODE]", p, link)
	}
	return ino, nil
}

// readPinnedNetns lists the `ip netns` namespaces: files in Root/run/netns whose inode is the
// namespace's (they are nsfs bind mounts). On the live system (live true) files that are not
// nsfs mounts are skipped: `ip netns` leaves empty files behind when a mount goes away. With an
// injected root the files are plain files and their own inode stands for the namespace's.
func readPinnedNetns(root string, live bool) (map[uint64][]string, []model.Problem) {
	dir := filepath.Join(root, "run/netns")
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, []model.Problem{readProblem("`ip netns` namespaces ("+dir+")", err)}
	}
	pinned := map[uint64][]string{}
	var probs []model.Problem
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if live && !isNsfs(p) {
			continue
		}
		ino, err := fileInode(p)
		if err != nil {
			if !isGone(err) {
				probs = append(probs, readProblem("`ip netns` namespace "+p, err))
			}
			continue
		}
		pinned[ino] = append(pinned[ino], "/run/netns/"+e.Name())
	}
	return pinned, probs
}

// isHostNetns tells whether a namespace is the initial one. Kernels since 6.18 number it
// netns.InitInode; on older ones it is the namespace of PID 1, when that can be read (pid1 0
// when not) and keeptune does not run in a PID namespace of its own.
func isHostNetns(inode, pid1 uint64, kv kernelVersion) bool {
	if inode == netns.InitInode {
		return true
	}
	if kv.atLeast(6, 18) {
		return false
	}
	return pid1 != 0 && inode == pid1
}

// groupNetns gathers the namespaces of procs (sorted by PID) and the pinned ones into a list
// sorted for people: the current namespace first, then the host's, then pinned ones by name,
// then the others by their lowest PID.
func groupNetns(procs []*procInfo, pinned map[uint64][]string, current, pid1 uint64, kv kernelVersion) []*netnsInfo {
	byIno := map[uint64]*netnsInfo{}
	get := func(ino uint64) *netnsInfo {
		n := byIno[ino]
		if n == nil {
			n = &netnsInfo{Inode: ino, Current: ino == current, Host: isHostNetns(ino, pid1, kv)}
			byIno[ino] = n
		}
		return n
	}
	if current != 0 {
		get(current)
	} else {
		// The current namespace could not be identified; it is still the one /proc/sys shows.
		byIno[0] = &netnsInfo{Current: true}
	}
	for _, p := range procs {
		if p.NetnsInode != 0 {
			n := get(p.NetnsInode)
			n.Procs = append(n.Procs, p)
		}
	}
	for ino, files := range pinned {
		n := get(ino)
		n.Pinned = append(n.Pinned, files...)
		sort.Strings(n.Pinned)
	}
	out := make([]*netnsInfo, 0, len(byIno))
	for _, n := range byIno {
		out = append(out, n)
	}
	rank := func(n *netnsInfo) int {
		switch {
		case n.Current:
			return 0
		case n.Host:
			return 1
		case len(n.Pinned) > 0:
			return 2
		}
		return 3
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if len(a.Pinned) > 0 && len(b.Pinned) > 0 && a.Pinned[0] != b.Pinned[0] {
			return a.Pinned[0] < b.Pinned[0]
		}
		if len(a.Procs) > 0 && len(b.Procs) > 0 && a.Procs[0].PID != b.Procs[0].PID {
			return a.Procs[0].PID < b.Procs[0].PID
		}
		return a.Inode < b.Inode
	})
	return out
}

// maxNamedProcs is how many processes a namespace name lists; maxPIDs how many PIDs
// model.Namespace keeps.
const (
	maxNamedProcs = 3
	maxPIDs       = 8
)

// name says how people know the namespace: "host", its `ip netns` name, or its first
// processes ("pid 4242 nginx, 4250 node"), followed by the container or pod when the cgroup
// tells it: "pid 4242 nginx (docker 0123456789ab)".
func (n *netnsInfo) name() string {
	var s string
	switch {
	case n.Host:
		return "host"
	case len(n.Pinned) > 0:
		names := make([]string, len(n.Pinned))
		for i, p := range n.Pinned {
			names[i] = filepath.Base(p)
		}
		s = strings.Join(names, ", ")
	case len(n.Procs) > 0:
		var b strings.Builder
		b.WriteString("pid ")
		for i, p := range n.Procs[:min(len(n.Procs), maxNamedProcs)] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(p.PID))
			if p.Comm != "" {
				b.WriteString(" " + p.Comm)
			}
		}
		if extra := len(n.Procs) - maxNamedProcs; extra > 0 {
			fmt.Fprintf(&b, " and %d more", extra)
		}
		s = b.String()
	case n.Inode == 0:
		s = "current"
	default:
		s = netns.Label("", n.Inode)
	}
	if n.Hint != "" {
		s += " (" + n.Hint + ")"
	}
	return s
}

// pids returns the first PIDs of the namespace, preferring processes that hold descriptors:
// kernel threads (no descriptors, low PIDs) name nothing a person would recognise.
func (n *netnsInfo) pids() []int {
	var out []int
	for pass := 0; pass < 2 && len(out) < maxPIDs; pass++ {
		for _, p := range n.Procs {
			if len(out) == maxPIDs {
				break
			}
			if (pass == 0) == (p.openFiles > 0) {
				out = append(out, p.PID)
			}
		}
	}
	return out
}

// readHint looks for a container or pod in the cgroup files of the namespace's first processes.
func (n *netnsInfo) readHint(root string) {
	if n.Host {
		return
	}
	for _, p := range n.Procs[:min(len(n.Procs), maxNamedProcs)] {
		b, err := os.ReadFile(filepath.Join(root, "proc", strconv.Itoa(p.PID), "cgroup"))
		if err != nil {
			continue
		}
		if h := containerHint(b); h != "" {
			n.Hint = h
			return
		}
	}
}

// entryPaths are the files through which the namespace can be entered: its `ip netns` files
// first (they cannot be reused by another namespace), then /proc/PID/ns/net of its processes.
func (n *netnsInfo) entryPaths(root string) []string {
	var out []string
	for _, p := range n.Pinned {
		out = append(out, filepath.Join(root, p))
	}
	for _, p := range n.Procs[:min(len(n.Procs), maxPIDs)] {
		out = append(out, filepath.Join(root, "proc", strconv.Itoa(p.PID), "ns/net"))
	}
	return out
}
