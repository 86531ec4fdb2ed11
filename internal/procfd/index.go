// Package procfd is keeptune's one walk of the descriptor tables under /proc: which process
// holds the socket with inode N, and, for host facts, every process's name, network namespace,
// owner and number of open descriptors. The kernel has no socket-to-process map; the only way
// is to read every /proc/PID/fd link. Host facts (internal/host) and the socket table
// (internal/sockets) share one Index, so an audit reads each fd table once.
package procfd

import (
	"cmp"
	"slices"
	"time"
)

// Index maps socket inodes to the processes holding them.
type Index struct {
	procs []*Process
	// Wanted mode (Query.Want): m maps each wanted inode to its slot; a slot holds
	// (process index + 1) << 32 | descriptor, or 0 while no holder is known. The walk claims
	// slots with compare-and-swap, so parallel workers never attribute one socket twice.
	m     map[uint32]int32
	slots []uint64
	// Record-everything mode: every (socket, process) found, 12 bytes each, sorted by inode
	// after the walk (a process's further descriptors of the same socket left out). A sorted
	// array costs half a map's bytes per socket and nothing while it is built (chunks of fixed
	// size, never copied to grow): what keeps a walk of a million sockets small.
	recorded []holder
	chunks   [][]holder
	// shared lists the inodes several processes hold (a listener inherited by forked workers):
	// few, so MoreHolders answers "no one else" for every other socket without a search.
	shared map[uint32]struct{}
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

// holder is a socket descriptor found in record-everything mode.
type holder struct {
	ino  uint32
	proc uint32 // process index + 1
	fd   int32
}

// chunkHolders is the size of one chunk of found descriptors (192 KiB).
const chunkHolders = 16384

// add records found descriptors (under the walk's lock).
func (o *Index) add(found []holder) {
	for len(found) > 0 {
		if len(o.chunks) == 0 || len(o.chunks[len(o.chunks)-1]) == chunkHolders {
			o.chunks = append(o.chunks, make([]holder, 0, chunkHolders))
		}
		last := &o.chunks[len(o.chunks)-1]
		n := min(len(found), chunkHolders-len(*last))
		*last = append(*last, found[:n]...)
		found = found[n:]
	}
}

// seal turns the chunks into the sorted array and returns the number of sockets found. Each
// process is kept once per socket (its lowest descriptor of it), in process order.
func (o *Index) seal() int {
	n := 0
	for _, c := range o.chunks {
		n += len(c)
	}
	all := make([]holder, 0, n)
	for i, c := range o.chunks {
		all = append(all, c...)
		o.chunks[i] = nil
	}
	o.chunks = nil
	slices.SortFunc(all, func(a, b holder) int {
		if c := cmp.Compare(a.ino, b.ino); c != 0 {
			return c
		}
		if c := cmp.Compare(a.proc, b.proc); c != 0 {
			return c
		}
		return cmp.Compare(a.fd, b.fd)
	})
	kept, sockets := 0, 0
	for i, h := range all {
		if i > 0 && h.ino == all[kept-1].ino {
			if h.proc == all[kept-1].proc {
				continue
			}
			if o.shared == nil {
				o.shared = map[uint32]struct{}{}
			}
			o.shared[h.ino] = struct{}{}
		} else {
			sockets++
		}
		all[kept] = h
		kept++
	}
	o.recorded = all[:kept]
	return sockets
}

// first returns the position of inode's first holder in recorded, or -1.
func (o *Index) first(inode uint32) int {
	i, ok := slices.BinarySearchFunc(o.recorded, inode, func(h holder, ino uint32) int { return cmp.Compare(h.ino, ino) })
	if !ok {
		return -1
	}
	return i
}

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
	if o.m == nil {
		i := o.first(inode)
		if i < 0 {
			return nil, 0, false
		}
		h := o.recorded[i]
		return o.procs[h.proc-1], int(h.fd), true
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
	o.MoreHolders(inode, fn)
}

// MoreHolders calls fn for the holders of inode after the first (Lookup's), if any. Only a walk
// that records every socket knows them.
func (o *Index) MoreHolders(inode uint32, fn func(p *Process, fd int)) {
	if o == nil || o.m != nil || inode == 0 {
		return
	}
	if _, ok := o.shared[inode]; !ok {
		return
	}
	i := o.first(inode)
	if i < 0 {
		return
	}
	for _, h := range o.recorded[i+1:] {
		if h.ino != inode {
			return
		}
		fn(o.procs[h.proc-1], int(h.fd))
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
