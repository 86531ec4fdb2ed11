package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of postgres configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{postgresKeepaliveOS, postgresUserTimeout}

func init() { configs.RegisterRules("postgres", rules...) }

var postgresKeepaliveOS = configs.Rule{
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
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			s := c.Last["tcp_keepalives_idle"]
			if s != nil && s.Duration() > 0 {
				continue
			}
			host, detect, ev := in.HostDetection()
			loc, fileLine := configs.Loc(c.File, 0), 0
			if s != nil {
				loc, fileLine = configs.Loc(s.File, s.Line), s.Line
				ev = append([]model.Evidence{{Name: "tcp_keepalives_idle", Value: s.Value, Source: configs.Src(s.File, s.Line)}}, ev...)
			}
			lines, want := in.KeepaliveLines("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", " = ")
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "postgres tcp_keepalives_idle in " + c.File,
				Message: fmt.Sprintf("tcp_keepalives_idle is %s: client connections use %s, so a vanished client holds its backend, connection slot and locks for %s.",
					map[bool]string{true: "0 (the operating system's)", false: "not set"}[s != nil], host, configs.Human(detect)),
				Evidence: ev,
				Location: loc,
				Fix: &model.Fix{Key: "tcp_keepalives_idle", Proposed: strings.TrimPrefix(strings.SplitN(lines, "\n", 2)[0], "tcp_keepalives_idle = "),
					Line: lines, File: c.File, FileLine: fileLine, Apply: "sudo -u postgres psql -c 'SELECT pg_reload_conf()'",
					Note: fmt.Sprintf("A dead client is then found after %s.", configs.Human(want))},
			})
		}
		return out
	},
}

var postgresUserTimeout = configs.Rule{
	ID: "KT866", Name: "postgres-user-timeout-unset", Severity: model.SeverityInfo,
	Title: "PostgreSQL without tcp_user_timeout",
	What:  "Notes postgresql.conf without tcp_user_timeout (or with 0).",
	Why: "Keepalive probes are not sent while data is unacknowledged. A client that vanishes while its " +
		"backend is sending a result keeps that backend retransmitting for the host's tcp_retries2 budget " +
		"(about 15 min 25 s by default), holding its locks, whatever tcp_keepalives_* say. tcp_user_timeout " +
		"bounds that wait.",
	Fix:    "tcp_user_timeout = '5min' (the profile's limit for unacknowledged data; it also ends keepalive after the first unanswered probe past it).",
	Source: "PostgreSQL docs, runtime-config-connection tcp_user_timeout (in milliseconds without a unit); tcp(7) TCP_USER_TIMEOUT; pgbouncer#138",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			s := c.Last["tcp_user_timeout"]
			if s != nil && s.Duration() > 0 {
				continue
			}
			target := in.UnackedTarget()
			loc, fileLine := configs.Loc(c.File, 0), 0
			ev := model.Evidence{Name: "tcp_user_timeout", Value: "0", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "PostgreSQL default 0"}}
			if s != nil {
				loc, fileLine, ev = configs.Loc(s.File, s.Line), s.Line, model.Evidence{Name: "tcp_user_timeout", Value: s.Value, Source: configs.Src(s.File, s.Line)}
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
