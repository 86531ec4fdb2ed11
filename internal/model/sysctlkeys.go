package model

// The sysctl keys keeptune reads. Keys under net. are per network namespace; the others are
// global (the kernel's Documentation/networking/ip-sysctl.rst and net/ipv4/sysctl_net_ipv4.c,
// which registers the per-namespace ones in ipv4_net_table).
const (
	KeyKeepaliveTime        = "net.ipv4.tcp_keepalive_time"
	KeyKeepaliveIntvl       = "net.ipv4.tcp_keepalive_intvl"
	KeyKeepaliveProbes      = "net.ipv4.tcp_keepalive_probes"
	KeyRetries2             = "net.ipv4.tcp_retries2"
	KeyFinTimeout           = "net.ipv4.tcp_fin_timeout"
	KeySynRetries           = "net.ipv4.tcp_syn_retries"
	KeySomaxconn            = "net.core.somaxconn"
	KeyMaxSynBacklog        = "net.ipv4.tcp_max_syn_backlog"
	KeyFileMax              = "fs.file-max"
	KeyNrOpen               = "fs.nr_open"
	KeyConntrackEstablished = "net.netfilter.nf_conntrack_tcp_timeout_established"
	KeyConntrackMax         = "net.netfilter.nf_conntrack_max"
	KeyConntrackCount       = "net.netfilter.nf_conntrack_count"
)
