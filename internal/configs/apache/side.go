package apache

import (
	"path"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// httpd's defaults (include/httpd.h: DEFAULT_KEEPALIVE_TIMEOUT 5, DEFAULT_KEEPALIVE 100,
// DEFAULT_TIMEOUT 60; core documentation: KeepAlive On).
const (
	DefaultKeepAliveTimeout     = 5 * time.Second
	DefaultMaxKeepAliveRequests = 100
	DefaultTimeout              = 60 * time.Second
)

// builtinModules are the modules Debian's apache2 has compiled in (apache2 -l), which
// <IfModule> finds without a LoadModule line.
var builtinModules = []struct{ id, file string }{
	{"core_module", "core.c"}, {"so_module", "mod_so.c"}, {"watchdog_module", "mod_watchdog.c"},
	{"http_module", "http_core.c"}, {"log_config_module", "mod_log_config.c"}, {"logio_module", "mod_logio.c"},
	{"version_module", "mod_version.c"}, {"unixd_module", "mod_unixd.c"},
}

// moduleFile is the source file name <IfModule> also accepts for a loaded module:
// "/usr/lib/apache2/modules/mod_ssl.so" gives "mod_ssl.c".
func moduleFile(p string) string {
	return strings.TrimSuffix(path.Base(p), ".so") + ".c"
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

func withDetail(s model.Source, detail string) model.Source {
	if s.Detail != "" {
		s.Detail += "; " + detail
	} else {
		s.Detail = detail
	}
	return s
}

// InEffect returns the settings in force for a server: its own, else (for a virtual host) the
// main server's, else httpd's defaults, each with where it comes from. A value set to something
// keeptune cannot read stays unknown.
func (c *Config) InEffect(s *Server) *Server {
	out := *s
	m := c.Main
	out.KeepAlive = inherit(s, m, "KeepAlive", s.KeepAlive, m.KeepAlive, model.KnownSetting(true, def("httpd default KeepAlive On")))
	out.KeepAliveTimeout = inherit(s, m, "KeepAliveTimeout", s.KeepAliveTimeout, m.KeepAliveTimeout,
		model.KnownSetting(DefaultKeepAliveTimeout, def("httpd default KeepAliveTimeout 5")))
	out.MaxKeepAliveRequests = inherit(s, m, "MaxKeepAliveRequests", s.MaxKeepAliveRequests, m.MaxKeepAliveRequests,
		model.KnownSetting(DefaultMaxKeepAliveRequests, def("httpd default MaxKeepAliveRequests 100")))
	out.Timeout = inherit(s, m, "Timeout", s.Timeout, m.Timeout, model.KnownSetting(DefaultTimeout, def("httpd default Timeout 60")))
	proxyDefault := model.Setting[time.Duration]{Source: withDetail(out.Timeout.Source, "ProxyTimeout not set: mod_proxy uses Timeout")}
	if out.Timeout.Known {
		proxyDefault = model.KnownSetting(out.Timeout.Value, proxyDefault.Source)
	}
	out.ProxyTimeout = inherit(s, m, "ProxyTimeout", s.ProxyTimeout, m.ProxyTimeout, proxyDefault)
	dirs := map[string]*Directive{}
	for k, v := range m.Directives {
		dirs[k] = v
	}
	for k, v := range s.Directives {
		dirs[k] = v
	}
	out.Directives = dirs
	return &out
}

// inherit picks a server's own value, else the main server's, else the default; a value set to
// something unreadable counts as set.
func inherit[T any](s, m *Server, name string, own, main, dflt model.Setting[T]) model.Setting[T] {
	if own.Known || s.Unknown[name] {
		return own
	}
	if main.Known || m.Unknown[name] {
		return main
	}
	return dflt
}

// FrontServer is the server whose client side keeptune reports: the first virtual host, else
// the main server.
func (c *Config) FrontServer() *Server {
	if len(c.VirtualHosts) > 0 {
		return c.VirtualHosts[0]
	}
	return c.Main
}

// Downstream is how httpd treats client connections, for the first virtual host as it
// inherits from the main server (or the main server when there is no virtual host):
// KeepAlive decides whether connections are reused, KeepAliveTimeout is the idle timeout
// (5 s by default), Timeout the read timeout (60 s by default). httpd sets SO_KEEPALIVE on its
// listening sockets (server/listen.c make_sock), which accepted sockets inherit; the probe
// timings are the host's sysctls.
//
// For name-based virtual hosts httpd takes KeepAliveTimeout from the first virtual host of the
// address unless the one chosen sets its own; keeptune reports the first virtual host.
func (c *Config) Downstream() *model.Side { return c.DownstreamOf(c.FrontServer()) }

// DownstreamOf is the client side of one virtual host (or the main server), with what it
// inherits from the main server.
func (c *Config) DownstreamOf(srv *Server) *model.Side {
	s := c.InEffect(srv)
	side := &model.Side{
		Pools:       s.KeepAlive,
		IdleTimeout: s.KeepAliveTimeout,
		ReadTimeout: s.Timeout,
	}
	if s.KeepAlive.Known && !s.KeepAlive.Value {
		side.Pools = model.KnownSetting(false, withDetail(s.KeepAlive.Source, "KeepAlive Off: one request per connection"))
	}
	ka := def("httpd sets SO_KEEPALIVE on its listening sockets (server/listen.c make_sock); accepted sockets inherit it")
	side.TCP.Enabled = model.KnownSetting(true, ka)
	side.TCP.Idle = model.Setting[time.Duration]{Source: withDetail(ka, "timings: host sysctls (net.ipv4.tcp_keepalive_time)")}
	side.TCP.Interval = model.Setting[time.Duration]{Source: withDetail(ka, "timings: host sysctls (net.ipv4.tcp_keepalive_intvl)")}
	side.TCP.Count = model.Setting[int]{Source: withDetail(ka, "timings: host sysctls (net.ipv4.tcp_keepalive_probes)")}
	side.TCP.UserTimeout = model.KnownSetting(time.Duration(0), def("httpd sets no TCP_USER_TIMEOUT"))
	return side
}

// BackWorker is the mod_proxy worker whose connections keeptune reports as the upstream side:
// the first ProxyPass or ProxyPassMatch (for a balancer:// URL, that balancer's first member),
// else the first BalancerMember; nil when there is none.
func (c *Config) BackWorker() *Worker {
	for _, w := range c.Workers {
		if w.Directive == "BalancerMember" {
			continue
		}
		if w.Scheme() != "balancer" {
			return w
		}
		for _, m := range c.Workers {
			if m.Directive == "BalancerMember" && strings.EqualFold(strings.TrimSuffix(m.Balancer, "/"), strings.TrimSuffix(w.URL, "/")) {
				return m
			}
		}
	}
	for _, w := range c.Workers {
		if w.Directive == "BalancerMember" {
			return w
		}
	}
	return nil
}

// Param returns a worker parameter and its source.
func (w *Worker) Param(key string) (string, model.Source, bool) {
	p, ok := w.Params[key]
	if !ok {
		return "", model.Source{}, false
	}
	return p.Value, model.Source{Kind: model.SourceConfig, File: p.Location.File, Line: p.Location.Line}, true
}

// Reuses reports whether the worker keeps connections for reuse, and why: mod_proxy pools
// connections of explicit workers unless disablereuse=On (or enablereuse=Off); mod_proxy_fcgi
// requires enablereuse=On.
func (w *Worker) Reuses() (bool, model.Source) {
	src := model.Source{Kind: model.SourceConfig, File: w.Location.File, Line: w.Location.Line}
	if v, s, ok := w.Param("disablereuse"); ok {
		return !strings.EqualFold(v, "on"), s
	}
	if v, s, ok := w.Param("enablereuse"); ok {
		return strings.EqualFold(v, "on"), s
	}
	if w.Scheme() == "fcgi" {
		return false, withDetail(src, "mod_proxy_fcgi reuses connections only with enablereuse=on")
	}
	return true, withDetail(src, "mod_proxy keeps connections to an explicit worker in a pool (mod_proxy docs: ProxyPass key=value parameters)")
}

// Upstream is how mod_proxy treats backend connections of BackWorker (nil without a worker):
// Pools per Reuses; the pool idle timeout is ttl= (seconds; httpd 2.4 reads it with atoi), and
// without ttl mod_proxy keeps an idle connection until the backend closes it (no limit); under
// mpm_prefork ttl is ignored (no connection pool, httpd bug 54976). Read timeout: timeout=, else
// ProxyTimeout, else Timeout. Connect timeout: connectiontimeout=, else the read timeout.
// keepalive=On sets SO_KEEPALIVE with the host's timings.
func (c *Config) Upstream() *model.Side {
	w := c.BackWorker()
	if w == nil {
		return nil
	}
	s := c.InEffect(w.Server)
	side := &model.Side{}
	reuse, rsrc := w.Reuses()
	side.Pools = model.KnownSetting(reuse, rsrc)
	if reuse {
		switch v, src, ok := w.Param("ttl"); {
		case ok && c.MPM == "prefork":
			side.IdleTimeout = model.KnownSetting(time.Duration(0), withDetail(src, "ttl is ignored under mpm_prefork (httpd bug 54976): idle connections stay until the backend closes them"))
		case ok:
			n, _ := Atoi(v)
			side.IdleTimeout = model.KnownSetting(time.Duration(n)*time.Second, src)
		default:
			side.IdleTimeout = model.KnownSetting(time.Duration(0), withDetail(model.Source{Kind: model.SourceConfig, File: w.Location.File, Line: w.Location.Line},
				"no ttl=: mod_proxy keeps an idle pooled connection until the backend closes it"))
		}
	}
	side.ReadTimeout = s.ProxyTimeout
	if v, src, ok := w.Param("timeout"); ok {
		n, _ := Atoi(v)
		side.ReadTimeout = model.KnownSetting(time.Duration(n)*time.Second, src)
	}
	side.ConnectTimeout = model.KnownSetting(side.ReadTimeout.Value, withDetail(side.ReadTimeout.Source, "connectiontimeout= not set: the worker's timeout applies"))
	if v, src, ok := w.Param("connectiontimeout"); ok {
		t, _ := parseInterval(v, time.Second)
		side.ConnectTimeout = model.KnownSetting(t, src)
	}
	if v, src, ok := w.Param("keepalive"); ok && strings.EqualFold(v, "on") {
		side.TCP.Enabled = model.KnownSetting(true, src)
		side.TCP.Idle = model.Setting[time.Duration]{Source: withDetail(src, "timings: host sysctls (net.ipv4.tcp_keepalive_time)")}
		side.TCP.Interval = model.Setting[time.Duration]{Source: withDetail(src, "timings: host sysctls (net.ipv4.tcp_keepalive_intvl)")}
		side.TCP.Count = model.Setting[int]{Source: withDetail(src, "timings: host sysctls (net.ipv4.tcp_keepalive_probes)")}
	} else if ok {
		side.TCP.Enabled = model.KnownSetting(false, src)
	} else {
		side.TCP.Enabled = model.KnownSetting(false, def("mod_proxy default keepalive=Off"))
	}
	side.TCP.UserTimeout = model.KnownSetting(time.Duration(0), def("mod_proxy sets no TCP_USER_TIMEOUT"))
	return side
}

// valueKeys are the directives keeptune lists as values.
var valueKeys = map[string]bool{
	"KeepAlive": true, "KeepAliveTimeout": true, "MaxKeepAliveRequests": true, "Timeout": true,
	"ProxyTimeout": true, "RequestReadTimeout": true, "ProxyPass": true, "ProxyPassMatch": true,
	"BalancerMember": true, "ProxySet": true,
}

// Values lists the directives that decide keep-alive and timeouts, and the MPM's LoadModule.
func (c *Config) Values() []configs.Value {
	var out []configs.Value
	for _, d := range c.Directives {
		if !valueKeys[d.Name] && !(d.Name == "LoadModule" && len(d.Args) > 0 && strings.HasPrefix(d.Args[0], "mpm_")) {
			continue
		}
		out = append(out, configs.Value{Key: d.Name, Value: strings.Join(d.Args, " "), Block: d.Block(), Location: d.Location})
	}
	return out
}

// Configs turns the configuration into the registry's form.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "apache", Files: c.Files, Values: c.Values(), Detail: c}
	if len(c.Files) > 0 {
		out.File = c.Files[0]
	}
	out.Downstream = c.Downstream()
	out.Upstream = c.Upstream()
	out.Listeners = c.Listeners()
	out.Warnings = c.Warnings
	return out
}

// Listeners are the virtual hosts, each with its own client side (the upstream side is the
// configuration's: mod_proxy workers are shared); the main server alone when there is none, at
// its Listen addresses, so that a chain hop can still select it by ServerName or port.
func (c *Config) Listeners() []configs.Listener {
	var out []configs.Listener
	for _, v := range c.VirtualHosts {
		l := configs.Listener{Kind: "virtualhost", Name: v.Name, Names: v.Names, Location: v.Location, Downstream: c.DownstreamOf(v)}
		l.Addresses = strings.Fields(strings.TrimPrefix(v.Name, "VirtualHost "))
		out = append(out, l)
	}
	if len(out) > 0 || c.Main == nil {
		return out
	}
	l := configs.Listener{Kind: "server", Name: c.Main.Name, Names: c.Main.Names, Location: c.Main.Location, Downstream: c.DownstreamOf(c.Main)}
	for _, d := range c.Directives {
		if d.Name != "Listen" || len(d.Args) == 0 || len(d.Context) > 0 {
			continue
		}
		addr := d.Args[0]
		if !strings.Contains(addr, ":") {
			addr = "*:" + addr // Listen 80: every address
		}
		l.Addresses = append(l.Addresses, addr)
		if l.Location.File == "" {
			l.Location = d.Location
		}
	}
	if l.Location.File == "" && len(c.Files) > 0 {
		l.Location = model.Location{File: c.Files[0]}
	}
	return append(out, l)
}
