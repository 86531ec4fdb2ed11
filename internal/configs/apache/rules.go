package apache

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// rules are the checks of apache configurations, in ID order (docs/rules.md).
var rules = []configs.Rule{
	apacheKeepAliveBelowBalancer, apacheKeepAliveOff, apacheMaxKeepAliveRequestsLow,
	apacheProxyPoolWithoutTTL, apacheTTLIgnoredPrefork, apacheUnitSuffix, apacheProxyKeepaliveHostTiming,
}

func init() { configs.RegisterRules("apache", rules...) }

// apacheServers are the servers that answer clients: every virtual host, or the main server
// when there is none, each with the settings in force for it.
func apacheServers(c *Config) []*Server {
	var out []*Server
	list := c.VirtualHosts
	if len(list) == 0 {
		list = []*Server{c.Main}
	}
	for _, s := range list {
		out = append(out, c.InEffect(s))
	}
	return out
}

// apacheGroup gathers the servers whose value comes from the same place, so that a value set
// once (or left at its default) gives one finding, not one per virtual host.
type apacheGroup struct {
	src     model.Source
	servers []string
	first   *Server
}

func apacheGroupBy(servers []*Server, keep func(*Server) (model.Source, bool)) []*apacheGroup {
	var out []*apacheGroup
	seen := map[string]*apacheGroup{}
	for _, s := range servers {
		src, ok := keep(s)
		if !ok {
			continue
		}
		key := fmt.Sprintf("%s:%d:%s", src.File, src.Line, src.Detail)
		g := seen[key]
		if g == nil {
			g = &apacheGroup{src: src, first: s}
			seen[key] = g
			out = append(out, g)
		}
		g.servers = append(g.servers, s.Name)
	}
	return out
}

func (g *apacheGroup) subject() string {
	if len(g.servers) == 1 {
		return "apache " + g.servers[0]
	}
	return fmt.Sprintf("apache %s and %d more", g.servers[0], len(g.servers)-1)
}

// location is where a value is set, or where it would be written: the virtual host's line, or
// the main file.
func (g *apacheGroup) location(c *Config) *model.Location {
	if l := model.LocationOf(g.src); l != nil {
		return l
	}
	if g.first.Location.File != "" {
		l := g.first.Location
		return &l
	}
	return configs.Loc(c.Files[0], 1)
}

// apacheFix replaces the directive line that sets a value, or says where to add it.
func apacheFix(c *Config, g *apacheGroup, key, current, proposed string) *model.Fix {
	f := &model.Fix{Key: key, Current: current, Proposed: proposed, Line: key + " " + proposed}
	if g.src.File != "" && g.src.Line > 0 {
		f.File, f.FileLine = g.src.File, g.src.Line
		return f
	}
	if g.first.Location.File != "" {
		f.Note = fmt.Sprintf("Add it inside <%s> (%s), or to the server config in %s for every virtual host.", g.first.Name, g.first.Location, c.Files[0])
	} else {
		f.Note = "Add it to the server config in " + c.Files[0] + "."
	}
	return f
}

// apacheBalancerIdle is the idle timeout of the most common pooling balancer, AWS ALB (60 s
// by default, catalog entry aws-alb); the proposal keeps 5 s above it, like KT701.
const (
	apacheBalancerIdle   = 60 * time.Second
	apacheProposedKeepTO = 65 * time.Second
)

// apacheSeconds writes a KeepAliveTimeout in httpd's syntax: "5", or "2ms" (httpd accepts the
// suffix). Messages use configs.Seconds() instead: "5 s", "2ms", never "2ms s".
func apacheSeconds(d time.Duration) string {
	if d%time.Second != 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprint(int64(d / time.Second))
}

var apacheKeepAliveBelowBalancer = configs.Rule{
	ID: "KT840", Name: "apache-keepalive-timeout-below-balancer", Severity: model.SeverityWarning,
	Title: "Apache KeepAliveTimeout shorter than a pooling balancer's idle timeout",
	What: "Flags every virtual host (or the main server) that keeps connections alive with a " +
		"KeepAliveTimeout of 60 s or less, the default 5 s included: any load balancer or proxy in front " +
		"that pools connections with a longer idle timeout (AWS ALB: 60 s) races it. A warning only when a " +
		"chain file's hop names the file (config:) or with a sign of a balancer in front (mod_remoteip's RemoteIPHeader or trusted proxies); " +
		"otherwise info. In a chain file, KT701 compares with the real balancer instead.",
	Why: "httpd closes a keep-alive connection after KeepAliveTimeout of silence. A balancer that pools " +
		"connections keeps them for its own idle timeout and may send the next request just as httpd " +
		"closes: the request meets a closed socket and the client gets a 502 (AWS ALB counts them in " +
		"HTTPCode_ELB_502_Count; GCP logs backend_connection_closed_before_data_sent_to_client). httpd's " +
		"5 s default is far below every balancer's idle timeout.",
	Fix: "Behind a balancer, set KeepAliveTimeout above the balancer's idle timeout (65 behind an AWS ALB " +
		"at 60 s). With mpm_prefork or mpm_worker every idle connection then holds a process or thread: size " +
		"MaxRequestWorkers for it or use mpm_event, which parks idle connections without a thread.",
	Source: "httpd core documentation (KeepAliveTimeout, default 5); AWS ELB documentation (Application Load Balancer " +
		"idle timeout 60 s: configure backend keep-alive longer)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, file := range in.Configs {
			c, ok := file.Detail.(*Config)
			if !ok {
				continue
			}
			groups := apacheGroupBy(apacheServers(c), func(s *Server) (model.Source, bool) {
				return s.KeepAliveTimeout.Source, s.KeepAlive.Known && s.KeepAlive.Value && s.KeepAliveTimeout.Known && s.KeepAliveTimeout.Value <= apacheBalancerIdle
			})
			// Only a chain hop that names this file or a sign of a balancer in front
			// (mod_remoteip trusting a forwarded header) makes this a warning; on a stock httpd
			// with nothing in front, even on a host whose chain file describes other servers,
			// it is a note for the day one is added.
			sev, why := model.SeverityInfo, ""
			if file.Hop != "" {
				sev, why = model.SeverityWarning, fmt.Sprintf("The chain file's hop %s serves this file", file.Hop)
			} else if d := apacheBalancerSign(c); d != nil {
				sev, why = model.SeverityWarning, fmt.Sprintf("%s %s at %s says a proxy or balancer is in front", d.Name, strings.Join(d.Args, " "), d.Location)
			}
			for _, g := range groups {
				s := g.first
				msg := fmt.Sprintf("KeepAliveTimeout %s: behind a balancer with a longer idle timeout (AWS ALB 60 s) this gives 502s: set KeepAliveTimeout above the balancer's idle timeout.",
					configs.Seconds(s.KeepAliveTimeout.Value))
				if why != "" {
					msg += " " + why + "."
				} else {
					msg = fmt.Sprintf("KeepAliveTimeout %s: fine while clients connect directly, but if a pooling balancer is ever put in front (AWS ALB keeps idle connections 60 s) it gives 502s: then set KeepAliveTimeout above the balancer's idle timeout.",
						configs.Seconds(s.KeepAliveTimeout.Value))
				}
				if c.MPM == "prefork" || c.MPM == "worker" {
					msg += fmt.Sprintf(" With mpm_%s each idle connection holds a %s for that long: size MaxRequestWorkers for it, or switch to mpm_event.",
						c.MPM, map[string]string{"prefork": "process", "worker": "thread"}[c.MPM])
				}
				out = append(out, model.Finding{
					Severity: sev, Subject: g.subject(), Message: msg,
					Evidence: []model.Evidence{
						{Name: "KeepAliveTimeout", Value: configs.Human(s.KeepAliveTimeout.Value), Source: s.KeepAliveTimeout.Source},
						{Name: "KeepAlive", Value: "On", Source: s.KeepAlive.Source},
						{Name: "AWS ALB idle timeout", Value: "60s", Source: model.Source{Kind: model.SourceCatalog, Detail: "aws-alb: AWS ELB documentation, idle timeout default 60 seconds"}},
					},
					Location: g.location(c),
					Fix:      apacheFix(c, g, "KeepAliveTimeout", apacheSeconds(s.KeepAliveTimeout.Value), apacheSeconds(apacheProposedKeepTO)),
				})
			}
		}
		return out
	},
}

var apacheKeepAliveOff = configs.Rule{
	ID: "KT841", Name: "apache-keepalive-off", Severity: model.SeverityInfo,
	Title: "Apache KeepAlive Off",
	What:  "Flags every virtual host (or the main server) with KeepAlive Off.",
	Why: "Every request then needs a new TCP connection (and TLS handshake): more latency for clients, " +
		"a TIME_WAIT socket per request on the side that closes, and no connection a balancer can " +
		"reuse. KeepAlive Off was advice for mpm_prefork servers short of processes; mpm_event keeps " +
		"idle connections without a worker.",
	Fix:    "KeepAlive On (the default), with a KeepAliveTimeout that suits what is in front (see KT840).",
	Source: "httpd core documentation: KeepAlive (default On)",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, g := range apacheGroupBy(apacheServers(c), func(s *Server) (model.Source, bool) {
				return s.KeepAlive.Source, s.KeepAlive.Known && !s.KeepAlive.Value
			}) {
				out = append(out, model.Finding{
					Severity: model.SeverityInfo, Subject: g.subject(),
					Message:  "KeepAlive Off: every request is a new TCP connection (and handshake); nothing can be reused by clients or a balancer.",
					Evidence: []model.Evidence{{Name: "KeepAlive", Value: "Off", Source: g.src}},
					Location: g.location(c),
					Fix:      apacheFix(c, g, "KeepAlive", "Off", "On"),
				})
			}
		}
		return out
	},
}

var apacheMaxKeepAliveRequestsLow = configs.Rule{
	ID: "KT842", Name: "apache-max-keepalive-requests-low", Severity: model.SeverityInfo,
	Title: "Apache MaxKeepAliveRequests below the default",
	What: "Flags every virtual host (or the main server) that keeps connections alive with " +
		"MaxKeepAliveRequests between 1 and 99 (0 is unlimited; the default is 100).",
	Why: "httpd closes a connection after that many requests, so busy clients and balancers that pool " +
		"connections open new ones all the time: handshakes, TIME_WAIT sockets, and for a balancer a " +
		"steady churn of backend connections. The close is announced (Connection: close), so it does not " +
		"cause errors, only cost.",
	Fix:    "MaxKeepAliveRequests 1000 (nginx's default for keepalive_requests) or 0 for no limit.",
	Source: "httpd core documentation: MaxKeepAliveRequests (default 100, \"set this to a high value for maximum server performance\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, g := range apacheGroupBy(apacheServers(c), func(s *Server) (model.Source, bool) {
				n := s.MaxKeepAliveRequests.Value
				return s.MaxKeepAliveRequests.Source, s.KeepAlive.Value && s.MaxKeepAliveRequests.Known && n > 0 && n < DefaultMaxKeepAliveRequests
			}) {
				n := g.first.MaxKeepAliveRequests.Value
				out = append(out, model.Finding{
					Severity: model.SeverityInfo, Subject: g.subject(),
					Message:  fmt.Sprintf("MaxKeepAliveRequests %d: httpd closes each connection after %d requests, and busy clients and balancers keep opening new ones.", n, n),
					Evidence: []model.Evidence{{Name: "MaxKeepAliveRequests", Value: fmt.Sprint(n), Source: g.src}},
					Location: g.location(c),
					Fix:      apacheFix(c, g, "MaxKeepAliveRequests", fmt.Sprint(n), "1000"),
				})
			}
		}
		return out
	},
}

// apacheWorkerLine rewrites a worker directive with a parameter set to a value (added when it is
// not there).
func apacheWorkerLine(w *Worker, key, value string) string {
	d := w.Line
	var parts []string
	set := false
	for _, a := range d.Args {
		if k, _, ok := strings.Cut(a, "="); ok && strings.EqualFold(k, key) {
			a, set = key+"="+value, true
		}
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		parts = append(parts, a)
	}
	if !set {
		parts = append(parts, key+"="+value)
	}
	return d.Name + " " + strings.Join(parts, " ")
}

func apacheWorkerName(w *Worker) string {
	if w.Directive == "BalancerMember" {
		return fmt.Sprintf("BalancerMember %s of %s", w.URL, w.Balancer)
	}
	return fmt.Sprintf("%s %s %s", w.Directive, w.Path, w.URL)
}

func apacheWorkerSource(w *Worker) model.Source {
	return configs.Src(w.Location.File, w.Location.Line)
}

// apacheProposedTTL is below the keep-alive idle timeout of the common backends: httpd, Node.js
// and uvicorn close idle connections after 5 s.
const apacheProposedTTL = 4

var apacheProxyPoolWithoutTTL = configs.Rule{
	ID: "KT843", Name: "apache-proxy-pool-without-ttl", Severity: model.SeverityWarning,
	Title: "mod_proxy pools backend connections without ttl",
	What: "Flags every ProxyPass, ProxyPassMatch and BalancerMember worker that reuses connections (the " +
		"default for http, https and ajp; fcgi with enablereuse=on) and has no ttl=.",
	Why: "Without ttl mod_proxy keeps an idle pooled connection until the backend closes it, however long " +
		"that takes. Backends close idle connections after their own keep-alive timeout (httpd, Node.js, " +
		"uvicorn 5 s; gunicorn 2 s): a request sent on a connection the backend is closing fails " +
		"(\"AH01102: error reading status line from remote server\", a 502 to the client). The mod_proxy " +
		"documentation names ttl for exactly this.",
	Fix: "Add ttl=N to the worker with N below the backend's keep-alive idle timeout (ttl=4 for the common 5 s; " +
		"ttl=1 for gunicorn's 2 s). Under mpm_prefork ttl does nothing (KT844): use disablereuse=On there, or " +
		"mpm_event.",
	Source: "httpd mod_proxy documentation: ProxyPass key=value parameters (\"ttl can be used to avoid using a connection " +
		"which is subject to closing because of the backend server's keep-alive timeout\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, w := range c.Workers {
				if reuse, _ := w.Reuses(); !reuse || w.Scheme() == "balancer" {
					continue
				}
				if _, _, ok := w.Param("ttl"); ok {
					continue
				}
				_, rsrc := w.Reuses()
				f := model.Finding{
					Severity: model.SeverityWarning, Subject: "apache " + apacheWorkerName(w),
					Message: fmt.Sprintf("%s reuses backend connections without ttl=: an idle connection stays in the pool until the backend closes it, "+
						"and a request sent as it does fails with a 502.", apacheWorkerName(w)),
					Evidence: []model.Evidence{{Name: "connection reuse", Value: "on", Source: rsrc},
						{Name: "ttl", Value: "not set", Source: apacheWorkerSource(w)}},
					Location: &w.Location,
					Fix: &model.Fix{Key: "ttl", Current: "not set", Proposed: fmt.Sprint(apacheProposedTTL), File: w.Location.File, FileLine: w.Location.Line,
						Line: apacheWorkerLine(w, "ttl", fmt.Sprint(apacheProposedTTL)),
						Note: "Keep ttl below the backend's keep-alive idle timeout: 4 s is under the 5 s of httpd, Node.js and uvicorn; gunicorn's 2 s needs ttl=1."},
				}
				if c.MPM == "prefork" {
					f.Fix = &model.Fix{Key: "disablereuse", Current: "Off", Proposed: "On", File: w.Location.File, FileLine: w.Location.Line,
						Line: apacheWorkerLine(w, "disablereuse", "On"),
						Note: "mpm_prefork ignores ttl (KT844): disable reuse here, or switch to mpm_event and set ttl=4."}
				}
				out = append(out, f)
			}
		}
		return out
	},
}

var apacheTTLIgnoredPrefork = configs.Rule{
	ID: "KT844", Name: "apache-ttl-ignored-prefork", Severity: model.SeverityWarning,
	Title: "mod_proxy ttl= under mpm_prefork",
	What:  "Flags workers that set ttl= while the MPM is prefork.",
	Why: "Under mpm_prefork mod_proxy keeps no connection pool (one connection per process), and ttl, which " +
		"is a pool setting, is never read: the connection stays until the backend closes it, and the race " +
		"ttl was meant to prevent happens anyway. httpd does not warn.",
	Fix: "Switch to mpm_event (Debian: a2dismod mpm_prefork && a2enmod mpm_event; mod_php needs prefork, so " +
		"move PHP to PHP-FPM first), or set disablereuse=On on the worker.",
	Source: "httpd bug 54976 (ProxyPass ttl and acquire ignored in prefork MPM); Red Hat solution 2381261",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			if c.MPM != "prefork" {
				continue
			}
			var mpm *Module
			for i, m := range c.Modules {
				if m.ID == "mpm_prefork_module" {
					mpm = &c.Modules[i]
				}
			}
			for _, w := range c.Workers {
				v, src, ok := w.Param("ttl")
				if !ok {
					continue
				}
				ev := []model.Evidence{{Name: "ttl", Value: v, Source: src}}
				fix := &model.Fix{Key: "LoadModule", Current: "mpm_prefork_module", Proposed: "mpm_event_module",
					Apply: "a2dismod mpm_prefork && a2enmod mpm_event && systemctl restart apache2",
					Note:  "Or add disablereuse=On to " + apacheWorkerName(w) + "."}
				if mpm != nil {
					ev = append(ev, model.Evidence{Name: "MPM", Value: "prefork", Source: configs.Src(mpm.Location.File, mpm.Location.Line)})
					fix.File, fix.FileLine = mpm.Location.File, mpm.Location.Line
					fix.Line = "LoadModule mpm_event_module " + path.Join(path.Dir(mpm.Path), "mod_mpm_event.so")
				}
				out = append(out, model.Finding{
					Severity: model.SeverityWarning, Subject: "apache " + apacheWorkerName(w),
					Message:  fmt.Sprintf("ttl=%s on %s does nothing: mpm_prefork has no connection pool, so idle backend connections stay until the backend closes them.", v, apacheWorkerName(w)),
					Evidence: ev,
					Location: model.LocationOf(src),
					Fix:      fix,
				})
			}
		}
		return out
	},
}

// apacheIntended reads a value with a unit the way its writer meant it, in whole seconds (at
// least 1); ok is false when the unit is seconds or absent (atoi reads those right).
func apacheIntended(n int, unit string) (secs int, ok bool) {
	u := strings.ToLower(unit)
	switch {
	case u == "" || strings.HasPrefix(u, "s"):
		return 0, false
	case strings.HasPrefix(u, "ms"):
		return max(1, (n+999)/1000), true
	case strings.HasPrefix(u, "m"):
		return n * 60, true
	case strings.HasPrefix(u, "h"):
		return n * 3600, true
	case strings.HasPrefix(u, "d"):
		return n * 86400, true
	}
	return 0, false
}

var apacheUnitSuffix = configs.Rule{
	ID: "KT845", Name: "apache-unit-read-as-seconds", Severity: model.SeverityWarning,
	Title: "Apache time with a unit httpd ignores",
	What: "Flags Timeout, ProxyTimeout and the ttl= and timeout= worker parameters written with a unit " +
		"other than seconds (500ms, 2m, 1h).",
	Why: "httpd 2.4 reads these with atoi: the number is taken as seconds and the unit is dropped without " +
		"a warning (apache2 -t accepts them). Timeout 500ms is 500 seconds, ttl=2m is 2 seconds. Only " +
		"KeepAliveTimeout and the connectiontimeout= and ping= parameters understand units.",
	Fix:    "Write the value in seconds (Timeout 1, ttl=120).",
	Source: "httpd 2.4 source: server/core.c set_timeout, modules/proxy/mod_proxy.c set_proxy_timeout and set_worker_param (atoi); apache2 -t 2.4.71 accepts \"Timeout 500ms\"",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, d := range c.Directives {
				if (d.Name != "Timeout" && d.Name != "ProxyTimeout") || len(d.Args) != 1 {
					continue
				}
				n, unit := Atoi(d.Args[0])
				secs, ok := apacheIntended(n, unit)
				if !ok {
					continue
				}
				src := configs.Src(d.Location.File, d.Location.Line)
				out = append(out, model.Finding{
					Severity: model.SeverityWarning, Subject: "apache " + d.Name + " in " + d.Block(),
					Message:  fmt.Sprintf("%s %s is read as %d seconds: httpd ignores the unit %q here.", d.Name, d.Args[0], n, unit),
					Evidence: []model.Evidence{{Name: d.Name, Value: d.Args[0], Source: src}},
					Location: &d.Location,
					Fix: &model.Fix{Key: d.Name, Current: d.Args[0], Proposed: fmt.Sprint(secs), File: d.Location.File, FileLine: d.Location.Line,
						Line: fmt.Sprintf("%s %d", d.Name, secs)},
				})
			}
			for _, w := range c.Workers {
				keys := make([]string, 0, len(w.Params))
				for k := range w.Params {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if k != "ttl" && k != "timeout" {
						continue
					}
					v, src, _ := w.Param(k)
					n, unit := Atoi(v)
					secs, ok := apacheIntended(n, unit)
					if !ok {
						continue
					}
					fix := &model.Fix{Key: k, Current: v, Proposed: fmt.Sprint(secs), File: src.File, FileLine: src.Line}
					if src.File == w.Location.File && src.Line == w.Location.Line {
						fix.Line = apacheWorkerLine(w, k, fmt.Sprint(secs))
					}
					out = append(out, model.Finding{
						Severity: model.SeverityWarning, Subject: "apache " + apacheWorkerName(w),
						Message:  fmt.Sprintf("%s=%s on %s is read as %d seconds: httpd ignores the unit %q in this parameter.", k, v, apacheWorkerName(w), n, unit),
						Evidence: []model.Evidence{{Name: k, Value: v, Source: src}},
						Location: model.LocationOf(src),
						Fix:      fix,
					})
				}
			}
		}
		return out
	},
}

var apacheProxyKeepaliveHostTiming = configs.Rule{
	ID: "KT846", Name: "apache-proxy-keepalive-host-timing", Severity: model.SeverityInfo,
	Title: "mod_proxy keepalive=On probes on the host's timing",
	What:  "Flags workers with keepalive=On: mod_proxy turns SO_KEEPALIVE on but cannot set when probes start.",
	Why: "The probes follow the host's net.ipv4.tcp_keepalive_time (7200 s by default), which the mod_proxy " +
		"documentation itself warns \"may be as high as 2 hours\": a firewall or NAT between httpd and the " +
		"backend that forgets idle flows sooner (often 300-900 s) still drops the pooled connection.",
	Fix: "Set the host's keepalive sysctls below the firewall's idle timeout (keeptune audit reads them where " +
		"httpd runs), or give the worker a ttl= below that idle timeout.",
	Source: "httpd mod_proxy documentation: keepalive parameter (\"The frequency of initial and subsequent TCP keepalive " +
		"probes depends on global OS settings, and may be as high as 2 hours\")",
	Check: func(in *configs.RuleInput) []model.Finding {
		var out []model.Finding
		idle, _, _ := in.ProposedKeepalive()
		for _, c := range configs.Details[*Config](in.Configs) {
			for _, w := range c.Workers {
				v, src, ok := w.Param("keepalive")
				if !ok || !strings.EqualFold(v, "on") {
					continue
				}
				secs := int64(idle / time.Second)
				out = append(out, model.Finding{
					Severity: model.SeverityInfo, Subject: "apache " + apacheWorkerName(w),
					Message: fmt.Sprintf("keepalive=On on %s: the first probe leaves after the host's net.ipv4.tcp_keepalive_time (7200 s unless tuned), "+
						"too late for most firewalls and NATs between httpd and the backend.", apacheWorkerName(w)),
					Evidence: []model.Evidence{{Name: "keepalive", Value: v, Source: src},
						{Name: "probe timing", Value: "host sysctls", Source: model.Source{Kind: model.SourceKernelDefault, Detail: "net.ipv4.tcp_keepalive_time, _intvl, _probes"}}},
					Location: model.LocationOf(src),
					Fix: &model.Fix{Key: "net.ipv4.tcp_keepalive_time", Proposed: fmt.Sprint(secs),
						Line:  fmt.Sprintf("net.ipv4.tcp_keepalive_time = %d", secs),
						Apply: fmt.Sprintf("sysctl -w net.ipv4.tcp_keepalive_time=%d", secs),
						Note: fmt.Sprintf("mod_proxy has no per-worker probe timing: write the line to a file in /etc/sysctl.d on the host that runs httpd (profile %s), "+
							"below the idle timeout of the firewall towards the backend.", in.Profile.Name)},
				})
			}
		}
		return out
	},
}

// apacheBalancerSign returns a directive that shows httpd sits behind a proxy or balancer:
// mod_remoteip told which header carries the client address, or which proxies to trust.
func apacheBalancerSign(c *Config) *Directive {
	for _, d := range c.Directives {
		switch d.Name {
		case "RemoteIPHeader", "RemoteIPTrustedProxy", "RemoteIPInternalProxy", "RemoteIPTrustedProxyList", "RemoteIPInternalProxyList", "RemoteIPProxyProtocol":
			return d
		}
	}
	return nil
}
