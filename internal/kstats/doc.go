// Package kstats reads the kernel's TCP counters of a network namespace: the TcpExt section of
// /proc/net/netstat and the Tcp section of /proc/net/snmp, every field the running kernel
// prints (the field names come from the header line, so fields added by newer kernels are kept
// too).
//
// It exists because the usual readers drop what keeptune needs most: prometheus/procfs leaves
// several TcpExt abort fields unset and node_exporter's default netstat filter drops
// TCPKeepAlive, TCPAbortOn* and EstabResets. The exporter turns these into counters and apply's
// canary compares them before and after a change.
//
// Parsing is pure (Parse takes the bytes of one file); the readers only choose which files to
// read: /proc/PID/net/ shows the network namespace of process PID, /proc/thread-self/net/ the
// namespace of the calling thread (after setns on a locked thread).
package kstats
