//go:build !linux

package probe

import (
	"net"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist: a probe into a forgotten
// flow is then retransmitted for the system's own budget; the probe's reply timeout still
// decides.
func setUserTimeout(c *net.TCPConn, d time.Duration) error { return nil }

// setQuickAck does nothing outside Linux.
func setQuickAck(c *net.TCPConn) error { return nil }

func setKeepalive(c *net.TCPConn, idle, intvl time.Duration) error {
	return keepalive.Apply(c, keepalive.Config{Idle: idle, Interval: intvl})
}

// kernelTimes has no kernel clock to read outside Linux: the time of the call.
func kernelTimes(c *net.TCPConn) (recv, sent time.Time) {
	now := time.Now()
	return now, now
}
