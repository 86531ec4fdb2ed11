// Package gunicorn reads Gunicorn's settings for client connections: keepalive, timeout,
// worker_class and threads, from a Python configuration file (gunicorn.conf.py) and from
// command lines (a Procfile, a systemd unit's ExecStart=, a Dockerfile CMD or ENTRYPOINT, a
// shell script, GUNICORN_CMD_ARGS), pure over an fs.FS, every value with its file:line.
//
// A configuration file is Python; keeptune reads its top-level assignments of literals
// (keepalive = 5, worker_class = "gthread", threads = 4) and reports any other expression as
// unknown rather than guess. On a command line it reads --keep-alive N, -t/--timeout N,
// -k/--worker-class NAME, --threads N, -w/--workers N and -c/--config FILE (read first, from the
// command file's directory, when it is there); command-line flags win over GUNICORN_CMD_ARGS,
// which wins over the file, as in Gunicorn.
//
// The downstream side: with the default sync worker Gunicorn "does not support persistent
// connections and will ignore" keepalive (its docs): every response closes the connection, so
// Pools is false and the idle timeout is unknown. The sync worker with threads > 1 runs as
// gthread (Config.worker_class). Other workers keep connections open for keepalive seconds
// (2 by default, gunicorn/config.py). timeout is the worker silence limit, not a read timeout:
// listed, not mapped.
package gunicorn

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the gunicorn format for the configs registry.
type Parser struct{}

// Format implements configs.Parser.
func (Parser) Format() string { return "gunicorn" }

// DefaultPaths implements configs.Parser: Gunicorn reads ./gunicorn.conf.py from its working
// directory by default, so the path is relative.
func (Parser) DefaultPaths() []string { return []string{"gunicorn.conf.py"} }

// Detect implements configs.Parser: a Python file named after gunicorn, or a Procfile, systemd
// unit, Dockerfile or script that runs gunicorn.
func (Parser) Detect(p string, head []byte) bool {
	base := strings.ToLower(path.Base(p))
	switch path.Ext(base) {
	case ".yaml", ".yml", ".json", ".conf", ".ini", ".cfg":
		return false
	case ".py":
		if strings.Contains(base, "gunicorn") {
			return true
		}
		// A configuration under another name: top-level assignments of Gunicorn's settings.
		hits := 0
		for _, line := range strings.Split(string(head), "\n") {
			name, _, ok := strings.Cut(line, "=")
			if ok && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
				switch strings.TrimSpace(name) {
				case "bind", "workers", "worker_class", "keepalive", "threads", "graceful_timeout", "worker_connections", "max_requests":
					hits++
				}
			}
		}
		return hits >= 2
	}
	if strings.Contains(base, "gunicorn") {
		return true
	}
	for _, l := range joinContinuations(string(head)) {
		if commandLine(l.text) >= 0 {
			return true
		}
	}
	return false
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Setting is one setting as written.
type Setting struct {
	Key   string // the setting's name: keepalive, timeout, worker_class, threads, workers
	Value string // the literal, unquoted; the expression as written when not a literal
	// Literal is false for a Python expression keeptune does not evaluate.
	Literal bool
	// From says how it was given: "config", "env" (GUNICORN_CMD_ARGS) or "command line".
	From string
	File string
	Line int
}

// Config is what Gunicorn is told, for the gunicorn rules.
type Config struct {
	File  string
	Files []string
	// Settings maps a setting to the assignment in force; All lists every one in order.
	Settings map[string]*Setting
	All      []*Setting
	// Command is the command line read (nil for a Python file) and where it is.
	Command *Setting
	// ConfigFile is the -c argument, and whether keeptune could read it.
	ConfigFile     string
	ConfigFileRead bool
}

// read settings and the flags that set them.
var (
	keys  = map[string]bool{"keepalive": true, "timeout": true, "worker_class": true, "threads": true, "workers": true, "graceful_timeout": true}
	flags = map[string]string{
		"--keep-alive": "keepalive", "-t": "timeout", "--timeout": "timeout", "-k": "worker_class",
		"--worker-class": "worker_class", "--threads": "threads", "-w": "workers", "--workers": "workers",
		"--graceful-timeout": "graceful_timeout", "-c": "config", "--config": "config",
	}
)

// DefaultKeepalive is Gunicorn's keepalive default (gunicorn/config.py Keepalive.default).
const DefaultKeepalive = 2 * time.Second

// Parse implements configs.Parser.
func (Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := Parse(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}

// Parse reads a gunicorn.conf.py, or a file holding a gunicorn command line, at p (inside fsys).
func Parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("/%s: %w", p, err)
	}
	c := &Config{File: "/" + p, Files: []string{"/" + p}, Settings: map[string]*Setting{}}
	if strings.HasSuffix(p, ".py") {
		if err := c.python("/"+p, string(data)); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := c.commandFile(fsys, p, string(data)); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseCommandLine reads a gunicorn command line (from a process's command line, say), located
// at file:line for the sources.
func ParseCommandLine(cmd, file string, line int) (*Config, error) {
	c := &Config{File: file, Files: []string{file}, Settings: map[string]*Setting{}}
	args, err := shellWords(cmd)
	if err != nil {
		return nil, &ParseError{File: file, Line: line, Msg: err.Error()}
	}
	i := gunicornIndex(args)
	if i < 0 {
		return nil, &ParseError{File: file, Line: line, Msg: "expected a gunicorn command line"}
	}
	c.Command = &Setting{Key: "command", Value: cmd, From: "command line", File: file, Line: line, Literal: true}
	return c, c.flags(args[i+1:], "command line", file, line)
}

func (c *Config) set(s *Setting) {
	c.All = append(c.All, s)
	c.Settings[s.Key] = s
}

// python reads the top-level literal assignments of a configuration file.
func (c *Config) python(file, text string) error {
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		if raw == "" || raw[0] == ' ' || raw[0] == '\t' || raw[0] == '#' {
			continue // blank, indented (inside a block) or a comment
		}
		name, expr, ok := strings.Cut(raw, "=")
		name = strings.TrimSpace(name)
		if !ok || !keys[name] || strings.HasPrefix(expr, "=") {
			continue
		}
		expr = strings.TrimSpace(stripComment(expr))
		s := &Setting{Key: name, Value: expr, From: "config", File: file, Line: n}
		if v, lit, err := literal(expr); err != nil {
			return &ParseError{File: file, Line: n, Msg: fmt.Sprintf("%s: %v", name, err)}
		} else if lit {
			s.Value, s.Literal = v, true
		}
		if err := validate(s); err != nil {
			return &ParseError{File: file, Line: n, Msg: err.Error()}
		}
		c.set(s)
	}
	return nil
}

// stripComment removes a # comment outside quotes.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0 && c == '\\':
			i++
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case q == 0 && c == '#':
			return s[:i]
		}
	}
	return s
}

// literal evaluates a Python literal: a number, a string, True/False/None. lit is false for any
// other expression (a name, a call, arithmetic), which is not an error.
func literal(expr string) (value string, lit bool, err error) {
	if expr == "" {
		return "", false, errors.New("expected a value after =")
	}
	switch c := expr[0]; {
	case c == '"' || c == '\'':
		q := expr[:1]
		if strings.HasPrefix(expr, q+q+q) {
			q = q + q + q
		}
		rest := expr[len(q):]
		end := strings.Index(rest, q)
		for end > 0 && rest[end-1] == '\\' {
			next := strings.Index(rest[end+1:], q)
			if next < 0 {
				end = -1
				break
			}
			end += next + 1
		}
		if end < 0 {
			return "", false, fmt.Errorf("unterminated string %s", expr)
		}
		if strings.TrimSpace(rest[end+len(q):]) != "" {
			return "", false, nil // "a" + b: an expression
		}
		return rest[:end], true, nil
	case c >= '0' && c <= '9' || c == '-' || c == '.':
		v := strings.ReplaceAll(expr, "_", "")
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return v, true, nil
		}
		if _, err := strconv.ParseInt(v, 0, 64); err == nil {
			return v, true, nil
		}
		if strings.ContainsAny(expr, " +-*/()") {
			return "", false, nil // arithmetic: 2 * 30
		}
		return "", false, fmt.Errorf("invalid number %q", expr)
	case expr == "True" || expr == "False" || expr == "None":
		return expr, true, nil
	}
	return "", false, nil
}

// validate checks a literal value of a numeric setting the way Gunicorn's validators do.
func validate(s *Setting) error {
	if !s.Literal {
		return nil
	}
	switch s.Key {
	case "keepalive", "timeout", "threads", "workers", "graceful_timeout":
		v := s.Value
		if f, err := strconv.ParseFloat(v, 64); err == nil && f == float64(int64(f)) {
			v = strconv.FormatInt(int64(f), 10)
		}
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: expected a whole number (0 or more), found %q", s.Key, s.Value)
		}
		s.Value = strconv.FormatInt(n, 10)
	case "worker_class":
		if s.Value == "" {
			return errors.New("worker_class: expected a worker class name")
		}
	}
	return nil
}

// commandFile reads a file holding a gunicorn command line, and GUNICORN_CMD_ARGS.
func (c *Config) commandFile(fsys fs.FS, p, text string) error {
	file := "/" + p
	lines := joinContinuations(text)
	var env *Setting
	for _, l := range lines {
		if !strings.Contains(l.text, "GUNICORN_CMD_ARGS") {
			continue
		}
		words, err := shellWords(strings.TrimPrefix(strings.TrimSpace(l.text), "Environment="))
		if err != nil {
			return &ParseError{File: file, Line: l.line, Msg: "GUNICORN_CMD_ARGS: " + err.Error()}
		}
		for i, w := range words {
			switch {
			case strings.HasPrefix(w, "GUNICORN_CMD_ARGS="):
				env = &Setting{Key: "GUNICORN_CMD_ARGS", Value: strings.TrimPrefix(w, "GUNICORN_CMD_ARGS="), File: file, Line: l.line}
			case w == "GUNICORN_CMD_ARGS" && i+1 < len(words): // Dockerfile: ENV NAME value
				env = &Setting{Key: "GUNICORN_CMD_ARGS", Value: words[i+1], File: file, Line: l.line}
			}
		}
	}
	idx := -1
	for i, l := range lines {
		if commandLine(l.text) >= 0 {
			idx = i
			break
		}
	}
	if idx < 0 {
		return &ParseError{File: file, Line: 1, Msg: "no gunicorn command line found: expected a Python configuration (*.py) or a file that runs gunicorn"}
	}
	l := lines[idx]
	cmd := l.text[commandLine(l.text):]
	var args []string
	if trimmed := strings.TrimSpace(cmd); strings.HasPrefix(trimmed, "[") {
		// Dockerfile exec form: CMD ["gunicorn", "-k", "gthread"]
		if err := json.Unmarshal([]byte(trimmed), &args); err != nil {
			return &ParseError{File: file, Line: l.line, Msg: "expected a JSON array of strings after CMD/ENTRYPOINT: " + err.Error()}
		}
	} else {
		var err error
		if args, err = shellWords(cmd); err != nil {
			return &ParseError{File: file, Line: l.line, Msg: err.Error()}
		}
	}
	i := gunicornIndex(args)
	if i < 0 {
		return &ParseError{File: file, Line: l.line, Msg: "expected gunicorn in the command"}
	}
	c.Command = &Setting{Key: "command", Value: strings.TrimSpace(cmd), From: "command line", File: file, Line: l.line, Literal: true}
	cli := args[i+1:]
	// The configuration file comes first, then GUNICORN_CMD_ARGS, then the command line.
	for j := 0; j < len(cli); j++ {
		a := cli[j]
		var v string
		switch {
		case a == "-c" || a == "--config":
			if j+1 < len(cli) {
				v = cli[j+1]
			}
		case strings.HasPrefix(a, "--config="):
			v = strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-c") && len(a) > 2:
			v = a[2:]
		default:
			continue
		}
		c.ConfigFile = v
		if v != "" && !strings.HasPrefix(v, "python:") {
			target := path.Join(path.Dir(p), v)
			if strings.HasPrefix(v, "/") {
				target = path.Clean(strings.TrimLeft(v, "/"))
			}
			if data, err := fs.ReadFile(fsys, target); err == nil {
				c.ConfigFileRead = true
				c.Files = append(c.Files, "/"+target)
				if err := c.python("/"+target, string(data)); err != nil {
					return err
				}
			}
		}
	}
	if env != nil {
		words, _ := shellWords(env.Value)
		if err := c.flags(words, "env", env.File, env.Line); err != nil {
			return err
		}
	}
	return c.flags(cli, "command line", file, l.line)
}

// flags reads gunicorn's command-line options.
func (c *Config) flags(args []string, from, file string, line int) error {
	for j := 0; j < len(args); j++ {
		a := args[j]
		name, value, hasValue := a, "", false
		if strings.HasPrefix(a, "--") {
			if k, v, ok := strings.Cut(a, "="); ok {
				name, value, hasValue = k, v, true
			}
		} else if strings.HasPrefix(a, "-") && len(a) > 2 {
			if _, ok := flags[a[:2]]; ok {
				name, value, hasValue = a[:2], a[2:], true
			}
		}
		key, ok := flags[name]
		if !ok {
			continue
		}
		if !hasValue {
			if j+1 >= len(args) {
				return &ParseError{File: file, Line: line, Msg: fmt.Sprintf("%s: expected a value after it", name)}
			}
			j++
			value = args[j]
		}
		if key == "config" {
			continue
		}
		s := &Setting{Key: key, Value: value, Literal: true, From: from, File: file, Line: line}
		if err := validate(s); err != nil {
			return &ParseError{File: file, Line: line, Msg: name + ": " + strings.TrimPrefix(err.Error(), key+": ")}
		}
		c.set(s)
	}
	return nil
}

type srcLine struct {
	text string
	line int
}

// joinContinuations joins lines ending in a backslash, keeping the first line's number.
func joinContinuations(text string) []srcLine {
	var out []srcLine
	raw := strings.Split(text, "\n")
	for i := 0; i < len(raw); i++ {
		l := srcLine{text: strings.TrimRight(raw[i], "\r"), line: i + 1}
		for strings.HasSuffix(l.text, "\\") && i+1 < len(raw) {
			i++
			l.text = strings.TrimSuffix(l.text, "\\") + " " + strings.TrimRight(raw[i], "\r")
		}
		out = append(out, l)
	}
	return out
}

// commandLine returns where a gunicorn command starts in a line (after "web:", "ExecStart=",
// "CMD", "ENTRYPOINT", "RUN exec"), or -1 when the line does not run gunicorn.
func commandLine(line string) int {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return -1
	}
	lead := len(line) - len(strings.TrimLeft(line, " \t"))
	start := 0
	for _, prefix := range []string{"ExecStart=", "CMD", "ENTRYPOINT", "exec "} {
		if strings.HasPrefix(t, prefix) {
			start = len(prefix)
			break
		}
	}
	if start == 0 {
		if name, rest, ok := strings.Cut(t, ":"); ok && !strings.ContainsAny(name, " \t/=\"'") && name != "" {
			start = len(t) - len(rest) // Procfile: web: gunicorn ...
		}
	}
	rest := t[start:]
	if strings.HasPrefix(strings.TrimSpace(rest), "[") {
		var args []string
		if json.Unmarshal([]byte(strings.TrimSpace(rest)), &args) == nil && gunicornIndex(args) >= 0 {
			return lead + start
		}
		if strings.Contains(rest, "gunicorn") {
			return lead + start // a malformed array: let the parser say so
		}
		return -1
	}
	words, err := shellWords(rest)
	if err != nil {
		if strings.Contains(rest, "gunicorn ") {
			return lead + start
		}
		return -1
	}
	if gunicornIndex(words) >= 0 {
		return lead + start
	}
	return -1
}

// gunicornIndex returns the index of the gunicorn executable in a command, -1 when the command
// does not run gunicorn: gunicorn must be the command itself, after environment assignments and
// wrappers (exec, env, nohup, uv run, poetry run, ...), or python -m gunicorn.
func gunicornIndex(args []string) int {
	wrappers := map[string]bool{"exec": true, "env": true, "sudo": true, "nohup": true, "nice": true, "time": true,
		"uv": true, "poetry": true, "pipenv": true, "run": true, "--": true, "dumb-init": true, "tini": true}
	for i, a := range args {
		base := path.Base(a)
		switch {
		case base == "gunicorn" || base == "gunicorn3":
			return i
		case strings.HasPrefix(base, "python"):
			if i+2 < len(args) && args[i+1] == "-m" && args[i+2] == "gunicorn" {
				return i + 2
			}
			return -1
		case wrappers[base] || strings.HasPrefix(a, "-") && i > 0,
			strings.Contains(a, "=") && !strings.HasPrefix(a, "-") && !strings.Contains(a[:strings.Index(a, "=")], "/"):
			continue
		default:
			return -1
		}
	}
	return -1
}

// shellWords splits a command like a POSIX shell: quotes and backslashes, no expansion.
func shellWords(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case c == '\'':
			in = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated ' quote: expected a closing '")
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			in = true
			i++
			for ; ; i++ {
				if i >= len(s) {
					return nil, errors.New(`unterminated " quote: expected a closing "`)
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
					b.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					break
				}
				b.WriteByte(s[i])
			}
		case (c == ';' || c == '&' || c == '|') && !in:
			// end of this command: the rest is another one
			return out, nil
		default:
			in = true
			b.WriteByte(c)
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out, nil
}

// WorkerClass returns the worker Gunicorn runs, normalised ("sync", "gthread", "gevent",
// "eventlet", "tornado", "uvicorn", or the class as written), and the setting that decides it
// (nil for the default). The sync worker with threads > 1 is gthread.
func (c *Config) WorkerClass() (string, *Setting) {
	s := c.Settings["worker_class"]
	name := "sync"
	if s != nil {
		if !s.Literal {
			return "", s
		}
		name = normalise(s.Value)
	}
	if name == "sync" {
		if t := c.Settings["threads"]; t != nil && t.Literal {
			if n, _ := strconv.Atoi(t.Value); n > 1 {
				return "gthread", t
			}
		}
	}
	return name, s
}

func normalise(class string) string {
	v := strings.TrimPrefix(class, "egg:gunicorn#")
	switch {
	case v == "sync" || strings.HasSuffix(v, "SyncWorker"):
		return "sync"
	case v == "gthread" || strings.HasSuffix(v, "ThreadWorker"):
		return "gthread"
	case v == "gevent" || strings.HasSuffix(v, "GeventWorker"):
		return "gevent"
	case v == "eventlet" || strings.HasSuffix(v, "EventletWorker"):
		return "eventlet"
	case v == "tornado" || strings.HasSuffix(v, "TornadoWorker"):
		return "tornado"
	case strings.Contains(v, "UvicornWorker") || strings.Contains(v, "UvicornH11Worker"):
		return "uvicorn"
	}
	return v
}

func src(s *Setting, detail string) model.Source {
	return model.Source{Kind: model.SourceConfig, File: s.File, Line: s.Line, Detail: detail}
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

// Downstream is how Gunicorn treats client connections.
func (c *Config) Downstream() *model.Side {
	side := &model.Side{}
	worker, ws := c.WorkerClass()
	ka := c.Settings["keepalive"]
	switch {
	case worker == "":
		side.Pools.Source = src(ws, "worker_class is not a literal: keep-alive depends on it")
	case worker == "sync":
		detail := "the sync worker closes every connection after its response and ignores keepalive"
		if ws != nil {
			side.Pools = model.KnownSetting(false, src(ws, detail))
		} else {
			side.Pools = model.KnownSetting(false, def("gunicorn default worker_class sync: "+detail))
		}
		if ka != nil {
			side.IdleTimeout.Source = src(ka, "ignored by the sync worker")
		}
		return side
	default:
		if ws != nil {
			side.Pools = model.KnownSetting(true, src(ws, ""))
		} else {
			side.Pools = model.KnownSetting(true, def(""))
		}
	}
	switch {
	case ka == nil:
		side.IdleTimeout = model.KnownSetting(DefaultKeepalive, def("gunicorn default keepalive 2"))
	case !ka.Literal:
		side.IdleTimeout.Source = src(ka, "not a literal: keeptune does not evaluate Python")
	default:
		n, _ := strconv.Atoi(ka.Value)
		side.IdleTimeout = model.KnownSetting(time.Duration(n)*time.Second, src(ka, ""))
	}
	return side
}

// Configs returns the format-neutral view.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "gunicorn", File: c.File, Files: c.Files, Values: []configs.Value{}, Detail: c, Downstream: c.Downstream()}
	for _, s := range c.All {
		out.Values = append(out.Values, configs.Value{Key: s.Key, Value: s.Value, Block: s.From, Location: model.Location{File: s.File, Line: s.Line}})
	}
	return out
}
