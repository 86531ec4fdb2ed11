// Package keepalive sets and reads the TCP keepalive settings of individual
// sockets: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and
// TCP_USER_TIMEOUT.
//
// # Why this exists
//
// Go's net package turns keepalive on for every TCP connection it dials or
// accepts and sets its own values on the socket: 15s idle, 15s interval and
// 9 probes (net.KeepAliveConfig's defaults). Because those are set per
// socket, the host's sysctls (net.ipv4.tcp_keepalive_time and friends) no
// longer apply to Go programs, and a Dialer.Control or ListenConfig.Control
// function that sets other values is silently undone: the net package
// applies its defaults after Control has run. TCP_USER_TIMEOUT, which decides
// how long unacknowledged data and unanswered keepalive probes may take
// before Linux closes the connection, has no field in the standard library
// at all.
//
// [Config.Dialer] and [Config.ListenConfig] return copies of a net.Dialer or
// net.ListenConfig that set the configured values in Control and tell the
// net package to leave them alone. [Apply] sets the values on a connection
// that already exists, and [Read] reports what the kernel will use.
//
// # Platforms
//
// The public API builds on every platform Go supports, so that programs
// which use it need no build tags of their own. Linux is the platform this
// package is written for and tested on; its behaviour lives in the
// *_linux.go files. On darwin and FreeBSD the keepalive options are set with
// the platform's own option names (darwin calls TCP_KEEPIDLE TCP_KEEPALIVE);
// neither has TCP_USER_TIMEOUT. Windows has SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL and TCP_KEEPCNT (Windows 10 version 1709 and later) but no
// TCP_USER_TIMEOUT. Everywhere else every call fails with an error that
// matches [ErrUnsupported]. Asking for something a platform lacks is an error
// that matches [ErrUnsupported], never a silent no-op.
//
// # Multipath TCP
//
// Since Go 1.24 listeners use Multipath TCP on Linux when the kernel offers
// it. MPTCP sockets accept the keepalive options but not TCP_USER_TIMEOUT, so
// with a non-zero UserTimeout Control fails on the MPTCP socket and the net
// package, which retries a failed MPTCP listen or dial with plain TCP,
// quietly uses plain TCP instead. Connections accepted from a listener
// inherit the listener's settings in both cases.
package keepalive
