package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs/envoy"
	"github.com/keeptune/keeptune/internal/configs/gunicorn"
	"github.com/keeptune/keeptune/internal/configs/kubernetes"
	"github.com/keeptune/keeptune/internal/configs/pgbouncer"
	"github.com/keeptune/keeptune/internal/configs/postgres"
	"github.com/keeptune/keeptune/internal/configs/redis"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
)

// otherRules are the configuration rules for the other formats (KT86x-KT89x: envoy, redis, postgres, pgbouncer, gunicorn, kubernetes), in ID order.
var otherRules = []Rule{
	redisKeepaliveOff, redisTimeoutZero,
	postgresKeepaliveOS, postgresUserTimeout,
	pgbouncerUserTimeout, pgbouncerKeepaliveOff, pgbouncerKeepaliveOS,
	envoyClusterKeepalive, envoyTimeoutDisabled,
	gunicornSyncKeepalive,
	k8sKeepaliveSysctls, k8sSysctlsHostNetwork,
}

// details returns the format models of the input's configurations of one format.
func confDetails[T any](in *Input, format string) []T {
	var out []T
	for _, c := range configsOf(in, format) {
		if d, ok := c.Detail.(T); ok {
			out = append(out, d)
		}
	}
	return out
}

// confLoc and confSrc locate a value in a configuration file; a line of 0 points at the file.
func confLoc(file string, line int) *model.Location { return &model.Location{File: file, Line: line} }

func confSrc(file string, line int) model.Source {
	return model.Source{Kind: model.SourceConfig, File: file, Line: line}
}

// hostDetection describes the host's keepalive timers and the dead-peer detection they give.
func confHostDetection(in *Input) (string, time.Duration, []model.Evidence) {
	idle, intvl, cnt := confHostKeepalive(in)
	d := kernel.DeadPeerDetection(idle.Value, intvl.Value, cnt.Value, 0)
	ev := []model.Evidence{
		{Name: model.KeyKeepaliveTime, Value: fmt.Sprint(int64(idle.Value / time.Second)), Source: idle.Source},
		{Name: model.KeyKeepaliveIntvl, Value: fmt.Sprint(int64(intvl.Value / time.Second)), Source: intvl.Source},
		{Name: model.KeyKeepaliveProbes, Value: fmt.Sprint(cnt.Value), Source: cnt.Source},
	}
	return fmt.Sprintf("the host's %s s idle, %s s interval, %d probes", secondsValue(idle.Value), secondsValue(intvl.Value), cnt.Value), d, ev
}

// --- Redis ---

var redisKeepaliveOff = Rule{
	ID: "KT860", Name: "redis-tcp-keepalive-off", Severity: model.SeverityWarning,
	Title: "Redis never detects dead clients (tcp-keepalive 0)",
	What:  "Flags tcp-keepalive 0 in redis.conf.",
	Why: "Without TCP keepalive Redis learns that a client is gone only when it writes to it. A client " +
		"whose host crashed, or whose flow a NAT or firewall dropped silently, stays connected for ever " +
		"with timeout 0 (the default): its connection counts against maxclients, and blocked or " +
		"subscribed clients (BLPOP, SUBSCRIBE) are idle by design, so nothing ever writes to them.",
	Fix:    "tcp-keepalive 300 (Redis's default since 3.2.1: probes after 300 s, then every 100 s, 3 probes: a dead client is found in about 10 minutes).",
	Source: "redis.conf (tcp-keepalive; \"A reasonable value for this option is 300 seconds\"); Redis anet.c anetKeepAlive (interval = idle/3, 3 probes)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*redis.Config](in, "redis") {
			d := c.TCPKeepalive
			if d == nil || redis.Seconds(d) != 0 {
				continue
			}
			msg := "tcp-keepalive 0 turns TCP keepalive off for client connections: a client that vanishes without closing (host crash, NAT or firewall dropping the flow) is never detected"
			if c.Timeout == nil || redis.Seconds(c.Timeout) == 0 {
				msg += ", and with timeout 0 its connection stays open for ever, counting against maxclients."
			} else {
				msg += fmt.Sprintf(" until timeout closes it after %d s of silence (never, for blocked or subscribed clients, which Redis does not time out).", redis.Seconds(c.Timeout))
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "redis tcp-keepalive in " + c.File,
				Message:  msg,
				Evidence: []model.Evidence{{Name: "tcp-keepalive", Value: "0", Source: confSrc(d.File, d.Line)}},
				Location: confLoc(d.File, d.Line),
				Fix: &model.Fix{Key: "tcp-keepalive", Current: "0", Proposed: "300", Line: "tcp-keepalive 300", File: d.File, FileLine: d.Line,
					Apply: "redis-cli CONFIG SET tcp-keepalive 300"},
			})
		}
		return out
	},
}

var redisTimeoutZero = Rule{
	ID: "KT861", Name: "redis-idle-clients-never-closed", Severity: model.SeverityInfo,
	Title: "Redis never closes idle clients (timeout 0)",
	What:  "Notes timeout 0 in redis.conf (also Redis's default), with the keepalive that then stands alone between leaked connections and maxclients.",
	Why: "With timeout 0 Redis never closes an idle client. Keepalive removes clients that are gone, " +
		"but not live ones that leak connections (a pool without a limit, a forgotten client per " +
		"request): those pile up until maxclients (10000 by default) refuses everyone.",
	Fix: "Leave it at 0 when every client uses a bounded pool; otherwise set timeout to a little more " +
		"than the longest idle time of your clients' pools (timeout 0 must not become shorter than a " +
		"pool keeps idle connections, or the pool reuses connections Redis has closed).",
	Source: "redis.conf (timeout: \"Close the connection after a client is idle for N seconds (0 to disable)\")",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*redis.Config](in, "redis") {
			if c.Timeout != nil && redis.Seconds(c.Timeout) != 0 {
				continue
			}
			if c.TCPKeepalive != nil && redis.Seconds(c.TCPKeepalive) == 0 {
				continue // KT860 says it, with the worse consequence
			}
			loc := confLoc(c.File, 0)
			ev := model.Evidence{Name: "timeout", Value: "0", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "redis default timeout 0"}}
			fix := &model.Fix{Key: "timeout", Current: "0", Proposed: "300", Line: "timeout 300", File: c.File,
				Apply: "redis-cli CONFIG SET timeout 300", Note: "Only if no client pool keeps idle connections longer than this: raise it above the longest pool idle time."}
			if d := c.Timeout; d != nil {
				loc, ev.Source, fix.FileLine = confLoc(d.File, d.Line), confSrc(d.File, d.Line), d.Line
			}
			out = append(out, model.Finding{
				Severity: model.SeverityInfo, Subject: "redis timeout in " + c.File,
				Message:  "timeout 0: Redis never closes idle clients; TCP keepalive removes the dead ones, but connections leaked by live clients accumulate until maxclients is reached.",
				Evidence: []model.Evidence{ev},
				Location: loc,
				Fix:      fix,
			})
		}
		return out
	},
}

// --- PostgreSQL ---

// keepaliveLines renders the profile's keepalive as three assignments with a separator.
func confKeepaliveLines(p model.Profile, idleKey, intvlKey, cntKey, sep string) (string, time.Duration) {
	idle, intvl, cnt := confProfileKeepalive(p)
	return fmt.Sprintf("%s%s%d\n%s%s%d\n%s%s%d", idleKey, sep, int64(idle/time.Second), intvlKey, sep, int64(intvl/time.Second), cntKey, sep, cnt),
		kernel.DeadPeerDetection(idle, intvl, cnt, 0)
}

var postgresKeepaliveOS = Rule{
	ID: "KT865", Name: "postgres-keepalive-os-default", Severity: model.SeverityWarning,
	Title: "PostgreSQL relies on the kernel's 2-hour keepalive",
	What: "Flags postgresql.conf without tcp_keepalives_idle (or with 0, \"the operating system's default\"), " +
		"and says what the host's sysctls then give (audit reads them; lint assumes the kernel defaults).",
	Why: "PostgreSQL turns keepalive on for every TCP client but leaves the timers to the host: with the " +
		"kernel's 7200 s + 9 × 75 s, a client that vanished (crashed host, NAT or firewall dropping an idle " +
		"flow) keeps its backend process, its connection slot and any locks its open transaction holds " +
		"for 2 h 11 min. Behind a NAT with a 350 s idle limit the first probe comes far too late to keep the " +
		"flow alive.",
	Fix:    "tcp_keepalives_idle = 600, tcp_keepalives_interval = 30, tcp_keepalives_count = 5 (or the profile's values), then SELECT pg_reload_conf(); (applies to new connections).",
	Source: "PostgreSQL docs, runtime-config-connection (tcp_keepalives_idle: \"A value of 0 (the default) selects the operating system's default\"); src/backend/libpq/pqcomm.c (SO_KEEPALIVE on TCP clients)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*postgres.Config](in, "postgres") {
			s := c.Last["tcp_keepalives_idle"]
			if s != nil && s.Duration() > 0 {
				continue
			}
			host, detect, ev := confHostDetection(in)
			loc, fileLine := confLoc(c.File, 0), 0
			if s != nil {
				loc, fileLine = confLoc(s.File, s.Line), s.Line
				ev = append([]model.Evidence{{Name: "tcp_keepalives_idle", Value: s.Value, Source: confSrc(s.File, s.Line)}}, ev...)
			}
			lines, want := confKeepaliveLines(in.Profile, "tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", " = ")
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "postgres tcp_keepalives_idle in " + c.File,
				Message: fmt.Sprintf("tcp_keepalives_idle is %s: client connections use %s, so a vanished client holds its backend, connection slot and locks for %s.",
					map[bool]string{true: "0 (the operating system's)", false: "not set"}[s != nil], host, human(detect)),
				Evidence: ev,
				Location: loc,
				Fix: &model.Fix{Key: "tcp_keepalives_idle", Proposed: strings.TrimPrefix(strings.SplitN(lines, "\n", 2)[0], "tcp_keepalives_idle = "),
					Line: lines, File: c.File, FileLine: fileLine, Apply: "sudo -u postgres psql -c 'SELECT pg_reload_conf()'",
					Note: fmt.Sprintf("A dead client is then found after %s.", human(want))},
			})
		}
		return out
	},
}

// unackedTarget is the profile's limit for unacknowledged data (5 min without a profile).
func confUnackedTarget(p model.Profile) time.Duration {
	if p.MaxUnackedTimeout > 0 {
		return p.MaxUnackedTimeout
	}
	return 5 * time.Minute
}

var postgresUserTimeout = Rule{
	ID: "KT866", Name: "postgres-user-timeout-unset", Severity: model.SeverityInfo,
	Title: "PostgreSQL without tcp_user_timeout",
	What:  "Notes postgresql.conf without tcp_user_timeout (or with 0).",
	Why: "Keepalive probes are not sent while data is unacknowledged. A client that vanishes while its " +
		"backend is sending a result keeps that backend retransmitting for the host's tcp_retries2 budget " +
		"(about 15 min 25 s by default), holding its locks, whatever tcp_keepalives_* say. tcp_user_timeout " +
		"bounds that wait.",
	Fix:    "tcp_user_timeout = '5min' (the profile's limit for unacknowledged data; it also ends keepalive after the first unanswered probe past it).",
	Source: "PostgreSQL docs, runtime-config-connection tcp_user_timeout (in milliseconds without a unit); tcp(7) TCP_USER_TIMEOUT; pgbouncer#138",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*postgres.Config](in, "postgres") {
			s := c.Last["tcp_user_timeout"]
			if s != nil && s.Duration() > 0 {
				continue
			}
			target := confUnackedTarget(in.Profile)
			loc, fileLine := confLoc(c.File, 0), 0
			ev := model.Evidence{Name: "tcp_user_timeout", Value: "0", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "PostgreSQL default 0"}}
			if s != nil {
				loc, fileLine, ev = confLoc(s.File, s.Line), s.Line, model.Evidence{Name: "tcp_user_timeout", Value: s.Value, Source: confSrc(s.File, s.Line)}
			}
			value := fmt.Sprintf("'%ds'", int64(target/time.Second))
			if target%time.Minute == 0 {
				value = fmt.Sprintf("'%dmin'", int64(target/time.Minute))
			}
			out = append(out, model.Finding{
				Severity: model.SeverityInfo, Subject: "postgres tcp_user_timeout in " + c.File,
				Message:  "tcp_user_timeout is not set: a client that vanishes while its backend is sending keeps the backend retransmitting for about 15 min (tcp_retries2), keepalive or not.",
				Evidence: []model.Evidence{ev},
				Location: loc,
				Fix: &model.Fix{Key: "tcp_user_timeout", Current: "0", Proposed: value, Line: "tcp_user_timeout = " + value, File: c.File, FileLine: fileLine,
					Apply: "sudo -u postgres psql -c 'SELECT pg_reload_conf()'"},
			})
		}
		return out
	},
}

// --- PgBouncer ---

func pgbouncerAt(c *pgbouncer.Config, s *pgbouncer.Setting) (*model.Location, int) {
	switch {
	case s != nil:
		return confLoc(s.File, s.Line), s.Line
	case c.Section != nil:
		return confLoc(c.Section.File, c.Section.Line), 0
	}
	return confLoc(c.File, 0), 0
}

var pgbouncerUserTimeout = Rule{
	ID: "KT870", Name: "pgbouncer-user-timeout-unset", Severity: model.SeverityWarning,
	Title: "PgBouncer without tcp_user_timeout",
	What:  "Flags pgbouncer.ini without tcp_user_timeout (or with 0, the default).",
	Why: "When the network to a server (or client) dies while PgBouncer has data in flight, keepalive " +
		"does not run and the connection hangs for the host's retransmission budget, about 15 minutes " +
		"with tcp_retries2 = 15, with every client on it stuck (pgbouncer#138: a replica's network failed " +
		"and all its connections hung). tcp_user_timeout ends that after a bounded time. Long queries are " +
		"not affected: it counts only unacknowledged data.",
	Fix:    "tcp_user_timeout = 300000 (milliseconds: the profile's limit for unacknowledged data).",
	Source: "PgBouncer doc/config.md tcp_user_timeout (milliseconds; 0 = the OS default); pgbouncer#138; tcp(7) TCP_USER_TIMEOUT",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*pgbouncer.Config](in, "pgbouncer") {
			v, s := c.Duration("tcp_user_timeout")
			if v > 0 {
				continue
			}
			target := confUnackedTarget(in.Profile)
			loc, fileLine := pgbouncerAt(c, s)
			ev := model.Evidence{Name: "tcp_user_timeout", Value: "0", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "pgbouncer default 0"}}
			if s != nil {
				ev.Source = confSrc(s.File, s.Line)
			}
			ms := fmt.Sprint(target.Milliseconds())
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "pgbouncer tcp_user_timeout in " + c.File,
				Message:  "tcp_user_timeout is not set: when a server or client vanishes while PgBouncer has data in flight, the connection and every client waiting on it hang for about 15 minutes (tcp_retries2) before the kernel gives up (pgbouncer#138).",
				Evidence: []model.Evidence{ev},
				Location: loc,
				Fix: &model.Fix{Key: "tcp_user_timeout", Current: "0", Proposed: ms, Line: "tcp_user_timeout = " + ms, File: c.File, FileLine: fileLine,
					Apply: "RELOAD; (on the pgbouncer admin console) or systemctl reload pgbouncer",
					Note:  "Write it in the [pgbouncer] section; the value is in milliseconds."},
			})
		}
		return out
	},
}

var pgbouncerKeepaliveOff = Rule{
	ID: "KT871", Name: "pgbouncer-tcp-keepalive-off", Severity: model.SeverityWarning,
	Title: "PgBouncer with TCP keepalive off",
	What:  "Flags tcp_keepalive = 0 in pgbouncer.ini.",
	Why: "PgBouncer keeps pooled server connections idle for up to server_idle_timeout and client " +
		"connections idle without limit (client_idle_timeout = 0): without keepalive a peer that vanished, " +
		"or a NAT or firewall that dropped the idle flow, is found only when the next query hangs on it.",
	Fix:    "tcp_keepalive = 1 with tcp_keepidle, tcp_keepintvl and tcp_keepcnt set (the profile's values).",
	Source: "PgBouncer doc/config.md tcp_keepalive (default 1)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*pgbouncer.Config](in, "pgbouncer") {
			on, s := c.Int("tcp_keepalive")
			if on != 0 || s == nil {
				continue
			}
			lines, _ := confKeepaliveLines(in.Profile, "tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", " = ")
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "pgbouncer tcp_keepalive in " + c.File,
				Message:  "tcp_keepalive = 0: client and server connections have no TCP keepalive, so a vanished peer or a dropped idle flow is found only when a query hangs on it.",
				Evidence: []model.Evidence{{Name: "tcp_keepalive", Value: s.Value, Source: confSrc(s.File, s.Line)}},
				Location: confLoc(s.File, s.Line),
				Fix: &model.Fix{Key: "tcp_keepalive", Current: s.Value, Proposed: "1", Line: "tcp_keepalive = 1\n" + lines, File: s.File, FileLine: s.Line,
					Apply: "systemctl reload pgbouncer"},
			})
		}
		return out
	},
}

var pgbouncerKeepaliveOS = Rule{
	ID: "KT872", Name: "pgbouncer-keepalive-os-default", Severity: model.SeverityInfo,
	Title: "PgBouncer keepalive left to the kernel's timers",
	What:  "Notes pgbouncer.ini with tcp_keepalive on but tcp_keepidle unset or 0, and what the host's sysctls then give.",
	Why: "tcp_keepalive = 1 alone uses the host's timers: with the kernel defaults, 2 h 11 min before a " +
		"vanished client or server is dropped, while client connections may idle without limit; a NAT " +
		"or load balancer between PgBouncer and its clients or servers forgets idle flows much sooner.",
	Fix:    "tcp_keepidle, tcp_keepintvl and tcp_keepcnt in the [pgbouncer] section (the profile's values).",
	Source: "PgBouncer doc/config.md (\"tcp_keepalive: Turns on basic keepalive with OS defaults\")",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*pgbouncer.Config](in, "pgbouncer") {
			if on, _ := c.Int("tcp_keepalive"); on == 0 {
				continue
			}
			idle, s := c.Int("tcp_keepidle")
			if idle > 0 {
				continue
			}
			host, detect, ev := confHostDetection(in)
			loc, fileLine := pgbouncerAt(c, s)
			lines, _ := confKeepaliveLines(in.Profile, "tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", " = ")
			out = append(out, model.Finding{
				Severity: model.SeverityInfo, Subject: "pgbouncer tcp_keepidle in " + c.File,
				Message:  fmt.Sprintf("tcp_keepalive is on with %s: a vanished client or server is dropped after %s.", host, human(detect)),
				Evidence: ev,
				Location: loc,
				Fix:      &model.Fix{Key: "tcp_keepidle", Line: lines, File: c.File, FileLine: fileLine, Apply: "systemctl reload pgbouncer", Note: "Write them in the [pgbouncer] section."},
			})
		}
		return out
	},
}

// --- Envoy ---

var envoyClusterKeepalive = Rule{
	ID: "KT875", Name: "envoy-cluster-keepalive-missing", Severity: model.SeverityInfo,
	Title: "Envoy cluster without usable TCP keepalive",
	What: "Notes static clusters without upstream_connection_options.tcp_keepalive, or whose keepalive_time " +
		"is left to the host (7200 s by default) while Envoy keeps idle pooled connections for the HTTP " +
		"idle_timeout (1 h by default): the first probe would come after Envoy itself closes the connection.",
	Why: "Envoy pools upstream connections and keeps them idle for up to an hour. A NAT, firewall, IPVS " +
		"or cloud load balancer between Envoy and the backend forgets idle flows long before that (AWS NAT " +
		"350 s, Azure 4 min, IPVS 900 s: kubelb#539); the next request on such a connection hangs (silent " +
		"drop) or fails (reset). Keepalive probes earlier than the middlebox's limit keep the flow alive and " +
		"find dead backends.",
	Fix:    "upstream_connection_options: {tcp_keepalive: {keepalive_time: 600, keepalive_interval: 30, keepalive_probes: 5}} on the cluster (the profile's values; below the smallest idle timeout on the path).",
	Source: "Envoy docs: config.core.v3.TcpKeepalive, Cluster.upstream_connection_options, timeouts FAQ (idle_timeout 1 h); kubermatic/kubelb#539",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*envoy.Config](in, "envoy") {
			for _, cl := range c.Clusters {
				k := c.ClusterKeepalive(cl)
				idleTimeout := envoy.DefaultIdleTimeout
				if f := cl.Fields["common_http_protocol_options.idle_timeout"]; f != nil {
					idleTimeout = f.Duration
				}
				pIdle, pIntvl, pCnt := confProfileKeepalive(in.Profile)
				snippet := fmt.Sprintf("upstream_connection_options:\n  tcp_keepalive:\n    keepalive_time: %d\n    keepalive_interval: %d\n    keepalive_probes: %d",
					int64(pIdle/time.Second), int64(pIntvl/time.Second), pCnt)
				switch {
				case !k.Enabled.Value:
					out = append(out, model.Finding{
						Severity: model.SeverityInfo, Subject: "envoy cluster " + cl.Name,
						Message:  fmt.Sprintf("cluster %s has no TCP keepalive: its pooled connections idle for up to %s with nothing on the wire, so a middlebox that forgets idle flows breaks them silently and a dead backend is found only by the next request.", cl.Name, envoyIdleLimit(idleTimeout)),
						Evidence: []model.Evidence{{Name: "tcp_keepalive", Value: "not set", Source: k.Enabled.Source}},
						Location: confLoc(c.File, cl.Line),
						Fix:      &model.Fix{Key: "upstream_connection_options.tcp_keepalive", Line: snippet, File: c.File, Note: "Add it to cluster " + cl.Name + "."},
					})
				case !k.Idle.Known:
					host, _, ev := confHostDetection(in)
					idle, _, _ := confHostKeepalive(in)
					if idleTimeout > 0 && idle.Value < idleTimeout {
						continue // the host's idle is short enough to matter
					}
					out = append(out, model.Finding{
						Severity: model.SeverityInfo, Subject: "envoy cluster " + cl.Name,
						Message:  fmt.Sprintf("cluster %s turns TCP keepalive on without keepalive_time: %s, so no probe is sent before Envoy closes the idle connection (idle_timeout %s).", cl.Name, host, envoyIdleLimit(idleTimeout)),
						Evidence: append([]model.Evidence{{Name: "tcp_keepalive", Value: "keepalive_time not set", Source: k.Idle.Source}}, ev...),
						Location: confLoc(c.File, cl.TCPKeepalive),
						Fix: &model.Fix{Key: "keepalive_time", Proposed: fmt.Sprint(int64(pIdle / time.Second)), Line: snippet, File: c.File, FileLine: cl.TCPKeepalive,
							Note: "Replace the tcp_keepalive block of cluster " + cl.Name + "."},
					})
				}
			}
		}
		return out
	},
}

func envoyIdleLimit(d time.Duration) string {
	if d <= 0 {
		return "ever (idle_timeout 0s)"
	}
	return human(d)
}

var envoyTimeoutDisabled = Rule{
	ID: "KT876", Name: "envoy-timeout-disabled", Severity: model.SeverityWarning,
	Title: "Envoy idle limits disabled (0s)",
	What: "Flags \"0s\" for common_http_protocol_options.idle_timeout (listeners and clusters), " +
		"stream_idle_timeout and the TCP proxy's idle_timeout.",
	Why: "0s disables the limit: idle connections (or streams) are never closed. Dead peers that no " +
		"keepalive detects then hold file descriptors and memory for ever, and a pool of never-expiring " +
		"upstream connections outlives every NAT and load balancer idle timeout on the path.",
	Fix:    "Set a finite value: idle_timeout: 3600s (Envoy's default), stream_idle_timeout: 300s.",
	Source: "Envoy docs, timeouts FAQ and config.core.v3.HttpProtocolOptions.idle_timeout (\"disabled if set to 0s\")",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		proposals := map[string]string{
			"common_http_protocol_options.idle_timeout": "3600s", "stream_idle_timeout": "300s", "tcp_proxy.idle_timeout": "3600s",
		}
		for _, c := range confDetails[*envoy.Config](in, "envoy") {
			type site struct {
				f     *envoy.Field
				block string
			}
			var sites []site
			for _, l := range c.Listeners {
				for _, key := range []string{"common_http_protocol_options.idle_timeout", "stream_idle_timeout", "tcp_proxy.idle_timeout"} {
					if f := l.Fields[key]; f != nil {
						sites = append(sites, site{f, "listener " + l.Name})
					}
				}
			}
			for _, cl := range c.Clusters {
				if f := cl.Fields["common_http_protocol_options.idle_timeout"]; f != nil {
					sites = append(sites, site{f, "cluster " + cl.Name})
				}
			}
			for _, s := range sites {
				if s.f.Duration != 0 {
					continue
				}
				leaf := s.f.Key[strings.LastIndex(s.f.Key, ".")+1:]
				out = append(out, model.Finding{
					Severity: model.SeverityWarning, Subject: "envoy " + s.f.Key + " in " + s.block,
					Message:  fmt.Sprintf("%s: %s in %s disables the limit: idle %s are never closed.", s.f.Key, s.f.Raw, s.block, map[bool]string{true: "streams", false: "connections"}[leaf == "stream_idle_timeout"]),
					Evidence: []model.Evidence{{Name: s.f.Key, Value: s.f.Raw, Source: confSrc(c.File, s.f.Line)}},
					Location: confLoc(c.File, s.f.Line),
					Fix: &model.Fix{Key: s.f.Key, Current: s.f.Raw, Proposed: proposals[s.f.Key], Line: leaf + ": " + proposals[s.f.Key],
						File: c.File, FileLine: s.f.Line},
				})
			}
		}
		return out
	},
}

// --- Gunicorn ---

var gunicornSyncKeepalive = Rule{
	ID: "KT880", Name: "gunicorn-sync-ignores-keepalive", Severity: model.SeverityWarning,
	Title: "Gunicorn keepalive set for the sync worker, which ignores it",
	What: "Flags a keepalive setting (configuration file, --keep-alive or GUNICORN_CMD_ARGS) when the " +
		"worker is sync: the default, and not turned into gthread by threads > 1.",
	Why: "The sync worker closes every connection after its response and ignores keepalive: a keepalive " +
		"chosen to outlast a load balancer's pool (the usual reason to set it) does nothing, and the " +
		"balancer's reuse of the closed connections shows as 502s or retried requests. Gunicorn's docs put " +
		"the sync worker behind a buffering proxy such as nginx.",
	Fix: "worker_class = \"gthread\" (with threads = N) or gevent, keeping keepalive longer than the " +
		"idle timeout of whatever pools connections to Gunicorn; or drop keepalive and keep the sync worker " +
		"behind nginx.",
	Source: "Gunicorn docs, settings keepalive (\"The sync worker does not support persistent connections and will ignore this option\"), gunicorn/config.py (sync with threads > 1 runs gthread)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*gunicorn.Config](in, "gunicorn") {
			ka := c.Settings["keepalive"]
			worker, ws := c.WorkerClass()
			if ka == nil || worker != "sync" {
				continue
			}
			ev := []model.Evidence{{Name: "keepalive", Value: ka.Value, Source: confSrc(ka.File, ka.Line)}}
			if ws != nil {
				ev = append(ev, model.Evidence{Name: "worker_class", Value: ws.Value, Source: confSrc(ws.File, ws.Line)})
			} else {
				ev = append(ev, model.Evidence{Name: "worker_class", Value: "sync", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "gunicorn default"}})
			}
			fix := &model.Fix{Key: "worker_class", Current: "sync", Proposed: "gthread", Line: "worker_class = \"gthread\"\nthreads = 4", File: ka.File,
				Note: "Or drop keepalive and keep the sync worker behind a buffering proxy (nginx)."}
			switch {
			case ka.From != "config":
				fix.Line = "--worker-class gthread --threads 4"
				fix.Note = "Add to the gunicorn command line. " + fix.Note
			case ws != nil && ws.From == "config":
				fix.Line, fix.FileLine = "worker_class = \"gthread\"", ws.Line
				fix.Note = "And add threads = 4 (or more). " + fix.Note
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "gunicorn keepalive in " + c.File,
				Message:  fmt.Sprintf("keepalive %s is set, but the worker is sync, which ignores it and closes every connection after its response.", ka.Value),
				Evidence: ev,
				Location: confLoc(ka.File, ka.Line),
				Fix:      fix,
			})
		}
		return out
	},
}

// --- Kubernetes ---

var k8sKeepaliveSysctls = Rule{
	ID: "KT885", Name: "kubernetes-pod-keepalive-sysctls", Severity: model.SeverityError,
	Title: "Pod without keepalive sysctls (kernel defaults in its namespace)",
	What: "Judges pods and pod templates (Deployment, StatefulSet, DaemonSet, Job, CronJob, ...) that set " +
		"net.ipv4.tcp_keepalive_time, _intvl or _probes in securityContext.sysctls against the profile like " +
		"the host (KT101: error when a dead peer is found too late, warning when too early, the kernel " +
		"defaults standing in for keys left out), and notes pods that set none or leave some out " +
		"(hostNetwork pods excepted).",
	Why: "A pod has a network namespace of its own, which starts with the kernel's defaults (7200 s, 75 s, " +
		"9 probes) whatever the node's sysctl files say: programs in it that turn keepalive on without their " +
		"own timers find a dead peer after 2 h 11 min, far beyond the CNI's, kube-proxy's and cloud load " +
		"balancers' idle timeouts. These three sysctls are safe (allowed without kubelet flags) since " +
		"Kubernetes 1.29.",
	Fix:    "spec.securityContext.sysctls with the three keys (values from the profile; k8s-pod: 600, 30, 5).",
	Source: "Kubernetes docs, \"Using sysctls in a Kubernetes Cluster\" (safe sysctls: net.ipv4.tcp_keepalive_time/intvl/probes since 1.29); net/ipv4/tcp_ipv4.c tcp_sk_init (per-namespace defaults)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*kubernetes.Config](in, "kubernetes") {
			for _, w := range c.Workloads {
				if w.HostNetwork {
					continue
				}
				if f, ok := k8sKeepaliveFinding(in.Profile, c, w); ok {
					out = append(out, f)
				}
			}
		}
		return out
	},
}

// k8sKeepaliveFinding judges a pod that sets keepalive sysctls like the host (KT101): the
// values it sets, with the kernel defaults for those it leaves out, against the profile.
// Outside the profile it is an error (detection too slow) or a warning (too fast); a pod that
// sets none, or leaves keys out within the profile, is a note. The fix is indented for the
// list it joins.
func k8sKeepaliveFinding(p model.Profile, c *kubernetes.Config, w *kubernetes.Workload) (model.Finding, bool) {
	pIdle, pIntvl, pCnt := confProfileKeepalive(p)
	want := map[string]string{
		model.KeyKeepaliveTime: secondsValue(pIdle), model.KeyKeepaliveIntvl: secondsValue(pIntvl), model.KeyKeepaliveProbes: fmt.Sprint(pCnt),
	}
	k := c.Keepalive(w)
	d := kernel.DeadPeerDetection(k.Idle.Value, k.Interval.Value, k.Count.Value, 0)
	minDetection := kernel.DeadPeerDetection(p.Idle.Min, p.Interval.Min, p.Probes.Min, 0)
	sev := model.SeverityInfo
	explicit := len(kubernetes.KeepaliveKeys) > 0 && (w.Sysctl(model.KeyKeepaliveTime) != nil || w.Sysctl(model.KeyKeepaliveIntvl) != nil || w.Sysctl(model.KeyKeepaliveProbes) != nil)
	switch {
	case !explicit:
		// Nothing chosen: the kernel defaults, a note (keeptune cannot tell whether the pod's
		// programs enable keepalive at all).
	case p.MaxDetection > 0 && d > p.MaxDetection:
		sev = model.SeverityError
	case minDetection > 0 && d < minDetection:
		sev = model.SeverityWarning
	}
	var missing, set, fixKeys []string
	for _, key := range kubernetes.KeepaliveKeys {
		if w.Sysctl(key) == nil {
			missing = append(missing, key)
		} else {
			set = append(set, key)
		}
	}
	if sev == model.SeverityInfo && len(missing) == 0 {
		return model.Finding{}, false
	}
	fixKeys = missing
	if sev != model.SeverityInfo {
		fixKeys = kubernetes.KeepaliveKeys // out of the profile: all three take the profile's values
	}
	var entries []string
	for _, key := range fixKeys {
		entries = append(entries, fmt.Sprintf("- {name: %s, value: %q}", key, want[key]))
	}
	indent := func(prefix string, ls []string) string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = prefix + l
		}
		return strings.Join(out, "\n")
	}
	line := w.SpecLine
	snippet := "securityContext:\n  sysctls:\n" + indent("    ", entries)
	where := fmt.Sprintf("In the pod spec at line %d", w.SpecLine)
	switch {
	case len(w.Sysctls) > 0:
		// Entries join the existing list: no parents, the list's own indentation.
		line = w.Sysctls[0].Line
		snippet = indent("", entries)
		where = fmt.Sprintf("In securityContext.sysctls (its first entry is at line %d), at the indentation of its entries", line)
		if len(set) > 0 && sev != model.SeverityInfo {
			where += "; replace the entries for " + strings.Join(set, ", ")
		}
	case w.SecurityContextLine > 0:
		line = w.SecurityContextLine
		snippet = "sysctls:\n" + indent("  ", entries)
		where = fmt.Sprintf("In securityContext (line %d), indented one level below it", line)
	}
	var msg string
	values := fmt.Sprintf("idle %s, interval %s, %d probes", human(k.Idle.Value), human(k.Interval.Value), k.Count.Value)
	switch sev {
	case model.SeverityError:
		msg = fmt.Sprintf("%s finds a dead peer after %s (%s); the %s profile allows %s.", w.Label(), human(d), values, p.Name, human(p.MaxDetection))
	case model.SeverityWarning:
		msg = fmt.Sprintf("%s finds a dead peer after %s (%s), faster than the %s profile's %s: probes on every idle connection for little gain.", w.Label(), human(d), values, p.Name, human(minDetection))
	default:
		msg = fmt.Sprintf("%s does not set %s: its pod network namespace starts with the kernel defaults, so a dead peer is found after %s (%s).",
			w.Label(), strings.Join(missing, ", "), human(d), values)
	}
	if len(missing) > 0 && sev != model.SeverityInfo {
		msg += fmt.Sprintf(" It leaves %s at the kernel default.", strings.Join(missing, ", "))
	}
	return model.Finding{
		Severity: sev, Subject: "kubernetes " + w.Label(), Message: msg,
		Evidence: []model.Evidence{
			{Name: model.KeyKeepaliveTime, Value: secondsValue(k.Idle.Value), Source: k.Idle.Source},
			{Name: model.KeyKeepaliveIntvl, Value: secondsValue(k.Interval.Value), Source: k.Interval.Source},
			{Name: model.KeyKeepaliveProbes, Value: fmt.Sprint(k.Count.Value), Source: k.Count.Source},
		},
		Location: confLoc(c.File, line),
		Fix: &model.Fix{Key: "securityContext.sysctls", Line: snippet, File: c.File, FileLine: line,
			Note: where + ". Safe sysctls since Kubernetes 1.29; older clusters need the kubelet's --allowed-unsafe-sysctls."},
	}, true
}

var k8sSysctlsHostNetwork = Rule{
	ID: "KT886", Name: "kubernetes-sysctls-with-host-network", Severity: model.SeverityError,
	Title: "Pod sets network sysctls with hostNetwork: true",
	What:  "Flags pods and pod templates that set net.* sysctls in securityContext.sysctls and also hostNetwork: true.",
	Why: "A hostNetwork pod shares the node's network namespace; the kubelet refuses to let it set " +
		"namespaced network sysctls (SysctlForbidden: \"not allowed with host net enabled\"), so the pod " +
		"never starts.",
	Fix:    "Drop hostNetwork: true, or drop the sysctls and set them on the node (/etc/sysctl.d).",
	Source: "Kubernetes pkg/kubelet/sysctl (namespaced sysctls are forbidden with host networking); docs \"Using sysctls in a Kubernetes Cluster\"",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range confDetails[*kubernetes.Config](in, "kubernetes") {
			for _, w := range c.Workloads {
				if !w.HostNetwork {
					continue
				}
				var net []string
				ev := []model.Evidence{{Name: "hostNetwork", Value: "true", Source: confSrc(c.File, w.HostNetworkLine)}}
				for _, s := range w.Sysctls {
					if strings.HasPrefix(s.Name, "net.") {
						net = append(net, s.Name)
						ev = append(ev, model.Evidence{Name: s.Name, Value: s.Value, Source: confSrc(c.File, s.Line)})
					}
				}
				if len(net) == 0 {
					continue
				}
				out = append(out, model.Finding{
					Severity: model.SeverityError, Subject: "kubernetes " + w.Label(),
					Message:  fmt.Sprintf("%s sets %s with hostNetwork: true: the kubelet rejects the pod (SysctlForbidden).", w.Label(), strings.Join(net, ", ")),
					Evidence: ev,
					Location: confLoc(c.File, w.HostNetworkLine),
					Fix: &model.Fix{Key: "hostNetwork", Current: "true", Proposed: "false", Line: "hostNetwork: false", File: c.File, FileLine: w.HostNetworkLine,
						Note: "Or remove the sysctls from the pod and set them on the node in /etc/sysctl.d."},
				})
			}
		}
		return out
	},
}
