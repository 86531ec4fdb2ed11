package keepalive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
)

// Limits of the Linux socket options. Validate applies them on every
// platform so that a Config means the same thing everywhere.
const (
	maxIdleSeconds     = int(kernel.MaxKeepIdle / time.Second)    // MAX_TCP_KEEPIDLE
	maxIntervalSeconds = int(kernel.MaxKeepIntvl / time.Second)   // MAX_TCP_KEEPINTVL
	maxCount           = kernel.MaxKeepCnt                        // MAX_TCP_KEEPCNT
	maxUserTimeoutMS   = kernel.MaxUserTimeout / time.Millisecond // TCP_USER_TIMEOUT takes a C int; negative values are EINVAL
)

// Config holds the keepalive settings for one socket. A zero field leaves
// the socket's current value alone, which for a new socket on Linux is the
// network namespace's sysctl (net.ipv4.tcp_keepalive_time, _intvl, _probes)
// for the keepalive fields and "no user timeout" for UserTimeout. Setting a
// Config always turns keepalive on (SO_KEEPALIVE=1).
//
// Linux takes the keepalive values in whole seconds and UserTimeout in whole
// milliseconds. Values that are not whole, negative or beyond the kernel's
// limits are rejected by Validate (and so by Control and Apply), never
// rounded.
type Config struct {
	// Idle is TCP_KEEPIDLE: how long the connection must have received
	// nothing before the first keepalive probe is sent. 1s to 32767s.
	Idle time.Duration

	// Interval is TCP_KEEPINTVL: the time between keepalive probes while
	// they go unanswered. 1s to 32767s.
	Interval time.Duration

	// Count is TCP_KEEPCNT: how many unanswered probes make the kernel
	// close the connection. 1 to 127. Linux ignores it while UserTimeout
	// is in effect.
	Count int

	// UserTimeout is TCP_USER_TIMEOUT (Linux only): how long transmitted
	// data may stay unacknowledged before the kernel closes the connection
	// with ETIMEDOUT. When it is set, Linux also ignores Count for
	// keepalive: it closes the connection at the first keepalive timer
	// firing at or after UserTimeout since the last received segment, once
	// at least one probe is out (see DetectionTime). 1ms to 2147483647ms.
	UserTimeout time.Duration
}

// Validate reports whether every non-zero field of c is a value the kernel
// accepts as is. The error names each bad field and its allowed range, and
// matches ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if err := checkSeconds("Idle", "TCP_KEEPIDLE", c.Idle, maxIdleSeconds); err != nil {
		errs = append(errs, err)
	}
	if err := checkSeconds("Interval", "TCP_KEEPINTVL", c.Interval, maxIntervalSeconds); err != nil {
		errs = append(errs, err)
	}
	if c.Count < 0 || c.Count > maxCount {
		errs = append(errs, fmt.Errorf("%w: Count %d is out of range: must be 0 (leave as is) or 1 to %d (TCP_KEEPCNT)",
			ErrInvalidConfig, c.Count, maxCount))
	}
	if d := c.UserTimeout; d != 0 {
		problem := ""
		switch {
		case d < 0:
			problem = "is negative"
		case d%time.Millisecond != 0:
			problem = "is not a whole number of milliseconds"
		case d > maxUserTimeoutMS*time.Millisecond:
			problem = "is too large"
		}
		if problem != "" {
			errs = append(errs, fmt.Errorf("%w: UserTimeout %v %s: must be 0 (leave as is) or a whole number of milliseconds from 1ms to %dms (TCP_USER_TIMEOUT)",
				ErrInvalidConfig, d, problem, maxUserTimeoutMS))
		}
	}
	return errors.Join(errs...)
}

func checkSeconds(field, option string, d time.Duration, maxSeconds int) error {
	problem := ""
	switch {
	case d == 0:
		return nil
	case d < 0:
		problem = "is negative"
	case d%time.Second != 0:
		problem = "is not a whole number of seconds"
	case d > time.Duration(maxSeconds)*time.Second:
		problem = "is too large"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s %v %s: must be 0 (leave as is) or a whole number of seconds from 1s to %ds (%s)",
		ErrInvalidConfig, field, d, problem, maxSeconds, option)
}

// DetectionTime is how long after the last segment received from a silent
// peer Linux closes the connection, when no data is in flight: Idle +
// Count*Interval, or with UserTimeout the first keepalive timer firing
// Idle + k*Interval (k >= 1) that is at or after UserTimeout. For example
// Idle 1s, Interval 11s, UserTimeout 5s gives 12s.
//
// Zero fields stand for values the Config does not know (the kernel's), so
// DetectionTime returns 0 unless Idle, Interval and Count (or, instead of
// Count, UserTimeout) are set. It also returns 0 for an invalid Config.
func (c Config) DetectionTime() time.Duration {
	if c.Validate() != nil || c.Idle == 0 || c.Interval == 0 {
		return 0
	}
	if c.UserTimeout == 0 {
		if c.Count == 0 {
			return 0
		}
		return c.Idle + time.Duration(c.Count)*c.Interval
	}
	return kernel.DeadPeerDetection(c.Idle, c.Interval, c.Count, c.UserTimeout)
}

// Effective is what the kernel will use for one socket, as read back with
// getsockopt.
//
// On Linux a socket that did not set its own TCP_KEEPIDLE, TCP_KEEPINTVL or
// TCP_KEEPCNT reports the network namespace's current sysctl value
// (net.ipv4.tcp_keepalive_time, _intvl, _probes), and the kernel reads the
// sysctl again whenever it needs the value, so later sysctl changes apply to
// such sockets. UserTimeout is 0 when it was never set; there is no sysctl
// for it.
type Effective struct {
	Enabled     bool // SO_KEEPALIVE
	Idle        time.Duration
	Interval    time.Duration
	Count       int
	UserTimeout time.Duration // 0 if unset, or where the platform has no TCP_USER_TIMEOUT
}

// DetectionTime is Config.DetectionTime for the effective values, or 0 when
// keepalive is disabled.
func (e Effective) DetectionTime() time.Duration {
	if !e.Enabled {
		return 0
	}
	return Config{Idle: e.Idle, Interval: e.Interval, Count: e.Count, UserTimeout: e.UserTimeout}.DetectionTime()
}

// Control sets SO_KEEPALIVE=1 and the non-zero options of c on the socket.
// Its signature fits net.Dialer.Control and net.ListenConfig.Control; it
// does nothing for networks other than "tcp", "tcp4" and "tcp6".
//
// Used on its own, Control is not enough: the net package sets its default
// keepalive values (15s/15s/9) after Control returns unless the Dialer or
// ListenConfig disables that. Use [Config.Dialer] and [Config.ListenConfig].
func (c Config) Control(network, address string, rc syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return apply(rc, c)
	}
	return nil
}

// netKeepAlive makes the net package turn keepalive on and leave the values
// Control has set.
var netKeepAlive = net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}

// Dialer returns a copy of base (or of a zero net.Dialer if base is nil)
// that applies c to every TCP connection it dials. Its Control (or, if base
// has one, its ControlContext) calls base's function first and then
// c.Control. KeepAlive and KeepAliveConfig are replaced so that the net
// package turns keepalive on without overwriting the values.
func (c Config) Dialer(base *net.Dialer) *net.Dialer {
	var d net.Dialer
	if base != nil {
		d = *base
	}
	if prev := d.ControlContext; prev != nil {
		d.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
			if err := prev(ctx, network, address, rc); err != nil {
				return err
			}
			return c.Control(network, address, rc)
		}
	} else {
		d.Control = chain(d.Control, c.Control)
	}
	d.KeepAlive = -1
	d.KeepAliveConfig = netKeepAlive
	return &d
}

// ListenConfig returns a copy of base (or of a zero net.ListenConfig if base
// is nil) whose Control calls base's Control first and then c.Control on the
// listening socket. On Linux accepted connections inherit the listener's
// options, TCP_USER_TIMEOUT included. KeepAlive and KeepAliveConfig are
// replaced so that the net package turns keepalive on for accepted
// connections without overwriting the inherited values.
func (c Config) ListenConfig(base *net.ListenConfig) *net.ListenConfig {
	var lc net.ListenConfig
	if base != nil {
		lc = *base
	}
	lc.Control = chain(lc.Control, c.Control)
	lc.KeepAlive = -1
	lc.KeepAliveConfig = netKeepAlive
	return &lc
}

type controlFunc = func(network, address string, rc syscall.RawConn) error

func chain(first, second controlFunc) controlFunc {
	if first == nil {
		return second
	}
	return func(network, address string, rc syscall.RawConn) error {
		if err := first(network, address, rc); err != nil {
			return err
		}
		return second(network, address, rc)
	}
}

// Apply sets SO_KEEPALIVE=1 and the non-zero options of c on an existing
// connection or listener, such as a *net.TCPConn or *net.TCPListener.
// Apply does not check the socket's type; on a socket that is not TCP the
// kernel rejects the TCP options.
func Apply(conn syscall.Conn, c Config) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("keepalive: %w", err)
	}
	return apply(rc, c)
}

func apply(rc syscall.RawConn, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setOptions(fd, c) }); err != nil {
		return fmt.Errorf("keepalive: %w", err)
	}
	return serr
}

// SetUserTimeout sets only TCP_USER_TIMEOUT on an existing connection or
// listener, leaving SO_KEEPALIVE and the keepalive values as they are: for
// programs that bound how long sent data may stay unacknowledged without
// turning keepalive on (a probe that must not refresh a middlebox, for
// example). 0 clears it. d must be a whole number of milliseconds up to
// 2147483647ms; on platforms without the option the error matches
// ErrUnsupported.
func SetUserTimeout(conn syscall.Conn, d time.Duration) error {
	if err := (Config{UserTimeout: d}).Validate(); err != nil {
		return err
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("keepalive: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setUserTimeout(fd, d) }); err != nil {
		return fmt.Errorf("keepalive: %w", err)
	}
	return serr
}

// Read returns the keepalive settings the kernel will use for conn, such as
// a *net.TCPConn or *net.TCPListener. If some options cannot be read, Read
// returns the others and an error naming each option it could not read
// (TCP_USER_TIMEOUT on a Linux Multipath TCP socket, for example, which
// matches ErrUnsupported).
func Read(conn syscall.Conn) (Effective, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return Effective{}, fmt.Errorf("keepalive: %w", err)
	}
	var e Effective
	var gerr error
	if err := rc.Control(func(fd uintptr) { e, gerr = getOptions(fd) }); err != nil {
		return Effective{}, fmt.Errorf("keepalive: %w", err)
	}
	return e, gerr
}
