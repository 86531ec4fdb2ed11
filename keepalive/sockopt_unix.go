//go:build linux || darwin || freebsd

package keepalive

import "golang.org/x/sys/unix"

var soKeepAlive = sockopt{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE}

func setsockoptInt(fd uintptr, level, opt, v int) error {
	return unix.SetsockoptInt(int(fd), level, opt, v)
}

func getsockoptInt(fd uintptr, level, opt int) (int, error) {
	return unix.GetsockoptInt(int(fd), level, opt)
}

func noSuchOption(err error) bool { return err == unix.ENOPROTOOPT }
