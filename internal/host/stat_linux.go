package host

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileInode returns the inode number of the file at path, following symlinks. For a namespace
// file (/proc/PID/ns/net, a /run/netns bind mount) it is the namespace's inode, the number in
// "net:[4026531833]".
func fileInode(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode in stat result", path)
	}
	return st.Ino, nil
}

// isNsfs reports whether path is a namespace file (a bind mount of nsfs), as opposed to the
// empty placeholder `ip netns` leaves behind when a mount went away.
func isNsfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// exeKey identifies the executable behind a /proc/PID/exe link by device and inode, "" when it
// cannot be read.
func exeKey(exe string) string {
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10)
}
