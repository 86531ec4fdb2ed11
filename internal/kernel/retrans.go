package kernel

import (
	"fmt"
	"time"
)

// Retrans models when Linux gives up on one unacknowledged segment, as measured by
// `keeptune drill unacked-data` on this project's kernel (6.18) and as net/ipv4/tcp_output.c
// and tcp_timer.c read:
//
//   - A tail loss probe (TLP, net.ipv4.tcp_early_retrans >= 3, the default) retransmits the
//     segment after PTO = min(2*srtt + 200ms, RTO) without counting as a retransmission.
//   - The first RTO retransmission (F1) follows one RTO later. Only then does the kernel set
//     retrans_stamp, and it sets it to F1, not to the original send: both the tcp_retries2
//     budget (UnackedTimeout) and TCP_USER_TIMEOUT are counted from F1.
//   - The RTO then doubles (up to TCP_RTO_MAX), and the budget is checked only when an RTO
//     fires: the connection dies at the first firing at least a budget after F1. With
//     TCP_USER_TIMEOUT the timer is clamped to the time left, so it dies at F1 + user timeout.
//
// So the error comes PTO + RTO + (budget rounded up to a firing) after the write: with
// tcp_retries2=5 and a 204ms RTO that is about 13.1s, not the 12.6s budget; with
// tcp_retries2=3, 6.5s instead of 3.0s, because the budget counted from F1 misses the fourth
// firing by one minimum RTO.
type Retrans struct {
	RTO time.Duration // the socket's RTO when the data is sent (tcpi_rto)
	PTO time.Duration // the tail loss probe's delay; 0 when TLP is off
}

// NewRetrans builds the model from tcp_info's rto and rtt (srtt) and whether TLP is on.
func NewRetrans(rto, srtt time.Duration, tlp bool) Retrans {
	m := Retrans{RTO: rto}
	if tlp {
		m.PTO = min(ceilJiffy(2*srtt)+200*time.Millisecond, rto)
	}
	return m
}

// LowLatency is the model for a path whose RTT is negligible next to TCP_RTO_MIN (a LAN, a
// data centre): RTO and PTO are TCP_RTO_MIN plus the jiffy the timer rounds up to, as the
// drill's lab sockets report (tcpi_rto 204 ms), and the tail loss probe's 2*srtt rounds up to
// one jiffy too. It is the fastest the kernel can give up; a longer RTT only makes it later.
func LowLatency() Retrans { return Retrans{RTO: RTOMin + Jiffy, PTO: RTOMin + Jiffy} }

func ceilJiffy(d time.Duration) time.Duration {
	return (d + Jiffy - 1) / Jiffy * Jiffy
}

// FirstRetrans is F1, the first RTO retransmission, after the original send.
func (m Retrans) FirstRetrans() time.Duration { return m.PTO + m.RTO }

// GiveUp returns when, after the original send, the kernel reports ETIMEDOUT for tcp_retries2
// (userTimeout 0) or for TCP_USER_TIMEOUT. alt is an earlier RTO firing the kernel may already
// kill at if its timers run late enough (TimerLateness) to push it past the budget (0 when
// none can).
func (m Retrans) GiveUp(retries2 int, userTimeout time.Duration) (theory, alt time.Duration) {
	f1 := m.FirstRetrans()
	if userTimeout > 0 {
		return f1 + userTimeout, 0
	}
	budget := UnackedTimeout(retries2)
	prev, since := time.Duration(0), time.Duration(0)
	interval := m.RTO
	for since < budget {
		prev = since
		interval = min(2*interval, RTOMax)
		since += interval
	}
	if prev > 0 && prev+time.Duration(float64(prev)*TimerLateness)+2*Jiffy >= budget {
		alt = f1 + prev
	}
	return f1 + since, alt
}

// Rule describes the model for reports.
func (m Retrans) Rule(retries2 int, userTimeout time.Duration) string {
	start := fmt.Sprintf("first RTO retransmission (TLP %v + RTO %v)", m.PTO, m.RTO)
	if m.PTO == 0 {
		start = fmt.Sprintf("first RTO retransmission (RTO %v)", m.RTO)
	}
	if userTimeout > 0 {
		return fmt.Sprintf("%s + TCP_USER_TIMEOUT %v", start, userTimeout)
	}
	return fmt.Sprintf("%s + the first RTO firing at least %v later (the tcp_retries2=%d budget of retransmits_timed_out() in net/ipv4/tcp_timer.c)",
		start, UnackedTimeout(retries2), retries2)
}
