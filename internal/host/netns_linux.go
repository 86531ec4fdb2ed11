package host

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// errRestoreNetns reports that a thread could not be returned to its own namespace; the thread
// was left locked so that the Go runtime ends it instead of reusing it.
var errRestoreNetns = errors.New("could not return the thread to its network namespace")

// inNetns runs fn on an OS thread that has joined the network namespace at nsPath (a
// /proc/PID/ns/net or /run/netns file) and returns fn's error. wantInode, when not zero, must be
// the namespace's inode: it guards against a PID that was reused since the namespaces were
// listed.
//
// setns(2) changes only the calling thread, so the goroutine is locked to its thread for the
// whole call, and fn must do all its work on that goroutine (/proc/sys and /proc/thread-self show
// the reading thread's namespace). Afterwards the thread joins its original namespace again; if
// that fails, the goroutine exits still locked and the runtime terminates the thread rather than
// schedule other goroutines on a thread in the wrong namespace.
func inNetns(nsPath string, wantInode uint64, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := enterAndRun(nsPath, wantInode, fn)
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// enterAndRun does inNetns's work on the locked thread; restored is false only when the thread
// may have been left in the target namespace.
func enterAndRun(nsPath string, wantInode uint64, fn func() error) (restored bool, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, &os.PathError{Op: "open", Path: nsPath, Err: err}
	}
	defer unix.Close(target)
	if wantInode != 0 {
		var st unix.Stat_t
		if err := unix.Fstat(target, &st); err != nil {
			return true, &os.PathError{Op: "fstat", Path: nsPath, Err: err}
		}
		if st.Ino != wantInode {
			return true, fmt.Errorf("%s is now net:[%d], not net:[%d]: the process exited", nsPath, st.Ino, wantInode)
		}
	}
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("setns %s: %w", nsPath, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return false, fmt.Errorf("%w: %v", errRestoreNetns, err)
	}
	return true, ferr
}
