package configs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// Found is a configuration file audit found on the host.
type Found struct {
	Path   string // absolute, as on the host
	Format string
	// From says how it was found: "default path" or "command line of pid 812 (nginx)".
	From string
	// PID is the running server that uses the file (0: none seen). A file at a default path
	// counts as used by a running server of its format started without naming a file.
	PID  int
	Comm string
}

// Origin says whether the configuration is live, in the words reports use: "running, pid 812
// (nginx)" or "found at its default path, not running". A finding about a file nobody runs
// needs a different fix (no reload) and less urgency than one about the live server.
func (f Found) Origin() string {
	if f.PID > 0 {
		return fmt.Sprintf("running, pid %d (%s)", f.PID, f.Comm)
	}
	if f.From == "default path" {
		return "found at its default path, not running"
	}
	return "not running"
}

// configFlags maps a server's command name to the flag that names its configuration file
// (nginx -c, haproxy -f, httpd/apache2 -f, envoy -c/--config-path, pgbouncer's first
// argument, redis-server's first argument, gunicorn -c/--config, postgres -D DIR or
// -c config_file=). base is the flag whose directory a relative path is relative to (nginx -p
// prefix, httpd -d ServerRoot); without it, and for every other server, a relative path is
// relative to the process's working directory (/proc/PID/cwd).
var configFlags = map[string]struct {
	format string
	flags  []string
	arg    bool   // the first non-flag argument is the file
	base   string // flag naming the directory relative paths start from
	dir    string // the flags name a directory; the file is this name inside it
}{
	"nginx":        {format: "nginx", flags: []string{"-c"}, base: "-p"},
	"haproxy":      {format: "haproxy", flags: []string{"-f"}},
	"httpd":        {format: "apache", flags: []string{"-f"}, base: "-d"},
	"apache2":      {format: "apache", flags: []string{"-f"}, base: "-d"},
	"envoy":        {format: "envoy", flags: []string{"-c", "--config-path"}},
	"pgbouncer":    {format: "pgbouncer", arg: true},
	"redis-server": {format: "redis", arg: true},
	"gunicorn":     {format: "gunicorn", flags: []string{"-c", "--config"}},
	"postgres":     {format: "postgres", flags: []string{"-D"}, dir: "postgresql.conf"},
}

// dirFormats are the formats whose parser reads a directory as the configuration: HAProxy's
// `-f DIR` loads the directory's *.cfg files in order.
var dirFormats = map[string]bool{"haproxy": true}

// Discover finds configuration files at the formats' usual paths and on the command lines of
// the running processes given (read from root/proc/PID/cmdline). A file found both ways is
// listed once, by the way that names its process. Relative paths on a command line are
// resolved against the process's working directory (root/proc/PID/cwd) or the directory its
// server resolves them against.
func Discover(root string, procs []model.Process) []Found {
	seen := map[string]int{}
	var out []Found
	add := func(f Found) {
		if i, ok := seen[f.Path]; ok {
			if strings.HasPrefix(f.From, "command line") {
				out[i].From = f.From
				out[i].PID, out[i].Comm = f.PID, f.Comm
			}
			return
		}
		st, err := os.Stat(filepath.Join(root, f.Path))
		if err != nil || (st.IsDir() && !dirFormats[f.Format]) {
			return
		}
		seen[f.Path] = len(out)
		out = append(out, f)
	}
	// A server started without naming its file reads its default path: remember the first
	// such process per format.
	bare := map[string]model.Process{}
	for _, p := range procs {
		cmd, err := os.ReadFile(filepath.Join(root, "proc", strconv.Itoa(p.PID), "cmdline"))
		if err != nil {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join(root, "proc", strconv.Itoa(p.PID), "cwd"))
		f, format, ok := fromCommandLine(cmd, p, cwd)
		switch {
		case ok:
			add(f)
		case format != "":
			if _, dup := bare[format]; !dup {
				bare[format] = p
			}
		}
	}
	for _, format := range Formats() {
		for _, pattern := range parsers[format].DefaultPaths() {
			matches, _ := filepath.Glob(filepath.Join(root, pattern))
			sort.Strings(matches)
			for _, m := range matches {
				rel, err := filepath.Rel(root, m)
				if err != nil {
					continue
				}
				f := Found{Path: "/" + rel, Format: format, From: "default path"}
				if p, ok := bare[format]; ok {
					f.PID, f.Comm = p.PID, p.Comm
				}
				add(f)
			}
		}
	}
	return out
}

// fromCommandLine reads a configuration path from a NUL-separated command line. It also
// returns the format of a known server whose command line names no file (ok false).
func fromCommandLine(cmdline []byte, p model.Process, cwd string) (f Found, format string, ok bool) {
	args := strings.Split(strings.TrimRight(string(bytes.TrimRight(cmdline, "\x00")), "\x00"), "\x00")
	if len(args) == 0 {
		return Found{}, "", false
	}
	name := filepath.Base(args[0])
	// "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf" (nginx rewrites argv).
	if strings.HasPrefix(args[0], "nginx: master process ") {
		args = strings.Fields(strings.TrimPrefix(args[0], "nginx: master process "))
		name = "nginx"
	}
	spec, known := configFlags[name]
	if !known {
		spec, known = configFlags[p.Comm]
		if !known {
			return Found{}, "", false
		}
	}
	if _, registered := parsers[spec.format]; !registered {
		return Found{}, "", false
	}
	from := "command line of pid " + strconv.Itoa(p.PID) + " (" + p.Comm + ")"
	base := cwd
	if spec.base != "" {
		if b, ok := flagValue(args, spec.base); ok {
			base = resolve(b, cwd)
		}
	}
	found := func(v string) (Found, string, bool) {
		path := resolve(v, base)
		if spec.dir != "" {
			path = filepath.Join(path, spec.dir)
		}
		return Found{Path: path, Format: spec.format, From: from, PID: p.PID, Comm: p.Comm}, spec.format, true
	}
	if spec.format == "postgres" {
		// postgres -c config_file=PATH (or --config-file=PATH) names the file itself.
		for i, a := range args {
			v, isFile := strings.CutPrefix(a, "--config-file=")
			if !isFile && a == "-c" && i+1 < len(args) {
				v, isFile = strings.CutPrefix(args[i+1], "config_file=")
			}
			if isFile {
				return Found{Path: resolve(v, cwd), Format: spec.format, From: from, PID: p.PID, Comm: p.Comm}, spec.format, true
			}
		}
	}
	if v, ok := flagValue(args, spec.flags...); ok {
		return found(v)
	}
	if spec.arg {
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "-") {
				return found(a)
			}
		}
	}
	return Found{}, spec.format, false
}

// flagValue returns the value of the first of flags on a command line: "-c FILE",
// "--config=FILE" or "-cFILE" for one-letter flags.
func flagValue(args []string, flags ...string) (string, bool) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		for _, flag := range flags {
			switch {
			case a == flag && i+1 < len(args):
				return args[i+1], true
			case strings.HasPrefix(a, flag+"="):
				return strings.TrimPrefix(a, flag+"="), true
			case len(flag) == 2 && len(a) > 2 && strings.HasPrefix(a, flag) && !strings.HasPrefix(a, "--"):
				return a[2:], true
			}
		}
	}
	return "", false
}

// resolve makes a command-line path absolute against dir (the process's working directory, or
// the server's base directory). With no dir known a relative path is kept as given: it then
// fails to open and audit reports it as a problem rather than reading some other file.
func resolve(p, dir string) string {
	if filepath.IsAbs(p) || dir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// ReadFound parses a discovered file, reading through root (the audited host's /).
func ReadFound(root string, f Found) (*Config, error) {
	p, ok := Lookup(f.Format)
	if !ok {
		return nil, fmt.Errorf("no parser for format %q", f.Format)
	}
	cfg, err := p.Parse(os.DirFS(root), strings.TrimPrefix(f.Path, "/"))
	if cfg != nil {
		cfg.Origin = f.Origin()
	}
	return cfg, err
}
