package exporter

import (
	"context"
	"io/fs"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/sockets"
)

// socketInodes opens n loopback connections and returns the inodes of their sockets (both ends).
func socketInodes(t *testing.T, n int) []uint32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var inodes []uint32
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		for _, conn := range []net.Conn{c, s} {
			f, err := conn.(*net.TCPConn).File()
			if err != nil {
				t.Fatal(err)
			}
			fi, err := f.Stat()
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			inodes = append(inodes, uint32(sysIno(fi)))
		}
	}
	return inodes
}

func TestOwnerCache(t *testing.T) {
	inodes := socketInodes(t, 2)
	recs := make([]sockRec, len(inodes))
	for i, ino := range inodes {
		recs[i] = sockRec{inode: ino, state: sockets.StateEstablished}
	}
	self := processName(t)
	var c ownerCache
	ctx := context.Background()

	// First scrape: nothing cached, one walk finds our process for every socket.
	c.begin("/proc", time.Now())
	for _, ino := range inodes {
		if _, ok := c.lookup(ino); ok {
			t.Fatal("a fresh cache knew a socket")
		}
	}
	got := map[uint32]string{}
	collect := func(r sockRec, comm string) { got[r.inode] = comm }
	if err := c.resolve(ctx, "/proc", recs, collect); err != nil {
		t.Fatal(err)
	}
	for _, ino := range inodes {
		if got[ino] != self {
			t.Errorf("socket %d: process %q, want %q", ino, got[ino], self)
		}
	}
	c.end()

	// Second scrape: all cached; a socket not seen in it is forgotten at the end.
	c.begin("/proc", time.Now())
	for _, ino := range inodes[1:] {
		if n, ok := c.lookup(ino); !ok || n != self {
			t.Errorf("second scrape: socket %d cached as %q %v, want %q", ino, n, ok, self)
		}
	}
	c.end()
	if _, ok := c.byInode[inodes[0]]; ok || len(c.byInode) != len(inodes)-1 {
		t.Errorf("after a scrape without socket %d the cache holds %d sockets, want %d without it", inodes[0], len(c.byInode), len(inodes)-1)
	}

	// A socket no visible process holds is remembered as such: the next scrape does not walk
	// every descriptor again looking for it.
	c.begin("/proc", time.Now())
	got = map[uint32]string{}
	if err := c.resolve(ctx, "/proc", []sockRec{{inode: 1<<32 - 2, state: sockets.StateEstablished}}, collect); err != nil || got[1<<32-2] != "" || len(got) != 1 {
		t.Fatalf("an inode nobody holds: %v %v", got, err)
	}
	if n, ok := c.lookup(1<<32 - 2); !ok || n != "" {
		t.Errorf("an inode nobody holds is not cached as unknown: %q %v", n, ok)
	}
	for _, ino := range inodes[1:] {
		c.lookup(ino)
	}
	c.end()

	// A process that exited (here: a /proc without it) takes its sockets out of the cache.
	c.begin(t.TempDir(), time.Now())
	if _, ok := c.lookup(inodes[1]); ok {
		t.Error("a socket of a process that is gone was still cached")
	}
	// The refresh drops everything.
	c.begin("/proc", time.Now().Add(2*ownerRefresh))
	if len(c.byInode) != 0 || len(c.procs) != 0 {
		t.Errorf("after the refresh interval the cache still holds %d sockets", len(c.byInode))
	}
}

func sysIno(fi fs.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }
