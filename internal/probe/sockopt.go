package probe

import (
	"net"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

// setUserTimeout sets TCP_USER_TIMEOUT (rounded down to whole milliseconds, at least 1ms) and
// leaves keepalive as it is: how long sent data may stay unacknowledged before the kernel gives
// up on the connection. A probe into a forgotten flow is retransmitted by TCP; this bounds how
// long, so the socket does not linger for tcp_retries2's ~15 minutes. Where the option does not
// exist the error matches keepalive.ErrUnsupported and the probe's reply timeout still decides.
func setUserTimeout(c *net.TCPConn, d time.Duration) error {
	return keepalive.SetUserTimeout(c, max(d, time.Millisecond).Truncate(time.Millisecond))
}

// setKeepalive turns TCP keepalive on with the given idle and interval (whole seconds).
func setKeepalive(c *net.TCPConn, idle, intvl time.Duration) error {
	return keepalive.Apply(c, keepalive.Config{Idle: idle, Interval: intvl})
}
