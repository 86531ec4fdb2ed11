package keepalive

import "golang.org/x/sys/unix"

// Linux has all five options. Keepalive values are seconds, TCP_USER_TIMEOUT
// is milliseconds. Multipath TCP sockets reject TCP_USER_TIMEOUT (set:
// ENOPROTOOPT, get: EOPNOTSUPP; both match ErrUnsupported).
var (
	tcpKeepIdle    = sockopt{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}
	tcpKeepIntvl   = sockopt{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}
	tcpKeepCnt     = sockopt{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT}
	tcpUserTimeout = sockopt{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT}
)
