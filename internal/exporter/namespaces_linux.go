package exporter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/kstats"
	"github.com/keeptune/keeptune/internal/netns"
)

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
		if vanished(err) {
			f.Gone = true
		} else {
			f.errors = append(f.errors, readError{"netns", err})
		}
		return f
	}
	if n.PID != 0 {
		st, err := kstats.ReadPID(procRoot, n.PID)
		switch {
		case err == nil:
			f.Counters, f.HasCounters = st, true
		case vanished(err) && !exists(filepath.Join(procRoot, strconv.Itoa(n.PID))):
			f.Gone = true // its process exited after the listing
		default:
			f.errors = append(f.errors, readError{"kstats", err})
		}
	}
	return f
}

// vanished tells errors of a namespace that went away between listing and reading (its last
// process exited, its pin was removed, its PID was reused) from those of one that is there
// and cannot be read. Namespaces come and go with containers: that is no error.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, netns.ErrChanged) || errors.Is(err, unix.ESRCH)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
