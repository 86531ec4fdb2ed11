package sockets

import (
	"errors"
	"time"
)

// ErrPrivilege is matched (errors.Is) by errors that root would avoid: entering another network
// namespace, reading another user's process.
var ErrPrivilege = errors.New("needs root (CAP_SYS_ADMIN to enter a network namespace, CAP_SYS_PTRACE to read other users' processes)")

// ErrUnsupported is returned on systems without sock_diag (everything but Linux).
var ErrUnsupported = errors.New("socket inspection needs Linux (netlink sock_diag)")

// ErrNoNamespace: --netns names no namespace that exists (a usage error, exit 2).
var ErrNoNamespace = errors.New("no such network namespace")

// Options say what Walk reads and which sockets it hands out.
type Options struct {
	Filter Filter
	// Info asks the kernel for tcp_info (idle times, rtt, backoff). Without it sockets carry only
	// the inet_diag header (state, addresses, timer, queues, uid, inode), which is cheaper.
	Info bool
	// Processes attributes each socket to a process holding it (pid, name, namespace).
	Processes bool
	// Deep reads each socket's SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT and TCP_USER_TIMEOUT from the
	// process that holds it (pidfd_getfd; needs root or CAP_SYS_PTRACE). It implies Processes.
	Deep bool
	// DeepPerProcess caps how many sockets of one process Deep reads (0: all): an audit samples
	// a program's settings instead of paying two system calls per socket on a busy host.
	DeepPerProcess int
	// Enforcement, when set with Deep, says which `keeptune enforce` policy a socket of pid with
	// the keepalive k (read from the socket) carries ("" for none); it fills Keepalive.Enforced.
	Enforcement func(pid int, k Keepalive) string
	// Netns selects the network namespaces: "" (keeptune's own), "all", a PID, a name under
	// /run/netns, or a path. Any namespace but the own one needs root.
	Netns string
	// ProcRoot is the proc file system (default /proc).
	ProcRoot string
	// Thresholds tune the derived flags (zero fields take DefaultThresholds').
	Thresholds Thresholds
	// Stats, when set, receives counters about the walk.
	Stats *Stats
	// Owners is a descriptor walk the caller made already (procfd.Walk recording every socket),
	// used instead of walking again: gather shares one walk between host facts and the sockets.
	Owners *Owners
	// OwnerStrategy chooses how processes are attributed (see the constants); the zero value lets
	// Walk decide.
	OwnerStrategy OwnerStrategy
}

// OwnerStrategy is how Walk attributes sockets to processes.
type OwnerStrategy uint8

const (
	// OwnersAuto: only the named processes when the filter names some; OwnersWanted when the
	// kernel filter is selective (ports, or states without ESTABLISHED); OwnersAll otherwise.
	OwnersAuto OwnerStrategy = iota
	// OwnersWanted: a header-only dump first collects the inodes to find, then the process walk
	// stops as soon as all are found.
	OwnersWanted
	// OwnersAll: index every socket descriptor of every process, then dump once.
	OwnersAll
)

// Stats are counters about one Walk.
type Stats struct {
	Namespaces int
	// Received is how many sockets the kernel sent (after its own state and port filtering);
	// Matched how many were handed to the callback.
	Received, Matched int
	// BytecodeRanges is true when the kernel refused equality bytecode and ranges were used.
	BytecodeRanges bool
	Owners         OwnerStats
	// DeepRead and DeepFailed count sockets whose options were (not) read; DeepErr is the first
	// failure.
	DeepRead, DeepFailed int
	DeepErr              error
	Duration             time.Duration
}

func (o *Options) thresholds() Thresholds {
	th := o.Thresholds
	if th.Idle == 0 {
		th.Idle = DefaultThresholds.Idle
	}
	if th.CloseWait == 0 {
		th.CloseWait = DefaultThresholds.CloseWait
	}
	if th.SilentBackoff == 0 {
		th.SilentBackoff = DefaultThresholds.SilentBackoff
	}
	return th
}
