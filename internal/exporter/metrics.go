package exporter

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keeptune/keeptune/internal/kstats"
)

// The metric descriptions. Names follow the Prometheus conventions: keeptune_ prefix, base
// units (seconds), _total for counters. netns is the namespace's inode (keeptune_netns_info
// names it).
var (
	descNetnsInfo = prometheus.NewDesc("keeptune_netns_info",
		"Network namespaces in scope: netns is the inode (stable while the namespace lives), name how people know it (host, netns NAME, or its first process).",
		[]string{"netns", "name"}, nil)
	descSysctl = prometheus.NewDesc("keeptune_sysctl",
		"Live value of a keepalive or timeout sysctl in a network namespace, as /proc/sys shows it (seconds for the timeouts, a count for probes and retries).",
		[]string{"netns", "key"}, nil)
	descSysctlDefault = prometheus.NewDesc("keeptune_sysctl_kernel_default",
		"The kernel's built-in default of a sysctl with a fixed default (from the last audit), to tell namespaces left at defaults.",
		[]string{"key"}, nil)
	descConntrackEntries = prometheus.NewDesc("keeptune_conntrack_entries",
		"Connection tracking entries in a network namespace (net.netfilter.nf_conntrack_count); absent when nf_conntrack is not loaded.",
		[]string{"netns"}, nil)
	descConntrackLimit = prometheus.NewDesc("keeptune_conntrack_entries_limit",
		"Connection tracking table size (net.netfilter.nf_conntrack_max).",
		[]string{"netns"}, nil)
	descSocketsByPort = prometheus.NewDesc("keeptune_sockets_by_port",
		"TCP sockets by listening port (the port they were accepted on; ephemeral for outbound connections, other past the top ports), state and keepalive (on, off, probing, unknown, n/a).",
		[]string{"netns", "port", "state", "keepalive"}, nil)
	descSocketsByProcess = prometheus.NewDesc("keeptune_sockets_by_process",
		"TCP sockets by process name (other past the top processes, unknown when no visible process holds them), state and keepalive.",
		[]string{"netns", "process", "state", "keepalive"}, nil)
	descIdle = prometheus.NewDesc("keeptune_established_idle_seconds",
		"Time since established connections last carried data either way, by keepalive state (observed at scrape time).",
		[]string{"netns", "keepalive"}, nil)
	descCloseWait = prometheus.NewDesc("keeptune_close_wait_sockets",
		"Sockets in CLOSE_WAIT (the peer closed, the program has not) by process.",
		[]string{"netns", "process"}, nil)
	descCloseWaitOldest = prometheus.NewDesc("keeptune_close_wait_oldest_seconds",
		"Age of the oldest CLOSE_WAIT socket of a process, at least: the time since the peer last sent anything (its FIN came then or earlier).",
		[]string{"netns", "process"}, nil)
	descFindings = prometheus.NewDesc("keeptune_audit_findings",
		"Findings of the last audit by rule and severity.",
		[]string{"rule", "severity"}, nil)
	descAuditLast = prometheus.NewDesc("keeptune_audit_last_run_timestamp_seconds",
		"When the last audit finished (Unix time); the audit runs on its own interval, not per scrape.",
		nil, nil)
	descAuditDuration = prometheus.NewDesc("keeptune_audit_duration_seconds",
		"How long the last audit took.", nil, nil)
	descAuditSuccess = prometheus.NewDesc("keeptune_audit_success",
		"1 when the last audit read the host, 0 when it failed (the error is logged).", nil, nil)
	descDrift = prometheus.NewDesc("keeptune_plan_drift",
		"Settings of the last applied plan (keeptune apply's journal): 1 when the live value differs from what apply set (a sysctl in its namespace, or a file's content), 0 when it matches.",
		[]string{"netns", "key"}, nil)
	descDriftKnown = prometheus.NewDesc("keeptune_plan_applied",
		"1 when keeptune apply's journal holds an applied plan to compare the live settings with, 0 when it holds none (absent without a journal).",
		nil, nil)
	descScrapeDuration = prometheus.NewDesc("keeptune_exporter_scrape_duration_seconds",
		"How long the last scrape took to read namespaces and sockets.", nil, nil)
	descScrapeErrors = prometheus.NewDesc("keeptune_exporter_scrape_errors_total",
		"Things scrapes could not read, by source (netns, sysctl, conntrack, kstats, sockets, drift): the rest of each scrape went on.",
		[]string{"source"}, nil)
	descSeriesDropped = prometheus.NewDesc("keeptune_exporter_series_dropped",
		"Series left out of the last scrape by the --max-series cap.", nil, nil)
	descSockets = prometheus.NewDesc("keeptune_exporter_sockets_scanned",
		"Sockets the last scrape read (all namespaces).", nil, nil)
)

// counterDescs are the kernel counters' descriptions, keyed like kstats.TCPCounters.
var counterDescs = func() []*prometheus.Desc {
	out := make([]*prometheus.Desc, len(kstats.TCPCounters))
	for i, c := range kstats.TCPCounters {
		out[i] = prometheus.NewDesc("keeptune_tcp_"+c.Name+"_total",
			c.Help+" Kernel counter "+c.Section+" "+c.Field+".", []string{"netns"}, nil)
	}
	return out
}()

// errorSources are the sources of keeptune_exporter_scrape_errors_total, all reported (at 0)
// from the first scrape on so that rate() works.
var errorSources = []string{"netns", "sysctl", "conntrack", "kstats", "sockets", "drift"}

// MetricNames lists the names of every metric family the exporter can send (histograms by their
// family name), for checks of dashboards and rules.
func MetricNames() []string {
	descs := []*prometheus.Desc{descNetnsInfo, descSysctl, descSysctlDefault, descConntrackEntries, descConntrackLimit,
		descSocketsByPort, descSocketsByProcess, descIdle, descCloseWait, descCloseWaitOldest, descFindings,
		descAuditLast, descAuditDuration, descAuditSuccess, descDrift, descDriftKnown, descScrapeDuration,
		descScrapeErrors, descSeriesDropped, descSockets}
	descs = append(descs, counterDescs...)
	out := make([]string, 0, len(descs))
	for _, d := range descs {
		// Desc has no accessor for its name; its String form starts with it.
		s := d.String()
		_, rest, _ := strings.Cut(s, `fqName: "`)
		name, _, _ := strings.Cut(rest, `"`)
		out = append(out, name)
	}
	return out
}
