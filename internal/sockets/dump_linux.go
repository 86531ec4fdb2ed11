package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// recvBufferSize is the user buffer for one recvmsg. The kernel sizes each dump datagram after
// the largest buffer the reader offered, up to 32 KiB (netlink_recvmsg caps max_recvmsg_len at
// 32768), and on 64 KiB-page kernels single messages reach ~8 KiB: 64 KiB leaves room for both,
// and the kernel then fills 32 KiB per call instead of one page.
const recvBufferSize = 64 << 10

// diagConn is a NETLINK_SOCK_DIAG socket, bound to the network namespace it was opened in. It
// is a plain blocking socket read into one buffer that every datagram reuses: a dump of a
// million sockets moves about 400 MB through it, and a netlink library that hands each
// datagram out in memory of its own makes that much garbage (and a heap the collector lets grow
// with it). A dump answers at once, so blocking reads do not hold up cancellation: ctx is
// checked between messages.
type diagConn struct {
	fd  int
	buf []byte
	seq uint32
	// eq is the kernel's answer to equality bytecode: 0 untried, 1 accepted, -1 refused
	// (before 4.16), so later dumps use ranges at once.
	eq int
	// received counts the messages the kernel sent (before user-space filtering).
	received int
}

// dialDiag opens a sock_diag socket in the calling thread's network namespace.
func dialDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlinkInetDiag)
	if err != nil {
		return nil, fmt.Errorf("open a NETLINK_SOCK_DIAG socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind a NETLINK_SOCK_DIAG socket: %w", err)
	}
	return &diagConn{fd: fd, buf: make([]byte, recvBufferSize)}, nil
}

func (d *diagConn) Close() error { return unix.Close(d.fd) }

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
	return d.roundTrip(ctx, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, diagRequest(family, states, info, bc), fn)
}

// roundTrip sends one SOCK_DIAG_BY_FAMILY request and hands fn the payload of each answer until
// NLMSG_DONE or NLMSG_ERROR ends it (a request that is not a dump asks NLM_F_ACK for that end).
func (d *diagConn) roundTrip(ctx context.Context, flags uint16, data []byte, fn func([]byte) error) error {
	d.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+len(data))
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:8], flags)
	binary.NativeEndian.PutUint32(req[8:12], d.seq)
	copy(req[unix.NLMSG_HDRLEN:], data)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send inet_diag dump request: %w", err)
	}
	var ferr error
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return diagError(err)
		}
		for b := d.buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return diagError(fmt.Errorf("malformed netlink message (length %d of %d bytes)", l, len(b)))
			}
			typ := binary.NativeEndian.Uint16(b[4:6])
			seq := binary.NativeEndian.Uint32(b[8:12])
			payload := b[unix.NLMSG_HDRLEN:l]
			b = b[min(nlmsgAlign(l), len(b)):]
			if seq != d.seq {
				continue // an answer to an earlier request this socket gave up on
			}
			switch typ {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				// Both may carry an errno (negative) in their first four bytes; 0 is success
				// (an NLMSG_ERROR acknowledgement).
				if len(payload) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(payload[:4])); e < 0 {
						return diagError(unix.Errno(-e))
					}
				}
				return ferr
			case sockDiagByFamily:
			default:
				continue
			}
			if ferr != nil {
				continue // drain the rest of the dump so the socket can be reused
			}
			d.received++
			if err := ctx.Err(); err != nil {
				ferr = err
				continue
			}
			ferr = fn(payload)
		}
	}
}

// nlmsgAlign rounds a netlink message length up to the 4-byte boundary the next one starts at.
func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

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
