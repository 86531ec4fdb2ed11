package procfd

import (
	"fmt"
	"testing"
)

// The record-everything index: one entry per socket and process, found through any number of
// chunks, looked up by inode; a process's second descriptor of a socket is not a second holder.
func TestIndexRecorded(t *testing.T) {
	o := &Index{procs: []*Process{{PID: 10}, {PID: 20}, {PID: 30}}}
	var found []holder
	// More than a chunk of sockets held by process 10, in descending inode order.
	for i := range chunkHolders + 100 {
		found = append(found, holder{ino: uint32(1_000_000 - i), proc: 1, fd: int32(i + 3)})
	}
	// Inode 7: held by 30 (twice) and 20; inode 8 by 20 only.
	found = append(found, holder{ino: 7, proc: 3, fd: 9}, holder{ino: 7, proc: 2, fd: 4}, holder{ino: 7, proc: 3, fd: 5}, holder{ino: 8, proc: 2, fd: 6})
	o.add(found[:500])
	o.add(found[500:])
	if got, want := o.seal(), chunkHolders+100+2; got != want {
		t.Fatalf("seal found %d sockets, want %d", got, want)
	}
	if o.chunks != nil {
		t.Error("chunks kept after seal")
	}
	p, fd, ok := o.Lookup(1_000_000 - 5)
	if !ok || p.PID != 10 || fd != 8 {
		t.Errorf("Lookup = %v %d %v, want pid 10 fd 8", p, fd, ok)
	}
	if _, _, ok := o.Lookup(9); ok {
		t.Error("Lookup found an inode nobody holds")
	}
	var holders []string
	o.Holders(7, func(p *Process, fd int) { holders = append(holders, fmt.Sprint(p.PID, "/", fd)) })
	if fmt.Sprint(holders) != "[20/4 30/5]" {
		t.Errorf("Holders(7) = %v, want [20/4 30/5] (process 30 once, at its lowest descriptor)", holders)
	}
	var more []int
	o.MoreHolders(8, func(p *Process, fd int) { more = append(more, p.PID) })
	if len(more) != 0 {
		t.Errorf("MoreHolders(8) = %v, want none", more)
	}
}
