// Package pgbouncer reads pgbouncer.ini: TCP keepalive and TCP_USER_TIMEOUT (applied to client
// and server sockets alike) and the idle, lifetime and connect timeouts of both sides, with
// %include, pure over an fs.FS, every value with its file:line.
//
// Syntax follows libusual's parse_ini_file (which PgBouncer uses): "[section]" lines, "key =
// value" lines whose value runs to the end of the line (no inline comments), lines starting with
// ";" or "#" are comments, keys are case-sensitive, the last assignment wins. "%include FILE"
// reads another file in place; a relative name resolves against the including file's directory
// (PgBouncer itself uses its working directory, which a file cannot know).
//
// Units: tcp_keepidle and tcp_keepintvl are seconds, tcp_keepcnt a count, tcp_user_timeout
// milliseconds; the *_timeout and *_lifetime settings are seconds and may have a fraction
// (cf_set_time_usec). A keepalive value of 0 (the default) leaves the operating system's value:
// reported unknown with a source naming the host sysctl. tcp_keepalive = 1 is the default.
package pgbouncer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the pgbouncer format for the configs registry.
type Parser struct {
	// Version is PgBouncer's version ("1.18.0"), "" when unknown: [databases] and [users]
	// parameters are then judged against it.
	Version string
}

// WithVars implements configs.VarsParser: only the version matters to PgBouncer.
func (p Parser) WithVars(v configs.Vars) configs.Parser {
	p.Version = v.Version
	return p
}

// Format implements configs.Parser.
func (Parser) Format() string { return "pgbouncer" }

// DefaultPaths implements configs.Parser.
func (Parser) DefaultPaths() []string {
	return []string{"/etc/pgbouncer/pgbouncer.ini", "/usr/local/etc/pgbouncer.ini"}
}

// Detect implements configs.Parser: pgbouncer.ini, or an INI file with a [pgbouncer] section.
func (Parser) Detect(p string, head []byte) bool {
	if strings.Contains(path.Base(p), "pgbouncer") {
		return true
	}
	for _, line := range strings.Split(string(head), "\n") {
		if strings.TrimSpace(line) == "[pgbouncer]" {
			return true
		}
	}
	return false
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Setting is one key = value of the [pgbouncer] section.
type Setting struct {
	Key, Value string
	File       string
	Line       int
}

// Config is what a pgbouncer.ini sets, for the pgbouncer rules.
type Config struct {
	File     string
	Files    []string
	Settings []*Setting
	// Warnings are [databases] parameters PgBouncer 1.18 refuses (rule KT890).
	Warnings []configs.Warning
	// Last maps a key of the [pgbouncer] section to the assignment in force.
	Last map[string]*Setting
	// Section is where the [pgbouncer] section starts (nil without one).
	Section *Setting
}

// kinds of the settings keeptune reads: "int", "ms" (an int of milliseconds), "s" (seconds,
// fraction allowed).
var kinds = map[string]string{
	"tcp_keepalive": "int", "tcp_keepidle": "int", "tcp_keepintvl": "int", "tcp_keepcnt": "int",
	"tcp_user_timeout":    "ms",
	"client_idle_timeout": "s", "server_idle_timeout": "s", "server_lifetime": "s",
	"server_connect_timeout": "s", "query_timeout": "s", "idle_transaction_timeout": "s",
	"query_wait_timeout": "s", "client_login_timeout": "s",
}

// defaults are PgBouncer's (doc/config.md, src/main.c).
var defaults = map[string]string{
	"tcp_keepalive": "1", "tcp_keepidle": "0", "tcp_keepintvl": "0", "tcp_keepcnt": "0", "tcp_user_timeout": "0",
	"client_idle_timeout": "0", "server_idle_timeout": "600", "server_lifetime": "3600",
	"server_connect_timeout": "15", "query_timeout": "0",
}

// Int returns an integer setting in force, or its default.
func (c *Config) Int(key string) (int, *Setting) {
	s := c.Last[key]
	v := defaults[key]
	if s != nil {
		v = s.Value
	}
	n, _ := strconv.ParseInt(v, 0, 32)
	return int(n), s
}

// Duration returns a time setting in force (tcp_user_timeout in ms, the others in seconds), or
// its default.
func (c *Config) Duration(key string) (time.Duration, *Setting) {
	s := c.Last[key]
	v := defaults[key]
	if s != nil {
		v = s.Value
	}
	if kinds[key] == "ms" {
		n, _ := strconv.ParseInt(v, 0, 32)
		return time.Duration(n) * time.Millisecond, s
	}
	f, _ := strconv.ParseFloat(v, 64)
	return time.Duration(f * float64(time.Second)), s
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
	section string
	version string
}

// Parse reads pgbouncer.ini at p (inside fsys) and what it includes, for no known version.
func Parse(fsys fs.FS, p string) (*Config, error) { return Parser{}.parse(fsys, p) }

func (pr Parser) parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	r := &reader{fsys: fsys, cfg: &Config{File: "/" + p, Last: map[string]*Setting{}}, version: pr.Version}
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", p, pathErr(err))
	}
	if err := r.file(p, data); err != nil {
		return nil, err
	}
	return r.cfg, nil
}

func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (r *reader) file(p string, data []byte) error {
	if len(r.stack) >= 10 {
		return fmt.Errorf("/%s: includes nested more than 10 deep", p)
	}
	r.stack = append(r.stack, p)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	file := "/" + p
	r.cfg.Files = append(r.cfg.Files, file)
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		bad := func(format string, args ...any) error {
			return &ParseError{File: file, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case strings.HasPrefix(line, "%include"):
			name := strings.TrimSpace(strings.TrimPrefix(line, "%include"))
			if name == "" || !strings.HasPrefix(line, "%include ") && !strings.HasPrefix(line, "%include\t") {
				return bad("%%include: expected a file name")
			}
			target := name
			if strings.HasPrefix(target, "/") {
				target = path.Clean(strings.TrimLeft(target, "/"))
			} else {
				target = path.Join(path.Dir(p), target)
			}
			for _, open := range r.stack {
				if open == target {
					return bad("%%include %s: /%s includes itself (cycle)", name, target)
				}
			}
			inc, err := fs.ReadFile(r.fsys, target)
			if err != nil {
				return bad("%%include %s: cannot read /%s: %v", name, target, pathErr(err))
			}
			if err := r.file(target, inc); err != nil {
				return err
			}
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return bad("section header without \"]\"")
			}
			r.section = line[1:end]
			if r.section == "pgbouncer" && r.cfg.Section == nil {
				r.cfg.Section = &Setting{Key: "[pgbouncer]", File: file, Line: n}
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return bad("syntax error: expected key = value, [section] or %%include")
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if r.section == "" {
			return bad("%s: value outside a section: expected a [pgbouncer] or [databases] header before it", key)
		}
		if r.section == "databases" || r.section == "users" {
			if err := r.connParams(r.section, value, file, n); err != nil {
				return err
			}
			continue
		}
		if r.section != "pgbouncer" {
			continue
		}
		for _, c := range key {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.-*", c)) {
				return bad("syntax error in key %q: expected key = value", key)
			}
		}
		s := &Setting{Key: key, Value: value, File: file, Line: n}
		switch kinds[key] {
		case "int", "ms":
			if v, err := strconv.ParseInt(value, 0, 32); err != nil || v < 0 {
				return bad("%s: expected a whole number (0 or more), found %q", key, value)
			}
		case "s":
			if v, err := strconv.ParseFloat(value, 64); err != nil || v < 0 || v > 1e9 {
				return bad("%s: expected a number of seconds, found %q", key, value)
			}
		}
		r.cfg.Settings = append(r.cfg.Settings, s)
		r.cfg.Last[key] = s
	}
	return nil
}

// databaseParams and userParams are the parameters PgBouncer 1.18 takes in a [databases]
// connection string and a [users] line (src/loader.c parse_database and parse_user: anything
// else is "unrecognized connection parameter" or "unrecognized user parameter", and PgBouncer
// does not start). Later versions take more (reserve_pool_size, load_balance_hosts,
// max_db_client_connections, auth_dbname, per-user pool_size, ...), which keeptune does not list
// by version: it names them as needing a later PgBouncer.
var (
	databaseParams = []string{
		"dbname", "host", "port", "user", "password", "auth_user", "pool_size",
		"min_pool_size", "reserve_pool", "connect_query", "pool_mode", "max_db_connections",
		"client_encoding", "datestyle", "timezone", "application_name",
	}
	userParams = []string{"pool_mode", "max_user_connections"}
)

// paramsVersion is the version the lists are PgBouncer's for: a server at most this old refuses
// every other parameter.
const paramsVersion = "1.18"

// connParams checks the keys of a [databases] or [users] line: one PgBouncer 1.18 does not
// take is an error when the server is 1.18 or older (PgBouncer refuses to start), and a warning
// (KT890) when its version is later or unknown.
func (r *reader) connParams(section, value, file string, line int) error {
	known, what := databaseParams, "connection parameter"
	if section == "users" {
		known, what = userParams, "user parameter"
	}
	// Keys are the words before "=" outside single quotes (values may be quoted: connect_query='a; b=c').
	var keys []string
	inQuote, start := false, 0
	for i := 0; i <= len(value); i++ {
		switch {
		case i < len(value) && value[i] == '\'':
			inQuote = !inQuote
		case !inQuote && (i == len(value) || value[i] == ' ' || value[i] == '\t'):
			if k, _, ok := strings.Cut(value[start:i], "="); ok && k != "" && !strings.ContainsRune(k, '\'') {
				keys = append(keys, k)
			}
			start = i + 1
		}
	}
	for _, k := range keys {
		if slices.Contains(known, strings.ToLower(k)) {
			continue
		}
		if configs.SeriesAtMost(r.version, paramsVersion, 2) {
			hint := fmt.Sprintf("PgBouncer %s takes %s", r.version, strings.Join(known, ", "))
			near := configs.Nearest(strings.ToLower(k), known, false)
			for _, n := range known {
				if near == "" && len(n) >= 6 && strings.HasPrefix(strings.ToLower(k), n) {
					near = n // reserve_pool_size, the later name of reserve_pool
				}
			}
			if near != "" {
				hint = fmt.Sprintf("did you mean %q? ", near) + hint
			}
			return &ParseError{File: file, Line: line, Msg: fmt.Sprintf("unrecognized %s: %s", what, k), Hint: hint}
		}
		server := "keeptune does not know the server's version (--server-version)"
		if r.version != "" {
			server = "the server is " + r.version
		}
		r.cfg.Warnings = append(r.cfg.Warnings, configs.Warning{Location: model.Location{File: file, Line: line},
			Message: fmt.Sprintf("%s %q in [%s]: PgBouncer %s and older refuse it (unrecognized %s) and do not start; later versions may take it; %s", what, k, section, paramsVersion, what, server)})
	}
	return nil
}

func src(s *Setting, detail string) model.Source {
	return model.Source{Kind: model.SourceConfig, File: s.File, Line: s.Line, Detail: detail}
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

// TCP is the keepalive PgBouncer sets on client and server sockets.
func (c *Config) TCP() model.KeepaliveSettings {
	var k model.KeepaliveSettings
	on, s := c.Int("tcp_keepalive")
	if s != nil {
		k.Enabled = model.KnownSetting(on != 0, src(s, ""))
	} else {
		k.Enabled = model.KnownSetting(true, def("pgbouncer default tcp_keepalive = 1"))
	}
	ut, s := c.Duration("tcp_user_timeout")
	if s != nil {
		k.UserTimeout = model.KnownSetting(ut, src(s, ""))
	} else {
		k.UserTimeout = model.KnownSetting(time.Duration(0), def("pgbouncer default tcp_user_timeout = 0: no TCP_USER_TIMEOUT"))
	}
	if on == 0 {
		return k
	}
	host := func(key, sysctl string) model.Source {
		if s := c.Last[key]; s != nil {
			return src(s, key+" = 0: the host's "+sysctl)
		}
		return def(key + " not set: the host's " + sysctl)
	}
	if v, s := c.Int("tcp_keepidle"); v > 0 {
		k.Idle = model.KnownSetting(time.Duration(v)*time.Second, src(s, ""))
	} else {
		k.Idle.Source = host("tcp_keepidle", model.KeyKeepaliveTime)
	}
	if v, s := c.Int("tcp_keepintvl"); v > 0 {
		k.Interval = model.KnownSetting(time.Duration(v)*time.Second, src(s, ""))
	} else {
		k.Interval.Source = host("tcp_keepintvl", model.KeyKeepaliveIntvl)
	}
	if v, s := c.Int("tcp_keepcnt"); v > 0 {
		k.Count = model.KnownSetting(v, src(s, ""))
	} else {
		k.Count.Source = host("tcp_keepcnt", model.KeyKeepaliveProbes)
	}
	return k
}

// dur returns a time setting with its source; 0 is a known "no limit".
func (c *Config) dur(key string) model.Setting[time.Duration] {
	v, s := c.Duration(key)
	if s != nil {
		return model.KnownSetting(v, src(s, ""))
	}
	return model.KnownSetting(v, def(fmt.Sprintf("pgbouncer default %s = %s", key, defaults[key])))
}

// Downstream is how PgBouncer treats client connections.
func (c *Config) Downstream() *model.Side {
	return &model.Side{IdleTimeout: c.dur("client_idle_timeout"), TCP: c.TCP()}
}

// Upstream is how PgBouncer treats its pooled server connections.
func (c *Config) Upstream() *model.Side {
	return &model.Side{
		Pools:          model.KnownSetting(true, def("pgbouncer keeps server connections in pools")),
		IdleTimeout:    c.dur("server_idle_timeout"),
		MaxLifetime:    c.dur("server_lifetime"),
		ConnectTimeout: c.dur("server_connect_timeout"),
		ReadTimeout:    c.dur("query_timeout"),
		TCP:            c.TCP(),
	}
}

// Configs returns the format-neutral view.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "pgbouncer", File: c.File, Files: c.Files, Values: []configs.Value{}, Detail: c,
		Downstream: c.Downstream(), Upstream: c.Upstream(), Warnings: c.Warnings}
	for _, s := range c.Settings {
		if _, ok := kinds[s.Key]; ok {
			out.Values = append(out.Values, configs.Value{Key: s.Key, Value: s.Value, Block: "pgbouncer", Location: model.Location{File: s.File, Line: s.Line}})
		}
	}
	return out
}
