// Package probe measures the idle timeout of the middleboxes on a path (`keeptune probe
// idle-timeout`) and is the responder at its far end (`keeptune responder`).
//
// Why measure: a NAT gateway, firewall or load balancer forgets flows idle longer than its
// timeout, and what its documentation says is often not what the path does (several boxes in
// series, a provider's change, a default nobody wrote down). Keepalive settings are only right
// against the real value.
//
// The parts, each in its own file:
//   - proto.go: the versioned wire protocol (docs/probe.md). The responder never sends a
//     connection more bytes than it received on it: the hello pays for its answer, a probe for
//     its answer, and server-to-client ticks are paid for in advance.
//   - responder.go: the far end, safe to expose (limits per source and in total, rates, an
//     idle cap, nothing for clients that do not say hello).
//   - search.go: the search for the timeout as pure logic (when to probe which connection),
//     driven by run.go against real connections and by a simulator in the tests.
//   - run.go, conn.go: a run: the connections, the control connection that tells a path
//     failure from an idle timeout, the kernel timestamps idle lengths are measured between.
//   - result.go, report.go: what a run found, as text and JSON.
//
// Only the target given is contacted. Every connection a run opens is closed when it returns,
// also when its context is cancelled.
package probe
