// Package postgres reads postgresql.conf: the settings that decide how the server finds dead
// clients (tcp_keepalives_idle/interval/count, tcp_user_timeout) and closes idle sessions
// (idle_session_timeout and its kin), with include, include_if_exists and include_dir, pure over
// an fs.FS, every value with its file:line.
//
// Syntax follows the server's guc-file.l: "name = value" or "name value", "#" comments outside
// quotes, values quoted with single quotes (” or \' inside) or written bare, names
// case-insensitive, the last assignment wins (as when the server reads the file). Relative include
// paths resolve against the including file's directory; include_dir reads the *.conf files of a
// directory in name order, skipping names that start with ".". postgresql.auto.conf (ALTER
// SYSTEM) is read after postgresql.conf by the server; pass it as well to see its values.
//
// Units are those of each setting: tcp_keepalives_idle and tcp_keepalives_interval count seconds
// when written bare, tcp_user_timeout, idle_session_timeout,
// idle_in_transaction_session_timeout and client_connection_check_interval milliseconds; any of
// them may carry a unit (us, ms, s, min, h, d). A keepalive value of 0 (the default) means "the
// operating system's value": it is reported unknown, with a source naming the host sysctl, not
// as zero. The server turns SO_KEEPALIVE on for every TCP client (pqcomm.c), so keepalive is
// enabled whatever the file says.
package postgres

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the postgres format for the configs registry.
type Parser struct {
	// Version is PostgreSQL's version ("15.4"), "" when unknown: parameter names are judged
	// against it.
	Version string
}

// WithVars implements configs.VarsParser: only the version matters to PostgreSQL.
func (p Parser) WithVars(v configs.Vars) configs.Parser {
	p.Version = v.Version
	return p
}

// Format implements configs.Parser.
func (Parser) Format() string { return "postgres" }

// DefaultPaths implements configs.Parser. The Debian path holds a glob over the cluster
// version (/etc/postgresql/16/main/postgresql.conf): whoever looks there expands it.
func (Parser) DefaultPaths() []string {
	return []string{"/etc/postgresql/*/main/postgresql.conf", "/var/lib/pgsql/data/postgresql.conf", "/var/lib/postgresql/data/postgresql.conf"}
}

// Detect implements configs.Parser.
func (Parser) Detect(p string, head []byte) bool {
	switch path.Base(p) {
	case "postgresql.conf", "postgresql.auto.conf":
		return true
	}
	if ext := path.Ext(p); ext != ".conf" && ext != "" {
		return false
	}
	for _, key := range []string{"shared_buffers", "listen_addresses", "tcp_keepalives_idle", "max_wal_size", "wal_level"} {
		for _, line := range strings.Split(string(head), "\n") {
			if f := strings.Fields(strings.ReplaceAll(line, "=", " = ")); len(f) >= 3 && f[0] == key && f[1] == "=" {
				return true
			}
		}
	}
	return false
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Setting is one assignment.
type Setting struct {
	Name  string // lower case
	Value string // unquoted
	File  string
	Line  int
}

// Config is what a postgresql.conf sets, for the postgres rules.
type Config struct {
	File  string
	Files []string
	// Settings are all assignments in the order read; Last maps a name to the one in force.
	Settings []*Setting
	Last     map[string]*Setting
	// Warnings are parameters a PostgreSQL of another version may know (rule KT890).
	Warnings []configs.Warning
}

// The settings keeptune reads and the unit of a bare number.
var units = map[string]time.Duration{
	"tcp_keepalives_idle":                 time.Second,
	"tcp_keepalives_interval":             time.Second,
	"tcp_keepalives_count":                0, // a count
	"tcp_user_timeout":                    time.Millisecond,
	"idle_session_timeout":                time.Millisecond,
	"idle_in_transaction_session_timeout": time.Millisecond,
	"client_connection_check_interval":    time.Millisecond,
}

// Duration returns a time setting's value.
func (s *Setting) Duration() time.Duration {
	d, _ := parseDuration(s.Value, units[s.Name])
	return d
}

// Count returns a count setting's value.
func (s *Setting) Count() int {
	n, _ := parseCount(s.Value)
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

// Parse reads postgresql.conf at p (inside fsys) and what it includes, for no known version.
func Parse(fsys fs.FS, p string) (*Config, error) { return Parser{}.parse(fsys, p) }

func (pr Parser) parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	r := &reader{fsys: fsys, cfg: &Config{File: "/" + p, Last: map[string]*Setting{}}, version: pr.Version}
	if err := r.file(p, nil, false); err != nil {
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

// file reads one file; from is the include line that named it (nil for the main file).
func (r *reader) file(p string, from *Setting, optional bool) error {
	for _, open := range r.stack {
		if open == p {
			return &ParseError{File: from.File, Line: from.Line, Msg: fmt.Sprintf("%s '%s': /%s includes itself (cycle)", from.Name, from.Value, p)}
		}
	}
	if len(r.stack) >= 10 { // the server's own limit (CONF_FILE_MAX_DEPTH)
		return &ParseError{File: from.File, Line: from.Line, Msg: "includes nested more than 10 deep"}
	}
	data, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if from == nil {
			return fmt.Errorf("/%s: %w", p, pathErr(err))
		}
		return &ParseError{File: from.File, Line: from.Line, Msg: fmt.Sprintf("%s '%s': cannot read /%s: %v", from.Name, from.Value, p, pathErr(err))}
	}
	r.stack = append(r.stack, p)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	file := "/" + p
	r.cfg.Files = append(r.cfg.Files, file)
	for i, line := range strings.Split(string(data), "\n") {
		s, err := parseLine(line)
		if err != nil {
			return &ParseError{File: file, Line: i + 1, Msg: err.Error()}
		}
		if s == nil {
			continue
		}
		s.File, s.Line = file, i+1
		switch s.Name {
		case "include", "include_if_exists":
			if err := r.file(resolve(path.Dir(p), s.Value), s, s.Name == "include_if_exists"); err != nil {
				return err
			}
			continue
		case "include_dir":
			if err := r.dir(resolve(path.Dir(p), s.Value), s); err != nil {
				return err
			}
			continue
		}
		if err := r.known(s); err != nil {
			return err
		}
		if unit, ok := units[s.Name]; ok {
			if err := check(s, unit); err != nil {
				return &ParseError{File: file, Line: i + 1, Msg: err.Error()}
			}
		}
		r.cfg.Settings = append(r.cfg.Settings, s)
		r.cfg.Last[s.Name] = s
	}
	return nil
}

func (r *reader) dir(d string, from *Setting) error {
	entries, err := fs.ReadDir(r.fsys, d)
	if err != nil {
		return &ParseError{File: from.File, Line: from.Line, Msg: fmt.Sprintf("include_dir '%s': cannot read /%s: %v", from.Value, d, pathErr(err))}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".conf") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if err := r.file(path.Join(d, n), from, false); err != nil {
			return err
		}
	}
	return nil
}

func resolve(dir, p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(strings.TrimLeft(p, "/"))
	}
	return path.Join(dir, p)
}

// parseLine reads one line: nil for blank and comment lines.
func parseLine(line string) (*Setting, error) {
	i := 0
	skip := func() {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\f' || line[i] == '\v') {
			i++
		}
	}
	skip()
	if i >= len(line) || line[i] == '#' {
		return nil, nil
	}
	start := i
	for i < len(line) && (isLetter(line[i]) || i > start && (line[i] >= '0' && line[i] <= '9' || line[i] == '.')) {
		i++
	}
	if i == start {
		return nil, fmt.Errorf("syntax error near %q: expected a parameter name", rest(line[start:]))
	}
	s := &Setting{Name: strings.ToLower(line[start:i])}
	skip()
	if i < len(line) && line[i] == '=' {
		i++
		skip()
	}
	if i >= len(line) || line[i] == '#' {
		return nil, fmt.Errorf("%s: expected a value", s.Name)
	}
	if line[i] == '\'' {
		var b strings.Builder
		i++
		for {
			if i >= len(line) {
				return nil, fmt.Errorf("%s: unterminated quoted string: expected a closing '", s.Name)
			}
			c := line[i]
			if c == '\'' && i+1 < len(line) && line[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			if c == '\\' && i+1 < len(line) {
				b.WriteByte(line[i+1])
				i += 2
				continue
			}
			i++
			if c == '\'' {
				break
			}
			b.WriteByte(c)
		}
		s.Value = b.String()
	} else {
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '#' && line[i] != '\r' {
			i++
		}
		s.Value = line[start:i]
	}
	skip()
	if i < len(line) && line[i] != '#' {
		return nil, fmt.Errorf("%s: syntax error near %q: expected the end of the line or a # comment (quote values that hold spaces)", s.Name, rest(line[i:]))
	}
	return s, nil
}

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func rest(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// check validates a setting keeptune reads.
func check(s *Setting, unit time.Duration) error {
	if unit == 0 {
		if _, err := parseCount(s.Value); err != nil {
			return fmt.Errorf("%s: %v", s.Name, err)
		}
		return nil
	}
	if _, err := parseDuration(s.Value, unit); err != nil {
		return fmt.Errorf("%s: %v", s.Name, err)
	}
	return nil
}

func parseCount(v string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expected a count (0 or more), found %q", v)
	}
	return int(n), nil
}

// parseDuration reads a time setting like the server's parse_int with a time unit: a number
// (a fraction is rounded to the base unit), optional spaces, an optional unit.
func parseDuration(v string, base time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("expected a duration such as 300, '5min' or '500ms' (units us, ms, s, min, h, d), found %q", v)
	}
	scale := base
	switch unit {
	case "":
	case "us":
		scale = time.Microsecond
	case "ms":
		scale = time.Millisecond
	case "s":
		scale = time.Second
	case "min":
		scale = time.Minute
	case "h":
		scale = time.Hour
	case "d":
		scale = 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid unit %q in %q: valid units are us, ms, s, min, h, d", unit, v)
	}
	total := f * float64(scale)
	if total > float64(math.MaxInt32)*float64(base) {
		return 0, fmt.Errorf("%q is out of range (at most %d %s)", v, math.MaxInt32, map[time.Duration]string{time.Second: "s", time.Millisecond: "ms"}[base])
	}
	// The server rounds to its base unit.
	return time.Duration(math.Round(total/float64(base))) * base, nil
}

func src(s *Setting, detail string) model.Source {
	return model.Source{Kind: model.SourceConfig, File: s.File, Line: s.Line, Detail: detail}
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

// Downstream is how the server treats client connections.
func (c *Config) Downstream() *model.Side {
	side := &model.Side{}
	side.TCP.Enabled = model.KnownSetting(true, def("PostgreSQL turns SO_KEEPALIVE on for every TCP client connection (pqcomm.c)"))
	hostDur := func(name, sysctl string) model.Setting[time.Duration] {
		s := c.Last[name]
		if s == nil {
			return model.Setting[time.Duration]{Source: def(fmt.Sprintf("%s not set: the host's %s", name, sysctl))}
		}
		if d := s.Duration(); d > 0 {
			return model.KnownSetting(d, src(s, ""))
		}
		return model.Setting[time.Duration]{Source: src(s, fmt.Sprintf("%s = 0: the host's %s", name, sysctl))}
	}
	side.TCP.Idle = hostDur("tcp_keepalives_idle", model.KeyKeepaliveTime)
	side.TCP.Interval = hostDur("tcp_keepalives_interval", model.KeyKeepaliveIntvl)
	if s := c.Last["tcp_keepalives_count"]; s == nil {
		side.TCP.Count.Source = def("tcp_keepalives_count not set: the host's " + model.KeyKeepaliveProbes)
	} else if n := s.Count(); n > 0 {
		side.TCP.Count = model.KnownSetting(n, src(s, ""))
	} else {
		side.TCP.Count.Source = src(s, "tcp_keepalives_count = 0: the host's "+model.KeyKeepaliveProbes)
	}
	zero := func(name, what string) model.Setting[time.Duration] {
		if s := c.Last[name]; s != nil {
			return model.KnownSetting(s.Duration(), src(s, ""))
		}
		return model.KnownSetting(time.Duration(0), def("PostgreSQL default "+name+" 0: "+what))
	}
	side.TCP.UserTimeout = zero("tcp_user_timeout", "no TCP_USER_TIMEOUT")
	side.IdleTimeout = zero("idle_session_timeout", "idle sessions are never closed")
	return side
}

// Configs returns the format-neutral view.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "postgres", File: c.File, Files: c.Files, Values: []configs.Value{}, Detail: c, Downstream: c.Downstream(), Warnings: c.Warnings}
	for _, s := range c.Settings {
		if _, ok := units[s.Name]; !ok {
			continue
		}
		out.Values = append(out.Values, configs.Value{Key: s.Name, Value: s.Value, Block: "server", Location: model.Location{File: s.File, Line: s.Line}})
	}
	return out
}

// removedParams are parameters PostgreSQL removed, with the first version without them (release
// notes of each version).
var removedParams = map[string]string{
	"checkpoint_segments":               "9.5",
	"wal_keep_segments":                 "13",
	"operator_precedence_warning":       "14",
	"vacuum_cleanup_index_scale_factor": "14",
	"stats_temp_directory":              "15",
}

// paramNames are knownParams' names in order, for did-you-mean hints (built once, not for every
// unknown name).
var paramNames = slices.Sorted(maps.Keys(knownParams))

// known checks a parameter name as PostgreSQL does when it reads the file ("unrecognized
// configuration parameter", and the server does not start): a name with a dot is an
// extension's placeholder and always accepted. An unknown name is an error for a near-miss or a
// server known to be no newer than the table; otherwise (a later PostgreSQL may have it) a
// warning. A removed parameter is an error from the version that removed it on.
func (r *reader) known(s *Setting) error {
	if knownParams[s.Name] || strings.Contains(s.Name, ".") {
		return nil
	}
	msg := fmt.Sprintf("unrecognized configuration parameter %q", s.Name)
	if since, ok := removedParams[s.Name]; ok {
		switch {
		case r.version == "":
			r.cfg.Warnings = append(r.cfg.Warnings, configs.Warning{Location: model.Location{File: s.File, Line: s.Line},
				Message: fmt.Sprintf("%s was removed in PostgreSQL %s: from that version on the server refuses it and does not start; keeptune does not know the server's version (--server-version)", s.Name, since)})
			return nil
		case !configs.VersionAtLeast(r.version, since):
			return nil
		}
		return &ParseError{File: s.File, Line: s.Line, Msg: msg, Hint: fmt.Sprintf("removed in PostgreSQL %s; the server is %s", since, r.version)}
	}
	near := configs.Nearest(s.Name, paramNames, false)
	older := configs.SeriesAtMost(r.version, paramsVersion, 1)
	if near == "" && !older {
		r.cfg.Warnings = append(r.cfg.Warnings, configs.Warning{Location: model.Location{File: s.File, Line: s.Line},
			Message: fmt.Sprintf("%s: not one of PostgreSQL %s's; the server refuses it and does not start unless a later version has it (give --server-version)", msg, paramsVersion)})
		return nil
	}
	pe := &ParseError{File: s.File, Line: s.Line, Msg: msg}
	if near != "" {
		pe.Hint = fmt.Sprintf("did you mean %q?", near)
	}
	return pe
}
