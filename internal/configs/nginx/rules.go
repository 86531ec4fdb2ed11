package nginx

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of nginx configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{nginxPoolDefeated, nginxKeepaliveRequestsLow, nginxHostKeepalive, nginxKeepaliveOff, nginxKeepaliveHeader}

func init() { configs.RegisterRules("nginx", rules...) }

func nginxLoc(d *Directive) *model.Location { return configs.Loc(d.File, d.Line) }

func nginxEvidence(d *Directive) model.Evidence {
	return model.Evidence{Name: nginxQuoteEmpty(d.Name), Value: d.Text(), Source: configs.Src(d.File, d.Line)}
}

// nginxLine renders a directive as it is written in a file.
func nginxLine(name string, args ...string) string {
	return strings.TrimSpace(name+" "+strings.Join(args, " ")) + ";"
}

var nginxPoolDefeated = configs.Rule{
	ID: "KT800", Name: "nginx-upstream-keepalive-ineffective", Severity: model.SeverityWarning,
	Title: "nginx upstream keepalive that requests cannot use",
	What: "For every upstream block with keepalive N, checks each location that passes requests to it: " +
		"proxy_pass needs proxy_http_version 1.1 and a Connection header that is not \"close\" " +
		"(proxy_set_header Connection \"\", or a map that gives \"\" rather than \"close\" to ordinary " +
		"requests); fastcgi_pass needs fastcgi_keep_conn on. proxy_set_header is inherited only by " +
		"levels that set none of their own, so the headers in force at the location are the ones judged.",
	Why: "nginx talks HTTP/1.0 to backends and sends \"Connection: close\" unless told otherwise, so the " +
		"backend closes every connection after its response and the keepalive pool stays empty: each " +
		"request pays a new TCP (and TLS) handshake and leaves a TIME_WAIT socket, which at high rates " +
		"exhausts ephemeral ports. The configuration looks right and nothing logs the difference. The " +
		"usual WebSocket map (default upgrade; '' close;) does the same for every request without an " +
		"Upgrade header.",
	Fix: "In the location (or the server or http block above it): proxy_http_version 1.1; and " +
		"proxy_set_header Connection \"\"; (repeat there the proxy_set_header lines it inherited, which " +
		"a proxy_set_header of its own would drop). For WebSocket maps, map '' to \"\" instead of close. " +
		"For FastCGI: fastcgi_keep_conn on;.",
	Source: "nginx docs, ngx_http_upstream_module keepalive (\"For HTTP, the proxy_http_version directive " +
		"should be set to 1.1 and the Connection header field should be cleared\"; \"For FastCGI servers, " +
		"it is required that fastcgi_keep_conn be set\"), ngx_http_proxy_module proxy_set_header (inheritance); " +
		"checked against nginx 1.22 by keeptune's integration test (2 requests: 1 backend connection " +
		"pooled, 2 with the defaults)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, u := range c.Upstreams {
				if u.Keepalive == 0 {
					continue
				}
				for _, use := range c.PoolUses(u) {
					if !use.OK {
						out = append(out, nginxPoolFinding(c, u, use))
					}
				}
			}
		}
		return out
	},
}

// nginxChange is one edit a fix asks for: replace the line at file:line, or add text inside a
// block (line 0).
type nginxChange struct {
	key, current, proposed, text string
	file                         string
	line                         int
	where                        string // for additions: the block to write it in
}

func nginxPoolFinding(c *Config, u *Upstream, use PoolUse) model.Finding {
	kd := u.Own["keepalive"][0]
	loc := use.Location
	inside := fmt.Sprintf("%s (%s:%d)", loc.Label, loc.Dir.File, loc.Dir.Line)
	var whys []string
	ev := []model.Evidence{nginxEvidence(kd), nginxEvidence(use.Pass.Dir)}
	var changes []nginxChange
	add := func(key, proposed, text string) {
		changes = append(changes, nginxChange{key: key, proposed: proposed, text: text, file: loc.Dir.File, where: inside})
	}
	replace := func(key string, d *Directive, current, proposed, text string) {
		changes = append(changes, nginxChange{key: key, current: current, proposed: proposed, text: text, file: d.File, line: d.Line})
	}
	for _, p := range use.Problems {
		whys = append(whys, p.What)
		if p.Dir != nil {
			ev = append(ev, nginxEvidence(p.Dir))
		}
		switch {
		case use.Pass.Module == "fastcgi" && p.Dir != nil:
			replace("fastcgi_keep_conn", p.Dir, p.Dir.Text(), "on", nginxLine("fastcgi_keep_conn", "on"))
		case use.Pass.Module == "fastcgi":
			add("fastcgi_keep_conn", "on", nginxLine("fastcgi_keep_conn", "on"))
		case strings.HasPrefix(p.What, "proxy_http_version") && p.Dir != nil:
			replace("proxy_http_version", p.Dir, p.Dir.Text(), "1.1", nginxLine("proxy_http_version", "1.1"))
		case strings.HasPrefix(p.What, "proxy_http_version"):
			add("proxy_http_version", "1.1", nginxLine("proxy_http_version", "1.1"))
		case strings.Contains(p.What, "the map at"):
			// Fix the map entry, not the header: WebSocket requests still need "upgrade".
			replace("map "+nginxQuoteEmpty(p.Dir.Name), p.Dir, p.Dir.Arg(0), `""`, nginxQuoteEmpty(p.Dir.Name)+` "";`)
		case p.Dir != nil:
			replace("proxy_set_header Connection", p.Dir, p.Dir.Text(), "Connection \"\"", nginxLine("proxy_set_header", "Connection", `""`))
		default:
			// A proxy_set_header of the location's own drops the ones it inherits: repeat them.
			add("proxy_set_header Connection", "Connection \"\"", strings.Join(append([]string{nginxLine("proxy_set_header", "Connection", `""`)}, nginxInheritedHeaders(loc)...), "\n"))
		}
	}
	fix := &model.Fix{}
	at := nginxLoc(use.Pass.Dir)
	if len(changes) == 1 {
		ch := changes[0]
		fix.Key, fix.Current, fix.Proposed, fix.Line, fix.File, fix.FileLine = ch.key, ch.current, ch.proposed, ch.text, ch.file, ch.line
		if ch.line > 0 {
			at = configs.Loc(ch.file, ch.line)
		} else {
			fix.Note = "Write this inside " + ch.where + "."
		}
	} else {
		var texts, notes []string
		allAdds := true
		for _, ch := range changes {
			texts = append(texts, ch.text)
			if ch.line > 0 {
				allAdds = false
				notes = append(notes, fmt.Sprintf("replace %s:%d with %s", ch.file, ch.line, strings.ReplaceAll(ch.text, "\n", " ")))
			} else {
				notes = append(notes, fmt.Sprintf("add %s inside %s", strings.ReplaceAll(ch.text, "\n", " "), ch.where))
			}
		}
		fix.Line, fix.File = strings.Join(texts, "\n"), loc.Dir.File
		if allAdds {
			fix.Note = "Write these lines inside " + inside + "."
		} else {
			fix.Note = strings.ToUpper(notes[0][:1]) + strings.Join(notes, "; ")[1:] + "."
		}
	}
	return model.Finding{
		Severity: model.SeverityWarning,
		Subject:  fmt.Sprintf("nginx upstream %s from %s", u.Name, loc.Label),
		Message: fmt.Sprintf("upstream %s keeps %d idle connections per worker (%s:%d), but requests from %s cannot reuse them: %s. Every request opens a new connection to the backend.",
			u.Name, u.Keepalive, kd.File, kd.Line, loc.Label, strings.Join(whys, "; ")),
		Evidence: ev,
		Location: at,
		Fix:      fix,
	}
}

func nginxQuoteEmpty(s string) string {
	if s == "" {
		return "''"
	}
	return s
}

// inheritedHeaders returns the proxy_set_header lines a location inherits and would lose by
// setting one of its own (nginx's all-or-nothing inheritance), except Connection.
func nginxInheritedHeaders(loc *Context) []string {
	headers, at := loc.List("proxy_set_header")
	if at == nil || at == loc {
		return nil
	}
	var out []string
	for _, h := range headers {
		if !strings.EqualFold(h.Arg(0), "Connection") {
			out = append(out, nginxLine("proxy_set_header", h.Text()))
		}
	}
	return out
}

// nginxKeepaliveRequestsFloor is nginx's own default since 1.19.10 (raised from 100) and the floor of
// gixy's low_keepalive_requests check; nginxKeepaliveRequestsLow is the old default, below which
// browsers were seen failing to load pages over HTTP/2.
const (
	nginxRequestsFloor = DefaultKeepaliveRequests
	nginxRequestsWarn  = 100
)

var nginxKeepaliveRequestsLow = configs.Rule{
	ID: "KT801", Name: "nginx-keepalive-requests-low", Severity: model.SeverityWarning,
	Title: "nginx keepalive_requests low enough to force reconnects",
	What: "Flags keepalive_requests below 1000 (nginx's default since 1.19.10) in http, server and " +
		"location blocks (client connections, HTTP/2 included) and in upstream blocks (pooled backend " +
		"connections): a warning below 100, information from 100 to 999.",
	Why: "After keepalive_requests requests nginx closes the connection. A client loading a page of a few " +
		"hundred resources over one HTTP/2 connection sees it closed mid-load, and browsers have failed " +
		"requests in flight when that happens; at high request rates every client and every pooled " +
		"upstream connection reconnects every N requests (rate / N new handshakes a second per " +
		"connection), the reconnect storm keep-alive exists to avoid. nginx raised its own default from " +
		"100 to 1000 in 1.19.10 for this reason.",
	Fix:    "keepalive_requests 1000; (or more for busy APIs and upstream pools).",
	Source: "nginx CHANGES 1.19.10 (keepalive_requests default 100 → 1000); gixy low_keepalive_requests check (threshold 1000, joshua.hu on Chromium failing to load resources when HTTP/2 connections close after 100 requests)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			type site struct {
				d     *Directive
				label string
			}
			var sites []site
			for _, ctx := range c.Contexts() {
				for _, d := range ctx.Own["keepalive_requests"] {
					sites = append(sites, site{d, ctx.Label})
				}
			}
			for _, u := range c.Upstreams {
				for _, d := range u.Own["keepalive_requests"] {
					sites = append(sites, site{d, u.Label})
				}
			}
			for _, s := range sites {
				n, ok := Int(s.d, 0)
				if !ok || n >= nginxRequestsFloor {
					continue
				}
				sev := model.SeverityInfo
				if n < nginxRequestsWarn {
					sev = model.SeverityWarning
				}
				what := "client connection"
				if strings.HasPrefix(s.label, "upstream ") {
					what = "pooled backend connection"
				}
				out = append(out, model.Finding{
					Severity: sev, Subject: "nginx keepalive_requests in " + s.label,
					Message: fmt.Sprintf("keepalive_requests %d closes each %s after %d requests: a client or pool sending 1000 requests a second over it reconnects %d times a second, each time with a new handshake.",
						n, what, n, 1000/max(n, 1)),
					Evidence: []model.Evidence{nginxEvidence(s.d), {Name: "nginx default since 1.19.10", Value: "1000", Source: model.Source{Kind: model.SourceRuntimeDefault, Detail: "nginx CHANGES 1.19.10"}}},
					Location: nginxLoc(s.d),
					Fix: &model.Fix{Key: "keepalive_requests", Current: s.d.Arg(0), Proposed: "1000", Line: nginxLine("keepalive_requests", "1000"),
						File: s.d.File, FileLine: s.d.Line},
				})
			}
		}
		return out
	},
}

var nginxHostKeepalive = configs.Rule{
	ID: "KT802", Name: "nginx-keepalive-uses-host-sysctls", Severity: model.SeverityInfo,
	Title: "nginx TCP keepalive left to the host's sysctls",
	What: "Flags listen ... so_keepalive=on (or an idle:interval:count with parts left empty) and " +
		"proxy_socket_keepalive / grpc_socket_keepalive / fastcgi_socket_keepalive on, and says which " +
		"values the sockets then get: the host's net.ipv4.tcp_keepalive_time, _intvl and _probes (read " +
		"from the host with audit, the kernel defaults with lint).",
	Why: "so_keepalive=on turns keepalive on but sets none of its timers, so a dead client is found " +
		"after the host's idle + interval × probes: 2 h 11 min with the kernel defaults, far beyond " +
		"the idle timeouts of NAT gateways and load balancers (350 s on AWS NAT, 4 min on Azure) that " +
		"it is usually meant to outlive. The upstream *_socket_keepalive directives cannot set timers " +
		"at all.",
	Fix: "listen ... so_keepalive=IDLE:INTERVAL:COUNT (for example so_keepalive=600s:30s:5); for " +
		"upstream sockets, set the host's net.ipv4.tcp_keepalive_* sysctls.",
	Source: "nginx docs, listen so_keepalive and proxy_socket_keepalive; Documentation/networking/ip-sysctl.rst; checked against nginx 1.22 by keeptune's integration test (accepted and upstream sockets read back with getsockopt)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		idle, intvl, cnt := in.Host.Idle, in.Host.Interval, in.Host.Count
		pIdle, pIntvl, pCnt := in.ProposedKeepalive()
		hostEv := []model.Evidence{
			{Name: model.KeyKeepaliveTime, Value: fmt.Sprint(int64(idle.Value / time.Second)), Source: idle.Source},
			{Name: model.KeyKeepaliveIntvl, Value: fmt.Sprint(int64(intvl.Value / time.Second)), Source: intvl.Source},
			{Name: model.KeyKeepaliveProbes, Value: fmt.Sprint(cnt.Value), Source: cnt.Source},
		}
		for _, c := range configs.Details[*Config](in.Configs) {
			servers := append(append([]*Server{}, c.Servers...), c.StreamServers...)
			for _, s := range servers {
				for _, l := range s.Listens {
					ka := l.SoKeepalive
					if ka == nil || !ka.On || (ka.Idle > 0 && ka.Interval > 0 && ka.Count > 0) {
						continue
					}
					eIdle, eIntvl, eCnt := idle.Value, intvl.Value, cnt.Value
					var fromHost []string
					if ka.Idle > 0 {
						eIdle = ka.Idle
					} else {
						fromHost = append(fromHost, fmt.Sprintf("idle %s (%s)", configs.Human(idle.Value), idle.Source))
					}
					if ka.Interval > 0 {
						eIntvl = ka.Interval
					} else {
						fromHost = append(fromHost, fmt.Sprintf("interval %s (%s)", configs.Human(intvl.Value), intvl.Source))
					}
					if ka.Count > 0 {
						eCnt = ka.Count
					} else {
						fromHost = append(fromHost, fmt.Sprintf("%d probes (%s)", cnt.Value, cnt.Source))
					}
					detect := kernel.DeadPeerDetection(eIdle, eIntvl, eCnt, 0)
					// Keep what the operator set; fill the rest from the profile.
					fIdle, fIntvl, fCnt := pIdle, pIntvl, pCnt
					if ka.Idle > 0 {
						fIdle = ka.Idle
					}
					if ka.Interval > 0 {
						fIntvl = ka.Interval
					}
					if ka.Count > 0 {
						fCnt = ka.Count
					}
					param := fmt.Sprintf("so_keepalive=%ds:%ds:%d", int64(fIdle/time.Second), int64(fIntvl/time.Second), fCnt)
					var args []string
					for _, a := range l.Dir.Args {
						if strings.HasPrefix(a, "so_keepalive=") {
							a = param
						}
						args = append(args, a)
					}
					out = append(out, model.Finding{
						Severity: model.SeverityInfo, Subject: "nginx listen " + l.Address + " in " + s.Label,
						Message: fmt.Sprintf("so_keepalive=%s turns TCP keepalive on but leaves %s to the host: a dead client is found after %s.",
							ka.Raw, strings.Join(fromHost, ", "), configs.Human(detect)),
						Evidence: append([]model.Evidence{nginxEvidence(l.Dir)}, hostEv...),
						Location: nginxLoc(l.Dir),
						Fix: &model.Fix{Key: "so_keepalive", Current: ka.Raw, Proposed: strings.TrimPrefix(param, "so_keepalive="),
							Line: nginxLine("listen", args...), File: l.Dir.File, FileLine: l.Dir.Line},
					})
				}
			}
			// Upstream sockets: nginx has no per-socket timers for them.
			seen := map[*Directive]bool{}
			contexts := c.Contexts()
			if c.Stream != nil {
				contexts = append(contexts, c.Stream)
				for _, s := range c.StreamServers {
					contexts = append(contexts, s.Context)
				}
			}
			for _, ctx := range contexts {
				for _, name := range []string{"proxy_socket_keepalive", "grpc_socket_keepalive", "fastcgi_socket_keepalive", "uwsgi_socket_keepalive"} {
					for _, d := range ctx.Own[name] {
						if seen[d] || !strings.EqualFold(d.Arg(0), "on") {
							continue
						}
						seen[d] = true
						lines := fmt.Sprintf("%s = %d\n%s = %d\n%s = %d", model.KeyKeepaliveTime, int64(pIdle/time.Second),
							model.KeyKeepaliveIntvl, int64(pIntvl/time.Second), model.KeyKeepaliveProbes, pCnt)
						out = append(out, model.Finding{
							Severity: model.SeverityInfo, Subject: "nginx " + name + " in " + ctx.Label,
							Message: fmt.Sprintf("%s on turns TCP keepalive on for backend connections with the host's timers: idle %s (%s), interval %s, %d probes: a dead backend is found after %s.",
								name, configs.Human(idle.Value), idle.Source, configs.Human(intvl.Value), cnt.Value, configs.Human(kernel.DeadPeerDetection(idle.Value, intvl.Value, cnt.Value, 0))),
							Evidence: append([]model.Evidence{nginxEvidence(d)}, hostEv...),
							Location: nginxLoc(d),
							Fix: &model.Fix{Line: lines, File: in.SysctlDropIn, Apply: "sysctl --system",
								Note: "nginx cannot set keepalive timers on upstream sockets; these host sysctls apply to every program that turns keepalive on without its own timers."},
						})
					}
				}
			}
		}
		return out
	},
}

var nginxKeepaliveOff = configs.Rule{
	ID: "KT803", Name: "nginx-keepalive-disabled", Severity: model.SeverityWarning,
	Title: "nginx client keep-alive disabled (keepalive_timeout 0)",
	What:  "Flags keepalive_timeout 0 in http, server and location blocks.",
	Why: "keepalive_timeout 0 closes every client connection after one response. Each request pays a " +
		"new TCP (and TLS) handshake, and behind a load balancer or proxy that pools connections (AWS " +
		"ALB, Envoy, another nginx with upstream keepalive) the pool is torn down after every request: " +
		"its reuse races nginx's close and shows up as sporadic 502s or retried requests.",
	Fix: "keepalive_timeout 75s; (nginx's default; behind a pooling balancer, longer than the " +
		"balancer's idle timeout: ALB 60 s, GCP 600 s).",
	Source: "nginx docs, ngx_http_core_module keepalive_timeout (\"The zero value disables keep-alive client connections\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, ctx := range c.Contexts() {
				for _, d := range ctx.Own["keepalive_timeout"] {
					if v, ok := Duration(d, 0, false); !ok || v != 0 {
						continue
					}
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: "nginx keepalive_timeout in " + ctx.Label,
						Message:  "keepalive_timeout 0 turns client keep-alive off: every request opens a new connection, and a load balancer that pools connections to nginx loses each one after a single request.",
						Evidence: []model.Evidence{nginxEvidence(d)},
						Location: nginxLoc(d),
						Fix: &model.Fix{Key: "keepalive_timeout", Current: d.Text(), Proposed: "75s", Line: nginxLine("keepalive_timeout", "75s"),
							File: d.File, FileLine: d.Line, Note: "Behind a load balancer, keep it longer than the balancer's idle timeout."},
					})
				}
			}
		}
		return out
	},
}

var nginxKeepaliveHeader = configs.Rule{
	ID: "KT804", Name: "nginx-keepalive-header-too-long", Severity: model.SeverityWarning,
	Title: "nginx Keep-Alive header promises more than nginx keeps",
	What: "Flags keepalive_timeout T H whose second argument H (sent to clients as \"Keep-Alive: " +
		"timeout=H\") is not below T, the time nginx really keeps an idle connection.",
	Why: "Clients that honour the header (curl, Firefox, many HTTP libraries) reuse an idle connection " +
		"for up to H seconds. When H ≥ T, a request sent between T and H meets a connection nginx has " +
		"just closed: it fails with a reset or an empty reply, and only idempotent requests are retried.",
	Fix:    "Make the header shorter than the timeout (keepalive_timeout 65s 60;), or drop it.",
	Source: "nginx docs, ngx_http_core_module keepalive_timeout; RFC 9112 9.3 (a client must be ready to retry when the server closes an idle connection)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, ctx := range c.Contexts() {
				for _, d := range ctx.Own["keepalive_timeout"] {
					t, ok1 := Duration(d, 0, false)
					h, ok2 := Duration(d, 1, true)
					if !ok1 || !ok2 || t == 0 || h < t {
						continue
					}
					ts := int64(t / time.Second)
					hs := max(ts-max(1, ts/10), 1)
					if ts <= 1 {
						continue // nothing shorter to propose in whole seconds
					}
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: "nginx keepalive_timeout in " + ctx.Label,
						Message: fmt.Sprintf("keepalive_timeout %s %s tells clients \"Keep-Alive: timeout=%d\" but nginx closes idle connections after %s: a client reusing one in between meets a closed connection.",
							d.Arg(0), d.Arg(1), int64(h/time.Second), configs.Human(t)),
						Evidence: []model.Evidence{nginxEvidence(d)},
						Location: nginxLoc(d),
						Fix: &model.Fix{Key: "keepalive_timeout", Current: d.Text(), Proposed: fmt.Sprintf("%s %d", d.Arg(0), hs),
							Line: nginxLine("keepalive_timeout", d.Arg(0), fmt.Sprint(hs)), File: d.File, FileLine: d.Line},
					})
				}
			}
		}
		return out
	},
}
