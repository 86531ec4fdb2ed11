package keepalive

import "golang.org/x/sys/windows"

// Windows 10 version 1709 and later have TCP_KEEPIDLE and TCP_KEEPINTVL as
// socket options (in seconds), version 1703 and later TCP_KEEPCNT; older
// versions fail with WSAENOPROTOOPT, which matches ErrUnsupported. There is
// no TCP_USER_TIMEOUT (TCP_MAXRT bounds retransmissions only).
var (
	soKeepAlive    = sockopt{"SO_KEEPALIVE", windows.SOL_SOCKET, windows.SO_KEEPALIVE}
	tcpKeepIdle    = sockopt{"TCP_KEEPIDLE", windows.IPPROTO_TCP, windows.TCP_KEEPIDLE}
	tcpKeepIntvl   = sockopt{"TCP_KEEPINTVL", windows.IPPROTO_TCP, windows.TCP_KEEPINTVL}
	tcpKeepCnt     = sockopt{"TCP_KEEPCNT", windows.IPPROTO_TCP, windows.TCP_KEEPCNT}
	tcpUserTimeout = sockopt{"TCP_USER_TIMEOUT", windows.IPPROTO_TCP, -1}
)

func setsockoptInt(fd uintptr, level, opt, v int) error {
	return windows.SetsockoptInt(windows.Handle(fd), level, opt, v)
}

func getsockoptInt(fd uintptr, level, opt int) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), level, opt)
}

func noSuchOption(err error) bool { return err == windows.WSAENOPROTOOPT }
