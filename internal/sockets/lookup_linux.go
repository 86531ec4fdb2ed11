package sockets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Lookup is a sock_diag socket in one network namespace that finds single TCP sockets by their
// addresses: a watch of a few connections costs one constant-time request each, not a dump that
// walks the host's whole socket table (about a second per dump on a host holding 200,000 sockets
// in other namespaces).
type Lookup struct{ d *diagConn }

// NewLookup opens a Lookup in the network namespace at netnsPath (a name under /run/netns, a
// path, or "" for the current one).
func NewLookup(netnsPath string) (*Lookup, error) {
	targets, err := resolveNamespaces("/proc", netnsPath)
	if err != nil {
		return nil, err
	}
	var d *diagConn
	err = inNetns(targets[0].path, func() error {
		var err error
		d, err = dialDiag()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Lookup{d: d}, nil
}

// Find fills s with the socket whose local and peer addresses are given (tcp_info included when
// info is set); found is false when the namespace has no such socket (it closed, or was never
// there; the listener the kernel finds instead does not count). A socket that failed (ETIMEDOUT, a reset) leaves the tables at once, while its program
// may still hold its descriptor.
func (l *Lookup) Find(local, peer netip.AddrPort, info bool, s *Socket) (found bool, err error) {
	var decErr error
	err = l.d.roundTrip(context.Background(), unix.NLM_F_REQUEST|unix.NLM_F_ACK, lookupRequest(local, peer, info), func(b []byte) error {
		found = true
		decErr = decodeDiagMsg(b, s)
		return nil
	})
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err == nil {
		err = decErr
	}
	if err != nil {
		return false, fmt.Errorf("inet_diag lookup of %v-%v: %w", local, peer, err)
	}
	// The kernel's lookup falls back to the listener of the local address when no connection
	// has the 4-tuple: that is not the socket asked for.
	return found && s.State != StateListen && s.Peer.Port() == peer.Port() && s.Peer.Addr().Unmap() == peer.Addr().Unmap(), nil
}

// Close closes the sock_diag socket.
func (l *Lookup) Close() error { return l.d.Close() }
