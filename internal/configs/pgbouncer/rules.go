package pgbouncer

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of pgbouncer configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{pgbouncerUserTimeout, pgbouncerKeepaliveOff, pgbouncerKeepaliveOS}

func init() { configs.RegisterRules("pgbouncer", rules...) }

func pgbouncerAt(c *Config, s *Setting) (*model.Location, int) {
	switch {
	case s != nil:
		return configs.Loc(s.File, s.Line), s.Line
	case c.Section != nil:
		return configs.Loc(c.Section.File, c.Section.Line), 0
	}
	return configs.Loc(c.File, 0), 0
}

var pgbouncerUserTimeout = configs.Rule{
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
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			v, s := c.Duration("tcp_user_timeout")
			if v > 0 {
				continue
			}
			target := in.UnackedTarget()
			loc, fileLine := pgbouncerAt(c, s)
			ev := model.Evidence{Name: "tcp_user_timeout", Value: "0", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "pgbouncer default 0"}}
			if s != nil {
				ev.Source = configs.Src(s.File, s.Line)
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

var pgbouncerKeepaliveOff = configs.Rule{
	ID: "KT871", Name: "pgbouncer-tcp-keepalive-off", Severity: model.SeverityWarning,
	Title: "PgBouncer with TCP keepalive off",
	What:  "Flags tcp_keepalive = 0 in pgbouncer.ini.",
	Why: "PgBouncer keeps pooled server connections idle for up to server_idle_timeout and client " +
		"connections idle without limit (client_idle_timeout = 0): without keepalive a peer that vanished, " +
		"or a NAT or firewall that dropped the idle flow, is found only when the next query hangs on it.",
	Fix:    "tcp_keepalive = 1 with tcp_keepidle, tcp_keepintvl and tcp_keepcnt set (the profile's values).",
	Source: "PgBouncer doc/config.md tcp_keepalive (default 1)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			on, s := c.Int("tcp_keepalive")
			if on != 0 || s == nil {
				continue
			}
			lines, _ := in.KeepaliveLines("tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", " = ")
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "pgbouncer tcp_keepalive in " + c.File,
				Message:  "tcp_keepalive = 0: client and server connections have no TCP keepalive, so a vanished peer or a dropped idle flow is found only when a query hangs on it.",
				Evidence: []model.Evidence{{Name: "tcp_keepalive", Value: s.Value, Source: configs.Src(s.File, s.Line)}},
				Location: configs.Loc(s.File, s.Line),
				Fix: &model.Fix{Key: "tcp_keepalive", Current: s.Value, Proposed: "1", Line: "tcp_keepalive = 1\n" + lines, File: s.File, FileLine: s.Line,
					Apply: "systemctl reload pgbouncer"},
			})
		}
		return out
	},
}

var pgbouncerKeepaliveOS = configs.Rule{
	ID: "KT872", Name: "pgbouncer-keepalive-os-default", Severity: model.SeverityInfo,
	Title: "PgBouncer keepalive left to the kernel's timers",
	What:  "Notes pgbouncer.ini with tcp_keepalive on but tcp_keepidle unset or 0, and what the host's sysctls then give.",
	Why: "tcp_keepalive = 1 alone uses the host's timers: with the kernel defaults, 2 h 11 min before a " +
		"vanished client or server is dropped, while client connections may idle without limit; a NAT " +
		"or load balancer between PgBouncer and its clients or servers forgets idle flows much sooner.",
	Fix:    "tcp_keepidle, tcp_keepintvl and tcp_keepcnt in the [pgbouncer] section (the profile's values).",
	Source: "PgBouncer doc/config.md (\"tcp_keepalive: Turns on basic keepalive with OS defaults\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			if on, _ := c.Int("tcp_keepalive"); on == 0 {
				continue
			}
			idle, s := c.Int("tcp_keepidle")
			if idle > 0 {
				continue
			}
			host, detect, ev := in.HostDetection()
			loc, fileLine := pgbouncerAt(c, s)
			lines, _ := in.KeepaliveLines("tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", " = ")
			out = append(out, model.Finding{
				Severity: model.SeverityInfo, Subject: "pgbouncer tcp_keepidle in " + c.File,
				Message:  fmt.Sprintf("tcp_keepalive is on with %s: a vanished client or server is dropped after %s.", host, configs.Human(detect)),
				Evidence: ev,
				Location: loc,
				Fix:      &model.Fix{Key: "tcp_keepidle", Line: lines, File: c.File, FileLine: fileLine, Apply: "systemctl reload pgbouncer", Note: "Write them in the [pgbouncer] section."},
			})
		}
		return out
	},
}
