package exporter

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/keeptune/keeptune/internal/sockets"
)

// ownerRefresh is how often the owner cache is dropped and every socket's process found anew.
const ownerRefresh = 10 * time.Minute

// ownerCache remembers which process holds each socket between scrapes. Finding it means
// reading every descriptor link of every process (internal/sockets), which costs more than the
// socket dump itself on a busy host; a socket's holder rarely changes while the socket lives
// (socket inode numbers are not reused while it does), so each scrape walks descriptors only
// for sockets it has not seen. Entries go when their socket or their process goes; the whole
// cache is dropped every ownerRefresh, which catches descriptors passed to another process.
type ownerCache struct {
	byInode map[uint32]ownerSlot
	procs   []cachedProc
	since   time.Time
	gen     uint32
	// fdCount is each process's number of descriptors at the last walk (the size the kernel
	// reports for /proc/PID/fd since Linux 6.2; 0 before): the walk for new sockets starts with
	// the processes whose count changed, which most likely opened them.
	fdCount map[int]int64
}

// ownerSlot is a cached socket: its process (-1: none found) and the last scrape that saw it.
type ownerSlot struct {
	proc int32
	gen  uint32
}

type cachedProc struct {
	pid  int
	comm string
	gone bool
}

// begin starts a scrape: it drops the cache when a refresh is due, and forgets the processes
// that exited since the last scrape (their sockets are looked up again).
func (c *ownerCache) begin(procRoot string, now time.Time) {
	c.gen++
	if c.byInode == nil || now.Sub(c.since) > ownerRefresh {
		c.byInode, c.procs, c.since = map[uint32]ownerSlot{}, nil, now
		return
	}
	for i := range c.procs {
		p := &c.procs[i]
		if !p.gone {
			if _, err := os.Stat(filepath.Join(procRoot, strconv.Itoa(p.pid))); err != nil {
				p.gone = true
			}
		}
	}
}

// lookup returns the cached process name of a socket and marks it seen in this scrape.
func (c *ownerCache) lookup(inode uint32) (string, bool) {
	if inode == 0 {
		return "", true // TIME_WAIT and request sockets: no process holds them
	}
	s, ok := c.byInode[inode]
	if !ok || (s.proc >= 0 && c.procs[s.proc].gone) {
		return "", false
	}
	s.gen = c.gen
	c.byInode[inode] = s
	if s.proc < 0 {
		return "", true // no visible process held it when last looked for
	}
	return c.procs[s.proc].comm, true
}

// resolve finds the processes of sockets the cache did not know, with one descriptor walk that
// stops once it found them all, caches them, and calls add with each socket and its process
// name ("" when no visible process holds it). On an error every socket is added without one.
func (c *ownerCache) resolve(ctx context.Context, procRoot string, recs []sockRec, add func(sockRec, string)) error {
	if len(recs) == 0 {
		return nil
	}
	want := make([]uint32, len(recs))
	for i, r := range recs {
		want[i] = r.inode
	}
	o, err := sockets.IndexOwners(ctx, sockets.OwnerQuery{ProcRoot: procRoot, Want: want, PIDs: c.walkOrder(procRoot)})
	want = nil
	if err != nil {
		for _, r := range recs {
			add(r, "")
		}
		return err
	}
	byPID := map[int]int32{}
	for i, p := range c.procs {
		if !p.gone {
			byPID[p.pid] = int32(i)
		}
	}
	for _, r := range recs {
		p, _, ok := o.Lookup(r.inode)
		if !ok {
			// No visible process holds it (another PID namespace without hostPID, a process
			// this user may not read, or one that closed it just now). Remember that too: one
			// such socket would otherwise make every scrape read every descriptor in vain.
			c.byInode[r.inode] = ownerSlot{proc: -1, gen: c.gen}
			add(r, "")
			continue
		}
		idx, ok := byPID[p.PID]
		if !ok {
			idx = int32(len(c.procs))
			c.procs = append(c.procs, cachedProc{pid: p.PID, comm: p.Comm})
			byPID[p.PID] = idx
		}
		c.byInode[r.inode] = ownerSlot{proc: idx, gen: c.gen}
		add(r, p.Comm)
	}
	return nil
}

// walkOrder lists the processes with the ones whose descriptor count changed since the last
// walk (or that are new) first: the walk stops once it found every socket it wants, and a
// process that opened sockets most likely changed its count. Every process is in the list, so
// the order never loses a socket; it only finds it sooner.
func (c *ownerCache) walkOrder(procRoot string) []int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil // IndexOwners lists them itself and reports the error
	}
	next := make(map[int]int64, len(ents))
	var changed, rest []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var n int64
		if fi, err := os.Stat(filepath.Join(procRoot, e.Name(), "fd")); err == nil {
			n = fi.Size()
		}
		next[pid] = n
		if prev, ok := c.fdCount[pid]; !ok || prev != n || n == 0 {
			changed = append(changed, pid)
		} else {
			rest = append(rest, pid)
		}
	}
	c.fdCount = next
	return append(changed, rest...)
}

// end forgets the sockets this scrape did not see.
func (c *ownerCache) end() {
	for ino, s := range c.byInode {
		if s.gen != c.gen {
			delete(c.byInode, ino)
		}
	}
}
