package apply

// TEMPORARY until internal/netns (gather) lands on main: then enterNetns = netns.DoInode.

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

func enterNetns(path string, inode uint64, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		t, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(t)
		var st unix.Stat_t
		if err := unix.Fstat(t, &st); err != nil {
			errc <- err
			return
		}
		if inode != 0 && st.Ino != inode {
			errc <- fmt.Errorf("%s is now net:[%d], not net:[%d]", path, st.Ino, inode)
			return
		}
		if err := unix.Setns(t, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
