// Package sockets lists a host's TCP sockets with what matters for connection liveness: the
// pending timer, how long each connection has been idle, whether keepalive is on, off or probing
// a silent peer, and the process that holds it. It is `keeptune sockets`, and a library the audit
// reuses (Walk, IndexOwners, Socket.KeepaliveSettings).
//
// # Where the facts come from
//
// Sockets come from netlink sock_diag (inet_diag), one SOCK_DIAG_BY_FAMILY dump per family and
// namespace, the way ss(8) reads them. States and ports are filtered in the kernel (a state mask
// and INET_DIAG_REQ_BYTECODE), so sockets that do not match never reach user space. The dump is
// streamed: each datagram (up to 32 KiB) is decoded and handed out one socket at a time, so
// memory does not grow with the number of sockets; only process attribution keeps one small
// entry per socket. struct tcp_info is decoded by its length: each kernel sends a prefix of
// today's layout, and fields past the attribute's end stay zero (see TCPInfo).
//
// # What keepalive state means
//
// inet_diag does not carry SO_KEEPALIVE. What it does carry is the pending timer, and the kernel
// keeps the keepalive timer armed on every SO_KEEPALIVE socket in a connected state
// (tcp_keepalive_timer re-arms itself until CLOSE), unless a retransmission or zero-window probe
// timer is pending, which hides it. So, without --deep:
//
//   - keepalive timer pending: on; with probes out (idiag_retrans > 0): probing, the peer is silent
//   - connected state, a socket with an inode, no timer at all: off
//   - retransmission or probe timer pending, or a listener: unknown
//   - TIME_WAIT, request sockets, CLOSE: n/a
//
// With --deep (root), keeptune duplicates each socket's descriptor out of its process
// (pidfd_open + pidfd_getfd, Linux 5.6+), checks that it is the same socket (fstat inode), reads
// SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT with getsockopt, and
// closes it. getsockopt returns the effective value: the socket's own or its namespace's sysctl.
// A value that differs from the namespace's sysctl was set by the program ("socket (set by
// program)"); one equal to it cannot be told apart from an unset one. On a listener, --deep shows
// what accepted sockets inherit.
//
// # Derived flags
//
//   - idle-without-keepalive: ESTABLISHED, keepalive off, no data either way for longer than the
//     idle threshold (default 300 s): a vanished peer will never be noticed.
//   - close-wait-leak: CLOSE_WAIT for longer than the threshold (default 60 s). The kernel keeps
//     no timestamp of the peer's FIN, so the age is the time since anything (data or ACK) was last
//     received, min(tcpi_last_data_recv, tcpi_last_ack_recv): the FIN came at or before that
//     moment, so the real age is at least this. A program that keeps writing to a half-closed
//     connection refreshes it (the peer ACKs), which errs towards not flagging.
//   - silent-peer: keepalive probes unanswered, or retransmissions with backoff >= 3.
//   - orphan-fin-wait2: FIN_WAIT2 with no inode: the program closed the socket and the kernel is
//     waiting for the peer's FIN until tcp_fin_timeout.
//
// Idle is the shorter of tcpi_last_data_recv and tcpi_last_data_sent: no data either way.
//
// # Processes
//
// The kernel has no socket-to-process map; IndexOwners builds one from /proc/PID/fd (see
// owners_linux.go for how it does less work than ss -p). A socket shared by several processes
// (forked workers) is attributed to the first one found. Sockets of other users' processes have
// no owner without root.
package sockets
