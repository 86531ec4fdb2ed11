// Package configs is where configuration formats meet the rest of keeptune. Each format lives in
// a package of its own (internal/configs/nginx, haproxy, apache, ...) with a pure parser over an
// fs.FS; it registers a Parser here. What a parser returns, a Config, serves three readers:
//
//   - chain files: a hop's `config:` key takes the Config's Downstream and Upstream sides;
//   - `keeptune lint FILE...`: Values lists every setting read, with its file:line and the block
//     it applies to, and the format's rules (FORMAT/rules.go, registered with RegisterRules and
//     run by internal/rules) judge Detail;
//   - `keeptune audit`: Discover finds configuration files at their usual paths and on the
//     command lines of running servers.
package configs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// Value is one setting as written in a configuration file.
type Value struct {
	// Key is the directive as written ("keepalive_timeout", "timeout http-keep-alive").
	Key string `json:"key"`
	// Value holds its arguments, joined by single spaces.
	Value string `json:"value"`
	// Block says where it applies: "http", "server *:443", "upstream backend",
	// "frontend fe_http", "defaults", "VirtualHost *:80".
	Block    string         `json:"block"`
	Location model.Location `json:"location"`
}

// Config is what a parser read from a file and everything it includes.
type Config struct {
	Format string `json:"format"`
	File   string `json:"file"`
	// Files lists every file read, the main one first, then includes in the order read.
	Files  []string `json:"files"`
	Values []Value  `json:"values"`
	// Downstream and Upstream are the sides a chain hop with this configuration takes: how the
	// server treats connections it accepts and connections it opens (nil when the format has
	// no such side, e.g. upstream for redis). A format with several servers documents which one
	// it reports.
	Downstream *model.Side `json:"downstream,omitempty"`
	Upstream   *model.Side `json:"upstream,omitempty"`
	// Listeners are the server's listeners with their own sides (nginx server blocks, HAProxy
	// frontends and backends, Apache virtual hosts); empty for formats with one.
	Listeners []Listener `json:"listeners,omitempty"`
	// Warnings are what the parser read that the server may refuse depending on what the file
	// does not say (a module, a version); rule KT890 reports them.
	Warnings []Warning `json:"warnings,omitempty"`
	// Detail is the format's own model (*nginx.Config, ...), for that format's rules.
	Detail any `json:"-"`
	// Origin says, for a configuration audit discovered, whether a server runs it: "running,
	// pid 812 (nginx)" or "found at its default path, not running" (empty for files given to
	// lint). Fixes for a file nobody runs do not reload anything.
	Origin string `json:"origin,omitempty"`
	// Hop names the chain hop whose `config:` this file is; empty when no chain names it. Rules
	// that depend on what stands in front of a server (a pooling balancer) judge a file the
	// chain places differently from one that merely sits on the host.
	Hop string `json:"-"`
}

// HeadSize is how many leading bytes of a file format detection (Parser.Detect) is given.
const HeadSize = 4096

// Parser reads one configuration format.
type Parser interface {
	// Format names the format: "nginx", "haproxy", "apache", "envoy", "redis", "postgres",
	// "pgbouncer", "gunicorn", "kubernetes".
	Format() string
	// Detect reports whether the file at path, whose first bytes are head, is in this format.
	// It must be cheap and must not read anything else.
	Detect(path string, head []byte) bool
	// Parse reads path from fsys (paths inside fsys are relative, without a leading slash:
	// fs.FS rules) and everything it includes. Errors name file:line and what was expected.
	Parse(fsys fs.FS, path string) (*Config, error)
	// DefaultPaths are where the format's main configuration usually lives (absolute).
	DefaultPaths() []string
}

// Vars are what a server process knows that its files alone do not say: its environment
// (HAProxy's and Apache's ${VAR}) and its -D defines (Apache's <IfDefine>). A nil Env means
// the environment is unknown: variables stay unresolved and their values unknown.
type Vars struct {
	Env     map[string]string
	Defines []string
	// Version is the server's version ("1.22.1", "2.6"), "" when unknown: keywords added or
	// removed in some version are then judged against it.
	Version string
	// Versions are versions by format ("" for any format), for files whose format is detected
	// when read: used when Version is "". AskInstalled then asks the installed server of the
	// file's format (InstalledVersion) when Versions has none for it.
	Versions     map[string]string
	AskInstalled bool
	// Prefix is the server's configuration directory (nginx's conf prefix, Apache's
	// ServerRoot) as a path the parser reads through, for a fragment whose relative includes
	// are written against it; "" means the format's usual rule.
	Prefix string
	// Tree is the directory a configuration repository was read from (lint --root), "" for
	// the host: absolute includes resolve inside it, and one naming a file the tree does not
	// have is a warning (the file is the server's, not the repository's), not an error.
	Tree string
}

// forFormat resolves the version of a file of the given format (Vars.Versions, AskInstalled).
func (v Vars) forFormat(format string) Vars {
	if v.Version != "" {
		return v
	}
	if ver, ok := v.Versions[format]; ok {
		v.Version = ver
	} else if ver, ok := v.Versions[""]; ok {
		v.Version = ver
	} else if v.AskInstalled {
		v.Version = InstalledVersion(format)
	}
	return v
}

// VarsParser is a Parser that takes Vars.
type VarsParser interface {
	Parser
	// WithVars returns the parser reading with v.
	WithVars(v Vars) Parser
}

var parsers = map[string]Parser{}

// Register makes a format available. Format packages call it from init; the CLI imports them
// for that effect (internal/configs/all).
func Register(p Parser) {
	if _, dup := parsers[p.Format()]; dup {
		panic("configs: format registered twice: " + p.Format())
	}
	parsers[p.Format()] = p
}

// Formats lists the registered formats, sorted.
func Formats() []string {
	var out []string
	for f := range parsers {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the parser of a format.
func Lookup(format string) (Parser, bool) {
	p, ok := parsers[format]
	return p, ok
}

// DetectFormat returns the parser that recognises the file, or an error listing the formats.
func DetectFormat(path string, head []byte) (Parser, error) {
	for _, f := range Formats() {
		if p := parsers[f]; p.Detect(path, head) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s: not a format keeptune recognises (%s): name it with --format", path, strings.Join(Formats(), ", "))
}

// ReadTree parses a file of a configuration repository: path is a file under root, which
// stands for the server's / (absolute includes resolve inside it; nothing outside it is read,
// symbolic links included). Files are named as the server sees them ("/etc/nginx/nginx.conf").
func ReadTree(root, path, format string, vars Vars) (*Config, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(absRoot, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("%s is not under --root %s", path, root)
	}
	p, err := parserFor(abs, format)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(absRoot)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	vars = vars.forFormat(p.Format())
	vars.Tree = root
	if vp, ok := p.(VarsParser); ok {
		p = vp.WithVars(vars)
	}
	return p.Parse(r.FS(), filepath.ToSlash(rel))
}

func parserFor(path, format string) (Parser, error) {
	if format != "" {
		p, ok := Lookup(format)
		if !ok {
			return nil, fmt.Errorf("unknown format %q: expected one of %s", format, strings.Join(Formats(), ", "))
		}
		return p, nil
	}
	head, err := ReadHead(path)
	if err != nil {
		return nil, err
	}
	return DetectFormat(path, head)
}

// ReadFile parses a file on the host with the given format ("" = detect).
func ReadFile(path, format string) (*Config, error) { return ReadFileVars(path, format, Vars{}) }

// ReadFileVars is ReadFile with the server's environment and defines.
func ReadFileVars(path, format string, vars Vars) (*Config, error) {
	p, err := parserFor(path, format)
	if err != nil {
		return nil, err
	}
	vars = vars.forFormat(p.Format())
	if vp, ok := p.(VarsParser); ok && (vars.Env != nil || len(vars.Defines) > 0 || vars.Version != "" || vars.Prefix != "" || vars.Tree != "") {
		p = vp.WithVars(vars)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// Parse relative to / so that absolute includes resolve as on the host.
	return p.Parse(os.DirFS("/"), strings.TrimPrefix(abs, "/"))
}

// ReadHead reads the first HeadSize bytes of a file, what DetectFormat is given.
func ReadHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, HeadSize)
	n, _ := f.Read(head)
	return head[:n], nil
}
