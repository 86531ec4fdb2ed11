package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Lab is a running lab. Close removes it.
type Lab struct {
	ID   string
	Spec Spec
	// Client and Server are always present; Middlebox only in Routed labs.
	Client, Server, Middlebox *Node

	nodes []*Node
	lock  *os.File
	// serverAddr is what the client dials.
	serverAddr netip.Addr

	mu     sync.Mutex
	closed bool
	socks  []interface{ Close() error } // listeners and connections made through the lab
	holes  map[holeKey]bool
}

type holeKey struct {
	node  *Node
	chain string
	iface string
}

// New builds a lab. On any error it removes what it had created before returning. It needs
// CAP_SYS_ADMIN (namespaces, mounts) and CAP_NET_ADMIN (links, nftables): in practice, root.
func New(ctx context.Context, spec Spec) (_ *Lab, err error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	built.Add(1)
	l := &Lab{Spec: spec, holes: map[holeKey]bool{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	if err := l.takeLock(); err != nil {
		return nil, err
	}
	if err := prepareNetnsDir(); err != nil {
		return nil, err
	}
	addrs := plan(spec)
	roles := []Role{RoleClient, RoleServer}
	if spec.Topology == Routed {
		roles = append(roles, RoleMiddlebox)
	}
	for _, r := range roles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fd, err := createNamed(nsName(l.ID, r))
		if err != nil {
			return nil, err
		}
		n := &Node{Role: r, Name: nsName(l.ID, r), fd: fd}
		l.nodes = append(l.nodes, n)
		switch r {
		case RoleClient:
			l.Client = n
		case RoleServer:
			l.Server = n
		case RoleMiddlebox:
			l.Middlebox = n
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	c, s := vethName(l.ID, 'c'), vethName(l.ID, 's')
	l.Client.Iface, l.Client.Addr = c, addrs.client.Addr()
	l.Server.Iface, l.Server.Addr = s, addrs.server.Addr()
	l.serverAddr = addrs.server.Addr()
	if spec.Topology == Direct {
		if err := addVeth(l.Client, c, l.Server, s); err != nil {
			return nil, err
		}
		if err := configure(l.Client, netip.Addr{}, iface{c, addrs.client}); err != nil {
			return nil, err
		}
		if err := configure(l.Server, netip.Addr{}, iface{s, addrs.server}); err != nil {
			return nil, err
		}
	} else {
		a, b := vethName(l.ID, 'a'), vethName(l.ID, 'b')
		m := l.Middlebox
		m.Iface, m.Addr = a, addrs.mboxClient.Addr()
		if err := addVeth(l.Client, c, m, a); err != nil {
			return nil, err
		}
		if err := addVeth(m, b, l.Server, s); err != nil {
			return nil, err
		}
		if err := configure(l.Client, addrs.mboxClient.Addr(), iface{c, addrs.client}); err != nil {
			return nil, err
		}
		if err := configure(l.Server, addrs.mboxSv.Addr(), iface{s, addrs.server}); err != nil {
			return nil, err
		}
		if err := configure(m, netip.Addr{}, iface{a, addrs.mboxClient}, iface{b, addrs.mboxSv}); err != nil {
			return nil, err
		}
		fwd := "net.ipv4.ip_forward"
		if spec.family() == IPv6 {
			fwd = "net.ipv6.conf.all.forwarding"
		}
		if err := m.SetSysctl(fwd, "1"); err != nil {
			return nil, err
		}
	}

	for _, n := range l.nodes {
		if err := waitCarrier(ctx, n); err != nil {
			return nil, err
		}
	}
	for _, n := range l.nodes {
		setup := nftSetup{table: tableName(l.ID)}
		if n.Role == RoleMiddlebox {
			setup.forward = true
			if spec.NAT != nil {
				setup.masquerade = vethName(l.ID, 'b')
				setup.invalid = &spec.NAT.OnExpiry
			}
		}
		if err := n.Do(func() error { return installTable(setup) }); err != nil {
			return nil, fmt.Errorf("lab: %s: %w", n.Name, err)
		}
	}
	if spec.NAT != nil {
		// After the table: its ct expressions make the kernel load conntrack, which creates
		// these per-namespace sysctls.
		secs := fmt.Sprint(int64(spec.NAT.IdleTimeout.Seconds()))
		if err := l.Middlebox.SetSysctl("net.netfilter.nf_conntrack_tcp_timeout_established", secs); err != nil {
			return nil, fmt.Errorf("%w (is nf_conntrack available?)", err)
		}
		if err := l.Middlebox.SetSysctl("net.netfilter.nf_conntrack_tcp_loose", "0"); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// takeLock picks an unused run id and holds an flock on its lock file for the lab's life, so
// that Cleanup can tell a live run's objects from a killed run's. The file is locked under a
// temporary name and then linked into place, so it is never visible unlocked.
func (l *Lab) takeLock() error {
	for range 20 {
		id, err := newRunID()
		if err != nil {
			return err
		}
		tmp := lockPath(id) + ".new"
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				continue
			}
			return fmt.Errorf("lab: create lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("lab: lock %s: %w", tmp, err)
		}
		fmt.Fprintf(f, "%d\n", os.Getpid())
		err = os.Link(tmp, lockPath(id))
		os.Remove(tmp)
		if err != nil {
			f.Close()
			if errors.Is(err, os.ErrExist) {
				continue
			}
			return fmt.Errorf("lab: create lock file: %w", err)
		}
		if _, err := os.Stat(nsPathOf(nsName(id, RoleClient))); err == nil {
			// A killed run with the same id left a namespace: pick another id.
			f.Close()
			os.Remove(lockPath(id))
			continue
		}
		l.ID, l.lock = id, f
		return nil
	}
	return errors.New("lab: could not find a free run id: run `keeptune drill --cleanup`")
}

func nsPathOf(name string) string { return netnsDir + "/" + name }

type iface struct {
	name string
	addr netip.Prefix
}

// addVeth creates a veth pair with one end in a and the other in b. It is created from inside
// a, so neither end ever appears in the root namespace.
func addVeth(a *Node, aName string, b *Node, bName string) error {
	return a.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("lab: netlink: %w", err)
		}
		defer h.Close()
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: bName, PeerNamespace: netlink.NsFd(b.fd)}
		if err := h.LinkAdd(v); err != nil {
			return fmt.Errorf("lab: create veth %s-%s: %w", aName, bName, err)
		}
		return nil
	})
}

// configure brings up lo and the node's interfaces with their addresses (without duplicate
// address detection, so IPv6 works at once) and, if gw is valid, a default route via gw.
func configure(n *Node, gw netip.Addr, ifs ...iface) error {
	return n.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("lab: netlink: %w", err)
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("lab: %s: bring up lo: %w", n.Name, err)
		}
		var last netlink.Link
		for _, i := range ifs {
			link, err := h.LinkByName(i.name)
			if err != nil {
				return fmt.Errorf("lab: %s: find %s: %w", n.Name, i.name, err)
			}
			ipnet := &net.IPNet{IP: i.addr.Addr().AsSlice(), Mask: net.CIDRMask(i.addr.Bits(), i.addr.Addr().BitLen())}
			if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipnet, Flags: unix.IFA_F_NODAD}); err != nil {
				return fmt.Errorf("lab: %s: add %s to %s: %w", n.Name, i.addr, i.name, err)
			}
			if err := addQueue(h, link); err != nil {
				return fmt.Errorf("lab: %s: %s: %w", n.Name, i.name, err)
			}
			if err := h.LinkSetUp(link); err != nil {
				return fmt.Errorf("lab: %s: bring up %s: %w", n.Name, i.name, err)
			}
			last = link
		}
		if gw.IsValid() {
			if err := h.RouteAdd(&netlink.Route{LinkIndex: last.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
				return fmt.Errorf("lab: %s: default route via %s: %w", n.Name, gw, err)
			}
		}
		return nil
	})
}

// queueLen is the lab veths' transmit queue: room for a probe from each of the most clients a
// drill uses, twice.
const queueLen = 20000

// addQueue gives a veth a pfifo queue of queueLen packets. A veth has no queue by default and
// hands each packet straight to the peer's per-CPU backlog, which holds
// net.core.netdev_max_backlog (1000) packets: when thousands of keepalive timers fire in the
// same jiffy (they share a timer-wheel bucket), most probes fail to transmit locally, and the
// kernel neither counts such a probe nor backs off: it retries every HZ/2, and detection comes
// seconds late. A real NIC's qdisc (fq_codel: 10240 packets) would have queued them. With a
// queue the probes leave as they would on a real host; one the backlog still drops is lost
// after it was sent, like a drop in the network.
func addQueue(h *netlink.Handle, link netlink.Link) error {
	if err := h.LinkSetTxQLen(link, queueLen); err != nil {
		return fmt.Errorf("set txqueuelen: %w", err)
	}
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link.Attrs().Index,
		Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}, QdiscType: "pfifo"}
	if err := h.QdiscAdd(q); err != nil {
		return fmt.Errorf("add a pfifo queue: %w", err)
	}
	return nil
}

// waitCarrier waits until every veth of n is operationally up. The kernel turns a new link's
// qdisc on only when linkwatch has seen the carrier (about a second later); packets sent
// before that are dropped by the placeholder qdisc, which costs IPv6 neighbour discovery a
// whole retransmission. Asking for the link state (syncLinkState) makes linkwatch process the
// device at once: New takes milliseconds instead of a second.
func waitCarrier(ctx context.Context, n *Node) error {
	return n.Do(func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("lab: netlink: %w", err)
		}
		defer h.Close()
		if links, err := h.LinkList(); err == nil {
			for _, l := range links {
				if runIDOf(l.Attrs().Name) != "" {
					syncLinkState(l.Attrs().Name)
				}
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			links, err := h.LinkList()
			if err != nil {
				return fmt.Errorf("lab: %s: list links: %w", n.Name, err)
			}
			down := ""
			for _, l := range links {
				if a := l.Attrs(); runIDOf(a.Name) != "" && a.OperState != netlink.OperUp {
					down = a.Name
				}
			}
			if down == "" {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("lab: %s: %s did not come up within 5s", n.Name, down)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// syncLinkState asks the kernel for the link state of name (ethtool ETHTOOL_GLINK), which
// runs linkwatch for that device synchronously. Errors do not matter: waitCarrier polls anyway.
func syncLinkState(name string) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	const ethtoolGLink = 0x0000000a
	val := struct{ cmd, data uint32 }{cmd: ethtoolGLink}
	// struct ifreq: the name, then a union whose ifr_data points at the ethtool request.
	// The pointer stays an unsafe.Pointer so the runtime keeps it valid.
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(&val)
	unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
}

// ServerAddr is the address the client dials to reach the server.
func (l *Lab) ServerAddr() netip.Addr { return l.serverAddr }

// Listen opens a listener in node and closes it with the lab.
func (l *Lab) Listen(ctx context.Context, n *Node, lc *net.ListenConfig, addr netip.AddrPort) (*net.TCPListener, error) {
	ln, err := n.Listen(ctx, lc, addr)
	if err == nil {
		l.track(ln)
	}
	return ln, err
}

// Dial connects from node and closes the connection with the lab.
func (l *Lab) Dial(ctx context.Context, n *Node, d *net.Dialer, addr netip.AddrPort) (*net.TCPConn, error) {
	c, err := n.Dial(ctx, d, addr)
	if err == nil {
		l.track(c)
	}
	return c, err
}

// Track makes Close close c too (a connection accepted from a lab listener, for example).
func (l *Lab) Track(c interface{ Close() error }) { l.track(c) }

func (l *Lab) track(c interface{ Close() error }) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.socks = append(l.socks, c)
}

// Blackhole makes TCP packets vanish silently from now on: at the middlebox's forward path
// (Routed labs), or on the receiving node's input. Nothing is dropped in a sender's own
// egress (see the package doc).
func (l *Lab) Blackhole(dir Direction, at DropAt) error {
	if at == AtMiddlebox && l.Middlebox == nil {
		return errors.New("lab: a blackhole at the middlebox needs the routed topology")
	}
	type hole struct {
		node  *Node
		chain string
		iface string
	}
	var holes []hole
	if dir == Both || dir == ClientToServer {
		if at == AtMiddlebox {
			holes = append(holes, hole{l.Middlebox, chainForward, vethName(l.ID, 'a')}, hole{l.Middlebox, chainInput, vethName(l.ID, 'a')})
		} else {
			holes = append(holes, hole{l.Server, chainInput, l.Server.Iface})
		}
	}
	if dir == Both || dir == ServerToClient {
		if at == AtMiddlebox {
			holes = append(holes, hole{l.Middlebox, chainForward, vethName(l.ID, 'b')}, hole{l.Middlebox, chainInput, vethName(l.ID, 'b')})
		} else {
			holes = append(holes, hole{l.Client, chainInput, l.Client.Iface})
		}
	}
	for _, h := range holes {
		if err := h.node.Do(func() error { return addBlackhole(tableName(l.ID), h.chain, h.iface) }); err != nil {
			return fmt.Errorf("lab: %s: %w", h.node.Name, err)
		}
		l.mu.Lock()
		l.holes[holeKey{h.node, h.chain, h.iface}] = true
		l.mu.Unlock()
	}
	return nil
}

// Heal removes every blackhole.
func (l *Lab) Heal() error {
	l.mu.Lock()
	keys := make([]holeKey, 0, len(l.holes))
	for k := range l.holes {
		keys = append(keys, k)
	}
	l.holes = map[holeKey]bool{}
	l.mu.Unlock()
	done := map[[2]any]bool{}
	for _, k := range keys {
		if done[[2]any{k.node, k.chain}] {
			continue
		}
		done[[2]any{k.node, k.chain}] = true
		if err := k.node.Do(func() error { return removeBlackholes(tableName(l.ID), k.chain) }); err != nil {
			return fmt.Errorf("lab: %s: %w", k.node.Name, err)
		}
	}
	return nil
}

// Drops counts the packets dropped so far by blackholes and by the NAT's invalid-flow rule
// (dropped or answered with a reset).
type Drops struct {
	Blackholed uint64
	Invalid    uint64
}

// Dropped reads the lab's packet counters.
func (l *Lab) Dropped() (Drops, error) {
	var d Drops
	for _, n := range l.nodes {
		chains := []string{chainInput}
		if n.Role == RoleMiddlebox {
			chains = append(chains, chainForward)
		}
		for _, ch := range chains {
			err := n.Do(func() error {
				b, i, err := dropCount(tableName(l.ID), ch)
				d.Blackholed += b
				d.Invalid += i
				return err
			})
			if err != nil {
				return d, fmt.Errorf("lab: %s: %w", n.Name, err)
			}
		}
	}
	return d, nil
}

// LateFIN makes the middlebox hold back the first FIN of every flow that comes from the
// server's side (forwarded, or addressed to the middlebox itself): the client side learns that
// the server closed a connection only from the FIN's retransmission, one RTO (at least 200 ms)
// later, as over a path with that much latency. It needs the routed topology.
func (l *Lab) LateFIN() error {
	if l.Middlebox == nil {
		return errors.New("lab: LateFIN needs the routed topology")
	}
	for _, ch := range []string{chainForward, chainInput} {
		if err := l.Middlebox.Do(func() error { return addLateFIN(tableName(l.ID), ch, vethName(l.ID, 'b')) }); err != nil {
			return fmt.Errorf("lab: %s: %w", l.Middlebox.Name, err)
		}
	}
	return nil
}

// LateFINs counts the FINs LateFIN held back.
func (l *Lab) LateFINs() (uint64, error) {
	if l.Middlebox == nil {
		return 0, errors.New("lab: no middlebox")
	}
	var total uint64
	for _, ch := range []string{chainForward, chainInput} {
		err := l.Middlebox.Do(func() error {
			n, err := lateFINCount(tableName(l.ID), ch)
			total += n
			return err
		})
		if err != nil {
			return total, fmt.Errorf("lab: %s: %w", l.Middlebox.Name, err)
		}
	}
	return total, nil
}

// MiddleboxAddr is the middlebox's address on the client's side (where a proxy in the
// middlebox listens); invalid without a middlebox.
func (l *Lab) MiddleboxAddr() netip.Addr {
	if l.Middlebox == nil {
		return netip.Addr{}
	}
	return l.Middlebox.Addr
}

// Attempts counts the TCP connection attempts (SYN without ACK, retransmitted SYNs included)
// the middlebox has forwarded: what a NAT on the path sees of a client's new connections. It
// fails for a lab without a middlebox.
func (l *Lab) Attempts() (uint64, error) {
	for _, n := range l.nodes {
		if n.Role != RoleMiddlebox {
			continue
		}
		var c uint64
		err := n.Do(func() (err error) {
			c, err = synCount(tableName(l.ID))
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("lab: %s: %w", n.Name, err)
		}
		return c, nil
	}
	return 0, errors.New("lab: no middlebox counts connection attempts (a routed lab has one)")
}

// Close closes the lab's tracked sockets (with an abortive close, so no orphan socket keeps a
// namespace alive), removes its namespaces (their veths and nftables tables go with them) and
// its lock file. It is safe to call more than once and after a failed New.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	socks := l.socks
	l.socks = nil
	l.mu.Unlock()

	for _, s := range socks {
		if c, ok := s.(*net.TCPConn); ok {
			c.SetLinger(0)
		}
		s.Close()
	}
	var errs []error
	for _, n := range l.nodes {
		n.close()
		if err := deleteNamed(n.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if l.lock != nil {
		if len(errs) == 0 {
			if err := os.Remove(lockPath(l.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("lab: remove lock file: %w", err))
			}
		}
		l.lock.Close()
	}
	return errors.Join(errs...)
}
