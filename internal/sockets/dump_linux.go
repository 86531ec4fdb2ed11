package sockets

import (
	"context"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// recvBufferSize is the user buffer for one recvmsg. The kernel sizes each dump datagram after
// the largest buffer the reader offered, up to 32 KiB (netlink_recvmsg caps max_recvmsg_len at
// 32768), and on 64 KiB-page kernels single messages reach ~8 KiB: 64 KiB leaves room for both,
// and the kernel then fills 32 KiB per call instead of one page.
const recvBufferSize = 64 << 10

// diagConn is a NETLINK_SOCK_DIAG socket, bound to the network namespace it was opened in.
type diagConn struct {
	c *netlink.Conn
	// eq is the kernel's answer to equality bytecode: 0 untried, 1 accepted, -1 refused
	// (before 4.16), so later dumps use ranges at once.
	eq int
	// received counts the messages the kernel sent (before user-space filtering).
	received int
}

// dialDiag opens a sock_diag socket in the calling thread's network namespace.
func dialDiag() (*diagConn, error) {
	c, err := netlink.Dial(netlinkInetDiag, &netlink.Config{MessageBufferSize: recvBufferSize})
	if err != nil {
		return nil, fmt.Errorf("open a NETLINK_SOCK_DIAG socket: %w", err)
	}
	return &diagConn{c: c}, nil
}

func (d *diagConn) Close() error { return d.c.Close() }

// dump streams the TCP sockets of one family: fn sees each inet_diag message payload, valid
// only during the call. Datagrams are received one at a time, so memory does not grow with the
// number of sockets. A port filter runs in the kernel as bytecode; when the kernel refuses
// equality ops (EINVAL before 4.16) the dump is retried at once with >= and <= pairs.
func (d *diagConn) dump(ctx context.Context, family uint8, states StateSet, info bool, f *Filter, fn func([]byte) error) error {
	eq := d.eq >= 0
	for {
		var bc []byte
		if f != nil {
			bc = f.bytecode(eq)
		}
		delivered := false
		err := d.dumpOnce(ctx, family, states, info, bc, func(b []byte) error {
			delivered = true
			return fn(b)
		})
		if err != nil && eq && len(bc) > 0 && !delivered && errors.Is(err, unix.EINVAL) {
			d.eq, eq = -1, false
			continue
		}
		if err == nil && eq && len(bc) > 0 {
			d.eq = 1
		}
		return err
	}
}

func (d *diagConn) dumpOnce(ctx context.Context, family uint8, states StateSet, info bool, bc []byte, fn func([]byte) error) error {
	req := netlink.Message{
		Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump},
		Data:   diagRequest(family, states, info, bc),
	}
	if _, err := d.c.Send(req); err != nil {
		return fmt.Errorf("send inet_diag dump request: %w", err)
	}
	var ferr error
	for m, err := range d.c.ReceiveIter() {
		if err != nil {
			return diagError(err)
		}
		if ferr != nil {
			continue // drain the rest of the dump so the socket can be reused
		}
		if m.Header.Type != sockDiagByFamily {
			continue
		}
		d.received++
		if err := ctx.Err(); err != nil {
			ferr = err
			continue
		}
		ferr = fn(m.Data)
	}
	return ferr
}

// diagError explains the errors a dump can end with.
func diagError(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("inet_diag dump: %w (is the tcp_diag module available? try: modprobe tcp_diag)", err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("inet_diag dump: %w (the kernel refused the request or its filter)", err)
	}
	return fmt.Errorf("inet_diag dump: %w", err)
}
