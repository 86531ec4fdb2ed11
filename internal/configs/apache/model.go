package apache

import (
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Note is something keeptune decided without being sure (an <IfVersion> it could not
// evaluate, a ${VAR} it does not know). Notes never stop a parse.
type Note struct {
	// Kind is "condition" (a section keeptune could not evaluate and read as true), "macro" (a
	// <Macro> body not read), "value" (a directive or parameter keeptune did not interpret
	// because it depends on an unknown variable) or "environment" (another unknown ${VAR}, kept
	// as written).
	Kind     string
	Location model.Location
	Text     string
}

// Directive is one directive read (in a branch that applies), with the sections around it.
type Directive struct {
	// Name is the directive as httpd documents it when keeptune knows it ("KeepAliveTimeout"),
	// else as written.
	Name string
	Args []string
	// Context lists the enclosing scoping sections, outermost first ("VirtualHost *:80",
	// "Location /app"); conditional sections (IfModule, IfDefine, ...) are not listed.
	Context  []string
	Location model.Location
}

// Line is the directive with its arguments joined by spaces.
func (d *Directive) Line() string { return strings.TrimSpace(d.Name + " " + strings.Join(d.Args, " ")) }

// Block names where the directive applies: "server config", or its sections joined with " > ".
func (d *Directive) Block() string {
	if len(d.Context) == 0 {
		return "server config"
	}
	return strings.Join(d.Context, " > ")
}

func (d *Directive) source() model.Source {
	return model.Source{Kind: model.SourceConfig, File: d.Location.File, Line: d.Location.Line}
}

// Server holds the connection settings of the main server or of one virtual host, as written
// there (unknown when not written: a virtual host then inherits the main server's, the main
// server has httpd's defaults).
type Server struct {
	// Name is "main server" or "VirtualHost ADDR...".
	Name string
	// Location is the <VirtualHost> line (zero for the main server).
	Location model.Location
	// Names are its ServerName and ServerAlias values.
	Names                []string
	KeepAlive            model.Setting[bool]
	KeepAliveTimeout     model.Setting[time.Duration]
	MaxKeepAliveRequests model.Setting[int]
	Timeout              model.Setting[time.Duration]
	ProxyTimeout         model.Setting[time.Duration]
	// Directives are the ones that set the values above (and RequestReadTimeout), for rules that
	// quote or replace a line.
	Directives map[string]*Directive
	// Unknown names the directives set here to a value keeptune cannot read (an unknown
	// ${VAR}): their settings stay unknown instead of falling back to inherited values.
	Unknown map[string]bool
}

// Module is a LoadModule line.
type Module struct {
	ID, Path string
	Location model.Location
}

// Worker is a mod_proxy worker: a ProxyPass or ProxyPassMatch target, a BalancerMember, with the
// key=value parameters written for it (ProxySet lines included).
type Worker struct {
	// Directive is ProxyPass, ProxyPassMatch or BalancerMember.
	Directive string
	// Path is the local path (or regular expression) of a ProxyPass/ProxyPassMatch.
	Path string
	// URL is the backend URL ("http://app:8080/", "balancer://pool").
	URL string
	// Balancer is the balancer a BalancerMember belongs to ("balancer://pool").
	Balancer string
	// Params maps lower-case parameter names to their values and where they were written.
	Params   map[string]Param
	Location model.Location
	// Server is the main server or virtual host the worker is configured in.
	Server *Server
	// Line is the directive as written, for fixes that rewrite it.
	Line *Directive
}

// Param is one key=value worker parameter.
type Param struct {
	Value    string
	Location model.Location
}

// Scheme is the URL scheme of the worker ("http", "fcgi", "balancer").
func (w *Worker) Scheme() string {
	s, _, _ := strings.Cut(w.URL, "://")
	return strings.ToLower(s)
}

// Config is an Apache httpd configuration with everything it includes, for the Apache rules.
type Config struct {
	// Files lists the files read, the main one first, then includes in the order read.
	Files []string
	// ServerRoot is the directory relative paths resolve against (absolute, "/etc/apache2").
	ServerRoot string
	Modules    []Module
	// MPM is "event", "worker" or "prefork" after the LoadModule of an mpm_*_module, else "".
	MPM          string
	Main         *Server
	VirtualHosts []*Server
	Workers      []*Worker
	// Directives are every directive read, in order.
	Directives []*Directive
	Notes      []Note
	// Warnings are what httpd may refuse depending on its modules (rule KT890).
	Warnings []configs.Warning
}

// Loaded reports whether a module is loaded, by identifier ("proxy_module") or source file
// name ("mod_proxy.c"), as <IfModule> tests it.
func (c *Config) Loaded(name string) bool {
	for _, m := range builtinModules {
		if name == m.id || name == m.file {
			return true
		}
	}
	for _, m := range c.Modules {
		if name == m.ID || name == moduleFile(m.Path) {
			return true
		}
	}
	return false
}
