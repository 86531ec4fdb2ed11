package drill

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/keeptune/keeptune/internal/enforce"
	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/keepalive"
	"golang.org/x/sys/unix"
)

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// enforcedPair is connectPair for --enforce: the server is a separate program that never sets
// keepalive (enforce's plain server, plain system calls), started in the lab's server
// namespace inside a throw-away cgroup on which `keeptune enforce` puts serverS as an
// accept-side policy (a private bpffs: the host's pins are not touched). The drill reads and
// watches the server's socket through a duplicate (pidfd_getfd); the program itself never reads
// it again, so the error the kernel raises is the drill's to see. done removes the server, the
// policy and the cgroup.
func enforcedPair(ctx context.Context, e *env, l *lab.Lab, clientS, serverS *Settings) (p *pair, done func(), err error) {
	sb, err := enforce.NewSandbox("keeptune-drill")
	if err != nil {
		return nil, nil, fmt.Errorf("--enforce: %w", err)
	}
	cleanup := func() { sb.Close() }
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	pol := enforce.Policy{Idle: serverS.Idle, Interval: serverS.Interval, Probes: serverS.Count, UserTimeout: serverS.UserTimeout,
		Side: enforce.SideAccept, Mode: enforce.ModeDefault}
	if err := sb.Enforcer.Apply(sb.Target, pol); err != nil {
		return nil, nil, fmt.Errorf("--enforce: %w", err)
	}
	e.logf("dead-peer: enforcing %s on accepted connections of cgroup %s", pol, sb.Target.Path)
	addr := netip.AddrPortFrom(l.ServerAddr(), labPort)
	ps, err := sb.StartPlainServer(addr.String(), l.Server.Do)
	if err != nil {
		return nil, nil, err
	}
	tl := newTimeline()
	c, err := l.Dial(ctx, l.Client, dialer(clientS), addr)
	if err != nil {
		return nil, nil, err
	}
	tl.add("client", "connected")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	exchanged := time.Now()
	if _, err := c.Write([]byte("ping")); err != nil {
		return nil, nil, fmt.Errorf("lab exchange: %w", err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, nil, fmt.Errorf("lab exchange: %w", err)
	}
	c.SetDeadline(time.Time{})
	srv, err := ps.Accepted()
	if err != nil {
		return nil, nil, err
	}
	// Shut down before closing: that wakes a read still blocked on it (the socket is the
	// server's too, so closing our descriptor alone would not).
	l.Track(closerFunc(func() error {
		unix.Shutdown(int(srv.Fd()), unix.SHUT_RDWR)
		return srv.Close()
	}))
	tl.add("server", fmt.Sprintf("accepted by the plain server (pid %d, never sets keepalive) in enforced cgroup %s", ps.PID(), sb.Target.Path))
	tl.add("client", "last data (ping/pong)")
	eff, err := keepalive.Read(srv)
	if err != nil {
		return nil, nil, fmt.Errorf("read back the server socket's keepalive: %w", err)
	}
	if !eff.Enabled || eff.Idle != serverS.Idle || eff.Interval != serverS.Interval || eff.Count != serverS.Count || eff.UserTimeout != serverS.UserTimeout {
		return nil, nil, fmt.Errorf("the plain server's socket reads back keepalive %+v, not the enforced policy (%v)", eff, serverS)
	}
	if clientS != nil {
		eff, err := keepalive.Read(c)
		if err != nil {
			return nil, nil, fmt.Errorf("read back the client socket's keepalive: %w", err)
		}
		if !eff.Enabled || eff.Idle != clientS.Idle || eff.Interval != clientS.Interval || eff.Count != clientS.Count || eff.UserTimeout != clientS.UserTimeout {
			return nil, nil, fmt.Errorf("the client socket reads back keepalive %+v, not the settings under test (%v)", eff, clientS)
		}
	}
	return &pair{client: c, serverRaw: srv, tl: tl, exchanged: exchanged}, cleanup, nil
}
