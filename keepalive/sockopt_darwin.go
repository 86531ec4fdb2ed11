package keepalive

import "golang.org/x/sys/unix"

// darwin calls the idle time TCP_KEEPALIVE; TCP_KEEPINTVL and TCP_KEEPCNT
// exist since OS X 10.8. There is no TCP_USER_TIMEOUT.
var (
	tcpKeepIdle    = sockopt{"TCP_KEEPALIVE", unix.IPPROTO_TCP, unix.TCP_KEEPALIVE}
	tcpKeepIntvl   = sockopt{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}
	tcpKeepCnt     = sockopt{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT}
	tcpUserTimeout = sockopt{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, -1}
)
