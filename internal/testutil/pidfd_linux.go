package testutil

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// SocketKeepalive is what getsockopt says about one socket of another process.
type SocketKeepalive struct {
	PID       int  // the process holding it
	Keepalive bool // SO_KEEPALIVE
	// Idle, Interval and Count are TCP_KEEPIDLE, TCP_KEEPINTVL (seconds) and TCP_KEEPCNT: the
	// socket's own values, or its namespace's sysctls when the program set none.
	Idle, Interval, Count int
	// UserTimeout is TCP_USER_TIMEOUT in milliseconds (0: none).
	UserTimeout int
}

// ServerSocket finds, among the descriptors of the given processes (a server and its workers),
// the TCP socket whose peer address is peer (and, when local is not nil, whose own address is
// local), duplicates it with pidfd_getfd and reads its keepalive options: what a server really
// put on the socket it accepted or dialled. found is false when no socket matches yet (a worker
// may not have accepted the connection); read counts the socket descriptors looked at. Every
// descriptor obtained is closed. It skips the test on kernels without pidfd_getfd (5.6).
func ServerSocket(t testing.TB, pids []int, local, peer *net.TCPAddr) (res SocketKeepalive, found bool, read int) {
	t.Helper()
	for _, pid := range pids {
		pidfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			if errors.Is(err, unix.ENOSYS) {
				t.Skip("pidfd_open needs Linux 5.3+")
			}
			continue // the process is gone
		}
		entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range entries {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
			if !strings.HasPrefix(link, "socket:[") {
				continue
			}
			n, _ := strconv.Atoi(e.Name())
			fd, err := unix.PidfdGetfd(pidfd, n, 0)
			if err != nil {
				if errors.Is(err, unix.ENOSYS) {
					unix.Close(pidfd)
					t.Skip("pidfd_getfd needs Linux 5.6+")
				}
				continue // closed meanwhile
			}
			read++
			if matches(fd, local, peer) {
				res = SocketKeepalive{PID: pid}
				ka, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
				res.Keepalive = ka != 0
				res.Idle, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
				res.Interval, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
				res.Count, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
				res.UserTimeout, _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
				found = true
			}
			unix.Close(fd)
			if found {
				unix.Close(pidfd)
				return res, true, read
			}
		}
		unix.Close(pidfd)
	}
	return res, false, read
}

func matches(fd int, local, peer *net.TCPAddr) bool {
	pa, err := unix.Getpeername(fd)
	if err != nil || !sameAddr(pa, peer) {
		return false
	}
	if local == nil {
		return true
	}
	sa, err := unix.Getsockname(fd)
	return err == nil && sameAddr(sa, local)
}

func sameAddr(sa unix.Sockaddr, a *net.TCPAddr) bool {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return s.Port == a.Port && net.IP(s.Addr[:]).Equal(a.IP)
	case *unix.SockaddrInet6:
		return s.Port == a.Port && net.IP(s.Addr[:]).Equal(a.IP)
	}
	return false
}
