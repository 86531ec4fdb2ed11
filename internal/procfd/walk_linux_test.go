package procfd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestWalkAllProcessesUnderARoot walks a copied /proc (host's testdata): descriptor links are
// plain symlinks there, and processes have no live namespace to stat.
func TestWalkAllProcessesUnderARoot(t *testing.T) {
	idx, err := Walk(context.Background(), Query{ProcRoot: "../host/testdata/root/proc", AllProcesses: true})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range idx.All() {
		pids = append(pids, p.PID)
	}
	if len(pids) < 2 {
		t.Fatalf("processes %v", pids)
	}
	var nginx *Process
	for _, p := range idx.All() {
		if p.PID == 100 {
			nginx = p
		}
	}
	// fd 0 /dev/null, 3 1001, 4 1002, 5 a log file, 6 1003, 7 1002 again.
	if nginx == nil || nginx.OpenFiles != 6 || nginx.Comm != "nginx" {
		t.Fatalf("pid 100 = %+v, want nginx with 6 descriptors", nginx)
	}
	// 1001 is the listener, shared with the worker 101; 1002 is held twice by 100 (counted once).
	for ino, want := range map[uint32]string{1001: "[100 101]", 1002: "[100]", 1003: "[100]", 1004: "[101]"} {
		var holders []int
		idx.Holders(ino, func(p *Process, fd int) { holders = append(holders, p.PID) })
		slices.Sort(holders)
		if got := fmt.Sprint(holders); got != want {
			t.Errorf("socket %d held by %s, want %s", ino, got, want)
		}
	}
}

// TestWalkFindsEveryHolderOfASharedSocket: a listener inherited by a child process is held by
// both, and both are reported (a forked server's workers all hold its listener).
func TestWalkFindsEveryHolderOfASharedSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil || !strings.HasPrefix(link, "socket:[") {
		t.Fatalf("fd link %q: %v", link, err)
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()

	idx, err := Walk(context.Background(), Query{PIDs: []int{os.Getpid(), child.Process.Pid}, AllProcesses: true})
	if err != nil {
		t.Fatal(err)
	}
	holders := map[int]bool{}
	idx.Holders(uint32(ino), func(p *Process, fd int) { holders[p.PID] = true })
	if !holders[os.Getpid()] || !holders[child.Process.Pid] || len(holders) != 2 {
		t.Errorf("socket %d held by %v, want this process %d and the child %d", ino, holders, os.Getpid(), child.Process.Pid)
	}
	for _, p := range idx.All() {
		if p.PID == child.Process.Pid && (p.Comm != "sleep" || p.OpenFiles < 4) {
			t.Errorf("child = %+v, want sleep with at least 4 descriptors", p)
		}
	}
}
