// Package kernel is what Linux does with TCP keepalive, TCP_USER_TIMEOUT and retransmissions,
// in one place: the limits and defaults of the socket options and sysctls, how long a silent
// peer takes to be declared dead, and when the kernel gives up on unacknowledged data. Every
// number names the kernel source it comes from. No I/O: values in, durations out.
package kernel

import (
	"math"
	"time"
)

// Limits of the keepalive socket options and sysctls (include/net/tcp.h MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT; do_tcp_setsockopt and the sysctl tables enforce them).
// TCP_USER_TIMEOUT takes a C int of milliseconds and rejects negative values.
const (
	MaxKeepIdle    = 32767 * time.Second
	MaxKeepIntvl   = 32767 * time.Second
	MaxKeepCnt     = 127
	MaxUserTimeout = math.MaxInt32 * time.Millisecond
)

// Defaults of a fresh network namespace (include/net/tcp.h TCP_KEEPALIVE_TIME,
// TCP_KEEPALIVE_INTVL, TCP_KEEPALIVE_PROBES, TCP_RETR2; set in tcp_sk_init).
const (
	DefaultKeepIdle  = 7200 * time.Second
	DefaultKeepIntvl = 75 * time.Second
	DefaultKeepCnt   = 9
	DefaultRetries2  = 15
)

// Retransmission timer bounds (include/net/tcp.h TCP_RTO_MIN, TCP_RTO_MAX). Linux 6.15 made the
// maximum tunable (net.ipv4.tcp_rto_max_ms, default 120000); keeptune assumes the defaults.
const (
	RTOMin = 200 * time.Millisecond
	RTOMax = 120 * time.Second
)

// Timer precision. Kernel timers run on the jiffies wheel and fire late, never early: a timer
// lands in a bucket whose granularity grows 8x per level, so it is late by at most 1/8 of its
// delay plus a jiffy (kernel/time/timer.c, "LVL_GRAN"). Jiffy is 1/HZ for HZ=250, the
// configuration of this project's machines and of Debian and Ubuntu kernels.
const (
	Jiffy         = 4 * time.Millisecond
	TimerLateness = 0.125
)

// DeadPeerDetection is how long after the last segment received from a silent, idle peer the
// kernel closes the connection: idle + interval * count without TCP_USER_TIMEOUT (userTimeout 0).
// With TCP_USER_TIMEOUT the kernel ignores the count and aborts at the first keepalive timer
// firing (idle, then every interval) at or after the user timeout once at least one probe was
// sent (net/ipv4/tcp_timer.c tcp_keepalive_timer), so the result is idle + k*interval for the
// smallest k >= 1 that reaches it.
func DeadPeerDetection(idle, interval time.Duration, count int, userTimeout time.Duration) time.Duration {
	if userTimeout <= 0 {
		return idle + interval*time.Duration(count)
	}
	t := idle + interval // the first check after one probe was sent
	if interval <= 0 {
		return t
	}
	if rest := userTimeout - t; rest > 0 {
		t += (rest + interval - 1) / interval * interval
	}
	return t
}

// UnackedTimeout is the retransmission budget for unacknowledged data for a given tcp_retries2
// when no TCP_USER_TIMEOUT is set. It mirrors retransmits_timed_out() in net/ipv4/tcp_timer.c:
// the budget is computed from TCP_RTO_MIN doubling up to TCP_RTO_MAX, whatever the real RTT, so
// tcp_retries2 = 15 gives about 924.6 s. The kernel counts the budget from the first RTO
// retransmission and checks it only when an RTO fires: Retrans.GiveUp says when it really gives up.
func UnackedTimeout(retries2 int) time.Duration {
	if retries2 <= 0 {
		return 0
	}
	// linear_backoff_thresh = ilog2(TCP_RTO_MAX / TCP_RTO_MIN) = ilog2(600) = 9
	thresh := 0
	for r := RTOMax / RTOMin; r > 1; r >>= 1 {
		thresh++
	}
	if retries2 <= thresh {
		return time.Duration((2<<retries2)-1) * RTOMin
	}
	return time.Duration((2<<thresh)-1)*RTOMin + time.Duration(retries2-thresh)*RTOMax
}
