// Package procfd is keeptune's one walk of the descriptor tables under /proc: which process
// holds the socket with inode N, and, for host facts, every process's name, network namespace,
// owner and number of open descriptors. The kernel has no socket-to-process map; the only way
// is to read every /proc/PID/fd link. Host facts (internal/host) and the socket table
// (internal/sockets) share one Index, so an audit reads each fd table once.
package procfd

import "time"

// Index maps socket inodes to the processes holding them.
type Index struct {
	procs []*Process
	// m maps an inode to its slot; a slot holds (process index + 1) << 32 | descriptor, or 0
	// while no holder is known. The walk claims slots with compare-and-swap, so parallel
	// workers never attribute one socket twice.
	m     map[uint32]int32
	slots []uint64
	// more holds the further holders of sockets several processes share (a listener inherited by
	// forked workers), when every socket is recorded; slots keeps the first.
	more map[uint32][]uint64
	// all lists every process walked (Query.AllProcesses), sorted by PID after the walk.
	all []*Process
	// Stats says how much work the walk did.
	Stats Stats
}

// Process is a process the walk saw.
type Process struct {
	PID  int
	Comm string
	// NetnsInode is the network namespace the process is in (0 when it could not be read; it
	// can differ from a socket's: a program can create a socket, then move to another
	// namespace); NetnsName names it (filled by the socket table: "host", an `ip netns` name, or
	// net:[INODE]).
	NetnsInode uint64
	NetnsName  string
	UID        uint32
	// OpenFiles is the number of descriptors listed (Query.AllProcesses), and FDErr why they
	// could not be read (permission: another user's process without root).
	OpenFiles int
	FDErr     error
}

func packOwner(proc int32, fd int32) uint64 { return uint64(proc+1)<<32 | uint64(uint32(fd)) }

// Stats is what the process walk did, for --stats and the benchmark.
type Stats struct {
	Wanted, Found       int
	Processes           int // processes listed
	Workers             int // goroutines walking in parallel
	Walked              int // processes whose descriptors were read
	Skipped             int // kernel threads and zombies
	Denied              int // processes whose descriptors could not be read (another user, no root)
	Links               int // descriptors read
	StoppedEarly        bool
	Duration            time.Duration
	DeniedFirstPID      int
	DeniedFirstErrorMsg string
}

// Lookup returns the process holding inode and its descriptor there (the first one recorded
// when several hold it).
func (o *Index) Lookup(inode uint32) (*Process, int, bool) {
	if o == nil || inode == 0 {
		return nil, 0, false
	}
	i, ok := o.m[inode]
	if !ok || o.slots[i] == 0 {
		return nil, 0, false
	}
	v := o.slots[i]
	return o.procs[int(v>>32)-1], int(int32(uint32(v))), true
}

// Holders calls fn for every process holding inode, with its descriptor there.
func (o *Index) Holders(inode uint32, fn func(p *Process, fd int)) {
	p, fd, ok := o.Lookup(inode)
	if !ok {
		return
	}
	fn(p, fd)
	for _, v := range o.more[inode] {
		fn(o.procs[int(v>>32)-1], int(int32(uint32(v))))
	}
}

// MoreHolders calls fn for the holders of inode after the first (Lookup's), if any.
func (o *Index) MoreHolders(inode uint32, fn func(p *Process, fd int)) {
	if o == nil || len(o.more) == 0 {
		return
	}
	for _, v := range o.more[inode] {
		fn(o.procs[int(v>>32)-1], int(int32(uint32(v))))
	}
}

// Processes returns the processes that hold at least one indexed socket.
func (o *Index) Processes() []*Process { return o.procs }

// All returns every process walked, sorted by PID (Query.AllProcesses; nil otherwise).
func (o *Index) All() []*Process { return o.all }

// Query says which processes to walk and which inodes to look for.
type Query struct {
	// ProcRoot is the proc file system (default /proc).
	ProcRoot string
	// Want lists the socket inodes to find; the walk stops when all are found. Empty: record
	// every socket descriptor of the processes walked.
	Want []uint32
	// UIDs are the socket owners' uids: their processes are walked first.
	UIDs []uint32
	// PIDs and Comms restrict the walk to these processes (by pid, or by name).
	PIDs  []int
	Comms []string
	// AllProcesses records every process walked (All), with its descriptor count, kernel
	// threads and processes whose descriptors cannot be read included: what host facts need.
	AllProcesses bool
}
