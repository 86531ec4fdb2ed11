package kstats

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Files are the two files read from a net directory.
var Files = []string{"netstat", "snmp"}

// ReadDir reads netstat and snmp from a /proc/.../net directory and merges them. Both must be
// readable: a namespace with half its counters would look like one whose counters went missing.
func ReadDir(dir string) (Stats, error) {
	var st Stats
	for _, name := range Files {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			return Stats{}, err
		}
		one, err := Parse(b)
		if err != nil {
			return Stats{}, fmt.Errorf("%s: %w", p, err)
		}
		if err := st.Merge(one); err != nil {
			return Stats{}, fmt.Errorf("%s: %w", p, err)
		}
	}
	return st, nil
}

// ReadPID reads the counters of the network namespace process pid lives in, through
// procRoot/PID/net (procRoot is "/proc" on a live system). No setns is needed: the kernel
// shows the namespace of the process named in the path.
func ReadPID(procRoot string, pid int) (Stats, error) {
	return ReadDir(filepath.Join(procRoot, strconv.Itoa(pid), "net"))
}

// ReadThread reads the counters of the calling thread's network namespace through
// /proc/thread-self/net. Call it on a goroutine locked to a thread that joined the namespace
// (setns); /proc/self/net would show the main thread's namespace instead.
func ReadThread() (Stats, error) {
	return ReadDir("/proc/thread-self/net")
}
