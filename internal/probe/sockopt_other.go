//go:build !linux

package probe

import (
	"net"
	"time"
)

// setQuickAck does nothing outside Linux.
func setQuickAck(c *net.TCPConn) error { return nil }

// kernelTimes has no kernel clock to read outside Linux: the time of the call.
func kernelTimes(c *net.TCPConn) (recv, sent time.Time) {
	now := time.Now()
	return now, now
}

// delivered cannot read the kernel's acknowledgements outside Linux: it says no, and a late
// answer counts as a path failure.
func delivered(c *net.TCPConn) bool { return false }
