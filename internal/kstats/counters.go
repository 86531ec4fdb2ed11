package kstats

// Counter names one kernel counter keeptune reports: where the kernel prints it and what it
// counts, in words a person can act on. The exporter names its metric
// keeptune_tcp_<Name>_total.
type Counter struct {
	// Name is the metric name stem, snake_case.
	Name string
	// Section and Field say where the kernel prints it: "TcpExt" in /proc/net/netstat, "Tcp" in
	// /proc/net/snmp.
	Section, Field string
	// Help says what an increase means (from the kernel source, net/ipv4/tcp*.c).
	Help string
}

// TCPCounters are the counters of connection liveness: keepalive probes, the aborts that follow
// a dead peer, a full memory or an application's close, resets and retransmissions, and opens as
// the denominator.
var TCPCounters = []Counter{
	{"keepalive_probes", "TcpExt", "TCPKeepAlive", "Keepalive probes sent (tcp_keepalive_timer)."},
	{"aborts_on_timeout", "TcpExt", "TCPAbortOnTimeout", "Connections aborted because retransmissions, keepalive probes or TCP_USER_TIMEOUT ran out: the peer was silent."},
	{"aborts_on_data", "TcpExt", "TCPAbortOnData", "Connections reset because data arrived after the application shut down reading, or it closed with SO_LINGER 0."},
	{"aborts_on_close", "TcpExt", "TCPAbortOnClose", "Connections reset because the application closed them with unread data."},
	{"aborts_on_linger", "TcpExt", "TCPAbortOnLinger", "Connections reset in FIN_WAIT2 because TCP_LINGER2 was negative or ran out."},
	{"aborts_on_memory", "TcpExt", "TCPAbortOnMemory", "Connections reset because too many orphaned sockets or TCP memory pressure."},
	{"aborts_failed", "TcpExt", "TCPAbortFailed", "Aborts whose RST could not be sent (no memory)."},
	{"timeouts", "TcpExt", "TCPTimeouts", "Retransmission timer expiries (RTO) on established and closing connections."},
	{"established_resets", "Tcp", "EstabResets", "Connections that went from ESTABLISHED or CLOSE_WAIT straight to CLOSED (RFC 1213 tcpEstabResets)."},
	{"resets_sent", "Tcp", "OutRsts", "Segments sent with the RST flag (RFC 1213 tcpOutRsts)."},
	{"retransmitted_segments", "Tcp", "RetransSegs", "Segments retransmitted (RFC 1213 tcpRetransSegs)."},
	{"active_opens", "Tcp", "ActiveOpens", "Connections opened by connect() (RFC 1213 tcpActiveOpens)."},
	{"passive_opens", "Tcp", "PassiveOpens", "Connections accepted from a listener (RFC 1213 tcpPassiveOpens)."},
	{"attempt_fails", "Tcp", "AttemptFails", "Connection attempts that failed (RFC 1213 tcpAttemptFails)."},
}

// Value returns the value of one counter, and false when the kernel does not print it (older
// kernels lack some TcpExt fields) or the section was not read.
func (st Stats) Value(c Counter) (uint64, bool) {
	return st.Section(c.Section).Get(c.Field)
}
