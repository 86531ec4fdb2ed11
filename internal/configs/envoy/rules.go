package envoy

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of envoy configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{envoyClusterKeepalive, envoyTimeoutDisabled}

func init() { configs.RegisterRules("envoy", rules...) }

var envoyClusterKeepalive = configs.Rule{
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
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, cl := range c.Clusters {
				k := c.ClusterKeepalive(cl)
				idleTimeout := DefaultIdleTimeout
				if f := cl.Fields["common_http_protocol_options.idle_timeout"]; f != nil {
					idleTimeout = f.Duration
				}
				pIdle, pIntvl, pCnt := in.ProposedKeepalive()
				snippet := fmt.Sprintf("upstream_connection_options:\n  tcp_keepalive:\n    keepalive_time: %d\n    keepalive_interval: %d\n    keepalive_probes: %d",
					int64(pIdle/time.Second), int64(pIntvl/time.Second), pCnt)
				switch {
				case !k.Enabled.Value:
					out = append(out, model.Finding{
						Severity: model.SeverityInfo, Subject: "envoy cluster " + cl.Name,
						Message:  fmt.Sprintf("cluster %s has no TCP keepalive: its pooled connections idle for up to %s with nothing on the wire, so a middlebox that forgets idle flows breaks them silently and a dead backend is found only by the next request.", cl.Name, envoyIdleLimit(idleTimeout)),
						Evidence: []model.Evidence{{Name: "tcp_keepalive", Value: "not set", Source: k.Enabled.Source}},
						Location: configs.Loc(c.File, cl.Line),
						Fix:      &model.Fix{Key: "upstream_connection_options.tcp_keepalive", Line: snippet, File: c.File, Note: "Add it to cluster " + cl.Name + "."},
					})
				case !k.Idle.Known:
					host, _, ev := in.HostDetection()
					idle := in.Host.Idle
					if idleTimeout > 0 && idle.Value < idleTimeout {
						continue // the host's idle is short enough to matter
					}
					out = append(out, model.Finding{
						Severity: model.SeverityInfo, Subject: "envoy cluster " + cl.Name,
						Message:  fmt.Sprintf("cluster %s turns TCP keepalive on without keepalive_time: %s, so no probe is sent before Envoy closes the idle connection (idle_timeout %s).", cl.Name, host, envoyIdleLimit(idleTimeout)),
						Evidence: append([]model.Evidence{{Name: "tcp_keepalive", Value: "keepalive_time not set", Source: k.Idle.Source}}, ev...),
						Location: configs.Loc(c.File, cl.TCPKeepalive),
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
	return configs.Human(d)
}

var envoyTimeoutDisabled = configs.Rule{
	ID: "KT876", Name: "envoy-timeout-disabled", Severity: model.SeverityWarning,
	Title: "Envoy idle limits disabled (0s)",
	What: "Flags \"0s\" for common_http_protocol_options.idle_timeout (listeners and clusters), " +
		"stream_idle_timeout and the TCP proxy's idle_timeout.",
	Why: "0s disables the limit: idle connections (or streams) are never closed. Dead peers that no " +
		"keepalive detects then hold file descriptors and memory for ever, and a pool of never-expiring " +
		"upstream connections outlives every NAT and load balancer idle timeout on the path.",
	Fix:    "Set a finite value: idle_timeout: 3600s (Envoy's default), stream_idle_timeout: 300s.",
	Source: "Envoy docs, timeouts FAQ and config.core.v3.HttpProtocolOptions.idle_timeout (\"disabled if set to 0s\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		proposals := map[string]string{
			"common_http_protocol_options.idle_timeout": "3600s", "stream_idle_timeout": "300s", "tcp_proxy.idle_timeout": "3600s",
		}
		for _, c := range configs.Details[*Config](in.Configs) {
			type site struct {
				f     *Field
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
					Evidence: []model.Evidence{{Name: s.f.Key, Value: s.f.Raw, Source: configs.Src(c.File, s.f.Line)}},
					Location: configs.Loc(c.File, s.f.Line),
					Fix: &model.Fix{Key: s.f.Key, Current: s.f.Raw, Proposed: proposals[s.f.Key], Line: leaf + ": " + proposals[s.f.Key],
						File: c.File, FileLine: s.f.Line},
				})
			}
		}
		return out
	},
}
