package sockets

import "time"

// Owners maps socket inodes to the processes holding them.
type Owners struct {
	procs []*Process
	// m maps an inode to its slot; a slot holds (process index + 1) << 32 | descriptor, or 0
	// while no holder is known. The walk claims slots with compare-and-swap, so parallel
	// workers never attribute one socket twice.
	m     map[uint32]int32
	slots []uint64
	// Stats says how much work the walk did.
	Stats OwnerStats
}

func packOwner(proc int32, fd int32) uint64 { return uint64(proc+1)<<32 | uint64(uint32(fd)) }

// OwnerStats is what the process walk did, for --stats and the benchmark.
type OwnerStats struct {
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

// Lookup returns the process holding inode and its descriptor there.
func (o *Owners) Lookup(inode uint32) (*Process, int, bool) {
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

// Processes returns the processes that hold at least one indexed socket.
func (o *Owners) Processes() []*Process { return o.procs }

// OwnerQuery says which processes to walk and which inodes to look for.
type OwnerQuery struct {
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
}
