package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// sysctlDirs are the directories systemd-sysctl reads *.conf files from, highest precedence
// first (paths relative to the root; see the package doc).
var sysctlDirs = []string{
	"etc/sysctl.d",
	"run/sysctl.d",
	"usr/local/lib/sysctl.d",
	"usr/lib/sysctl.d",
	"lib/sysctl.d",
}

// sysctlConfPath is procps' preload file, applied after every sysctl.d file.
const sysctlConfPath = "etc/sysctl.conf"

// confLine is one meaningful line of a sysctl configuration file.
type confLine struct {
	// Key is in dotted form (see normalizeKey) and may be a glob.
	Key string
	// Value has its whitespace normalised; empty for a negative match.
	Value string
	Line  int
	// Text is the line as written, trimmed.
	Text string
	// IgnoreErrors is the leading '-' of an assignment.
	IgnoreErrors bool
	// Exclude marks a negative match: "-key" without '='.
	Exclude bool
}

// confEntry is a confLine with the file it comes from.
type confEntry struct {
	File string // path on the host, "/etc/sysctl.d/99-x.conf"
	confLine
	// ProcpsOnly marks lines only procps `sysctl --system` applies (its last pass over
	// /etc/sysctl.conf).
	ProcpsOnly bool
}

func (e confEntry) assignment() model.SysctlAssignment {
	return model.SysctlAssignment{File: e.File, Line: e.Line, Value: e.Value, Text: e.Text, IgnoreErrors: e.IgnoreErrors, ProcpsOnly: e.ProcpsOnly}
}

// sysctlConfig is the sysctl configuration of a host as systemd-sysctl (at boot) and procps
// `sysctl --system` apply it. Both read the sysctl.d directories in the same order (procps-ng
// 4.0.2 checked: same-named files resolved /etc, /run, /usr/local/lib, /usr/lib, /lib, all
// sorted by name); procps then applies /etc/sysctl.conf once more, last.
type sysctlConfig struct {
	// Files are the files applied, in order, as host paths.
	Files []string
	// Entries are all their lines, in application order.
	Entries  []confEntry
	Problems []model.Problem
	// lastProblems counts the problems the last apply added.
	lastProblems int
}

// loadSysctlConfig reads the sysctl configuration under the root of fsys, following the
// precedence in the package doc. fsys should implement fs.ReadLinkFS (os.DirFS and
// fstest.MapFS do) so that symlinks are resolved inside it; unreadable files become Problems.
func loadSysctlConfig(fsys fs.FS) *sysctlConfig {
	cfg := &sysctlConfig{}
	type candidate struct {
		name     string // basename
		listed   string // host path as systemd names it
		resolved string // fs path with every symlink resolved
	}
	var (
		cands    []candidate
		taken    = map[string]bool{} // basenames decided by a higher-precedence directory
		readDirs = map[string]bool{} // resolved directories already read (merged /usr)
	)
	for _, dir := range sysctlDirs {
		rdir, err := resolveIn(fsys, dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				cfg.problem("/"+dir, err)
			}
			continue
		}
		if readDirs[rdir] {
			continue
		}
		readDirs[rdir] = true
		ents, err := fs.ReadDir(fsys, rdir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				cfg.problem("/"+dir, err)
			}
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".conf") || strings.HasPrefix(name, ".") || taken[name] {
				continue
			}
			listed := "/" + dir + "/" + name
			res, err := resolveIn(fsys, path.Join(rdir, name))
			if res == "dev/null" {
				taken[name] = true // masked
				continue
			}
			if err != nil {
				cfg.problem(listed, fmt.Errorf("broken symbolic link: %w", err))
				continue
			}
			fi, err := fs.Stat(fsys, res)
			if err != nil {
				cfg.problem(listed, err)
				continue
			}
			if fi.IsDir() {
				continue
			}
			taken[name] = true
			if fi.Mode().IsRegular() && fi.Size() == 0 {
				continue // an empty file masks the name too
			}
			cands = append(cands, candidate{name: name, listed: listed, resolved: res})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].name < cands[j].name })

	applied := map[string]bool{}
	for _, c := range cands {
		applied[c.resolved] = true
		cfg.apply(fsys, c.listed, c.resolved, false)
	}
	// procps `sysctl --system` reads /etc/sysctl.conf once more after every sysctl.d file, even
	// when a sysctl.d link (Debian's 99-sysctl.conf) already applied it; systemd-sysctl never
	// reads it by that name. Its lines are therefore applied last by procps alone.
	if res, err := resolveIn(fsys, sysctlConfPath); err == nil {
		if fi, err := fs.Stat(fsys, res); err == nil && fi.Mode().IsRegular() {
			// Problems were reported on the first pass already when a link applied it.
			cfg.apply(fsys, "/"+sysctlConfPath, res, true)
			if applied[res] {
				cfg.Problems = cfg.Problems[:len(cfg.Problems)-cfg.lastProblems]
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		cfg.problem("/"+sysctlConfPath, err)
	}
	return cfg
}

// apply reads one file and appends its lines. procpsOnly marks the lines of procps' last pass
// over /etc/sysctl.conf.
func (c *sysctlConfig) apply(fsys fs.FS, listed, resolved string, procpsOnly bool) {
	c.lastProblems = 0
	data, err := fs.ReadFile(fsys, resolved)
	if err != nil {
		c.problem(listed, err)
		return
	}
	c.Files = append(c.Files, listed)
	lines, probs := parseSysctlConf(listed, data)
	for _, l := range lines {
		c.Entries = append(c.Entries, confEntry{File: listed, confLine: l, ProcpsOnly: procpsOnly})
	}
	c.Problems = append(c.Problems, probs...)
	c.lastProblems = len(probs)
}

func (c *sysctlConfig) problem(file string, err error) {
	p := model.Problem{What: "sysctl configuration " + file, Err: err.Error()}
	if errors.Is(err, fs.ErrPermission) {
		p.Needs = "root"
	}
	c.Problems = append(c.Problems, p)
}

// assignments returns the lines that set key, in the order they take effect: the last one is
// the value in force after boot. It follows systemd-sysctl: an explicit line for key beats every
// glob, a negative match ("-key") drops what came before it and keeps globs away, and among globs
// the one applied last wins, where a glob pattern set again to a different value moves to the end
// (together with its earlier lines, which stay in the list as history).
func (c *sysctlConfig) assignments(key string) []model.SysctlAssignment {
	var out []model.SysctlAssignment
	explicit := false
	for _, e := range c.Entries {
		if e.Key != key {
			continue
		}
		explicit = true
		if e.Exclude {
			out = nil
			continue
		}
		out = append(out, e.assignment())
	}
	if explicit {
		return out
	}
	// systemd keeps glob options in an ordered hash map keyed by the pattern; setting a pattern
	// again to a different value removes it and appends it at the end. Each pattern is reported
	// with every line that set it, so that overridden lines still show as conflicts.
	type glob struct {
		key     string
		value   string
		exclude bool
		lines   []model.SysctlAssignment
	}
	var globs []glob
	for _, e := range c.Entries {
		if !isGlob(e.Key) {
			continue
		}
		i := 0
		for i < len(globs) && globs[i].key != e.Key {
			i++
		}
		if i == len(globs) {
			globs = append(globs, glob{key: e.Key})
		} else if globs[i].exclude != e.Exclude || globs[i].value != e.Value {
			g := globs[i]
			globs = append(append(globs[:i], globs[i+1:]...), g)
			i = len(globs) - 1
		}
		g := &globs[i]
		g.value, g.exclude = e.Value, e.Exclude
		if e.Exclude {
			g.lines = nil
		} else {
			g.lines = append(g.lines, e.assignment())
		}
	}
	for _, g := range globs {
		if !g.exclude && globMatch(g.key, key) {
			out = append(out, g.lines...)
		}
	}
	return out
}

// conflicts returns the keys that more than one line sets to different values: every explicit
// key of the configuration plus extra (keys globs may reach), sorted by key.
func (c *sysctlConfig) conflicts(extra []string) []model.SysctlConflict {
	keys := map[string]bool{}
	for _, e := range c.Entries {
		if !isGlob(e.Key) {
			keys[e.Key] = true
		}
	}
	for _, k := range extra {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []model.SysctlConflict
	for _, k := range sorted {
		as := c.assignments(k)
		if len(as) < 2 {
			continue
		}
		for _, a := range as[1:] {
			if !valuesEqual(a.Value, as[0].Value) {
				out = append(out, model.SysctlConflict{Key: k, Assignments: as})
				break
			}
		}
	}
	return out
}

// parseSysctlConf parses one sysctl.d or sysctl.conf file. file names it in Problems, which
// report lines that are neither comments nor assignments; parsing goes on after them, as
// systemd-sysctl does.
func parseSysctlConf(file string, data []byte) ([]confLine, []model.Problem) {
	var (
		out   []confLine
		probs []model.Problem
	)
	for n := 1; len(data) > 0; n++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		s := strings.TrimSpace(string(raw))
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		l := confLine{Line: n, Text: s}
		key, value, hasEq := strings.Cut(s, "=")
		dash := strings.HasPrefix(key, "-")
		if dash {
			key = key[1:]
		}
		switch {
		case hasEq:
			l.IgnoreErrors = dash
			l.Value = normalizeValue(value)
		case dash:
			l.Exclude = true
		default:
			probs = append(probs, badLine(file, n, s))
			continue
		}
		if l.Key = normalizeKey(strings.TrimSpace(key)); l.Key == "" {
			probs = append(probs, badLine(file, n, s))
			continue
		}
		out = append(out, l)
	}
	return out, probs
}

func badLine(file string, n int, s string) model.Problem {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return model.Problem{
		What:     fmt.Sprintf("%s:%d", file, n),
		Err:      fmt.Sprintf("expected 'key = value', found %q", s),
		Location: &model.Location{File: file, Line: n},
	}
}

// normalizeKey turns a sysctl key into dotted form. Like systemd's sysctl_normalize, a key whose
// first separator is '/' is a /proc/sys path: its slashes become dots and its dots (an interface
// name like eth0.100) become slashes, the convention of sysctl(8). Empty components are dropped.
//
// "." and ".." components are dropped as well: no sysctl has them.
func normalizeKey(k string) string {
	if k == "" {
		return ""
	}
	slash := k
	if i := strings.IndexAny(k, "/."); i >= 0 && k[i] == '.' {
		slash = swapSeparators(k)
	}
	parts := strings.Split(slash, "/")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" && p != "." && p != ".." {
			kept = append(kept, p)
		}
	}
	return swapSeparators(strings.Join(kept, "/"))
}

// swapSeparators exchanges '.' and '/': dotted keys and /proc/sys paths are each other's swap.
func swapSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

// keyPath is the path of a dotted key below /proc/sys.
func keyPath(key string) string { return swapSeparators(key) }

// normalizeValue trims a value and folds runs of whitespace into one space, which is also how
// keeptune prints the multi-number values /proc/sys separates with tabs.
func normalizeValue(v string) string { return strings.Join(strings.Fields(v), " ") }

// valuesEqual compares two normalised values, field by field as decimal integers where both
// are integers ("075" and "75" are the same number to the kernel's parser in base 10).
func valuesEqual(a, b string) bool {
	if a == b {
		return true
	}
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i] == fb[i] {
			continue
		}
		x, okx := parseDecimal(fa[i])
		y, oky := parseDecimal(fb[i])
		if !okx || !oky || x != y {
			return false
		}
	}
	return true
}

func parseDecimal(s string) (int64, bool) {
	var n int64
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func isGlob(key string) bool { return strings.ContainsAny(key, "*?[") }

// globMatch matches a dotted glob against a dotted key with path.Match on their /proc/sys form,
// so that '*' stays within one component as it does for systemd's glob(3).
func globMatch(pattern, key string) bool {
	ok, err := path.Match(keyPath(pattern), keyPath(key))
	return err == nil && ok
}

// maxSymlinks is the kernel's limit on links followed in one lookup (MAXSYMLINKS).
const maxSymlinks = 40

// resolveIn follows the symbolic links in name, a slash-separated path relative to the root of
// fsys, as the kernel would if that root were "/": absolute targets start again at the root and
// ".." never climbs above it. When a component does not exist it returns the path resolved so
// far joined with the rest, together with an error wrapping fs.ErrNotExist, so that callers can
// still see that a link points at "dev/null".
func resolveIn(fsys fs.FS, name string) (string, error) {
	rest := strings.Split(name, "/")
	resolved := "" // the root
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if i := strings.LastIndexByte(resolved, '/'); i >= 0 {
				resolved = resolved[:i]
			} else {
				resolved = ""
			}
			continue
		}
		next := c
		if resolved != "" {
			next = resolved + "/" + c
		}
		fi, err := fs.Lstat(fsys, next)
		if err != nil {
			return path.Join(append([]string{next}, rest...)...), err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("/%s: too many levels of symbolic links", name)
		}
		target, err := fs.ReadLink(fsys, next)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			resolved = ""
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if resolved == "" {
		return ".", nil
	}
	return resolved, nil
}
