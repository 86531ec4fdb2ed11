package sockets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/procfd"
)

// nsTarget is a namespace to dump: its identity and a path that enters it ("" for the current).
type nsTarget struct {
	ns   *Netns
	path string
}

// namespaceNames maps namespace inodes to names people know: "host" for the init process's
// namespace and the `ip netns` names pinned under /run/netns.
func namespaceNames(procRoot string) map[uint64]string {
	names := map[uint64]string{}
	if ents, err := os.ReadDir(netns.RunDir); err == nil {
		for _, e := range ents {
			if ino, err := netns.Inode(netns.NamedPath(e.Name())); err == nil {
				if _, dup := names[ino]; !dup {
					names[ino] = e.Name()
				}
			}
		}
	}
	if ino, err := netns.Inode(filepath.Join(procRoot, "1/ns/net")); err == nil {
		names[ino] = "host"
	}
	return names
}

// resolveNamespaces turns --netns into the namespaces to dump: "" or "current" (keeptune's own),
// "all" (every namespace a process lives in or `ip netns` pinned), a PID (that process's), a name
// under /run/netns, or a path to a namespace file.
func resolveNamespaces(procRoot, spec string) ([]nsTarget, error) {
	selfIno, err := netns.Inode(filepath.Join(procRoot, "thread-self/ns/net"))
	if err != nil {
		if selfIno, err = netns.Inode(filepath.Join(procRoot, "self/ns/net")); err != nil {
			return nil, fmt.Errorf("read keeptune's own network namespace: %w", err)
		}
	}
	names := namespaceNames(procRoot)
	mk := func(ino uint64, path string) nsTarget {
		ns := &Netns{Inode: ino, Name: netns.Label(names[ino], ino), Current: ino == selfIno}
		if ns.Current {
			path = ""
		}
		return nsTarget{ns: ns, path: path}
	}
	switch {
	case spec == "" || spec == "current":
		return []nsTarget{mk(selfIno, "")}, nil
	case spec == "all":
		seen := map[uint64]bool{selfIno: true}
		out := []nsTarget{mk(selfIno, "")}
		add := func(path string) {
			if ino, err := netns.Inode(path); err == nil && !seen[ino] {
				seen[ino] = true
				out = append(out, mk(ino, path))
			}
		}
		if ents, err := os.ReadDir(netns.RunDir); err == nil {
			for _, e := range ents {
				add(netns.NamedPath(e.Name()))
			}
		}
		pids, err := procfd.ListPIDs(procRoot)
		if err != nil {
			return nil, err
		}
		for _, pid := range pids {
			add(filepath.Join(procRoot, strconv.Itoa(pid), "ns/net"))
		}
		return out, nil
	}
	var path string
	if pid, err := strconv.Atoi(spec); err == nil && pid > 0 {
		path = filepath.Join(procRoot, strconv.Itoa(pid), "ns/net")
	} else if strings.ContainsRune(spec, '/') {
		path = spec
	} else {
		path = netns.NamedPath(spec)
	}
	ino, err := netns.Inode(path)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("network namespace %q (%s): %w: %w", spec, path, err, ErrPrivilege)
		}
		return nil, fmt.Errorf("network namespace %q: %s: %w (expected all, current, a PID, a name under /run/netns or a path): %w", spec, path, err, ErrNoNamespace)
	}
	return []nsTarget{mk(ino, path)}, nil
}

// inNetns runs fn on a thread inside the namespace at path (here when path is ""); a refusal
// for lack of privilege matches ErrPrivilege as well as netns.ErrPrivilege.
func inNetns(path string, fn func() error) error {
	err := netns.Do(path, fn)
	if errors.Is(err, netns.ErrPrivilege) {
		return fmt.Errorf("%w: %w", err, ErrPrivilege)
	}
	return err
}

// readNetnsSysctls reads the keepalive sysctls of the calling thread's network namespace
// (/proc/sys/net shows the namespace of the thread that opens it).
func readNetnsSysctls() NetnsSysctls {
	read := func(key string) (int, bool) {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + key)
		if err != nil {
			return 0, false
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		return n, err == nil
	}
	idle, ok1 := read("tcp_keepalive_time")
	intvl, ok2 := read("tcp_keepalive_intvl")
	cnt, ok3 := read("tcp_keepalive_probes")
	if !ok1 || !ok2 || !ok3 {
		return NetnsSysctls{}
	}
	return NetnsSysctls{Known: true, Idle: time.Duration(idle) * time.Second, Interval: time.Duration(intvl) * time.Second, Count: cnt}
}
