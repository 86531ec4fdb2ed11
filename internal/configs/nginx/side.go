package nginx

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// nginx's built-in defaults for the values the sides report (src/http/ngx_http_core_module.c,
// modules/ngx_http_proxy_module.c, modules/ngx_http_upstream_keepalive_module.c,
// src/stream/ngx_stream_proxy_module.c).
const (
	defaultKeepaliveTimeout  = 75 * time.Second
	defaultKeepaliveTime     = time.Hour
	defaultKeepaliveRequests = 1000 // since 1.19.10; 100 before
	defaultBodyTimeout       = 60 * time.Second
	defaultProxyTimeout      = 60 * time.Second // proxy_read/connect/send_timeout and their grpc/fastcgi kin
	defaultUpstreamIdle      = 60 * time.Second // upstream keepalive_timeout
	defaultUpstreamLifetime  = time.Hour        // upstream keepalive_time
	defaultStreamTimeout     = 10 * time.Minute // stream proxy_timeout
)

// DefaultKeepaliveRequests is nginx's keepalive_requests default (since 1.19.10), for rules.
const DefaultKeepaliveRequests = defaultKeepaliveRequests

func src(d *Directive) model.Source {
	return model.Source{Kind: model.SourceConfig, File: d.File, Line: d.Line}
}

func srcNote(d *Directive, detail string) model.Source {
	s := src(d)
	s.Detail = detail
	return s
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

// durationOr reads a time directive in force in ctx, or nginx's default.
func durationOr(ctx *Context, name string, fallback time.Duration) model.Setting[time.Duration] {
	if d := ctx.Get(name); d != nil {
		if v, ok := Duration(d, 0, false); ok {
			return model.KnownSetting(v, src(d))
		}
	}
	return model.KnownSetting(fallback, def(fmt.Sprintf("nginx default %s %s", name, nginxTime(fallback))))
}

// nginxTime renders a duration the way one would write it in nginx.
func nginxTime(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// Downstream is how nginx treats the client connections it accepts: the http level as the
// default server inherits it (the first server with listen ... default_server, else the first
// server; the http block itself when there is no server). A configuration with several servers
// can differ per server: the rules look at each, the side reports the one clients reach when
// nothing else matches. Without an http block the stream module's first server is reported.
func (c *Config) Downstream() *model.Side {
	if c.HTTP == nil {
		if c.Stream != nil {
			return c.streamDownstream()
		}
		return nil
	}
	return c.DownstreamOf(c.ServingDefault())
}

// DownstreamOf is the downstream side of one server block (nil: the http level, for a file
// without servers).
func (c *Config) DownstreamOf(srv *Server) *model.Side {
	ctx := c.HTTP
	if srv != nil {
		ctx = srv.Context
	}
	side := &model.Side{}
	kt, kr := ctx.Get("keepalive_timeout"), ctx.Get("keepalive_requests")
	timeout, _ := Duration(kt, 0, false)
	requests, _ := Int(kr, 0)
	switch {
	case kt != nil && timeout == 0:
		// keepalive_timeout 0 turns keep-alive off: the timeout is not "no limit" but "none".
		side.Pools = model.KnownSetting(false, srcNote(kt, "keepalive_timeout 0 disables client keep-alive"))
	case kr != nil && requests == 0:
		side.Pools = model.KnownSetting(false, srcNote(kr, "keepalive_requests 0 closes every connection after its first request"))
	default:
		if kt != nil {
			side.Pools = model.KnownSetting(true, src(kt))
			side.IdleTimeout = model.KnownSetting(timeout, src(kt))
		} else {
			side.Pools = model.KnownSetting(true, def("nginx keeps client connections open between requests by default"))
			side.IdleTimeout = model.KnownSetting(defaultKeepaliveTimeout, def("nginx default keepalive_timeout 75s"))
		}
	}
	side.MaxLifetime = durationOr(ctx, "keepalive_time", defaultKeepaliveTime)
	side.ReadTimeout = durationOr(ctx, "client_body_timeout", defaultBodyTimeout)
	side.TCP = listenKeepalive(srv)
	return side
}

// listenKeepalive is the TCP keepalive of the sockets a server accepts: Linux copies
// SO_KEEPALIVE and TCP_KEEPIDLE/INTVL/CNT from the listening socket, where nginx sets them from
// listen ... so_keepalive=.
func listenKeepalive(srv *Server) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	k.UserTimeout = model.KnownSetting(time.Duration(0), def("nginx does not set TCP_USER_TIMEOUT"))
	var l *Listen
	if srv != nil {
		for _, x := range srv.Listens {
			if x.SoKeepalive != nil {
				l = x
				break
			}
		}
		if l == nil && len(srv.Listens) > 0 {
			l = srv.Listens[0]
		}
	}
	switch {
	case l == nil:
		k.Enabled = model.KnownSetting(false, def("nginx leaves SO_KEEPALIVE off unless listen has so_keepalive="))
		return k
	case l.SoKeepalive == nil:
		k.Enabled = model.KnownSetting(false, srcNote(l.Dir, "no so_keepalive=: nginx leaves SO_KEEPALIVE off"))
		return k
	case !l.SoKeepalive.On:
		k.Enabled = model.KnownSetting(false, srcNote(l.Dir, "so_keepalive=off"))
		return k
	}
	ka := l.SoKeepalive
	k.Enabled = model.KnownSetting(true, src(l.Dir))
	hostValue := func(sysctl string) model.Source {
		return srcNote(l.Dir, "so_keepalive="+ka.Raw+" leaves it to the host's "+sysctl)
	}
	if ka.Idle > 0 {
		k.Idle = model.KnownSetting(ka.Idle, src(l.Dir))
	} else {
		k.Idle.Source = hostValue(model.KeyKeepaliveTime)
	}
	if ka.Interval > 0 {
		k.Interval = model.KnownSetting(ka.Interval, src(l.Dir))
	} else {
		k.Interval.Source = hostValue(model.KeyKeepaliveIntvl)
	}
	if ka.Count > 0 {
		k.Count = model.KnownSetting(ka.Count, src(l.Dir))
	} else {
		k.Count.Source = hostValue(model.KeyKeepaliveProbes)
	}
	return k
}

// socketKeepalive is the TCP keepalive of the sockets nginx opens to a backend:
// proxy_socket_keepalive on (and its grpc/fastcgi kin, since 1.15.6) turns SO_KEEPALIVE on with
// the host's values; off by default.
func socketKeepalive(ctx *Context, module string) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	k.UserTimeout = model.KnownSetting(time.Duration(0), def("nginx does not set TCP_USER_TIMEOUT"))
	name := module + "_socket_keepalive"
	d := ctx.Get(name)
	if d == nil || !strings.EqualFold(d.Arg(0), "on") {
		if d != nil {
			k.Enabled = model.KnownSetting(false, src(d))
		} else {
			k.Enabled = model.KnownSetting(false, def("nginx default "+name+" off"))
		}
		return k
	}
	k.Enabled = model.KnownSetting(true, src(d))
	k.Idle.Source = srcNote(d, name+" uses the host's "+model.KeyKeepaliveTime)
	k.Interval.Source = srcNote(d, name+" uses the host's "+model.KeyKeepaliveIntvl)
	k.Count.Source = srcNote(d, name+" uses the host's "+model.KeyKeepaliveProbes)
	return k
}

// Upstream is how nginx treats the connections it opens to backends. It reports the first
// upstream block with keepalive N (the pool requests can reuse) and the first location that
// passes requests to it; without such a block, the first location that passes requests
// anywhere, and no pooling (released nginx versions open a connection per request unless the
// upstream block says keepalive). Pools is false, with the reason, when every location using the
// pool defeats it (HTTP/1.0 or Connection: close to the backend). nil when nothing is proxied.
func (c *Config) Upstream() *model.Side {
	if c.HTTP == nil {
		if c.Stream != nil {
			return c.streamUpstream()
		}
		return nil
	}
	var pool *Upstream
	for _, u := range c.Upstreams {
		if u.Keepalive > 0 {
			pool = u
			break
		}
	}
	// From 1.29.7 (stable 1.30.0) every upstream block keeps 32 idle connections per worker
	// unless it says otherwise ("keepalive 0" turns it off): the first block a location uses.
	implicit := false
	if pool == nil && c.KeepaliveByDefault() {
		for _, u := range c.Upstreams {
			if u.Own["keepalive"] == nil && len(c.PoolUses(u)) > 0 {
				pool, implicit = u, true
				break
			}
		}
	}
	var ctx *Context
	var pass *Pass
	var uses []PoolUse
	if pool != nil {
		uses = c.PoolUses(pool)
		if len(uses) > 0 {
			ctx, pass = uses[0].Location, uses[0].Pass
			for _, u := range uses {
				if u.OK {
					ctx, pass = u.Location, u.Pass
					break
				}
			}
		}
	}
	if ctx == nil {
		for _, x := range c.Contexts() {
			if p := x.PassOf(c); p != nil {
				ctx, pass = x, p
				break
			}
		}
	}
	if pool == nil && ctx == nil && len(c.Upstreams) == 0 {
		return nil
	}
	if ctx == nil {
		ctx = c.HTTP
		if s := c.DefaultServer(); s != nil {
			ctx = s.Context
		}
	}
	return c.upstreamSide(pool, implicit, ctx, pass, uses)
}

// upstreamSide builds the upstream side of requests passed at ctx by pass, to pool when it
// keeps connections (uses: the locations using it; implicit: by nginx's default, not keepalive N).
func (c *Config) upstreamSide(pool *Upstream, implicit bool, ctx *Context, pass *Pass, uses []PoolUse) *model.Side {
	side := &model.Side{}
	module := "proxy"
	if pass != nil {
		module = pass.Module
	}
	if pool != nil && implicit {
		okUse := false
		for _, u := range uses {
			okUse = okUse || u.OK
		}
		what := fmt.Sprintf("nginx %s keeps 32 idle connections per worker in upstream %s by default (keepalive 32 local, since 1.29.7)", c.Version, pool.Name)
		if okUse {
			side.Pools = model.KnownSetting(true, def(what))
		} else {
			side.Pools = model.KnownSetting(false, srcNote(uses[0].Pass.Dir, what+" but it has no effect: "+uses[0].Problems[0].What))
		}
		side.IdleTimeout = durationOr(pool.Context, "keepalive_timeout", defaultUpstreamIdle)
		side.MaxLifetime = durationOr(pool.Context, "keepalive_time", defaultUpstreamLifetime)
	} else if pool != nil {
		kd := first(pool.Own["keepalive"])
		okUse := len(uses) == 0
		for _, u := range uses {
			okUse = okUse || u.OK
		}
		if okUse {
			side.Pools = model.KnownSetting(true, src(kd))
		} else {
			side.Pools = model.KnownSetting(false, srcNote(uses[0].Pass.Dir,
				fmt.Sprintf("keepalive %d at %s:%d has no effect: %s", pool.Keepalive, kd.File, kd.Line, uses[0].Problems[0].What)))
		}
		side.IdleTimeout = durationOr(pool.Context, "keepalive_timeout", defaultUpstreamIdle)
		side.MaxLifetime = durationOr(pool.Context, "keepalive_time", defaultUpstreamLifetime)
	} else {
		why := "no upstream block sets keepalive N: nginx opens a new connection for every request"
		if c.Version == "" {
			why += " (before 1.29.7; from 1.29.7 and 1.30.0 upstream blocks keep connections by default: give the version with --server-version)"
		}
		side.Pools = model.KnownSetting(false, def(why))
	}
	side.ReadTimeout = durationOr(ctx, module+"_read_timeout", defaultProxyTimeout)
	side.ConnectTimeout = durationOr(ctx, module+"_connect_timeout", defaultProxyTimeout)
	side.TCP = socketKeepalive(ctx, module)
	return side
}

// streamDownstream reports the stream module's first server: proxy_timeout closes a session
// idle in both directions, listen so_keepalive= sets TCP keepalive.
func (c *Config) streamDownstream() *model.Side {
	ctx := c.Stream
	var srv *Server
	if len(c.StreamServers) > 0 {
		srv = c.StreamServers[0]
		ctx = srv.Context
	}
	return &model.Side{
		IdleTimeout: durationOr(ctx, "proxy_timeout", defaultStreamTimeout),
		TCP:         listenKeepalive(srv),
	}
}

// streamUpstream reports the connection the stream module's first server opens for each
// client connection.
func (c *Config) streamUpstream() *model.Side {
	ctx := c.Stream
	if len(c.StreamServers) > 0 {
		ctx = c.StreamServers[0].Context
	}
	return &model.Side{
		IdleTimeout:    durationOr(ctx, "proxy_timeout", defaultStreamTimeout),
		Pools:          model.KnownSetting(false, def("the stream module opens one upstream connection per client connection")),
		ConnectTimeout: durationOr(ctx, "proxy_connect_timeout", defaultProxyTimeout),
		TCP:            socketKeepalive(ctx, "proxy"),
	}
}

// PoolUse is one location that passes requests to an upstream block with keepalive, and
// whether those requests can reuse the pool's idle connections.
type PoolUse struct {
	Location *Context
	Pass     *Pass
	OK       bool
	// Problems say why not, one per cause.
	Problems []PoolProblem
}

// PoolProblem is one reason a location cannot reuse pooled connections.
type PoolProblem struct {
	What string
	// Dir is the directive at fault; nil when nginx's default is.
	Dir *Directive
}

// PoolUses lists the locations that pass requests to u, with whether each can reuse its
// connections: proxy_pass needs proxy_http_version 1.1 and a Connection header that is not
// "close" (nginx sends "Connection: close" unless told otherwise); fastcgi_pass needs
// fastcgi_keep_conn on; grpc_pass always can (HTTP/2). uwsgi, scgi and memcached are not judged.
func (c *Config) PoolUses(u *Upstream) []PoolUse {
	var out []PoolUse
	for _, ctx := range c.Contexts() {
		p := ctx.PassOf(c)
		if p == nil || p.Upstream != u {
			continue
		}
		use := PoolUse{Location: ctx, Pass: p}
		switch p.Module {
		case "proxy":
			// From 1.29.7 proxy_http_version defaults to 1.1 and nginx no longer sends
			// "Connection: close" by default.
			byDefault := c.KeepaliveByDefault()
			v := ctx.Get("proxy_http_version")
			if v == nil && !byDefault {
				use.Problems = append(use.Problems, PoolProblem{What: "proxy_http_version is 1.0 (nginx's default): HTTP/1.0 requests to the backend close the connection"})
			} else if v != nil && v.Arg(0) == "1.0" {
				use.Problems = append(use.Problems, PoolProblem{What: "proxy_http_version 1.0: HTTP/1.0 requests to the backend close the connection", Dir: v})
			}
			if pr, ok := c.connectionHeader(ctx); !ok && !(byDefault && pr.Dir == nil) {
				use.Problems = append(use.Problems, pr)
			}
		case "fastcgi":
			v := ctx.Get("fastcgi_keep_conn")
			if v == nil {
				use.Problems = append(use.Problems, PoolProblem{What: "fastcgi_keep_conn is off (nginx's default): the FastCGI application closes the connection after each request"})
			} else if !strings.EqualFold(v.Arg(0), "on") {
				use.Problems = append(use.Problems, PoolProblem{What: "fastcgi_keep_conn off: the FastCGI application closes the connection after each request", Dir: v})
			}
		case "grpc":
		default:
			continue
		}
		use.OK = len(use.Problems) == 0
		out = append(out, use)
	}
	return out
}

// connectionHeader judges the Connection header nginx sends to the backend from ctx.
func (c *Config) connectionHeader(ctx *Context) (PoolProblem, bool) {
	headers, _ := ctx.List("proxy_set_header")
	var conn *Directive
	for _, h := range headers {
		if strings.EqualFold(h.Arg(0), "Connection") {
			conn = h
		}
	}
	if conn == nil {
		if len(headers) > 0 {
			return PoolProblem{What: "no proxy_set_header Connection among the headers in force here: nginx sends \"Connection: close\""}, false
		}
		return PoolProblem{What: "no proxy_set_header Connection: nginx sends \"Connection: close\""}, false
	}
	v := conn.Arg(1)
	if strings.EqualFold(strings.TrimSpace(v), "close") {
		return PoolProblem{What: "proxy_set_header Connection close: every request asks the backend to close", Dir: conn}, false
	}
	if strings.HasPrefix(v, "$") {
		for _, m := range c.Maps {
			if m.Variable != v {
				continue
			}
			// Requests without the header the map looks at (no Upgrade, for the usual
			// WebSocket map) take the '' entry, else the default.
			e, ok := m.Value("")
			if !ok {
				e, ok = m.Value("default")
			}
			if ok && strings.EqualFold(e.Arg(0), "close") {
				return PoolProblem{What: fmt.Sprintf("proxy_set_header Connection %s: the map at %s:%d gives \"close\" to ordinary requests (%s:%d), so they close the backend connection",
					v, m.Dir.File, m.Dir.Line, e.File, e.Line), Dir: e}, false
			}
		}
	}
	return PoolProblem{}, true
}

// KeepaliveByDefault reports whether the nginx version read for keeps upstream connections
// alive without being told: mainline 1.29.7 and stable 1.30.0 made HTTP/1.1 to the backend,
// no "Connection: close" and "keepalive 32 local" in every upstream block the defaults (nginx
// blog, "Keep-alive to upstreams is now default in NGINX 1.29.7"; nginx CHANGES). An unknown
// version is taken as older: what every release before March 2026 did.
func (c *Config) KeepaliveByDefault() bool {
	return c.Version != "" && configs.VersionAtLeast(c.Version, "1.29.7")
}

// UpstreamOf is the upstream side of one server block: where its first location that passes
// requests sends them, pooled when that upstream block has keepalive N; nil when it passes none.
func (c *Config) UpstreamOf(srv *Server) *model.Side {
	for _, ctx := range append([]*Context{srv.Context}, srv.Locations...) {
		pass := ctx.PassOf(c)
		if pass == nil {
			continue
		}
		var pool *Upstream
		var uses []PoolUse
		implicit := pass.Upstream != nil && pass.Upstream.Keepalive == 0 && pass.Upstream.Own["keepalive"] == nil && c.KeepaliveByDefault()
		if pass.Upstream != nil && (pass.Upstream.Keepalive > 0 || implicit) {
			pool = pass.Upstream
			for _, u := range c.PoolUses(pool) {
				if u.Location == ctx {
					uses = append(uses, u)
				}
			}
		}
		return c.upstreamSide(pool, implicit, ctx, pass, uses)
	}
	return nil
}

// Serving reports whether a server block answers requests, with the reason when it does not:
// a server-level "return 444" (close without a response) or a redirect (return 3xx, rewrite
// ... redirect|permanent of every URI) applies to every request before any location.
func (s *Server) Serving() (bool, string) {
	if s.Dir == nil {
		return true, ""
	}
	for _, d := range s.Dir.Block {
		switch {
		case d.Name == "return" && len(d.Args) > 0:
			switch code := d.Args[0]; {
			case code == "444":
				return false, fmt.Sprintf("closes every connection without a response (return 444 at %s:%d)", d.File, d.Line)
			case code == "301" || code == "302" || code == "303" || code == "307" || code == "308" ||
				strings.HasPrefix(code, "http://") || strings.HasPrefix(code, "https://") || strings.HasPrefix(code, "$scheme"):
				return false, fmt.Sprintf("redirects every request (return %s at %s:%d)", code, d.File, d.Line)
			}
		case d.Name == "rewrite" && len(d.Args) == 3 && (d.Args[2] == "permanent" || d.Args[2] == "redirect") &&
			(d.Args[0] == "^" || d.Args[0] == "^(.*)$" || d.Args[0] == "^/(.*)$" || d.Args[0] == "^(.*)"):
			return false, fmt.Sprintf("redirects every request (rewrite ... %s at %s:%d)", d.Args[2], d.File, d.Line)
		}
	}
	return true, ""
}

// ServingDefault is the server whose values the downstream side reports: the default server
// (DefaultServer) when it serves requests, else the first server that does (a default server
// that only closes or redirects is not where clients' requests are served); nil without servers.
func (c *Config) ServingDefault() *Server {
	def := c.DefaultServer()
	if def == nil {
		return nil
	}
	if ok, _ := def.Serving(); ok {
		return def
	}
	for _, s := range c.Servers {
		if ok, _ := s.Serving(); ok {
			return s
		}
	}
	return def
}

// Listeners are every http and stream server block with its own sides (configs.Listener).
func (c *Config) Listeners() []configs.Listener {
	var out []configs.Listener
	for _, s := range c.Servers {
		l := configs.Listener{Kind: "server", Name: s.Label, Names: s.Names, Downstream: c.DownstreamOf(s), Upstream: c.UpstreamOf(s)}
		for _, ln := range s.Listens {
			l.Addresses = append(l.Addresses, ln.Address)
		}
		if len(l.Addresses) == 0 {
			l.Addresses = []string{"*:80"}
		}
		if s.Dir != nil {
			l.Location = model.Location{File: s.Dir.File, Line: s.Dir.Line}
		}
		if ok, why := s.Serving(); !ok {
			l.NotServing = why
		}
		out = append(out, l)
	}
	return out
}
