package netns

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on a thread inside the namespace at path (a /proc/PID/ns/net file, a
// /run/netns/NAME pin or any other nsfs file) and returns fn's error. An empty path runs fn in
// the caller's own namespace, directly.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return DoInode(path, 0, fn)
}

// DoInode is Do for a namespace known by its inode: when inode is not zero and path names
// another namespace now, fn does not run and the error matches ErrChanged.
func DoInode(path string, inode uint64, fn func() error) error {
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrap("open network namespace "+path, err)
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return wrap("stat network namespace "+path, err)
	}
	if inode != 0 && st.Ino != inode {
		return fmt.Errorf("%s is now net:[%d], not net:[%d] (the process exited): %w", path, st.Ino, inode, ErrChanged)
	}
	return run(path, func() error { return setns(target, path, st.Ino) }, fn)
}

// DoFd is Do for a namespace the caller holds open; name is for error messages.
func DoFd(fd int, name string, fn func() error) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return wrap("stat network namespace "+name, err)
	}
	return run(name, func() error { return setns(fd, name, st.Ino) }, fn)
}

// New creates a network namespace and runs fn on a thread inside it. The namespace lives as
// long as something refers to it: fn can pin it (bind-mount /proc/thread-self/ns/net), open it,
// or leave a socket in it; otherwise the kernel frees it when fn returns.
func New(fn func() error) error {
	return run("a new network namespace", func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return wrap("create a network namespace", err)
		}
		return nil
	}, fn)
}

// Inode returns the inode of the namespace a namespace file names.
func Inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, wrap("stat network namespace "+path, err)
	}
	return st.Ino, nil
}

// Current returns the inode of the calling thread's namespace. Only meaningful on a locked
// thread or inside a callback: an unlocked goroutine may move between threads.
func Current() (uint64, error) { return Inode("/proc/thread-self/ns/net") }

// setns moves the calling thread into fd and checks it arrived in namespace inode.
func setns(fd int, name string, inode uint64) error {
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return wrap("enter network namespace "+name, err)
	}
	if got, err := Current(); err != nil || got != inode {
		return fmt.Errorf("entered %s but the thread is in net:[%d] (err %v), not net:[%d]: %w", name, got, err, inode, ErrChanged)
	}
	return nil
}

// run locks a fresh goroutine to its thread, enters with enter, runs fn and comes back.
func run(name string, enter func() error, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := enterRunRestore(name, enter, fn)
		if restored {
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine ends locked and the runtime terminates the thread.
		errc <- err
	}()
	return <-errc
}

// enterRunRestore does run's work on the locked thread; restored is false only when the thread
// may have been left outside its original namespace.
func enterRunRestore(name string, enter func() error, fn func() error) (restored bool, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, fmt.Errorf("open this thread's network namespace: %w", err)
	}
	defer unix.Close(orig)
	var origSt unix.Stat_t
	if err := unix.Fstat(orig, &origSt); err != nil {
		return true, fmt.Errorf("stat this thread's network namespace: %w", err)
	}
	if err := enter(); err != nil {
		// setns and unshare either succeed or leave the thread where it was; make sure.
		if ino, ierr := Current(); ierr != nil || ino != origSt.Ino {
			return restore(orig, origSt.Ino, name, err)
		}
		return true, err
	}
	ferr := fn()
	return restore(orig, origSt.Ino, name, ferr)
}

// restore returns the thread to orig and checks that it is there.
func restore(orig int, origIno uint64, name string, ferr error) (bool, error) {
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return false, errors.Join(ferr, fmt.Errorf("leave %s: %w: %w", name, ErrRestore, err))
	}
	if ino, err := Current(); err != nil || ino != origIno {
		return false, errors.Join(ferr, fmt.Errorf("leave %s: %w: thread is in net:[%d] (err %v), want net:[%d]", name, ErrRestore, ino, err, origIno))
	}
	return true, ferr
}

// wrap adds ErrPrivilege to permission errors.
func wrap(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %w: %w", what, err, ErrPrivilege)
	}
	return fmt.Errorf("%s: %w", what, err)
}
