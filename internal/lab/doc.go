// Package lab builds small, isolated networks of Linux network namespaces for keeptune's drills:
// a client and a server joined by a veth pair, or joined through a forwarding middlebox that
// can act as a NAT which forgets idle flows. It also switches faults on (blackholes that drop
// packets silently) and removes everything it created.
//
// Why namespaces: a drill must watch real kernel timers (keepalive, retransmission,
// conntrack expiry) fire on real sockets, without touching the host's own network or sending
// a single packet off the machine. Every lab lives in namespaces it created itself and uses
// only documentation address ranges (198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
//
// Naming and cleanup: every namespace, veth and nftables table carries the prefix "keeptune-"
// and a five-hex-digit run id, and a run holds an flock on /run/keeptune-ID.lock for its whole
// life. Close removes a lab; Cleanup removes what killed runs left behind and leaves the labs
// of runs that are still alive (their lock is held) alone.
//
// Faults are made where a real failure happens: in the middlebox's forward path or on the
// receiving node's input, never in the sender's own egress, and they drop TCP only (ARP and
// neighbour discovery keep working, so no router answers the silence with ICMP errors). A keepalive probe that the
// sender's qdisc or output hook drops counts as a local transmit failure: the kernel neither
// counts it nor backs off, it retries every HZ/2, and the drill would measure something that
// never happens in production.
//
// Threads: code runs "inside" a node by locking a goroutine to its OS thread and calling setns
// (Node.Do). Sockets keep the namespace they were created in, so a listener or connection made
// in Do can be used from any goroutine afterwards. The thread always returns to its original
// namespace before it is unlocked; if it cannot, it stays locked and Go discards it when the
// goroutine ends, so no other goroutine ever runs in a lab namespace by accident.
package lab
