package nginx

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the nginx format for the configs registry.
type Parser struct {
	// Version is the nginx version directives are judged against ("" = unknown: directives of
	// later versions are accepted with a warning).
	Version string
	// Prefix is nginx's configuration directory (its -p/conf prefix), which relative includes
	// resolve against; "" means the main file's directory.
	Prefix string
	// Tree is the repository directory the files are read from (lint --root), "" on the host.
	Tree string
}

// WithVars implements configs.VarsParser: nginx takes the server version from it.
func (p Parser) WithVars(v configs.Vars) configs.Parser {
	p.Version = v.Version
	p.Prefix = v.Prefix
	p.Tree = v.Tree
	return p
}

// Format implements configs.Parser.
func (Parser) Format() string { return "nginx" }

// DefaultPaths implements configs.Parser: Debian/Ubuntu/RHEL packages, then a source build's
// prefix and FreeBSD/Homebrew's.
func (Parser) DefaultPaths() []string {
	return []string{"/etc/nginx/nginx.conf", "/usr/local/nginx/conf/nginx.conf", "/usr/local/etc/nginx/nginx.conf"}
}

// Detect implements configs.Parser: nginx.conf, a file under an nginx directory, or a file
// whose first bytes open an nginx block (http {, server {, upstream NAME {, events {,
// stream {). YAML, JSON, INI and Python files are left to their formats.
func (Parser) Detect(p string, head []byte) bool {
	base := path.Base(p)
	switch path.Ext(base) {
	case ".yaml", ".yml", ".json", ".ini", ".py", ".cfg":
		return false
	}
	if base == "nginx.conf" || strings.Contains(p, "/nginx/") {
		return true
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "<") {
			continue
		}
		last := f[len(f)-1]
		switch strings.TrimSuffix(f[0], "{") {
		case "http", "server", "events", "stream":
			if strings.HasSuffix(last, "{") && len(f) <= 2 {
				return true
			}
		case "upstream", "location":
			if last == "{" && len(f) >= 3 {
				return true
			}
		case "worker_processes", "keepalive_timeout", "proxy_pass":
			if strings.HasSuffix(last, ";") {
				return true
			}
		}
	}
	return false
}

// Parse implements configs.Parser.
func (pr Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := pr.parse(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}

// Parse reads the nginx configuration at p (a path inside fsys) and the files it includes.
func Parse(fsys fs.FS, p string) (*Config, error) { return Parser{}.parse(fsys, p) }

func (pr Parser) parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	r := &reader{fsys: fsys, confDir: path.Dir(p)}
	if pr.Prefix != "" {
		r.confDir, r.prefixGiven = path.Clean(strings.TrimPrefix(pr.Prefix, "/")), true
	}
	r.tree = pr.Tree
	tree, err := r.parseFile(p)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", display(p), unwrapPathError(err))
	}
	v := &validator{version: pr.Version}
	_, main := topContext(tree)
	for _, m := range r.missing {
		if main || r.prefixGiven {
			return nil, m.err
		}
		v.warn(m.d, "", "include %s: not found relative to %s, and this file is not a main configuration: it is read without it (give nginx's configuration directory with --prefix)", m.d.Args[0], display(r.confDir))
	}
	for _, d := range r.outside {
		v.warn(d, "", "include %s: not in the tree %s (lint --root): a file of the server, not of the repository; not read", d.Args[0], r.tree)
	}
	for _, g := range r.guessed {
		v.warn(g.d, "", "include %s: read from %s, the first directory above %s that has it (give nginx's configuration directory with --prefix)", g.d.Args[0], display(g.dir), display(r.confDir))
	}
	if err := v.validate(display(p), tree); err != nil {
		return nil, err
	}
	c, err := build(display(p), r.files, tree)
	if err != nil {
		return nil, err
	}
	c.Warnings = v.warnings
	c.Version = pr.Version
	return c, nil
}

// Configs returns the format-neutral view: every directive keeptune reads with the block it is
// written in, and the two sides.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "nginx", File: c.File, Files: c.Files, Values: []configs.Value{}, Detail: c}
	for _, r := range c.refs {
		if !inValues(r.d) {
			continue
		}
		out.Values = append(out.Values, configs.Value{
			Key: r.d.Name, Value: r.d.Text(), Block: r.ctx.Label,
			Location: model.Location{File: r.d.File, Line: r.d.Line},
		})
	}
	out.Warnings = c.Warnings
	out.Downstream = c.Downstream()
	out.Listeners = c.Listeners()
	out.Upstream = c.Upstream()
	return out
}
