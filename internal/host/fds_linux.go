package host

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdScanner lists the socket inodes among a process's open descriptors. It reads
// /proc/PID/fd with getdents64 and readlinkat into buffers it reuses, passing the NUL-terminated
// names straight from the dirent buffer to the system call: no string is allocated per
// descriptor. `ss -p` spends most of its time on this walk (seconds for ~100k sockets, see
// docs/PERFORMANCE.md), so it matters on busy hosts.
type fdScanner struct {
	dirents [32 << 10]byte
	link    [64]byte
}

// scan appends the socket inodes of the descriptors in dir (a /proc/PID/fd directory) to
// inodes and returns them with the number of descriptors. Descriptors closed during the walk
// are skipped. The error reports a directory that cannot be read, or descriptors whose links
// could not be read for lack of privilege (then the inodes found are still returned).
func (s *fdScanner) scan(dir string, inodes []uint64) ([]uint64, int, error) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return inodes, 0, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dfd)
	nfds := 0
	var denied error
	for {
		n, err := unix.Getdents(dfd, s.dirents[:])
		if err != nil {
			return inodes, nfds, &fs.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return inodes, nfds, denied
		}
		// struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name[].
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(s.dirents[off+16:]))
			if reclen < 20 || off+reclen > n {
				break
			}
			name := s.dirents[off+19 : off+reclen]
			off += reclen
			end := bytes.IndexByte(name, 0)
			if end <= 0 || name[0] == '.' {
				continue
			}
			nfds++
			m, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dfd),
				uintptr(unsafe.Pointer(&name[0])),
				uintptr(unsafe.Pointer(&s.link[0])), uintptr(len(s.link)), 0, 0)
			if errno != 0 {
				if (errno == unix.EACCES || errno == unix.EPERM) && denied == nil {
					denied = &fs.PathError{Op: "readlink", Path: dir, Err: errno}
				}
				continue // closed since getdents, or not ours to read
			}
			if ino, ok := socketInode(s.link[:m]); ok {
				inodes = append(inodes, ino)
			}
		}
	}
}
