package lab

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Chain names inside a lab's table (one inet table per namespace, named keeptune-ID).
const (
	chainInput       = "input"
	chainForward     = "forward"
	chainPostrouting = "postrouting"
)

// blackholeTag marks the rules Blackhole adds, so that Heal and Dropped find them.
var blackholeTag = []byte("keeptune-blackhole")

// synTag marks the middlebox's counter of connection attempts (SYN without ACK) it forwards.
var synTag = []byte("keeptune-syn")

// nftSetup describes the table to create in one namespace.
type nftSetup struct {
	table      string
	forward    bool      // a filter chain on the forward hook (middlebox)
	masquerade string    // masquerade packets leaving this interface ("" = no NAT)
	invalid    *OnExpiry // what to do with packets conntrack finds invalid (NAT only)
}

func chainOf(table *nftables.Table, name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: table}
}

// installTable creates the node's table. It must run inside the node (Node.Do): the netlink
// socket nftables opens belongs to the calling thread's namespace.
func installTable(s nftSetup) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	accept := nftables.ChainPolicyAccept
	t := c.AddTable(&nftables.Table{Name: s.table, Family: nftables.TableFamilyINet})
	filterChain := func(name string, hook *nftables.ChainHook) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	}
	input := filterChain(chainInput, nftables.ChainHookInput)
	var forward *nftables.Chain
	if s.forward {
		forward = filterChain(chainForward, nftables.ChainHookForward)
	}
	if s.masquerade != "" {
		post := c.AddChain(&nftables.Chain{Name: chainPostrouting, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(s.masquerade)},
			&expr.Masq{},
		}})
	}
	if forward != nil {
		// `tcp flags & (syn | ack) == syn counter`: every connection attempt that crosses the
		// middlebox (Lab.Attempts), before any rule that may drop it.
		c.AddRule(&nftables.Rule{Table: t, Chain: forward, UserData: synTag, Exprs: append(isTCP(),
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
			&expr.Counter{})})
	}
	if s.invalid != nil {
		// Forwarded packets of forgotten flows, and packets addressed to the NAT itself
		// (the server's replies to the masqueraded address arrive on the input hook).
		for _, ch := range []*nftables.Chain{forward, input} {
			if ch != nil {
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: invalidExprs(*s.invalid)})
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: create table %s: %w (is nf_tables available? needs CAP_NET_ADMIN)", s.table, err)
	}
	return nil
}

// isTCP matches TCP packets. Faults touch TCP only: ARP and IPv6 neighbour discovery keep
// working, so no router sends the sender an ICMP "unreachable" (which would turn the
// connection's ETIMEDOUT into EHOSTUNREACH and revert retransmission backoff, RFC 6069):
// the peer vanishes silently, as a crashed process or a frozen host behind a router does.
func isTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

// invalidExprs is `meta l4proto tcp ct state invalid counter drop` (or `reject with tcp
// reset`).
func invalidExprs(o OnExpiry) []expr.Any {
	e := append(isTCP(),
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitINVALID),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Counter{},
	)
	if o == ExpiryReset {
		return append(e, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	}
	return append(e, &expr.Verdict{Kind: expr.VerdictDrop})
}

// addBlackhole inserts `iifname IFACE meta l4proto tcp counter drop` at the head of chain,
// inside the node.
func addBlackhole(table, chain, iface string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	c.InsertRule(&nftables.Rule{Table: t, Chain: chainOf(t, chain), UserData: blackholeTag, Exprs: append([]expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(iface)}},
		append(isTCP(), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})...)})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add blackhole on %s: %w", iface, err)
	}
	return nil
}

// blackholeRules lists the blackhole rules of chain with their counters, inside the node.
func blackholeRules(table, chain string) ([]*nftables.Rule, *nftables.Conn, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	rules, err := c.GetRules(t, chainOf(t, chain))
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: list %s %s: %w", table, chain, err)
	}
	var out []*nftables.Rule
	for _, r := range rules {
		if string(r.UserData) == string(blackholeTag) {
			out = append(out, r)
		}
	}
	return out, c, nil
}

// dropCount sums the packets the blackhole rules of chain have dropped, and the packets
// the invalid-flow rule has dropped or reset.
func dropCount(table, chain string) (blackholed, invalid uint64, err error) {
	c, err := nftables.New()
	if err != nil {
		return 0, 0, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	rules, err := c.GetRules(t, chainOf(t, chain))
	if err != nil {
		return 0, 0, fmt.Errorf("nftables: list %s %s: %w", table, chain, err)
	}
	for _, r := range rules {
		if string(r.UserData) == string(synTag) || string(r.UserData) == string(lateFINTag) {
			continue
		}
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				if string(r.UserData) == string(blackholeTag) {
					blackholed += ctr.Packets
				} else {
					invalid += ctr.Packets
				}
			}
		}
	}
	return blackholed, invalid, nil
}

// removeBlackholes deletes the blackhole rules of chain, inside the node.
func removeBlackholes(table, chain string) error {
	rules, c, err := blackholeRules(table, chain)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: remove blackholes: %w", err)
	}
	return nil
}

// ifname pads an interface name the way the kernel stores it (IFNAMSIZ bytes).
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// listTables returns the names of the inet/ip/ip6 tables in the calling thread's namespace
// whose name starts with Prefix.
func listOurTables() ([]*nftables.Table, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables: %w", err)
	}
	var out []*nftables.Table
	for _, t := range tables {
		if runIDOf(t.Name) != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

func deleteTable(t *nftables.Table) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table %s: %w", t.Name, err)
	}
	return nil
}

// synCount reads the middlebox's connection-attempt counter, inside the node.
func synCount(table string) (uint64, error) { return taggedCount(table, chainForward, synTag) }

// taggedCount sums the counters of the rules of chain marked tag, inside the node.
func taggedCount(table, chain string, tag []byte) (uint64, error) {
	c, err := nftables.New()
	if err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	rules, err := c.GetRules(t, chainOf(t, chain))
	if err != nil {
		return 0, fmt.Errorf("nftables: list %s %s: %w", table, chain, err)
	}
	var n uint64
	for _, r := range rules {
		if string(r.UserData) != string(tag) {
			continue
		}
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				n += ctr.Packets
			}
		}
	}
	return n, nil
}

// lateFINTag marks the rules LateFIN adds.
var lateFINTag = []byte("keeptune-late-fin")

// addLateFIN adds `iifname IFACE meta l4proto tcp tcp flags & fin == fin ct mark & 1 == 0
// ct mark set 1 counter drop` to chain, inside the node: the first FIN of each flow arriving on
// IFACE is dropped, so the peer learns of the close only from its retransmission, one RTO
// later (at least 200 ms).
func addLateFIN(table, chain, iface string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(iface)},
	}
	exprs = append(exprs, isTCP()...)
	exprs = append(exprs,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x01}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(1), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(1)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
	c.AddRule(&nftables.Rule{Table: t, Chain: chainOf(t, chain), UserData: lateFINTag, Exprs: exprs})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add late-FIN rule on %s: %w", iface, err)
	}
	return nil
}

// lateFINCount reads how many FINs the late-FIN rules of chain held back, inside the node.
func lateFINCount(table, chain string) (uint64, error) { return taggedCount(table, chain, lateFINTag) }
