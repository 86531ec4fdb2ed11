package model

import "time"

// Kernel constants behind the retransmission theory (include/net/tcp.h). Linux 6.15 made the
// maximum tunable (net.ipv4.tcp_rto_max_ms, default 120000); keeptune assumes the defaults.
const (
	tcpRTOMin = 200 * time.Millisecond
	tcpRTOMax = 120 * time.Second
)

// UnackedTimeout is how long the kernel keeps retransmitting unacknowledged data before it
// gives up on a connection, for a given tcp_retries2, when no TCP_USER_TIMEOUT is set. It mirrors
// retransmits_timed_out() in net/ipv4/tcp_timer.c: the budget is computed from TCP_RTO_MIN
// doubling up to TCP_RTO_MAX, whatever the real RTT, so tcp_retries2 = 15 means about 924.6 s.
func UnackedTimeout(retries2 int) time.Duration {
	if retries2 <= 0 {
		return 0
	}
	// linear_backoff_thresh = ilog2(TCP_RTO_MAX / TCP_RTO_MIN) = ilog2(600) = 9
	thresh := 0
	for r := tcpRTOMax / tcpRTOMin; r > 1; r >>= 1 {
		thresh++
	}
	if retries2 <= thresh {
		return time.Duration((2<<retries2)-1) * tcpRTOMin
	}
	return time.Duration((2<<thresh)-1)*tcpRTOMin + time.Duration(retries2-thresh)*tcpRTOMax
}
