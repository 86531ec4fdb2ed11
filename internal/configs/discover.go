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
}

// configFlags maps a server's command name to the flag that names its configuration file
// (nginx -c, haproxy -f, httpd/apache2 -f, envoy -c/--config-path, pgbouncer's first
// argument, redis-server's first argument, gunicorn -c/--config).
var configFlags = map[string]struct {
	format string
	flags  []string
	arg    bool // the first non-flag argument is the file
}{
	"nginx":        {"nginx", []string{"-c"}, false},
	"haproxy":      {"haproxy", []string{"-f"}, false},
	"httpd":        {"apache", []string{"-f"}, false},
	"apache2":      {"apache", []string{"-f"}, false},
	"envoy":        {"envoy", []string{"-c", "--config-path"}, false},
	"pgbouncer":    {"pgbouncer", nil, true},
	"redis-server": {"redis", nil, true},
	"gunicorn":     {"gunicorn", []string{"-c", "--config"}, false},
}

// dirFormats are the formats whose parser reads a directory as the configuration: HAProxy's
// `-f DIR` loads the directory's *.cfg files in order.
var dirFormats = map[string]bool{"haproxy": true}

// Discover finds configuration files at the formats' usual paths and on the command lines of
// the running processes given (read from root/proc/PID/cmdline). A file found both ways is
// listed once, by the way that names its process.
func Discover(root string, procs []model.Process) []Found {
	seen := map[string]int{}
	var out []Found
	add := func(f Found) {
		if i, ok := seen[f.Path]; ok {
			if strings.HasPrefix(f.From, "command line") {
				out[i].From = f.From
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
	for _, p := range procs {
		cmd, err := os.ReadFile(filepath.Join(root, "proc", strconv.Itoa(p.PID), "cmdline"))
		if err != nil {
			continue
		}
		if f, ok := fromCommandLine(cmd, p); ok {
			add(f)
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
				add(Found{Path: "/" + rel, Format: format, From: "default path"})
			}
		}
	}
	return out
}

// fromCommandLine reads a configuration path from a NUL-separated command line.
func fromCommandLine(cmdline []byte, p model.Process) (Found, bool) {
	args := strings.Split(strings.TrimRight(string(bytes.TrimRight(cmdline, "\x00")), "\x00"), "\x00")
	if len(args) == 0 {
		return Found{}, false
	}
	name := filepath.Base(args[0])
	// "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf" (nginx rewrites argv).
	if strings.HasPrefix(args[0], "nginx: master process ") {
		args = strings.Fields(strings.TrimPrefix(args[0], "nginx: master process "))
		name = "nginx"
	}
	spec, ok := configFlags[name]
	if !ok {
		spec, ok = configFlags[p.Comm]
		if !ok {
			return Found{}, false
		}
	}
	if _, registered := parsers[spec.format]; !registered {
		return Found{}, false
	}
	from := "command line of pid " + strconv.Itoa(p.PID) + " (" + p.Comm + ")"
	for i := 1; i < len(args); i++ {
		a := args[i]
		for _, flag := range spec.flags {
			if a == flag && i+1 < len(args) {
				return Found{Path: absPath(args[i+1], p), Format: spec.format, From: from}, true
			}
			if strings.HasPrefix(a, flag+"=") {
				return Found{Path: absPath(strings.TrimPrefix(a, flag+"="), p), Format: spec.format, From: from}, true
			}
		}
		if spec.arg && !strings.HasPrefix(a, "-") {
			return Found{Path: absPath(a, p), Format: spec.format, From: from}, true
		}
	}
	return Found{}, false
}

// absPath makes a command-line path absolute; relative ones are relative to the process's
// working directory, which keeptune does not chase: they are kept as given.
func absPath(p string, _ model.Process) string {
	return filepath.Clean(p)
}

// ReadFound parses a discovered file, reading through root (the audited host's /).
func ReadFound(root string, f Found) (*Config, error) {
	p, ok := Lookup(f.Format)
	if !ok {
		return nil, fmt.Errorf("no parser for format %q", f.Format)
	}
	return p.Parse(os.DirFS(root), strings.TrimPrefix(f.Path, "/"))
}
