package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/netns"
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
// and returns an open handle on it.
func createNamed(name string) (int, error) {
	path := filepath.Join(netnsDir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return -1, fmt.Errorf("lab: create %s: %w", path, err)
	}
	f.Close()

	fd := -1
	err = netns.New(func() error {
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin namespace at %s: %w", path, err)
		}
		var err error
		if fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		deleteNamed(name)
		return -1, fmt.Errorf("lab: create network namespace %s: %w", name, err)
	}
	return fd, nil
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
