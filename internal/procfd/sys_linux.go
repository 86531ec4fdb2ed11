package procfd

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strconv"
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

// ListPIDs lists the numeric entries of a proc directory in ascending order.
func ListPIDs(procRoot string) ([]int, error) {
	f, err := os.Open(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", procRoot, err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}
