// Package redis reads redis.conf: the directives that decide how long Redis keeps client
// connections (timeout) and how it finds dead clients (tcp-keepalive), with includes, pure over
// an fs.FS, every value with its file:line.
//
// Syntax follows Redis's config.c: one directive per line, arguments split like sdssplitargs
// (double quotes with \n \t \xHH escapes, single quotes, a quote must be followed by a space or
// the end of the line), "#" comment lines, names case-insensitive, the last assignment wins.
// include paths that are relative resolve against the directory of the including file (Redis
// itself uses its working directory, which a file cannot know), and may be glob patterns
// (Redis 7).
//
// The downstream side (client connections): timeout is the idle timeout (0, the default, is no
// limit); tcp-keepalive N turns on SO_KEEPALIVE with TCP_KEEPIDLE N, TCP_KEEPINTVL N/3 and
// TCP_KEEPCNT 3 (anet.c anetKeepAlive), 0 leaves keepalive off; the default is 300 since
// Redis 3.2.1. Redis has no upstream side here (replication links are not read).
package redis

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the redis format for the configs registry.
type Parser struct {
	// Version is redis's version ("7.0.15"), "" when unknown: directive names are judged against it.
	Version string
}

// WithVars implements configs.VarsParser: only the version matters to redis.
func (p Parser) WithVars(v configs.Vars) configs.Parser {
	p.Version = v.Version
	return p
}

// Format implements configs.Parser.
func (Parser) Format() string { return "redis" }

// DefaultPaths implements configs.Parser (Debian's, then the source tree's and Homebrew's).
func (Parser) DefaultPaths() []string {
	return []string{"/etc/redis/redis.conf", "/etc/redis.conf", "/usr/local/etc/redis.conf"}
}

// Detect implements configs.Parser: a .conf file named after redis, or one whose first lines
// use directives only redis.conf has.
func (Parser) Detect(p string, head []byte) bool {
	base := path.Base(p)
	if strings.Contains(base, "redis") && (strings.HasSuffix(base, ".conf") || !strings.Contains(base, ".")) {
		return true
	}
	hits := 0
	for _, line := range strings.Split(string(head), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasSuffix(f[len(f)-1], ";") {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "tcp-keepalive", "tcp-backlog", "repl-timeout":
			return true // redis' own hyphenated names
		case "maxmemory", "appendonly", "daemonize", "databases", "save", "protected-mode", "maxmemory-policy", "requirepass":
			hits++
		}
	}
	return hits >= 2
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Directive is one line of redis.conf.
type Directive struct {
	Name string // lower case
	Args []string
	File string
	Line int
}

// Config is what a redis.conf sets, for the redis rules.
type Config struct {
	File       string
	Files      []string
	Directives []*Directive
	// TCPKeepalive and Timeout are the assignments in force (the last), nil when unset.
	TCPKeepalive, Timeout *Directive
	// Warnings are directives a redis of another version may know (rule KT890).
	Warnings []configs.Warning
}

// Defaults (server.h: CONFIG_DEFAULT_TCP_KEEPALIVE 300, CONFIG_DEFAULT_CLIENT_TIMEOUT 0).
const (
	DefaultTCPKeepalive = 300
	DefaultTimeout      = 0
)

// Seconds returns the value of a directive holding seconds.
func Seconds(d *Directive) int {
	n, _ := strconv.Atoi(d.Args[0])
	return n
}

// Parse implements configs.Parser.
func (pr Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := pr.parse(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}

type reader struct {
	fsys    fs.FS
	cfg     *Config
	stack   []string
	version string
}

// Parse reads redis.conf at p (inside fsys) and its includes, for no known version.
func Parse(fsys fs.FS, p string) (*Config, error) { return Parser{}.parse(fsys, p) }

func (pr Parser) parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	r := &reader{fsys: fsys, cfg: &Config{File: "/" + p}, version: pr.Version}
	if err := r.file(p); err != nil {
		return nil, err
	}
	return r.cfg, nil
}

func (r *reader) file(p string) error {
	data, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("/%s: %w", p, err)
	}
	if len(r.stack) > 16 {
		return fmt.Errorf("/%s: includes nested more than 16 deep (an include cycle?)", p)
	}
	r.stack = append(r.stack, p)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	file := "/" + p
	r.cfg.Files = append(r.cfg.Files, file)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		args, err := splitArgs(line)
		if err != nil {
			return &ParseError{File: file, Line: n, Msg: err.Error()}
		}
		if len(args) == 0 {
			continue
		}
		d := &Directive{Name: strings.ToLower(args[0]), Args: args[1:], File: file, Line: n}
		switch d.Name {
		case "include":
			if len(d.Args) != 1 {
				return &ParseError{File: file, Line: n, Msg: "include: expected one file name"}
			}
			if err := r.include(d, path.Dir(p)); err != nil {
				return err
			}
			continue
		default:
			if err := r.known(d); err != nil {
				return err
			}
		case "tcp-keepalive", "timeout":
			if len(d.Args) != 1 {
				return &ParseError{File: file, Line: n, Msg: fmt.Sprintf("%s: expected one number of seconds, found %d arguments", d.Name, len(d.Args))}
			}
			if v, err := strconv.Atoi(d.Args[0]); err != nil || v < 0 {
				return &ParseError{File: file, Line: n, Msg: fmt.Sprintf("%s: expected a number of seconds (0 or more), found %q", d.Name, d.Args[0])}
			}
			if d.Name == "timeout" {
				r.cfg.Timeout = d
			} else {
				r.cfg.TCPKeepalive = d
			}
		}
		r.cfg.Directives = append(r.cfg.Directives, d)
	}
	return nil
}

func (r *reader) include(d *Directive, dir string) error {
	target := d.Args[0]
	if strings.HasPrefix(target, "/") {
		target = path.Clean(strings.TrimLeft(target, "/"))
	} else {
		target = path.Join(dir, target)
	}
	matches := []string{target}
	if strings.ContainsAny(d.Args[0], "*?[") {
		var err error
		if matches, err = fs.Glob(r.fsys, target); err != nil {
			return &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: bad pattern: %v", d.Args[0], err)}
		}
	}
	for _, m := range matches {
		for _, open := range r.stack {
			if open == m {
				return &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: /%s includes itself (cycle)", d.Args[0], m)}
			}
		}
		if err := r.file(m); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return err
			}
			return &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: cannot read: %v", d.Args[0], err)}
		}
	}
	return nil
}

// splitArgs splits a line like Redis's sdssplitargs.
func splitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var b strings.Builder
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, errors.New(`unbalanced quotes: expected a closing '"'`)
				}
				c := line[i]
				if c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					b.WriteByte(byte(v))
					i += 4
					continue
				}
				if c == '\\' && i+1 < len(line) {
					switch e := line[i+1]; e {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					case 't':
						b.WriteByte('\t')
					case 'b':
						b.WriteByte('\b')
					case 'a':
						b.WriteByte('\a')
					default:
						b.WriteByte(e)
					}
					i += 2
					continue
				}
				i++
				if c == '"' {
					if i < len(line) && line[i] != ' ' && line[i] != '\t' {
						return nil, errors.New("unbalanced quotes: a closing quote must be followed by a space")
					}
					break
				}
				b.WriteByte(c)
			}
		case '\'':
			i++
			for {
				if i >= len(line) {
					return nil, errors.New(`unbalanced quotes: expected a closing "'"`)
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				i++
				if c == '\'' {
					if i < len(line) && line[i] != ' ' && line[i] != '\t' {
						return nil, errors.New("unbalanced quotes: a closing quote must be followed by a space")
					}
					break
				}
				b.WriteByte(c)
			}
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
				b.WriteByte(line[i])
				i++
			}
		}
		out = append(out, b.String())
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func src(d *Directive) model.Source {
	return model.Source{Kind: model.SourceConfig, File: d.File, Line: d.Line}
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

// Downstream is how Redis treats client connections.
func (c *Config) Downstream() *model.Side {
	s := &model.Side{}
	if d := c.Timeout; d != nil {
		s.IdleTimeout = model.KnownSetting(time.Duration(Seconds(d))*time.Second, src(d))
	} else {
		s.IdleTimeout = model.KnownSetting(time.Duration(0), def("redis default timeout 0: idle clients are never closed"))
	}
	s.TCP.UserTimeout = model.KnownSetting(time.Duration(0), def("redis does not set TCP_USER_TIMEOUT"))
	idle, from := DefaultTCPKeepalive, def("redis default tcp-keepalive 300 (since 3.2.1)")
	if d := c.TCPKeepalive; d != nil {
		idle, from = Seconds(d), src(d)
	}
	if idle == 0 {
		s.TCP.Enabled = model.KnownSetting(false, from)
		return s
	}
	derived := from
	derived.Detail = strings.TrimSpace(derived.Detail + " redis sets the interval to a third of tcp-keepalive and 3 probes (anet.c)")
	intvl := idle / 3
	if intvl == 0 {
		intvl = 1
	}
	s.TCP.Enabled = model.KnownSetting(true, from)
	s.TCP.Idle = model.KnownSetting(time.Duration(idle)*time.Second, from)
	s.TCP.Interval = model.KnownSetting(time.Duration(intvl)*time.Second, derived)
	s.TCP.Count = model.KnownSetting(3, derived)
	return s
}

// Configs returns the format-neutral view.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "redis", File: c.File, Files: c.Files, Values: []configs.Value{}, Detail: c, Downstream: c.Downstream(), Warnings: c.Warnings}
	for _, d := range c.Directives {
		if d.Name != "tcp-keepalive" && d.Name != "timeout" {
			continue
		}
		out.Values = append(out.Values, configs.Value{Key: d.Name, Value: strings.Join(d.Args, " "), Block: "server",
			Location: model.Location{File: d.File, Line: d.Line}})
	}
	return out
}

// otherDirectives are what redis.conf may hold besides configuration keys (config.c
// loadServerConfigFromString: include, rename-command, user, loadmodule; sentinel in
// sentinel.conf).
var otherDirectives = map[string]bool{"include": true, "rename-command": true, "user": true, "loadmodule": true, "sentinel": true}

var keyNames []string

func init() {
	for k := range configKeys {
		keyNames = append(keyNames, k)
	}
	sort.Strings(keyNames)
}

// known checks a directive name as redis does when it loads the file ("Bad directive or wrong
// number of arguments", and it does not start): a near-miss of a key is an error with a
// did-you-mean; another unknown name an error when the server is known to be no newer than
// the table, a warning otherwise (later versions add keys).
func (r *reader) known(d *Directive) error {
	if configKeys[d.Name] || otherDirectives[d.Name] {
		return nil
	}
	near := configs.Nearest(d.Name, keyNames, false)
	older := configs.SeriesAtMost(r.version, keysVersion, 2)
	if near == "" && !older {
		r.cfg.Warnings = append(r.cfg.Warnings, configs.Warning{Location: model.Location{File: d.File, Line: d.Line},
			Message: fmt.Sprintf("%q: not a directive of redis %s; redis refuses it (Bad directive or wrong number of arguments) and does not start, unless a later version has it (give --server-version)", d.Name, keysVersion)})
		return nil
	}
	pe := &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("Bad directive or wrong number of arguments: %q", d.Name)}
	if near != "" {
		pe.Hint = fmt.Sprintf("did you mean %q?", near)
	}
	return pe
}
