package haproxy

import (
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Note is something keeptune decided without being sure, or could not resolve: an unknown
// .if condition, an environment variable it does not know. Notes never stop a parse.
type Note struct {
	// Kind is "condition" (a .if/.elif keeptune could not decide), "value" (a statement keeptune
	// did not interpret because its value depends on an unknown environment variable) or
	// "environment" (another reference to an unknown variable, kept as written).
	Kind     string
	Location model.Location
	Text     string
}

// Config is an HAProxy configuration as read from one or more files, for the HAProxy rules.
type Config struct {
	// Files lists the files read in order (a directory argument expands to its *.cfg files).
	Files []string
	// Sections are every section in order, of every kind (global, defaults, frontend, backend,
	// listen, userlist, peers, ...).
	Sections []*Section
	// Defaults are the defaults sections, each with the settings it gives the proxies after it.
	Defaults []*Defaults
	// Proxies are the frontend, backend and listen sections with their effective settings.
	Proxies []*Proxy
	Notes   []Note
	// Warnings are what HAProxy may refuse depending on its version, or ignores (rule KT890).
	Warnings []configs.Warning
}

// Section is one section as written.
type Section struct {
	// Kind is the section keyword: "global", "defaults", "frontend", "backend", "listen",
	// "userlist", "peers", ...
	Kind string
	// Name is the section's name ("" for global and anonymous defaults).
	Name string
	// From is the defaults section named with "from NAME" on the section line, if any.
	From       string
	Location   model.Location
	Directives []Directive
}

// Title is how people name the section: "frontend fe_http", "defaults", "defaults tcp".
func (s *Section) Title() string {
	if s.Name == "" {
		return s.Kind
	}
	return s.Kind + " " + s.Name
}

// Directive is one statement of a section: its words after quotes, escapes and environment
// variables were resolved. Prefixes "no" and "default" stay in Words.
type Directive struct {
	Words    []string
	Location model.Location
}

// Line is the statement with its words joined by single spaces.
func (d Directive) Line() string { return strings.Join(d.Words, " ") }

// Defaults is a defaults section and the settings it passes on.
type Defaults struct {
	*Section
	// Parent is the defaults section it took its own initial settings from ("from NAME").
	Parent   *Defaults
	Settings Settings
}

// Proxy is a frontend, backend or listen section with the settings in force for it: its own
// directives over those of its defaults section.
type Proxy struct {
	*Section
	// Defaults is the defaults section it inherited from: the one named with "from", else the
	// last one before it; nil when there is none.
	Defaults *Defaults
	Settings Settings
	Binds    []Bind
	Servers  []Server
	// DefaultBackend and UseBackends name the backends a frontend or listen sends to.
	DefaultBackend string
	UseBackends    []string
}

// IsFrontend reports whether the proxy accepts client connections (frontend, listen).
func (p *Proxy) IsFrontend() bool { return p.Kind == "frontend" || p.Kind == "listen" }

// IsBackend reports whether the proxy opens server connections (backend, listen).
func (p *Proxy) IsBackend() bool { return p.Kind == "backend" || p.Kind == "listen" }

// Bind is a bind line of a frontend or listen section.
type Bind struct {
	Address  string
	Location model.Location
	// UserTimeout is tcp-ut: TCP_USER_TIMEOUT on the listening socket, which accepted sockets
	// inherit.
	UserTimeout model.Setting[time.Duration]
}

// Server is a server (or server-template) line of a backend or listen section.
type Server struct {
	Name     string
	Address  string
	Location model.Location
	// Params holds the parameters keeptune reads, the line's over default-server's.
	Params ServerParams
}

// ServerParams are the server parameters that decide how long idle server connections stay in
// HAProxy's pool, and TCP_USER_TIMEOUT (unknown when not written: HAProxy's defaults apply).
type ServerParams struct {
	// PurgeDelay is pool-purge-delay (default 5 s): every delay HAProxy closes idle connections
	// beyond what it estimates it needs; 0 keeps no idle connection.
	PurgeDelay model.Setting[time.Duration]
	// MaxConn is pool-max-conn (default -1, unlimited; 0 keeps no idle connection).
	MaxConn model.Setting[int]
	// UserTimeout is tcp-ut: TCP_USER_TIMEOUT on server sockets.
	UserTimeout model.Setting[time.Duration]
}

// Settings are the proxy settings keeptune reads, each with the line that set it (unknown when
// no line did: HAProxy's defaults then apply).
type Settings struct {
	// Mode is "http" or "tcp" (HAProxy's default is tcp).
	Mode model.Setting[string]
	// Timeouts maps the timeout kind ("client", "server", "connect", "http-keep-alive",
	// "http-request", "tunnel", "client-fin", "server-fin", "queue", "check", "tarpit") to its
	// value. A value of 0 is what HAProxy treats as unset: no timeout. An entry that is not
	// Known is set to a value keeptune cannot read (an unknown environment variable).
	Timeouts map[string]model.Setting[time.Duration]
	// HTTPMode is the HTTP connection mode: "http-keep-alive" (the default), "http-server-close"
	// or "httpclose".
	HTTPMode model.Setting[string]
	// CliTCPKA and SrvTCPKA are SO_KEEPALIVE on client and server sockets (option clitcpka,
	// option srvtcpka, option tcpka for both).
	CliTCPKA, SrvTCPKA model.Setting[bool]
	// CliKA and SrvKA are clitcpka-idle/-intvl/-cnt and srvtcpka-idle/-intvl/-cnt.
	CliKA, SrvKA KeepaliveTimes
	// HTTPReuse is http-reuse: never, safe (the default), aggressive or always.
	HTTPReuse model.Setting[string]
	// DefaultServer holds the parameters of default-server lines.
	DefaultServer ServerParams
}

// KeepaliveTimes are the TCP keepalive probe timings HAProxy sets on its sockets when the
// matching option enables keepalive (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT). Unknown values
// leave the host's sysctls in force.
type KeepaliveTimes struct {
	Idle, Interval model.Setting[time.Duration]
	Count          model.Setting[int]
}

// Timeout returns a timeout's setting and whether it limits anything (set and not 0).
func (s *Settings) Timeout(kind string) (model.Setting[time.Duration], bool) {
	t, ok := s.Timeouts[kind]
	return t, ok && t.Known && t.Value > 0
}

func (s Settings) clone() Settings {
	c := s
	c.Timeouts = make(map[string]model.Setting[time.Duration], len(s.Timeouts))
	for k, v := range s.Timeouts {
		c.Timeouts[k] = v
	}
	return c
}

// IsHTTP reports whether the settings put the proxy in HTTP mode.
func (s *Settings) IsHTTP() bool { return s.Mode.Known && s.Mode.Value == "http" }
