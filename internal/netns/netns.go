package netns

import (
	"errors"
	"path/filepath"
	"strconv"
)

// ErrPrivilege is matched (errors.Is) by errors caused by a lack of privilege: opening or
// entering another network namespace needs CAP_SYS_ADMIN (and CAP_SYS_PTRACE to open another
// user's /proc/PID/ns/net).
var ErrPrivilege = errors.New("entering a network namespace needs CAP_SYS_ADMIN")

// ErrRestore is matched by the error returned when the thread could not be put back into its
// original namespace. The thread was discarded, so nothing runs in the wrong namespace, but the
// callback's work (if any) may not have been reported.
var ErrRestore = errors.New("could not return the thread to its network namespace")

// ErrChanged is matched when the namespace file names a different namespace than the caller
// expected (a /proc/PID/ns/net of a PID that exited and was reused).
var ErrChanged = errors.New("the namespace changed")

// ErrUnsupported is returned on systems without network namespaces.
var ErrUnsupported = errors.New("network namespaces exist only on Linux")

// InitInode is the inode of the initial network namespace (init_net) on kernels that give it
// a fixed number: NET_NS_INIT_INO, 0xEFFFFFF9, include/uapi/linux/nsfs.h (Linux 6.18+).
// Namespace inodes allocated at run time start at 0xF0000000, so no other namespace has it.
const InitInode = 0xEFFFFFF9

// Label is the one way keeptune names a network namespace for people, in every text output
// (sockets' NETNS column, audit's namespace titles and process table, findings, plans): its
// name when it has one ("host", an `ip netns` name, "pid 812 nginx"), "host" for the initial
// namespace even when nothing named it (not root: /proc/1/ns/net is unreadable), and
// net:[INODE] otherwise, the form ls -l /proc/PID/ns/net and lsns show.
func Label(name string, inode uint64) string {
	switch {
	case name != "":
		return name
	case inode == InitInode:
		return "host"
	}
	return "net:[" + strconv.FormatUint(inode, 10) + "]"
}

// RunDir is where `ip netns` pins named namespaces.
const RunDir = "/run/netns"

// PIDPath is the namespace file of process pid under procRoot ("/proc" when empty).
func PIDPath(procRoot string, pid int) string {
	if procRoot == "" {
		procRoot = "/proc"
	}
	return filepath.Join(procRoot, strconv.Itoa(pid), "ns/net")
}

// NamedPath is the file of a namespace that `ip netns add NAME` pinned.
func NamedPath(name string) string { return filepath.Join(RunDir, name) }
