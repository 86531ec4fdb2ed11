package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// prepareNetnsDir makes /run/netns a shared mount point, as `ip netns add` does, so that the
// bind mounts that keep lab namespaces alive propagate to mount namespaces created later (and
// their removal too). Without it, a container runtime that copies the mount table while a lab
// exists would keep the lab's namespaces alive after Close.
func prepareNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("lab: create %s: %w", netnsDir, err)
	}
	madeMount := false
	for {
		err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || madeMount {
			return fmt.Errorf("lab: make %s a shared mount: %w", netnsDir, err)
		}
		// Not a mount point yet: bind it onto itself, then try again.
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("lab: bind-mount %s: %w", netnsDir, err)
		}
		madeMount = true
	}
}

// createNamed creates a network namespace pinned at /run/netns/NAME (visible to `ip netns`)
// and returns an open handle on it. The new namespace is made on a locked thread that goes
// back to its original namespace before it is unlocked (or is discarded if it cannot).
func createNamed(name string) (int, error) {
	path := filepath.Join(netnsDir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return -1, fmt.Errorf("lab: create %s: %w", path, err)
	}
	f.Close()

	type result struct {
		fd  int
		err error
	}
	resc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			resc <- result{-1, fmt.Errorf("lab: open this thread's network namespace: %w", err)}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // unshare failed: still in the original namespace
			resc <- result{-1, fmt.Errorf("lab: create network namespace %s: %w", name, err)}
			return
		}
		fd := -1
		err = unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
		if err != nil {
			err = fmt.Errorf("lab: pin namespace at %s: %w", path, err)
		} else if fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			err = fmt.Errorf("lab: open %s: %w", path, err)
		}
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			// Stay locked: Go discards the thread when this goroutine ends.
			resc <- result{fd, errors.Join(err, fmt.Errorf("lab: return from new namespace %s: %w", name, rerr))}
			return
		}
		runtime.UnlockOSThread()
		resc <- result{fd, err}
	}()
	res := <-resc
	if res.err != nil {
		if res.fd >= 0 {
			unix.Close(res.fd)
		}
		deleteNamed(name)
		return -1, res.err
	}
	return res.fd, nil
}

// deleteNamed unpins a namespace. The kernel frees it once nothing else refers to it (open
// handles, sockets, processes). A name that does not exist is not an error.
func deleteNamed(name string) error {
	path := filepath.Join(netnsDir, name)
	var errs []error
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("lab: unmount %s: %w", path, err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("lab: remove %s: %w", path, err))
	}
	return errors.Join(errs...)
}
