// Package exporter is `keeptune exporter`: connection liveness as Prometheus metrics, per
// network namespace, listening port and process.
//
// Every scrape reads the world once: the namespaces in scope, in each the keepalive and timeout
// sysctls, conntrack's count and limit and the kernel's TCP counters (internal/kstats), and the
// socket table (internal/sockets, streamed: memory does not grow with the number of sockets).
// The audit (host facts, configurations, rules) is slower and changes rarely, so it runs on its
// own interval and scrapes report its last result.
//
// # Cardinality
//
// Socket breakdowns are bounded whatever the host holds: ports are the listening ports a
// socket was accepted on, the --ports allow-list and the top --top-ports by socket count (the
// rest is "other"); outbound connections' ephemeral local ports are one value, "ephemeral".
// Processes are the --processes allow-list and the top --top-processes by name ("other", and
// "unknown" for sockets no process holds). On top of that a hard cap (--max-series, default
// 2000) bounds the keeptune_ series of one scrape: series are emitted in priority order (the
// exporter's own, namespaces, sysctls, counters, findings, CLOSE_WAIT, idle histograms,
// sockets by port, sockets by process) and what passes the cap is dropped and counted in
// keeptune_exporter_series_dropped. The number of series depends on namespaces, ports and
// processes, never on the number of sockets.
//
// # Errors
//
// Nothing a scrape reads can make it fail: an unreachable namespace, an unreadable /proc file or
// a failed socket dump is counted in keeptune_exporter_scrape_errors_total{source} and logged,
// and the rest of the scrape goes on.
package exporter
