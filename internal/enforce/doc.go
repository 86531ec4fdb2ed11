// Package enforce puts a keepalive and TCP_USER_TIMEOUT policy on the TCP connections of a
// cgroup with BPF programs, for programs that never set them and cannot be changed in a hurry
// (legacy daemons, scripts, database clients, and static binaries such as Go programs, which
// LD_PRELOAD tricks cannot reach).
//
// # How
//
// One BPF_PROG_TYPE_SOCK_OPS program is attached (a cgroup bpf_link) to every enforced cgroup;
// it runs for every TCP socket of the cgroup's subtree. Each link has its own per-CPU cgroup
// storage (BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE), into which apply writes the cgroup's id and
// policy, and in which the program counts. At BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB (a connection
// the cgroup opened completed its handshake) and BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB (one it
// will accept did), the program takes the policy from its storage (bpf_get_local_storage: no
// map lookup; looking the policy up by the socket's cgroup id cost it most of its time). Where
// an enforced cgroup lies inside another, a socket runs the inner link's program first and then
// the outer's; the outer's storage is marked, and its program walks from the socket's cgroup
// (sk->sk_cgrp_data) up to the nearest cgroup in the policy map and stands back unless that is
// its own: the nearest enforced cgroup's policy applies. The program calls bpf_setsockopt for
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
// TCP_USER_TIMEOUT and SO_KEEPALIVE (all allowed since Linux 5.9: sol_socket_sockopt and
// sol_tcp_sockopt in net/core/filter.c list them). The callbacks run before connect(2) or
// accept(2) hands the connection to the program. BPF_SOCK_OPS_TCP_CONNECT_CB is not used: a
// user timeout set there would also cut the program's own connect timeout short (SYN
// retransmissions obey TCP_USER_TIMEOUT), and a connection that never establishes needs no
// keepalive.
//
// "Left unset" is read from the socket itself: the program reads tcp_sock.keepalive_time,
// keepalive_intvl, keepalive_probes and icsk_user_timeout through BTF (bpf_skc_to_tcp_sock),
// where zero means the program never set the option and the kernel falls back to the
// namespace's sysctl (getsockopt, which returns the effective value, cannot tell), and the
// SOCK_KEEPOPEN bit of sk_flags for SO_KEEPALIVE. An accepted socket inherits what the
// program set on its listener. Default mode sets only what is unset; force mode also replaces
// values looser than the policy.
//
// Force mode adds a BPF_CGROUP_SETSOCKOPT program, the guard. It sees every setsockopt(2) of
// the cgroup's processes on TCP sockets and rewrites the value before the kernel applies it:
// SO_KEEPALIVE 0 becomes 1; TCP_KEEPIDLE, TCP_KEEPINTVL or TCP_KEEPCNT above the policy becomes
// the policy's; TCP_USER_TIMEOUT 0 or above the policy becomes the policy's. What the program
// sees: its call succeeds, and getsockopt returns the policy's value. Tighter values and every
// other option pass untouched; every rewrite is counted. With a policy of one side, the guard
// polices listeners (accept) or unconnected sockets (connect), and only the connections the
// sock_ops program marked with that side when they were established (socket storage,
// keeptune_sides): the cgroup's connections of the other side keep what their program sets.
//
// Per-cgroup counters (per CPU: the sock_ops program's in its link's storage, the guard's in a
// map) count connections given values on each side, those where
// the program's own values were left in place, the guard's rewrites and refused
// bpf_setsockopt calls.
//
// Programs, maps and links are pinned under /sys/fs/bpf/keeptune, so the policy outlives the
// command (not a reboot); detach unpins them, and the kernel frees them.
//
// # Why asm and no C
//
// The programs are written with cilium/ebpf's asm package in Go, not in C compiled by clang:
// `go build` needs nothing else, and no generated object has to be committed and kept in step
// with its source. The programs are small (a map lookup, a walk up the cgroups, five
// bpf_setsockopt calls); the offsets of the kernel structure fields they read are taken from
// the running kernel's BTF when they are loaded (layout.go), which is what CO-RE relocation
// would do for a compiled object.
//
// # Limits
//
// Connections that existed before apply keep their settings. In default mode a program that
// sets its own values after the connection is established wins (Go's net package sets 15 s /
// 15 s / 9 probes right after connect and accept; it leaves TCP_USER_TIMEOUT alone). The
// guard picks the policy by the calling process's cgroup, which is the socket's unless a
// descriptor was passed between cgroups. The sock_ops program looks at most 16 cgroups up
// from the socket's.
package enforce
