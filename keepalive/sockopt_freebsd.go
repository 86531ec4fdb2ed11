package keepalive

import "golang.org/x/sys/unix"

// FreeBSD has TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT in seconds and
// probes, but no TCP_USER_TIMEOUT.
var (
	tcpKeepIdle    = sockopt{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}
	tcpKeepIntvl   = sockopt{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}
	tcpKeepCnt     = sockopt{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT}
	tcpUserTimeout = sockopt{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, -1}
)
