package redis

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of redis configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{redisKeepaliveOff, redisTimeoutZero}

func init() { configs.RegisterRules("redis", rules...) }

var redisKeepaliveOff = configs.Rule{
	ID: "KT860", Name: "redis-tcp-keepalive-off", Severity: model.SeverityWarning,
	Title: "Redis never detects dead clients (tcp-keepalive 0)",
	What:  "Flags tcp-keepalive 0 in redis.conf.",
	Why: "Without TCP keepalive Redis learns that a client is gone only when it writes to it. A client " +
		"whose host crashed, or whose flow a NAT or firewall dropped silently, stays connected for ever " +
		"with timeout 0 (the default): its connection counts against maxclients, and blocked or " +
		"subscribed clients (BLPOP, SUBSCRIBE) are idle by design, so nothing ever writes to them.",
	Fix:    "tcp-keepalive 300 (Redis's default since 3.2.1: probes after 300 s, then every 100 s, 3 probes: a dead client is found in about 10 minutes).",
	Source: "redis.conf (tcp-keepalive; \"A reasonable value for this option is 300 seconds\"); Redis anet.c anetKeepAlive (interval = idle/3, 3 probes)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			d := c.TCPKeepalive
			if d == nil || Seconds(d) != 0 {
				continue
			}
			msg := "tcp-keepalive 0 turns TCP keepalive off for client connections: a client that vanishes without closing (host crash, NAT or firewall dropping the flow) is never detected"
			if c.Timeout == nil || Seconds(c.Timeout) == 0 {
				msg += ", and with timeout 0 its connection stays open for ever, counting against maxclients."
			} else {
				msg += fmt.Sprintf(" until timeout closes it after %d s of silence (never, for blocked or subscribed clients, which Redis does not time out).", Seconds(c.Timeout))
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: "redis tcp-keepalive in " + c.File,
				Message:  msg,
				Evidence: []model.Evidence{{Name: "tcp-keepalive", Value: "0", Source: configs.Src(d.File, d.Line)}},
				Location: configs.Loc(d.File, d.Line),
				Fix: &model.Fix{Key: "tcp-keepalive", Current: "0", Proposed: "300", Line: "tcp-keepalive 300", File: d.File, FileLine: d.Line,
					Apply: "redis-cli CONFIG SET tcp-keepalive 300"},
			})
		}
		return out
	},
}

var redisTimeoutZero = configs.Rule{
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
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			if c.Timeout != nil && Seconds(c.Timeout) != 0 {
				continue
			}
			if c.TCPKeepalive != nil && Seconds(c.TCPKeepalive) == 0 {
				continue // KT860 says it, with the worse consequence
			}
			loc := configs.Loc(c.File, 0)
			ev := model.Evidence{Name: "timeout", Value: "0", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "redis default timeout 0"}}
			fix := &model.Fix{Key: "timeout", Current: "0", Proposed: "300", Line: "timeout 300", File: c.File,
				Apply: "redis-cli CONFIG SET timeout 300", Note: "Only if no client pool keeps idle connections longer than this: raise it above the longest pool idle time."}
			if d := c.Timeout; d != nil {
				loc, ev.Source, fix.FileLine = configs.Loc(d.File, d.Line), configs.Src(d.File, d.Line), d.Line
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
