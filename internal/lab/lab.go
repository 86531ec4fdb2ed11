package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// ErrUnsupported is returned on platforms without network namespaces.
var ErrUnsupported = errors.New("lab: network namespace labs need Linux")

// built counts the labs this process began to build (New past its checks).
var built atomic.Int64

// Built is how many labs this process began to build: a test of input that must be refused
// before anything is created checks it did not change (the machine's own list of labs also
// holds other processes' labs, which run at the same time).
func Built() int64 { return built.Load() }

// Topology is the shape of a lab.
type Topology int

const (
	// Direct joins client and server with one veth pair.
	Direct Topology = iota
	// Routed puts a forwarding middlebox between them (two veth pairs).
	Routed
)

func (t Topology) String() string {
	if t == Routed {
		return "client-middlebox-server"
	}
	return "client-server"
}

// Family is the IP version of a lab's addresses.
type Family int

// The address families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string { return fmt.Sprintf("IPv%d", int(f)) }

// OnExpiry is what the NAT does with a packet of a flow it has forgotten.
type OnExpiry int

const (
	// ExpiryDrop drops it silently: the sender sees nothing and retransmits until it gives up.
	ExpiryDrop OnExpiry = iota
	// ExpiryReset answers it with a TCP reset, as many cloud load balancers do.
	ExpiryReset
)

func (o OnExpiry) String() string {
	if o == ExpiryReset {
		return "reset"
	}
	return "drop"
}

// NAT makes the middlebox of a Routed lab masquerade the client and forget flows that stay
// idle longer than IdleTimeout: its namespace gets nf_conntrack_tcp_timeout_established =
// IdleTimeout and nf_conntrack_tcp_loose = 0 (so a mid-stream packet cannot re-create a
// forgotten flow), and packets conntrack then finds invalid are dropped or reset.
type NAT struct {
	IdleTimeout time.Duration // whole seconds, at least 1 s (the sysctl's unit)
	OnExpiry    OnExpiry
}

// Spec describes a lab.
type Spec struct {
	Topology Topology
	Family   Family // IPv4 when zero
	NAT      *NAT   // Routed only
}

func (s Spec) family() Family {
	if s.Family == 0 {
		return IPv4
	}
	return s.Family
}

// Validate reports what is wrong with s before anything is created.
func (s Spec) Validate() error {
	if s.Topology != Direct && s.Topology != Routed {
		return fmt.Errorf("lab: unknown topology %d", s.Topology)
	}
	if f := s.family(); f != IPv4 && f != IPv6 {
		return fmt.Errorf("lab: unknown address family %d: expected 4 or 6", f)
	}
	if s.NAT != nil {
		if s.Topology != Routed {
			return errors.New("lab: a NAT needs the routed topology (client-middlebox-server)")
		}
		t := s.NAT.IdleTimeout
		if t < time.Second || t%time.Second != 0 {
			return fmt.Errorf("lab: NAT idle timeout %v: expected whole seconds, at least 1s (nf_conntrack_tcp_timeout_established is in seconds)", t)
		}
	}
	return nil
}

// Direction says which way a blackhole drops packets.
type Direction int

// The blackhole directions.
const (
	Both           Direction = iota // the peer vanishes for good
	ClientToServer                  // the client's packets never arrive; the server's still do
	ServerToClient
)

func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "client->server"
	case ServerToClient:
		return "server->client"
	}
	return "both directions"
}

// DropAt says where a blackhole drops packets. Never in the sender's own egress (see the
// package doc).
type DropAt int

const (
	// AtMiddlebox drops in the middlebox's forward path (Routed labs only).
	AtMiddlebox DropAt = iota
	// AtReceiver drops on the receiving node's input.
	AtReceiver
)

func (a DropAt) String() string {
	if a == AtReceiver {
		return "receiver input"
	}
	return "middlebox forward"
}

// addressing is the plan of one lab: documentation ranges only.
type addressing struct {
	client, server     netip.Prefix // the nodes' own addresses
	mboxClient, mboxSv netip.Prefix // the middlebox's two sides (Routed)
}

func plan(s Spec) addressing {
	p := netip.MustParsePrefix
	switch {
	case s.family() == IPv4 && s.Topology == Direct:
		return addressing{client: p("198.51.100.1/24"), server: p("198.51.100.2/24")}
	case s.family() == IPv4:
		return addressing{client: p("198.51.100.2/24"), mboxClient: p("198.51.100.1/24"),
			mboxSv: p("203.0.113.1/24"), server: p("203.0.113.2/24")}
	case s.Topology == Direct:
		return addressing{client: p("2001:db8:100::1/64"), server: p("2001:db8:100::2/64")}
	default:
		return addressing{client: p("2001:db8:100::2/64"), mboxClient: p("2001:db8:100::1/64"),
			mboxSv: p("2001:db8:113::1/64"), server: p("2001:db8:113::2/64")}
	}
}

// Leftover is one object a lab run created that still exists.
type Leftover struct {
	Kind  string // "netns", "veth", "nft table", "lock"
	Name  string
	RunID string
	// InUse is true when the run that created it is still alive (it holds its lock);
	// Cleanup leaves such objects alone.
	InUse bool
}

func (l Leftover) String() string {
	s := l.Kind + " " + l.Name
	if l.InUse {
		s += " (in use by a running drill)"
	}
	return s
}
