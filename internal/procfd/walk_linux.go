package procfd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Process attribution: which process holds the socket with inode N. The kernel has no reverse
// map; the only way is to look at every descriptor of every process (/proc/PID/fd/FD links to
// "socket:[N]"). ss -p reads every link of every process and then looks each socket up in a
// 256-bucket hash: its cost grows with all descriptors on the host times the sockets. keeptune
// does less:
//
//   - When the kernel filter is selective, it first learns which inodes it wants (a header-only
//     dump with the same filter) and stops the whole walk once all of them are found; when the
//     filter names processes, only those are walked. (Without a selective filter nearly every
//     socket is wanted, and Walk records every socket descriptor in one pass instead.)
//   - Processes whose uid owns wanted sockets are walked first (a socket's uid is its creator's:
//     usually the holder), then the others.
//   - Kernel threads and zombies are skipped (their exe link does not resolve), and so are
//     processes whose descriptors this user may not read, at the cost of one readlink.
//   - Descriptor directories are opened once and read with getdents(2) into one buffer, links are
//     read with a raw readlinkat(2) relative to the open directory (no path building, no lstat,
//     no allocation). Wanted inodes sit in a Go map; recording every socket fills fixed-size
//     chunks of 12-byte entries, sorted by inode once at the end and searched by bisection:
//     about 12 bytes per socket, never copied to grow.
//   - One worker per CPU walks processes in parallel, and large fd tables are split in chunks:
//     the cost is kernel time on separate fd tables, which scales with CPUs.
//
// Measured at 200,000 sockets in 12 processes on 2 CPUs: about 0.3-0.55 s for the walk, where
// ss -tinp takes 18 s in all (docs/PERFORMANCE.md).

// chunkFDs is how many descriptors of one process a worker reads before it hands the rest of
// that process's table to other workers: one proxy with 200,000 sockets must not leave the other
// CPUs idle.
const chunkFDs = 4096

// Walk walks processes' descriptor tables and maps socket inodes to processes. Processes
// are walked by one worker per CPU (up to 8): the cost is almost all kernel time in getdents(2)
// and readlinkat(2) on different fd tables, which runs in parallel.
func Walk(ctx context.Context, q Query) (*Index, error) {
	start := time.Now()
	if q.ProcRoot == "" {
		q.ProcRoot = "/proc"
	}
	o := &Index{}
	w := &walkState{o: o, ctx: ctx, comms: q.Comms, pidIdx: map[int]int32{}, all: q.AllProcesses}
	if len(q.Want) > 0 {
		o.m = make(map[uint32]int32, len(q.Want))
		for _, ino := range q.Want {
			if _, dup := o.m[ino]; ino != 0 && !dup {
				o.m[ino] = int32(len(o.m))
			}
		}
		o.slots = make([]uint64, len(o.m))
		w.wanted = true
		w.remaining.Store(int64(len(o.m)))
		o.Stats.Wanted = len(o.m)
		if len(o.m) == 0 {
			return o, nil
		}
	}

	procFD, err := unix.Open(q.ProcRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: q.ProcRoot, Err: err}
	}
	defer unix.Close(procFD)
	w.procFD = procFD

	var pids []int
	if len(q.PIDs) > 0 {
		pids = q.PIDs
	} else if pids, err = ListPIDs(q.ProcRoot); err != nil {
		return nil, err
	}
	o.Stats.Processes = len(pids)

	// Processes running as a socket owner's uid first: they most likely hold the sockets, and the
	// walk ends once every wanted socket is found.
	jobs := make([]walkJob, 0, len(pids))
	if len(q.UIDs) > 0 && len(q.PIDs) == 0 {
		uids := map[uint32]bool{}
		for _, u := range q.UIDs {
			uids[u] = true
		}
		var later []walkJob
		for _, pid := range pids {
			var st unix.Stat_t
			if unix.Fstatat(procFD, strconv.Itoa(pid), &st, 0) == nil && uids[st.Uid] {
				jobs = append(jobs, walkJob{pid: pid})
			} else {
				later = append(later, walkJob{pid: pid})
			}
		}
		jobs = append(jobs, later...)
	} else {
		for _, pid := range pids {
			jobs = append(jobs, walkJob{pid: pid})
		}
	}
	w.q.init(jobs)

	workers := min(max(runtime.GOMAXPROCS(0), 1), 8)
	w.workers = workers
	o.Stats.Workers = workers
	var wg sync.WaitGroup
	stats := make([]Stats, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := worker{walkState: w, st: &stats[i], dents: make([]byte, 64<<10)}
			for {
				j, ok := w.q.pop()
				if !ok {
					return
				}
				wk.do(j)
				w.q.done()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, st := range stats {
		o.Stats.Walked += st.Walked
		o.Stats.Skipped += st.Skipped
		o.Stats.Links += st.Links
		if st.Denied > 0 && o.Stats.Denied == 0 {
			o.Stats.DeniedFirstPID, o.Stats.DeniedFirstErrorMsg = st.DeniedFirstPID, st.DeniedFirstErrorMsg
		}
		o.Stats.Denied += st.Denied
	}
	o.Stats.StoppedEarly = w.q.stopped
	if w.wanted {
		o.Stats.Found = o.Stats.Wanted - int(w.remaining.Load())
	} else {
		o.Stats.Found = o.seal()
	}
	if q.AllProcesses {
		o.all = slices.Clone(o.procs)
		slices.SortFunc(o.all, func(a, b *Process) int { return a.PID - b.PID })
	}
	o.Stats.Duration = time.Since(start)
	return o, nil
}

// walkJob is one process to walk (fds nil: list its descriptors first) or a chunk of a
// process's descriptors listed by another worker.
type walkJob struct {
	pid int
	fds []int32
}

// walkQueue hands out jobs to the workers. Workers can add jobs (the chunks of a large fd
// table) while they hold one, so the queue is done only when it is empty and no job is active.
type walkQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	jobs    []walkJob
	head    int
	active  int
	stopped bool
}

func (q *walkQueue) init(jobs []walkJob) {
	q.jobs = jobs
	q.cond.L = &q.mu
}

func (q *walkQueue) pop() (walkJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.stopped {
			return walkJob{}, false
		}
		if q.head < len(q.jobs) {
			j := q.jobs[q.head]
			q.jobs[q.head] = walkJob{}
			q.head++
			q.active++
			return j, true
		}
		if q.active == 0 {
			return walkJob{}, false
		}
		q.cond.Wait()
	}
}

func (q *walkQueue) push(jobs ...walkJob) {
	q.mu.Lock()
	q.jobs = append(q.jobs, jobs...)
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *walkQueue) done() {
	q.mu.Lock()
	q.active--
	idle := q.active == 0 && q.head == len(q.jobs)
	q.mu.Unlock()
	if idle {
		q.cond.Broadcast()
	}
}

// stop ends the walk: every wanted socket is found, or the context ended.
func (q *walkQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *walkQueue) isStopped() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stopped
}

// walkState is shared by the workers of one walk.
type walkState struct {
	o         *Index
	ctx       context.Context
	procFD    int
	comms     []string
	workers   int
	wanted    bool
	all       bool // Query.AllProcesses
	remaining atomic.Int64
	q         walkQueue

	mu     sync.Mutex // guards o.procs, pidIdx, and o.chunks when recording everything
	pidIdx map[int]int32
}

// worker is one walking goroutine with its own buffers and counters.
type worker struct {
	*walkState
	st    *Stats
	dents []byte
	link  [64]byte
	name  [16]byte
	fds   []int32
	// pending holds found sockets in record-everything mode, added to the index in batches.
	pending []holder
}

func (w *worker) do(j walkJob) {
	if w.ctx.Err() != nil {
		w.q.stop()
		return
	}
	ps := strconv.Itoa(j.pid)
	var rec *Process // the process's record when every process is recorded
	if j.fds == nil {
		if len(w.comms) > 0 {
			comm, ok := readComm(w.procFD, j.pid)
			if !ok || !slices.Contains(w.comms, comm) {
				return
			}
		}
		if w.all {
			var ok bool
			if rec, _, ok = w.addProcess(j.pid); !ok {
				return // exited
			}
		}
		// A kernel thread or a zombie has no exe: skip it without opening its fd directory
		// (when every process is recorded, open it: a fake /proc under an injected root has no
		// exe links). EACCES: another user's process that this user may not inspect.
		if _, err := unix.Readlinkat(w.procFD, ps+"/exe", w.link[:]); err != nil {
			switch {
			case errors.Is(err, unix.ENOENT) && !w.all:
				w.st.Skipped++
				return
			case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
				w.denied(j.pid, err, rec)
				return
			}
		}
	}
	dfd, err := unix.Openat(w.procFD, ps+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			w.denied(j.pid, err, rec)
		}
		return
	}
	defer unix.Close(dfd)
	fds := j.fds
	if fds == nil {
		w.st.Walked++
		fds = w.listFDs(dfd)
		if rec != nil {
			rec.OpenFiles = len(fds) // only this worker writes it; read after the walk
		}
		if len(fds) > 2*chunkFDs && w.workers > 1 {
			// Share the rest of a large table. The chunks need their own memory: this worker's
			// buffer is reused for its next process.
			rest := slices.Clone(fds[chunkFDs:])
			fds = fds[:chunkFDs]
			var chunks []walkJob
			for len(rest) > 0 {
				n := min(chunkFDs, len(rest))
				chunks = append(chunks, walkJob{pid: j.pid, fds: rest[:n:n]})
				rest = rest[n:]
			}
			w.q.push(chunks...)
		}
	}
	w.readFDs(j.pid, dfd, fds)
	w.flush()
}

// listFDs reads the descriptor numbers of an fd directory with getdents(2).
func (w *worker) listFDs(dfd int) []int32 {
	w.fds = w.fds[:0]
	for {
		n, err := unix.Getdents(dfd, w.dents)
		if err != nil || n <= 0 {
			return w.fds
		}
		b := w.dents[:n]
		for len(b) >= 19 {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name (NUL-terminated).
			reclen := int(nativeUint16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				return w.fds
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if fd, ok := atoi(name); ok && fd <= 1<<31-1 {
				w.fds = append(w.fds, int32(fd))
			}
		}
	}
}

// readFDs reads the links of fds and records the sockets wanted.
func (w *worker) readFDs(pid int, dfd int, fds []int32) {
	procIdx := int32(-1)
	for i, fd := range fds {
		if w.wanted && i&63 == 0 && (w.remaining.Load() <= 0 || w.q.isStopped()) {
			return
		}
		ino, ok := w.readSocketLink(dfd, fd)
		if !ok {
			continue
		}
		if w.wanted {
			slot, want := w.o.m[ino] // read-only during the walk
			if !want || atomic.LoadUint64(&w.o.slots[slot]) != 0 {
				continue
			}
			if procIdx < 0 {
				_, procIdx, _ = w.addProcess(pid)
			}
			if atomic.CompareAndSwapUint64(&w.o.slots[slot], 0, packOwner(procIdx, fd)) {
				if w.remaining.Add(-1) == 0 {
					w.q.stop()
					return
				}
			}
			continue
		}
		if procIdx < 0 {
			_, procIdx, _ = w.addProcess(pid)
		}
		w.pending = append(w.pending, holder{ino: ino, proc: uint32(procIdx + 1), fd: fd})
		if len(w.pending) >= 1024 {
			w.flush()
		}
	}
}

// flush adds the sockets found in record-everything mode to the index.
func (w *worker) flush() {
	if len(w.pending) == 0 {
		return
	}
	w.mu.Lock()
	w.o.add(w.pending)
	w.mu.Unlock()
	w.pending = w.pending[:0]
}

func (w *worker) denied(pid int, err error, rec *Process) {
	if rec != nil {
		rec.FDErr = &os.PathError{Op: "open", Path: "/proc/" + strconv.Itoa(pid) + "/fd", Err: err}
	}
	if w.st.Denied == 0 {
		w.st.DeniedFirstPID = pid
		w.st.DeniedFirstErrorMsg = err.Error()
	}
	w.st.Denied++
}

// readSocketLink reads the link of one descriptor and returns the socket inode it names.
func (w *worker) readSocketLink(dfd int, fd int32) (uint32, bool) {
	w.st.Links++
	name := strconv.AppendInt(w.name[:0], int64(fd), 10)
	n, err := readlinkatBytes(dfd, name, w.name[:], w.link[:])
	if err != nil || n < len("socket:[1]") {
		return 0, false
	}
	l := w.link[:n]
	if !bytes.HasPrefix(l, []byte("socket:[")) || l[n-1] != ']' {
		return 0, false
	}
	v, ok := atoi(l[len("socket:[") : n-1])
	if !ok || v > 1<<32-1 {
		return 0, false
	}
	return uint32(v), true
}

// addProcess records a process once, with its name, owner and namespace, and returns its
// record and index; ok is false when it exited before its name could be read (only checked
// when every process is recorded).
func (w *worker) addProcess(pid int) (*Process, int32, bool) {
	w.mu.Lock()
	idx, ok := w.pidIdx[pid]
	var p *Process
	if ok {
		p = w.o.procs[idx]
	}
	w.mu.Unlock()
	if ok {
		return p, idx, true
	}
	p = &Process{PID: pid}
	var commOK bool
	p.Comm, commOK = readComm(w.procFD, pid)
	if w.all && !commOK {
		return nil, -1, false
	}
	var st unix.Stat_t
	if unix.Fstatat(w.procFD, strconv.Itoa(pid), &st, 0) == nil {
		p.UID = st.Uid
	}
	if unix.Fstatat(w.procFD, strconv.Itoa(pid)+"/ns/net", &st, 0) == nil {
		p.NetnsInode = st.Ino
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if idx, ok := w.pidIdx[pid]; ok {
		return w.o.procs[idx], idx, true
	}
	w.o.procs = append(w.o.procs, p)
	idx = int32(len(w.o.procs) - 1)
	w.pidIdx[pid] = idx
	return p, idx, true
}

// readComm reads /proc/PID/comm.
func readComm(procFD, pid int) (string, bool) {
	fd, err := unix.Openat(procFD, strconv.Itoa(pid)+"/comm", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	var buf [64]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return "", false
	}
	return string(bytes.TrimRight(buf[:n], "\n")), true
}

// atoi parses a non-negative decimal number.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
