package sockets

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readlinkatBytes is readlinkat(2) of name relative to dirfd, like unix.Readlinkat but without
// the two allocations of turning name into a NUL-terminated string: it runs once per descriptor
// on the host (200,000 times and more). scratch must have room for name and a NUL; name may
// alias it.
func readlinkatBytes(dirfd int, name []byte, scratch []byte, buf []byte) (int, error) {
	if len(name)+1 > len(scratch) || len(buf) == 0 {
		return 0, unix.ENAMETOOLONG
	}
	copy(scratch, name)
	scratch[len(name)] = 0
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&scratch[0])),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func nativeUint16(b []byte) uint16 { return binary.NativeEndian.Uint16(b) }

func nativeUint32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }
