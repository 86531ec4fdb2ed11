package nginx

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
)

// Config is an nginx configuration read from its main file and everything it includes, with
// the blocks that matter for connection lifetimes picked out. It is the Detail of the
// configs.Config the parser returns, for the nginx rules.
type Config struct {
	// File is the main file; Files every file read, the main one first.
	File  string
	Files []string
	// Tree holds the directives as written, includes expanded in place.
	Tree []*Directive
	// HTTP is the http context, nil without one. A file whose top level holds server or
	// upstream blocks but no http block (a conf.d or sites-enabled file read on its own) is
	// read as the inside of an http block; Snippet says so.
	HTTP    *Context
	Snippet bool
	// Servers and Upstreams are the http module's server and upstream blocks, in file order.
	Servers   []*Server
	Upstreams []*Upstream
	// Maps are the http map blocks (map $source $variable { ... }).
	Maps []*Map
	// Stream is the stream context (TCP/UDP proxying), nil without one, with its server and
	// upstream blocks.
	Stream          *Context
	StreamServers   []*Server
	StreamUpstreams []*Upstream

	// Warnings are what nginx may refuse depending on modules or version (configs.Warning).
	Warnings []configs.Warning
	// Version is the nginx version the configuration is read for (--server-version, or the
	// installed nginx's), "" when unknown. Upstream keep-alive depends on it (1.29.7).
	Version string

	// refs are the directives read, in file order, with the level each was written at.
	refs []ref
}

type ref struct {
	d   *Directive
	ctx *Context
}

// Context is one level of configuration: http, server, location (or if, limit_except inside
// one), or stream. A directive set at a level applies to the levels inside it unless they set
// it themselves: nginx's inheritance (each module's merge_loc_conf).
type Context struct {
	// Kind is "http", "server", "location", "if", "limit_except", "stream" or "upstream".
	Kind string
	// Label names the block for people: "http", "server *:80 example.com",
	// "server *:80 example.com > location /api", "upstream backend".
	Label  string
	Dir    *Directive // the block directive; nil for a snippet's implied http block
	Parent *Context
	// Own holds the directives keeptune reads that are written at this level, by name, in
	// order.
	Own      map[string][]*Directive
	Children []*Context
}

// Get returns the directive in force here for name: the first one written at this level, else
// the one inherited from the enclosing levels; nil when nothing sets it (nginx's default
// applies). nginx refuses most duplicates at one level ("is duplicate"), so the first is the one
// that counts.
func (c *Context) Get(name string) *Directive {
	for x := c; x != nil; x = x.Parent {
		if ds := x.Own[name]; len(ds) > 0 {
			return ds[0]
		}
	}
	return nil
}

// List returns the array-valued directives in force here for name (proxy_set_header and its
// kind): nginx inherits them from the enclosing level only when this level has none at all, so
// the list is the one of the innermost level that has any. at is that level (nil when none has
// any).
func (c *Context) List(name string) (list []*Directive, at *Context) {
	for x := c; x != nil; x = x.Parent {
		if ds := x.Own[name]; len(ds) > 0 {
			return ds, x
		}
	}
	return nil, nil
}

// Server is a server block.
type Server struct {
	*Context
	Names   []string
	Listens []*Listen
	// Locations lists every location (and if and limit_except inside one) of the server,
	// outer ones first.
	Locations []*Context
}

// IsDefault reports whether a listen directive of the server says default_server.
func (s *Server) IsDefault() bool {
	for _, l := range s.Listens {
		if l.DefaultServer {
			return true
		}
	}
	return false
}

// Listen is a listen directive.
type Listen struct {
	Dir           *Directive
	Address       string
	DefaultServer bool
	// SoKeepalive is the so_keepalive= parameter; nil when absent (nginx then leaves
	// SO_KEEPALIVE off on the listening socket, and accepted sockets inherit that).
	SoKeepalive *SoKeepalive
}

// SoKeepalive is listen's so_keepalive=on|off|[idle]:[intvl]:[cnt]. Values left empty (or 0)
// are not set by nginx: the socket uses the host's net.ipv4.tcp_keepalive_* sysctls for them.
type SoKeepalive struct {
	On       bool
	Idle     time.Duration
	Interval time.Duration
	Count    int
	Raw      string
}

// Upstream is an upstream block.
type Upstream struct {
	Name string
	*Context
	// Keepalive is "keepalive N" (the idle connections each worker keeps), 0 without it.
	Keepalive int
	Servers   []*Directive
}

// Map is a map block: the value of Variable for each value of Source.
type Map struct {
	Source, Variable string
	Dir              *Directive
	// Entries are the map's lines: the key is Name ("default", "''", "~regex", a string), the
	// value Arg(0).
	Entries []*Directive
}

// Value returns the map's value for a key as written ("default", "" for the empty string).
func (m *Map) Value(key string) (*Directive, bool) {
	for _, e := range m.Entries {
		if e.Name == key && len(e.Args) > 0 {
			return e, true
		}
	}
	return nil, false
}

// Pass is where a location sends requests: the directive (proxy_pass, grpc_pass,
// fastcgi_pass, ...), the module, and the upstream block it names, if any.
type Pass struct {
	Dir      *Directive
	Module   string // "proxy", "grpc", "fastcgi", "uwsgi", "scgi", "memcached"
	Target   string // host[:port] or upstream name, "" when the target is a variable
	Upstream *Upstream
}

// PassOf returns where a location (or if block) passes requests, nil when it does not.
func (c *Context) PassOf(cfg *Config) *Pass {
	for _, m := range []string{"proxy", "grpc", "fastcgi", "uwsgi", "scgi", "memcached"} {
		d := first(c.Own[m+"_pass"])
		if d == nil {
			continue
		}
		p := &Pass{Dir: d, Module: m, Target: passTarget(d.Arg(0))}
		if p.Target != "" {
			ups := cfg.Upstreams
			if c.Kind == "stream" || (c.Parent != nil && c.Parent.Kind == "stream") {
				ups = cfg.StreamUpstreams
			}
			for _, u := range ups {
				if u.Name == p.Target {
					p.Upstream = u
					break
				}
			}
		}
		return p
	}
	return nil
}

func first(ds []*Directive) *Directive {
	if len(ds) > 0 {
		return ds[0]
	}
	return nil
}

// passTarget extracts the upstream name from a proxy_pass-style URL: "http://backend/x" →
// "backend"; "" when it contains a variable (resolved per request).
func passTarget(arg string) string {
	if strings.Contains(arg, "$") {
		return ""
	}
	if i := strings.Index(arg, "://"); i >= 0 {
		arg = arg[i+3:]
	}
	if strings.HasPrefix(arg, "unix:") {
		return arg
	}
	if i := strings.IndexAny(arg, "/?"); i >= 0 {
		arg = arg[:i]
	}
	return arg
}

// The directives keeptune reads, by where they apply. Values lists them as written; the
// inheritance of Context.Get covers the ones of http, server and location.
var (
	// timeDirectives take one time argument (nginx stores them in milliseconds).
	timeDirectives = map[string]bool{
		"keepalive_time": true, "send_timeout": true, "client_header_timeout": true, "client_body_timeout": true,
		"lingering_time": true, "lingering_timeout": true, "resolver_timeout": true,
		"proxy_connect_timeout": true, "proxy_read_timeout": true, "proxy_send_timeout": true,
		"grpc_connect_timeout": true, "grpc_read_timeout": true, "grpc_send_timeout": true,
		"fastcgi_connect_timeout": true, "fastcgi_read_timeout": true, "fastcgi_send_timeout": true,
		"uwsgi_connect_timeout": true, "uwsgi_read_timeout": true, "uwsgi_send_timeout": true,
		"proxy_timeout": true, "http2_idle_timeout": true, "http2_recv_timeout": true,
	}
	// flagDirectives take on or off.
	flagDirectives = map[string]bool{
		"proxy_socket_keepalive": true, "grpc_socket_keepalive": true, "fastcgi_socket_keepalive": true,
		"uwsgi_socket_keepalive": true, "fastcgi_keep_conn": true, "reset_timedout_connection": true,
	}
	// otherDirectives are read but checked by their own code.
	otherDirectives = map[string]bool{
		"keepalive_timeout": true, "keepalive_requests": true, "keepalive_disable": true,
		"proxy_http_version": true, "proxy_set_header": true, "lingering_close": true,
		"proxy_pass": true, "grpc_pass": true, "fastcgi_pass": true, "uwsgi_pass": true, "scgi_pass": true,
		"memcached_pass": true, "listen": true, "keepalive": true,
	}
)

// tracked reports whether keeptune reads the directive.
func tracked(name string) bool {
	return timeDirectives[name] || flagDirectives[name] || otherDirectives[name]
}

// inValues reports whether a tracked directive is listed in Values: every one except the
// headers other than Connection (proxy_set_header Host ... says nothing about keep-alive).
func inValues(d *Directive) bool {
	if d.Name == "proxy_set_header" {
		return strings.EqualFold(d.Arg(0), "Connection")
	}
	return tracked(d.Name)
}

// check validates the arguments of a tracked directive the way nginx's handler would, so that a
// value keeptune cannot read is an error with file:line rather than a silent default.
func check(d *Directive, ctx string) error {
	bad := func(format string, args ...any) error {
		return &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("%s: ", d.Name) + fmt.Sprintf(format, args...)}
	}
	nargs := func(min, max int, what string) error {
		if len(d.Args) < min || len(d.Args) > max {
			return bad("expected %s, found %d arguments", what, len(d.Args))
		}
		return nil
	}
	switch {
	case timeDirectives[d.Name]:
		if err := nargs(1, 1, "one time value"); err != nil {
			return err
		}
		if _, err := ParseTime(d.Args[0], false); err != nil {
			return bad("%v", err)
		}
	case flagDirectives[d.Name]:
		if err := nargs(1, 1, "on or off"); err != nil {
			return err
		}
		if a := strings.ToLower(d.Args[0]); a != "on" && a != "off" {
			return bad("expected on or off, found %q", d.Args[0])
		}
	}
	switch d.Name {
	case "keepalive_timeout":
		if ctx == "upstream" {
			if err := nargs(1, 1, "one time value"); err != nil {
				return err
			}
			if _, err := ParseTime(d.Args[0], false); err != nil {
				return bad("%v", err)
			}
			return nil
		}
		if err := nargs(1, 2, "a timeout and an optional Keep-Alive header timeout"); err != nil {
			return err
		}
		if _, err := ParseTime(d.Args[0], false); err != nil {
			return bad("%v", err)
		}
		if len(d.Args) == 2 {
			if _, err := ParseTime(d.Args[1], true); err != nil {
				return bad("header timeout: %v", err)
			}
		}
	case "keepalive_requests":
		if err := nargs(1, 1, "a number of requests"); err != nil {
			return err
		}
		if _, err := strconv.ParseUint(d.Args[0], 10, 31); err != nil {
			return bad("expected a number of requests, found %q", d.Args[0])
		}
	case "keepalive":
		if err := nargs(1, 1, "a number of idle connections"); err != nil {
			return err
		}
		if n, err := strconv.ParseUint(d.Args[0], 10, 31); err != nil || n == 0 {
			return bad("expected a number of idle connections above 0, found %q", d.Args[0])
		}
	case "proxy_http_version":
		if err := nargs(1, 1, "1.0 or 1.1"); err != nil {
			return err
		}
	case "proxy_set_header":
		if err := nargs(2, 2, "a header name and a value"); err != nil {
			return err
		}
	case "proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "memcached_pass":
		if err := nargs(1, 1, "one address"); err != nil {
			return err
		}
	case "listen":
		if len(d.Args) == 0 {
			return bad("expected an address")
		}
		if _, err := parseListen(d); err != nil {
			return err
		}
	}
	return nil
}

// parseListen reads a listen directive.
func parseListen(d *Directive) (*Listen, error) {
	l := &Listen{Dir: d, Address: d.Arg(0)}
	for _, a := range d.Args[1:] {
		switch {
		case a == "default_server" || a == "default":
			l.DefaultServer = true
		case strings.HasPrefix(a, "so_keepalive="):
			ka, err := parseSoKeepalive(strings.TrimPrefix(a, "so_keepalive="))
			if err != nil {
				return nil, &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("listen: invalid %q: %v", a, err)}
			}
			l.SoKeepalive = ka
		}
	}
	return l, nil
}

// parseSoKeepalive reads on, off or [idle]:[intvl]:[cnt] as ngx_http_core_listen does: idle and
// interval in seconds with optional units, count a number; empty or zero parts are not set; all
// three empty is invalid.
func parseSoKeepalive(v string) (*SoKeepalive, error) {
	ka := &SoKeepalive{Raw: v}
	switch v {
	case "on":
		ka.On = true
		return ka, nil
	case "off":
		return ka, nil
	}
	parts := strings.SplitN(v, ":", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	var err error
	if parts[0] != "" {
		if ka.Idle, err = ParseTime(parts[0], true); err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
	}
	if parts[1] != "" {
		if ka.Interval, err = ParseTime(parts[1], true); err != nil {
			return nil, fmt.Errorf("interval: %w", err)
		}
	}
	if parts[2] != "" {
		n, err := strconv.ParseUint(parts[2], 10, 31)
		if err != nil {
			return nil, fmt.Errorf("count: expected a number, found %q", parts[2])
		}
		ka.Count = int(n)
	}
	if ka.Idle == 0 && ka.Interval == 0 && ka.Count == 0 {
		return nil, fmt.Errorf("expected on, off or idle:interval:count with at least one of them")
	}
	ka.On = true
	return ka, nil
}

// build picks the contexts out of the directive tree.
func build(file string, files []string, tree []*Directive) (*Config, error) {
	c := &Config{File: file, Files: files, Tree: tree}
	var httpDirs, streamDirs []*Directive
	snippet := false
	for _, d := range tree {
		switch d.Name {
		case "http":
			if d.IsBlock() {
				httpDirs = append(httpDirs, d)
			}
		case "stream":
			if d.IsBlock() {
				streamDirs = append(streamDirs, d)
			}
		case "server", "upstream", "location", "map":
			if d.IsBlock() {
				snippet = true
			}
		}
	}
	if len(httpDirs) > 0 {
		// nginx allows one http block ("is duplicate"); read the first.
		c.HTTP = &Context{Kind: "http", Label: "http", Dir: httpDirs[0], Own: map[string][]*Directive{}}
		if err := c.walk(c.HTTP, httpDirs[0].Block, false); err != nil {
			return nil, err
		}
	} else if snippet {
		c.Snippet = true
		c.HTTP = &Context{Kind: "http", Label: "http", Own: map[string][]*Directive{}}
		if err := c.walk(c.HTTP, tree, false); err != nil {
			return nil, err
		}
	}
	if len(streamDirs) > 0 {
		c.Stream = &Context{Kind: "stream", Label: "stream", Dir: streamDirs[0], Own: map[string][]*Directive{}}
		if err := c.walk(c.Stream, streamDirs[0].Block, true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// walk reads the directives of one level into ctx and descends into the blocks that inherit.
func (c *Config) walk(ctx *Context, ds []*Directive, stream bool) error {
	for _, d := range ds {
		if !d.IsBlock() {
			if !tracked(d.Name) {
				continue
			}
			if err := check(d, ctx.Kind); err != nil {
				return err
			}
			ctx.Own[d.Name] = append(ctx.Own[d.Name], d)
			c.refs = append(c.refs, ref{d, ctx})
			continue
		}
		switch d.Name {
		case "server":
			if ctx.Kind != "http" && ctx.Kind != "stream" {
				continue // a "server" inside upstream is a simple directive; others are not ours
			}
			s := &Server{Context: &Context{Kind: "server", Dir: d, Parent: ctx, Own: map[string][]*Directive{}}}
			ctx.Children = append(ctx.Children, s.Context)
			for _, x := range d.Block {
				if x.Name == "server_name" {
					s.Names = append(s.Names, x.Args...)
				}
			}
			if err := c.walk(s.Context, d.Block, stream); err != nil {
				return err
			}
			for _, l := range s.Own["listen"] {
				ln, _ := parseListen(l) // checked by walk
				s.Listens = append(s.Listens, ln)
			}
			s.Label = serverLabel(s, stream)
			relabel(s.Context)
			s.Locations = descendants(s.Context)
			if stream {
				c.StreamServers = append(c.StreamServers, s)
			} else {
				c.Servers = append(c.Servers, s)
			}
		case "upstream":
			if ctx.Kind != "http" && ctx.Kind != "stream" {
				continue
			}
			u := &Upstream{Name: d.Arg(0), Context: &Context{Kind: "upstream", Label: "upstream " + d.Arg(0), Dir: d, Own: map[string][]*Directive{}}}
			if stream {
				u.Label = "stream upstream " + d.Arg(0)
			}
			for _, x := range d.Block {
				if x.IsBlock() {
					continue
				}
				switch x.Name {
				case "server":
					u.Servers = append(u.Servers, x)
					continue
				case "keepalive", "keepalive_timeout", "keepalive_requests", "keepalive_time":
				default:
					continue
				}
				if err := check(x, "upstream"); err != nil {
					return err
				}
				u.Own[x.Name] = append(u.Own[x.Name], x)
				c.refs = append(c.refs, ref{x, u.Context})
				if x.Name == "keepalive" && u.Keepalive == 0 {
					u.Keepalive, _ = strconv.Atoi(x.Args[0])
				}
			}
			if stream {
				c.StreamUpstreams = append(c.StreamUpstreams, u)
			} else {
				c.Upstreams = append(c.Upstreams, u)
			}
		case "location", "if", "limit_except":
			if ctx.Kind == "http" || ctx.Kind == "stream" {
				continue // not valid here; nginx -t says so
			}
			l := &Context{Kind: d.Name, Dir: d, Parent: ctx, Own: map[string][]*Directive{}}
			ctx.Children = append(ctx.Children, l)
			if err := c.walk(l, d.Block, stream); err != nil {
				return err
			}
		case "map":
			if ctx.Kind == "http" && len(d.Args) >= 2 {
				c.Maps = append(c.Maps, &Map{Source: d.Args[0], Variable: d.Args[1], Dir: d, Entries: d.Block})
			}
		}
	}
	return nil
}

// serverLabel names a server block: "server *:80 example.com".
func serverLabel(s *Server, stream bool) string {
	addr := "*:80"
	if stream {
		addr = "?"
	}
	if len(s.Listens) > 0 {
		addr = s.Listens[0].Address
		if _, err := strconv.Atoi(addr); err == nil {
			addr = "*:" + addr
		}
	}
	label := "server " + addr
	if stream {
		label = "stream " + label
	}
	if len(s.Names) > 0 && s.Names[0] != "" && s.Names[0] != "_" {
		label += " " + s.Names[0]
	}
	return label
}

// relabel names the blocks under a server: "server *:80 > location /api > if ($x)".
func relabel(ctx *Context) {
	for _, ch := range ctx.Children {
		what := ch.Kind
		if ch.Dir != nil && len(ch.Dir.Args) > 0 {
			what += " " + ch.Dir.Text()
		}
		ch.Label = ctx.Label + " > " + what
		relabel(ch)
	}
}

// descendants lists the contexts under ctx, outer ones first.
func descendants(ctx *Context) []*Context {
	var out []*Context
	for _, ch := range ctx.Children {
		out = append(out, ch)
		out = append(out, descendants(ch)...)
	}
	return out
}

// Contexts lists every http context: http, then each server followed by its locations.
func (c *Config) Contexts() []*Context {
	var out []*Context
	if c.HTTP != nil {
		out = append(out, c.HTTP)
	}
	for _, s := range c.Servers {
		out = append(out, s.Context)
		out = append(out, s.Locations...)
	}
	return out
}

// DefaultServer is the server whose settings the downstream side reports: the first with
// listen ... default_server, else the first server (nginx's default for its address); nil
// without servers.
func (c *Config) DefaultServer() *Server {
	for _, s := range c.Servers {
		if s.IsDefault() {
			return s
		}
	}
	if len(c.Servers) > 0 {
		return c.Servers[0]
	}
	return nil
}

// Duration returns a time directive's value (argument i), or false when it is not one.
func Duration(d *Directive, i int, sec bool) (time.Duration, bool) {
	if d == nil || i >= len(d.Args) {
		return 0, false
	}
	v, err := ParseTime(d.Args[i], sec)
	return v, err == nil
}

// Int returns a number argument.
func Int(d *Directive, i int) (int, bool) {
	if d == nil || i >= len(d.Args) {
		return 0, false
	}
	v, err := strconv.Atoi(d.Args[i])
	return v, err == nil
}
