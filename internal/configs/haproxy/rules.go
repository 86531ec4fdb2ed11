package haproxy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// rules are the checks of haproxy configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{
	haproxyMissingTimeouts, haproxyHTTPInTCPMode, haproxyTCPKATimingWithoutOption,
	haproxyWebSocketNoTunnel, haproxyTunnelNoClientFin, haproxyKeepaliveTimeoutInBackend,
	haproxyTCPKAHostDefaults, haproxyServerClose, haproxyTimeoutWithoutUnit,
}

func init() { configs.RegisterRules("haproxy", rules...) }

//
// One check was considered and left out on purpose: "timeout server below timeout
// http-keep-alive of the same proxy". The two govern different connections: timeout
// http-keep-alive is how long an idle client connection waits for its next request, timeout
// server is the inactivity allowed while a server is expected to answer, and idle pooled server
// connections obey neither (HAProxy purges them every pool-purge-delay; see the haproxy
// package). No ordering between them causes a failure; the race that does exist, a backend
// closing idle connections before HAProxy's pool lets go of them, needs the backend's value and
// is KT701's in a chain.

func haproxyLoc(l model.Location) *model.Location { return &l }

func haproxySubject(p *Proxy) string { return "haproxy " + p.Title() }

// haproxyTime renders a duration in HAProxy's units: 1h, 5m, 30s, 1500ms.
func haproxyTime(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

func timeoutEvidence(p *Proxy, kind string) model.Evidence {
	t, set := p.Settings.Timeouts[kind]
	if !set {
		return model.Evidence{Name: "timeout " + kind, Value: "not set", Source: model.Source{Kind: model.SourceRuntimeDefault,
			Detail: "HAProxy has no default: neither " + p.Title() + " nor its defaults section sets it"}}
	}
	if !t.Known {
		return model.Evidence{Name: "timeout " + kind, Value: "unknown", Source: t.Source}
	}
	return model.Evidence{Name: "timeout " + kind, Value: haproxyTime(t.Value), Source: t.Source}
}

// inSection tells people where to add a line: the section, or once in its defaults section.
func inSection(p *Proxy) string {
	where := fmt.Sprintf("under %q (%s)", p.Title(), p.Location)
	if p.Defaults != nil {
		where += fmt.Sprintf(", or once in %q (%s) for every proxy that uses it", p.Defaults.Title(), p.Defaults.Location)
	}
	return where
}

// Values HAProxy's own examples (manual section 2.6) and Debian's haproxy.cfg use.
const (
	haproxyClientTimeout  = 50 * time.Second
	haproxyServerTimeout  = 50 * time.Second
	haproxyConnectTimeout = 5 * time.Second
)

var haproxyMissingTimeouts = configs.Rule{
	ID: "KT820", Name: "haproxy-missing-timeouts", Severity: model.SeverityWarning,
	Title: "HAProxy proxy without client, connect or server timeout",
	What: "Flags, like `haproxy -c`'s \"missing timeouts\" warning, every frontend or listen section " +
		"without timeout client, and every backend or listen section with servers but without timeout " +
		"connect, or without timeout server (in TCP mode timeout tunnel may stand in for it). A " +
		"timeout of 0 counts as missing. One finding per section, at its line.",
	Why: "HAProxy has no default for these timeouts: unset, they are infinite. Clients that vanish " +
		"without a FIN, servers that never answer and half-open connections then stay until the kernel " +
		"notices, which without TCP keepalive is never: sessions and file descriptors accumulate until " +
		"maxconn is reached. The keep-alive idle timeout also falls back to timeout client when " +
		"timeout http-keep-alive and http-request are unset.",
	Fix: "Set them in the section, or once in the defaults section the proxies use: timeout client 50s, " +
		"timeout connect 5s, timeout server 50s (HAProxy's own examples; Debian's haproxy.cfg sets the same " +
		"in milliseconds).",
	Source: "HAProxy configuration manual: timeout client, timeout connect, timeout server (\"An unspecified timeout " +
		"results in an infinite timeout ... reports a warning during startup\"); cfgparse.c check_config_validity",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, p := range c.Proxies {
				mode := "tcp"
				if p.Settings.Mode.Known {
					mode = p.Settings.Mode.Value
				}
				if mode != "tcp" && mode != "http" {
					continue
				}
				var missing []string
				var lines []string
				var ev []model.Evidence
				// A timeout set from an unknown environment variable is not missing.
				has := func(kind string) bool {
					t, set := p.Settings.Timeouts[kind]
					return set && (!t.Known || t.Value > 0)
				}
				if p.IsFrontend() && !has("client") {
					missing = append(missing, "client")
					lines = append(lines, "timeout client "+haproxyTime(haproxyClientTimeout))
					ev = append(ev, timeoutEvidence(p, "client"))
				}
				if p.IsBackend() && len(p.Servers) > 0 {
					if !has("connect") {
						missing = append(missing, "connect")
						lines = append(lines, "timeout connect "+haproxyTime(haproxyConnectTimeout))
						ev = append(ev, timeoutEvidence(p, "connect"))
					}
					if !has("server") && (mode == "http" || !has("tunnel")) {
						missing = append(missing, "server")
						lines = append(lines, "timeout server "+haproxyTime(haproxyServerTimeout))
						ev = append(ev, timeoutEvidence(p, "server"))
					}
				}
				if len(missing) == 0 {
					continue
				}
				out = append(out, model.Finding{
					Severity: model.SeverityWarning, Subject: haproxySubject(p),
					Message: fmt.Sprintf("%s has no timeout %s: HAProxy waits forever (and haproxy -c warns \"missing timeouts\"); "+
						"connections to vanished peers pile up until maxconn.", p.Title(), strings.Join(missing, ", no timeout ")),
					Evidence: ev,
					Location: haproxyLoc(p.Location),
					Fix: &model.Fix{Key: "timeout " + missing[0], Current: "not set", Line: strings.Join(lines, "\n"),
						Note: "Add " + inSection(p) + "."},
				})
			}
		}
		return out
	},
}

// httpOnly names the statements that do nothing in mode tcp.
func httpOnly(w []string) bool {
	if len(w) > 2 && (w[0] == "no" || w[0] == "default") && w[1] == "option" {
		w = w[1:]
	}
	switch {
	case w[0] == "option" && len(w) > 1:
		switch w[1] {
		case "http-keep-alive", "http-server-close", "httpclose", "forceclose":
			return true
		}
	case w[0] == "timeout" && len(w) > 1:
		return w[1] == "http-keep-alive" || w[1] == "http-request"
	case w[0] == "http-reuse":
		return true
	}
	return false
}

var haproxyHTTPInTCPMode = configs.Rule{
	ID: "KT821", Name: "haproxy-http-option-in-tcp-mode", Severity: model.SeverityWarning,
	Title: "HAProxy HTTP keep-alive setting in a TCP-mode proxy",
	What: "Flags option http-keep-alive, http-server-close and httpclose, timeout http-keep-alive and " +
		"http-request, and http-reuse written in a frontend, backend or listen section that runs in mode " +
		"tcp (HAProxy's default mode when none is set).",
	Why: "In mode tcp HAProxy does not parse HTTP: these settings do nothing, and haproxy -c accepts " +
		"them silently. The connection is a tunnel whose idle time is timeout client/server or timeout " +
		"tunnel, so whoever wrote the line believes in a keep-alive behaviour that is not there (a common " +
		"slip is a frontend that forgot mode http while its defaults section has none).",
	Fix: "Delete the line, or put the proxy in HTTP mode (mode http) if it carries HTTP.",
	Source: "HAProxy configuration manual: section 4 (proxy modes), option http-keep-alive, timeout http-keep-alive " +
		"(\"It should be set in the frontend to take effect, unless the frontend is in TCP mode\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, p := range c.Proxies {
				if p.Settings.IsHTTP() {
					continue
				}
				modeEv := model.Evidence{Name: "mode", Value: "tcp", Source: p.Settings.Mode.Source}
				if !p.Settings.Mode.Known {
					modeEv.Source = model.Source{Kind: model.SourceRuntimeDefault, Detail: "HAProxy default mode tcp: no mode line in " + p.Title() + " or its defaults"}
				}
				for _, d := range p.Directives {
					if !httpOnly(d.Words) {
						continue
					}
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: haproxySubject(p),
						Message: fmt.Sprintf("%q does nothing in %s: the proxy runs in mode tcp, where HAProxy forwards bytes without HTTP keep-alive.",
							d.Line(), p.Title()),
						Evidence: []model.Evidence{{Name: "statement", Value: d.Line(), Source: configs.Src(d.Location.File, d.Location.Line)}, modeEv},
						Location: haproxyLoc(d.Location),
						Fix: &model.Fix{Key: d.Words[0], File: d.Location.File, FileLine: d.Location.Line,
							Note: fmt.Sprintf("Delete line %d; if %s carries HTTP, add `mode http` to it instead.", d.Location.Line, p.Title())},
					})
				}
			}
		}
		return out
	},
}

var haproxyTCPKATimingWithoutOption = configs.Rule{
	ID: "KT822", Name: "haproxy-tcpka-timing-without-option", Severity: model.SeverityWarning,
	Title: "HAProxy clitcpka-*/srvtcpka-* without the option that enables keepalive",
	What: "Flags a frontend or listen section whose clitcpka-idle, -intvl or -cnt is set (in it or its " +
		"defaults) without option clitcpka or option tcpka, and a backend or listen section with " +
		"srvtcpka-* without option srvtcpka or tcpka.",
	Why: "The timings only apply to sockets on which HAProxy enables SO_KEEPALIVE, which it does only " +
		"with the option. Without it no probe is ever sent: a dead peer or a NAT that forgot the flow " +
		"goes unnoticed while the configuration reads as if it were handled (keeptune's integration " +
		"test reads SO_KEEPALIVE off on such an accepted socket).",
	Fix: "Add option clitcpka (client side) or option srvtcpka (server side) to the section, or option " +
		"tcpka for both.",
	Source: "HAProxy configuration manual: clitcpka-idle, clitcpka-intvl, clitcpka-cnt (\"if enabled the sending of TCP " +
		"keepalive packets\"), option clitcpka, option srvtcpka, option tcpka",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, p := range c.Proxies {
				type side struct {
					applies bool
					on      model.Setting[bool]
					ka      KeepaliveTimes
					prefix  string
				}
				for _, s := range []side{
					{p.IsFrontend(), p.Settings.CliTCPKA, p.Settings.CliKA, "clitcpka"},
					{p.IsBackend(), p.Settings.SrvTCPKA, p.Settings.SrvKA, "srvtcpka"},
				} {
					if !s.applies || (s.on.Known && s.on.Value) {
						continue
					}
					var set []model.Evidence
					first := model.Source{}
					for _, kv := range []struct {
						name string
						src  model.Source
						val  string
						ok   bool
					}{
						{s.prefix + "-idle", s.ka.Idle.Source, haproxyTime(s.ka.Idle.Value), s.ka.Idle.Known},
						{s.prefix + "-intvl", s.ka.Interval.Source, haproxyTime(s.ka.Interval.Value), s.ka.Interval.Known},
						{s.prefix + "-cnt", s.ka.Count.Source, fmt.Sprint(s.ka.Count.Value), s.ka.Count.Known},
					} {
						if kv.ok {
							set = append(set, model.Evidence{Name: kv.name, Value: kv.val, Source: kv.src})
							if first.File == "" {
								first = kv.src
							}
						}
					}
					if len(set) == 0 {
						continue
					}
					opt := model.Evidence{Name: "option " + s.prefix, Value: "not set"}
					if s.on.Known {
						opt = model.Evidence{Name: "option " + s.prefix, Value: "disabled", Source: s.on.Source}
					}
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: haproxySubject(p),
						Message: fmt.Sprintf("%s sets %s timings but not option %s (or tcpka): HAProxy never enables SO_KEEPALIVE there, so no probe is sent.",
							p.Title(), s.prefix, s.prefix),
						Evidence: append(set, opt),
						Location: model.LocationOf(first),
						Fix: &model.Fix{Key: "option " + s.prefix, Current: "not set", Proposed: "set", Line: "option " + s.prefix,
							Note: "Add " + inSection(p) + "."},
					})
				}
			}
		}
		return out
	},
}

// haproxyMentionsWebSocket reports whether a statement is about WebSocket upgrades.
func haproxyMentionsWebSocket(d Directive) bool {
	l := strings.ToLower(d.Line())
	return strings.Contains(l, "websocket") || strings.Contains(l, "hdr(upgrade)") || strings.Contains(l, "hdr_beg(upgrade)")
}

// haproxyWebSocketBackends returns the backends a frontend sends WebSocket upgrades to: the
// use_backend lines whose condition names an ACL (or inline test) about WebSocket, else the
// default backend. ok is false when the frontend never mentions WebSocket.
func haproxyWebSocketBackends(c *Config, fe *Proxy) (bes []*Proxy, at model.Location, ok bool) {
	acls := map[string]bool{}
	for _, d := range fe.Directives {
		if haproxyMentionsWebSocket(d) {
			if !ok {
				at, ok = d.Location, true
			}
			if d.Words[0] == "acl" && len(d.Words) > 1 {
				acls[d.Words[1]] = true
			}
		}
	}
	if !ok {
		return nil, at, false
	}
	seen := map[*Proxy]bool{}
	add := func(p *Proxy) {
		if p != nil && !seen[p] {
			seen[p] = true
			bes = append(bes, p)
		}
	}
	for _, d := range fe.Directives {
		if d.Words[0] != "use_backend" || len(d.Words) < 3 {
			continue
		}
		for _, w := range d.Words[2:] {
			if acls[strings.TrimPrefix(w, "!")] || haproxyMentionsWebSocket(Directive{Words: []string{w}}) {
				add(c.Backend(d.Words[1]))
				break
			}
		}
	}
	if len(bes) == 0 {
		if fe.Kind == "listen" {
			add(fe)
		} else {
			add(c.Backend(fe.DefaultBackend))
		}
	}
	return bes, at, true
}

// haproxyTunnelMin is the shortest silence a WebSocket connection should survive without
// timeout tunnel: applications commonly ping every 25 to 60 s, and longer idle phases are normal
// for notification channels.
const haproxyTunnelMin = 10 * time.Minute

var haproxyWebSocketNoTunnel = configs.Rule{
	ID: "KT823", Name: "haproxy-websocket-without-tunnel-timeout", Severity: model.SeverityWarning,
	Title: "HAProxy routes WebSocket upgrades to a backend without timeout tunnel",
	What: "For every HTTP frontend or listen section that mentions WebSocket (an acl or rule with " +
		"\"websocket\" or hdr(Upgrade)), finds the backends it sends the upgrades to (use_backend on " +
		"those ACLs, else the default backend) and flags the ones without timeout tunnel whose timeout " +
		"client or server is under 10 minutes. Without a WebSocket mention keeptune cannot tell " +
		"long-lived connections from short ones and stays silent.",
	Why: "Once a connection is upgraded it is a tunnel: without timeout tunnel, timeout client and " +
		"timeout server (typically 30-50 s, sized for HTTP requests) cut every WebSocket that stays " +
		"silent that long, and clients reconnect in a loop.",
	Fix: "Set timeout tunnel in the backend (1h is common), and timeout client-fin in the frontend so " +
		"that half-closed tunnels do not linger for as long.",
	Source: "HAProxy configuration manual: timeout tunnel (\"used when a connection is upgraded (e.g. when switching " +
		"to the WebSocket protocol)\"), timeout client",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, fe := range c.Proxies {
				if !fe.IsFrontend() || !fe.Settings.IsHTTP() {
					continue
				}
				bes, at, ok := haproxyWebSocketBackends(c, fe)
				if !ok {
					continue
				}
				for _, be := range bes {
					if _, ok := be.Settings.Timeout("tunnel"); ok {
						continue
					}
					shortest := time.Duration(0)
					var ev []model.Evidence
					for _, kv := range []struct {
						p    *Proxy
						kind string
					}{{fe, "client"}, {be, "server"}} {
						ev = append(ev, timeoutEvidence(kv.p, kv.kind))
						if t, ok := kv.p.Settings.Timeout(kv.kind); ok && (shortest == 0 || t.Value < shortest) {
							shortest = t.Value
						}
					}
					if shortest == 0 || shortest >= haproxyTunnelMin {
						continue
					}
					ev = append(ev, model.Evidence{Name: "WebSocket routing", Value: fe.Title() + " -> " + be.Title(),
						Source: configs.Src(at.File, at.Line)},
						timeoutEvidence(be, "tunnel"))
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: haproxySubject(be),
						Message: fmt.Sprintf("%s sends WebSocket upgrades to %s, which has no timeout tunnel: an upgraded connection that stays silent for %s is cut (timeout client/server).",
							fe.Title(), be.Title(), configs.Human(shortest)),
						Evidence: ev,
						Location: haproxyLoc(be.Location),
						Fix: &model.Fix{Key: "timeout tunnel", Current: "not set", Proposed: "1h", Line: "timeout tunnel 1h",
							Note: fmt.Sprintf("Add under %q (%s); also set `timeout client-fin 30s` in %q.", be.Title(), be.Location, fe.Title())},
					})
				}
			}
		}
		return out
	},
}

var haproxyTunnelNoClientFin = configs.Rule{
	ID: "KT824", Name: "haproxy-tunnel-without-client-fin", Severity: model.SeverityInfo,
	Title: "HAProxy long timeout tunnel without timeout client-fin",
	What: "Flags a frontend or listen section without timeout client-fin whose backend (default_backend, " +
		"or itself for listen) sets timeout tunnel of 5 minutes or more.",
	Why: "A tunnel whose client went away in one direction (a FIN, then silence) keeps its session for the " +
		"whole tunnel timeout: the manual warns of \"large amounts of sessions in a FIN_WAIT state\" behind " +
		"lossy networks and firewalls. timeout client-fin bounds that half-closed time on its own.",
	Fix:    "Set timeout client-fin (30s is the manual's example) in the frontend or its defaults section.",
	Source: "HAProxy configuration manual: timeout tunnel (\"it usually is a good idea to also set timeout client-fin\"), timeout client-fin",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, fe := range c.Proxies {
				if !fe.IsFrontend() {
					continue
				}
				if _, ok := fe.Settings.Timeout("client-fin"); ok {
					continue
				}
				be := fe
				if fe.Kind == "frontend" {
					be = c.Backend(fe.DefaultBackend)
				}
				if be == nil {
					continue
				}
				t, ok := be.Settings.Timeout("tunnel")
				if !ok || t.Value < 5*time.Minute {
					continue
				}
				out = append(out, model.Finding{
					Severity: model.SeverityInfo, Subject: haproxySubject(fe),
					Message: fmt.Sprintf("%s tunnels idle for up to %s (timeout tunnel of %s) but has no timeout client-fin: a half-closed client connection is kept that long.",
						fe.Title(), configs.Human(t.Value), be.Title()),
					Evidence: []model.Evidence{{Name: "timeout tunnel", Value: haproxyTime(t.Value), Source: t.Source}, timeoutEvidence(fe, "client-fin")},
					Location: haproxyLoc(fe.Location),
					Fix:      &model.Fix{Key: "timeout client-fin", Current: "not set", Proposed: "30s", Line: "timeout client-fin 30s", Note: "Add " + inSection(fe) + "."},
				})
			}
		}
		return out
	},
}

var haproxyKeepaliveTimeoutInBackend = configs.Rule{
	ID: "KT825", Name: "haproxy-keepalive-timeout-in-backend", Severity: model.SeverityWarning,
	Title: "HAProxy timeout http-keep-alive or http-request in a backend behind HTTP frontends",
	What: "Flags timeout http-keep-alive and timeout http-request written in a backend section when every " +
		"frontend or listen that routes to it (default_backend, use_backend) runs in HTTP mode.",
	Why: "These timeouts govern the client connection and are taken from the frontend: in a backend they " +
		"only apply behind a TCP-mode frontend. Behind HTTP frontends the line does nothing, and the " +
		"client keep-alive idle is whatever the frontend has (possibly timeout client).",
	Fix: "Move the line to the frontends (or their defaults section).",
	Source: "HAProxy configuration manual: timeout http-keep-alive and timeout http-request (\"It should be set in the " +
		"frontend to take effect, unless the frontend is in TCP mode, in which case the HTTP backend's timeout will be used\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			routers := map[string][]*Proxy{}
			for _, p := range c.Proxies {
				if !p.IsFrontend() {
					continue
				}
				names := append([]string{p.DefaultBackend}, p.UseBackends...)
				seen := map[string]bool{}
				for _, n := range names {
					if n != "" && !seen[n] {
						seen[n] = true
						routers[n] = append(routers[n], p)
					}
				}
			}
			for _, be := range c.Proxies {
				fes := routers[be.Name]
				if be.Kind != "backend" || len(fes) == 0 {
					continue
				}
				allHTTP := true
				var names []string
				for _, fe := range fes {
					allHTTP = allHTTP && fe.Settings.IsHTTP()
					names = append(names, fe.Title())
				}
				if !allHTTP {
					continue
				}
				sort.Strings(names)
				for _, d := range be.Directives {
					if d.Words[0] != "timeout" || len(d.Words) < 3 || (d.Words[1] != "http-keep-alive" && d.Words[1] != "http-request") {
						continue
					}
					ev := []model.Evidence{{Name: d.Words[0] + " " + d.Words[1], Value: d.Words[2], Source: configs.Src(d.Location.File, d.Location.Line)}}
					for _, fe := range fes {
						ev = append(ev, timeoutEvidence(fe, d.Words[1]))
					}
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: haproxySubject(be),
						Message: fmt.Sprintf("%q in %s does nothing: %s %s in HTTP mode and %s their own %s.",
							d.Line(), be.Title(), strings.Join(names, ", "), textfmt.Plural(len(names), "runs", "run"),
							textfmt.Plural(len(names), "uses", "use"), "timeout "+d.Words[1]),
						Evidence: ev,
						Location: haproxyLoc(d.Location),
						Fix: &model.Fix{Key: "timeout " + d.Words[1], Line: d.Line(),
							Note: fmt.Sprintf("Move this line from %s to %s (or their defaults section).", be.Title(), strings.Join(names, ", "))},
					})
				}
			}
		}
		return out
	},
}

var haproxyTCPKAHostDefaults = configs.Rule{
	ID: "KT826", Name: "haproxy-tcpka-host-timing", Severity: model.SeverityInfo,
	Title: "HAProxy TCP keepalive left to the host's timing",
	What: "Flags option clitcpka, srvtcpka or tcpka in force without the matching -idle, -intvl or " +
		"-cnt keyword: those probe timings then come from the host's sysctls.",
	Why: "The kernel's defaults start probing after 2 hours of silence (tcp_keepalive_time 7200 s), long " +
		"after NATs, firewalls and load balancers forgot the flow (often 300-900 s): keepalive is on but " +
		"does not keep anything alive. HAProxy can set the timings per socket, so the behaviour does not " +
		"depend on each host's tuning (keeptune audit reads the sysctls where the configuration runs).",
	Fix: "Write the timings next to the option, from the workload profile: clitcpka-idle, clitcpka-intvl, " +
		"clitcpka-cnt (srvtcpka-* for the server side).",
	Source: "HAProxy configuration manual: clitcpka-idle (\"If this keyword is not specified, system-wide TCP parameter " +
		"(tcp_keepalive_time) is used\"), srvtcpka-idle; Documentation/networking/ip-sysctl.rst",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		idle, intvl, cnt := in.ProposedKeepalive()
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, p := range c.Proxies {
				for _, s := range []struct {
					applies bool
					on      model.Setting[bool]
					ka      KeepaliveTimes
					prefix  string
				}{
					{p.IsFrontend(), p.Settings.CliTCPKA, p.Settings.CliKA, "clitcpka"},
					{p.IsBackend(), p.Settings.SrvTCPKA, p.Settings.SrvKA, "srvtcpka"},
				} {
					if !s.applies || !s.on.Known || !s.on.Value {
						continue
					}
					var lines, missing []string
					if !s.ka.Idle.Known {
						lines, missing = append(lines, s.prefix+"-idle "+haproxyTime(idle)), append(missing, s.prefix+"-idle")
					}
					if !s.ka.Interval.Known {
						lines, missing = append(lines, s.prefix+"-intvl "+haproxyTime(intvl)), append(missing, s.prefix+"-intvl")
					}
					if !s.ka.Count.Known {
						lines, missing = append(lines, fmt.Sprintf("%s-cnt %d", s.prefix, cnt)), append(missing, s.prefix+"-cnt")
					}
					if len(missing) == 0 {
						continue
					}
					out = append(out, model.Finding{
						Severity: model.SeverityInfo, Subject: haproxySubject(p),
						Message: fmt.Sprintf("%s enables TCP keepalive (%s) without %s: the host's sysctls decide when probes start (2 h with the kernel defaults).",
							p.Title(), s.prefix, strings.Join(missing, ", ")),
						Evidence: []model.Evidence{{Name: "option " + s.prefix, Value: "enabled", Source: s.on.Source},
							{Name: strings.Join(missing, ", "), Value: "not set", Source: model.Source{Kind: model.SourceKernelDefault, Detail: "host sysctls net.ipv4.tcp_keepalive_*"}}},
						Location: model.LocationOf(s.on.Source),
						Fix: &model.Fix{Key: missing[0], Current: "not set", Line: strings.Join(lines, "\n"),
							Note: fmt.Sprintf("Add %s (profile %s).", inSection(p), in.Profile.Name)},
					})
				}
			}
		}
		return out
	},
}

var haproxyServerClose = configs.Rule{
	ID: "KT827", Name: "haproxy-no-server-reuse", Severity: model.SeverityInfo,
	Title: "HAProxy closes every server connection after its response",
	What: "Flags HTTP backends (and listen sections) in which option http-server-close or httpclose, in " +
		"the backend or in a frontend that routes to it, makes HAProxy close the server connection after " +
		"each response.",
	Why: "Every request then pays a new TCP (and TLS) handshake to the server and leaves a connection in " +
		"TIME_WAIT on HAProxy's side; under load that costs latency and ephemeral ports. Since HAProxy 1.9 " +
		"server connections are pooled safely (http-reuse safe), so the old reason for these options is " +
		"gone unless the server cannot handle keep-alive.",
	Fix: "Remove the option (keep-alive is the default) or write option http-keep-alive; keep it only for servers " +
		"that mishandle persistent connections.",
	Source: "HAProxy configuration manual: section 4 (HTTP connection modes KAL/SCL/CLO), option http-server-close, http-reuse",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, be := range c.Proxies {
				if !be.IsBackend() || !be.Settings.IsHTTP() || len(be.Servers) == 0 {
					continue
				}
				// The stronger mode of the backend and the frontends that default to it wins
				// (manual section 4: close > server-close > keep-alive).
				mode := be.Settings.HTTPMode
				for _, fe := range c.Proxies {
					if fe.IsFrontend() && fe != be && fe.DefaultBackend == be.Name && haproxyModeStrength(fe.Settings.HTTPMode) > haproxyModeStrength(mode) {
						mode = fe.Settings.HTTPMode
					}
				}
				if haproxyModeStrength(mode) == 0 {
					continue
				}
				out = append(out, model.Finding{
					Severity: model.SeverityInfo, Subject: haproxySubject(be),
					Message:  fmt.Sprintf("option %s: HAProxy opens a new connection to the servers of %s for every request.", mode.Value, be.Title()),
					Evidence: []model.Evidence{{Name: "option " + mode.Value, Value: "set", Source: mode.Source}},
					Location: model.LocationOf(mode.Source),
					Fix: &model.Fix{Key: "option " + mode.Value, File: mode.Source.File, FileLine: mode.Source.Line, Line: "option http-keep-alive",
						Note: "Replaces the connection mode; keep " + mode.Value + " only if the servers mishandle persistent connections."},
				})
			}
		}
		return out
	},
}

func haproxyModeStrength(m model.Setting[string]) int {
	switch {
	case !m.Known:
		return 0
	case m.Value == "httpclose":
		return 2
	case m.Value == "http-server-close":
		return 1
	}
	return 0
}

// haproxyUnitlessTimeouts are the timeouts whose unit-less value is milliseconds.
var haproxyUnitlessTimeouts = map[string]bool{
	"client": true, "server": true, "connect": true, "http-keep-alive": true, "http-request": true,
	"tunnel": true, "queue": true, "client-fin": true, "server-fin": true, "tarpit": true, "check": true, "client-hs": true,
}

var haproxyTimeoutWithoutUnit = configs.Rule{
	ID: "KT828", Name: "haproxy-timeout-without-unit", Severity: model.SeverityWarning,
	Title: "HAProxy timeout under a second written without a unit (milliseconds)",
	What: "Flags timeout client, server, connect, http-keep-alive, http-request, tunnel and the other " +
		"timeout kinds written as a bare number below 1000: HAProxy reads a number without a unit as " +
		"milliseconds, so \"timeout client 30\" is 30 ms, not 30 s. Bare numbers of 1000 and above " +
		"(\"timeout client 50000\") are the usual way to write milliseconds and are left alone.",
	Why: "A timeout of a few milliseconds closes idle keep-alive connections at once, aborts slow " +
		"clients and servers mid-request and fails connects to anything not on the same host: " +
		"intermittent 408/504 errors and reconnect storms that look like network trouble. The " +
		"configuration reads as seconds to anyone who knows nginx or Apache.",
	Fix:    "Write the unit: timeout client 30s (or the milliseconds meant, with ms).",
	Source: "HAProxy configuration manual, section 2.5 (\"time values ... expressed in milliseconds, but may be expressed in any other unit by suffixing the unit\") and the timeout keywords (\"The value is specified in milliseconds by default\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, sec := range c.Sections {
				for _, d := range sec.Directives {
					w := d.Words
					if len(w) != 3 || w[0] != "timeout" || !haproxyUnitlessTimeouts[w[1]] {
						continue
					}
					n, err := strconv.Atoi(w[2])
					if err != nil || n <= 0 || n >= 1000 {
						continue
					}
					line := fmt.Sprintf("timeout %s %ss", w[1], w[2])
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: sec.Title() + " timeout " + w[1],
						Message: fmt.Sprintf("timeout %s %s has no unit: HAProxy reads it as %d ms, not %d s", w[1], w[2], n, n),
						Evidence: []model.Evidence{{Name: "timeout " + w[1], Value: w[2] + " (= " + w[2] + " ms)",
							Source: configs.Src(d.Location.File, d.Location.Line)}},
						Location: configs.Loc(d.Location.File, d.Location.Line),
						Fix: &model.Fix{Key: "timeout " + w[1], Current: w[2], Proposed: w[2] + "s", Line: line,
							File: d.Location.File, FileLine: d.Location.Line, Note: "or write the milliseconds meant with ms"},
					})
				}
			}
		}
		return out
	},
}
