// Package drill proves keepalive settings on real kernel timers: each scenario builds a lab
// (internal/lab), opens real TCP connections with the settings under test (set with the public
// keepalive package), breaks the path, and measures when the kernel gives up, next to the
// theory (internal/model, and Retrans for unacknowledged data).
//
// Why measure at all: the formulas are simple, but what a host really does depends on things
// the formulas leave out (timer-wheel lateness, the tail loss probe, where retrans_stamp
// starts, conntrack's view of a probe, probes lost in a burst). A drill shows the gap, and the
// verdict says whether it is within what the kernel's timers allow (AcceptWindow).
//
// Measurements start from the kernel's own clock where it matters: the last segment a socket
// received comes from tcp_info, not from when the application saw it.
package drill
