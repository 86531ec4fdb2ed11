package probe

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// setQuickAck acknowledges what was received at once instead of after the delayed-ACK
// timer (up to 40 ms or more): the last packet of an exchange, which starts the middlebox's
// idle period, then leaves when the client reads the answer, where the idle clock starts.
func setQuickAck(c *net.TCPConn) error {
	return setInt(c, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
}

func setInt(c *net.TCPConn, level, opt, v int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, v) }); err != nil {
		return err
	}
	return serr
}

// kernelTimes returns when c last received and last sent data by the kernel's clock
// (tcp_info's last_data_recv and last_data_sent, in jiffies). Idle periods are measured
// between these, not between the moments goroutines got to run: on a busy host the
// scheduler delays those by tens of milliseconds, and the kernel's clock is the one the
// middlebox (conntrack) uses too.
func kernelTimes(c *net.TCPConn) (recv, sent time.Time) {
	now := time.Now()
	recv, sent = now, now
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		now = time.Now()
		if err == nil {
			recv = now.Add(-time.Duration(ti.Last_data_recv) * time.Millisecond)
			sent = now.Add(-time.Duration(ti.Last_data_sent) * time.Millisecond)
		}
	})
	return
}

// delivered reports whether everything sent on c was acknowledged by the peer's kernel
// (tcp_info's unacked is 0): the path carries the connection, whatever the program at the far
// end does with the data.
func delivered(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) {
		ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		ok = err == nil && ti.Unacked == 0
	})
	return ok
}
