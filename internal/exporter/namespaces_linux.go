package exporter

import (
	"github.com/keeptune/keeptune/internal/kstats"
	"github.com/keeptune/keeptune/internal/netns"
)

func nsInode(path string) (uint64, error) { return netns.Inode(path) }

// readNamespace reads one namespace's settings and counters. Counters come through
// /proc/PID/net when a process lives in it (no setns), through the namespace otherwise.
func readNamespace(procRoot string, n namespace, own bool) nsFacts {
	f := nsFacts{namespace: n}
	enter := func(fn func() error) error {
		if own {
			return fn()
		}
		return netns.DoInode(n.Path, n.Inode, fn)
	}
	err := enter(func() error {
		readSysctls(&f)
		if n.PID == 0 {
			st, err := kstats.ReadThread()
			if err != nil {
				f.errors = append(f.errors, readError{"kstats", err})
				return nil
			}
			f.Counters, f.HasCounters = st, true
		}
		return nil
	})
	if err != nil {
		f.errors = append(f.errors, readError{"netns", err})
		return f
	}
	if n.PID != 0 {
		st, err := kstats.ReadPID(procRoot, n.PID)
		if err != nil {
			f.errors = append(f.errors, readError{"kstats", err})
		} else {
			f.Counters, f.HasCounters = st, true
		}
	}
	return f
}
