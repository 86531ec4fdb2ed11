package plan

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The configuration diffs: a planned hop-side change whose value comes from a configuration
// file line is made there, in the same block, by editing that line. A setting the file does not
// set yet has no line to edit: its change carries the directive (Directive) to add instead.

// lineEdit rewrites one line of a configuration file for a planned change; ok is false when
// the line is not the form the edit expects (it was changed since, or the value comes from an
// include the plan does not edit).
type lineEdit func(line string, c Change) (string, bool)

// configEdits are the edits keeptune can make, by format and setting key.
var configEdits = map[string]lineEdit{
	"nginx/" + KeyIdleTimeout:   replaceArg(regexp.MustCompile(`^(\s*keepalive_timeout\s+)(\S+?)((\s+\S+)?\s*;.*)$`), nginxDuration),
	"nginx/" + KeyKeepalive:     nginxSoKeepalive,
	"nginx/" + KeyKeepaliveIdle: nginxSoKeepalive,
	"haproxy/" + KeyIdleTimeout: replaceArg(regexp.MustCompile(`^(\s*timeout\s+http-keep-alive\s+)(\S+)(.*)$`), nginxDuration),
	"apache/" + KeyIdleTimeout:  replaceArg(regexp.MustCompile(`(?i)^(\s*KeepAliveTimeout\s+)(\S+)(.*)$`), apacheSeconds),
}

// configChecks are the servers' own syntax checks and reloads.
var configChecks = map[string][2]string{
	"nginx":   {"nginx -t", "nginx -s reload"},
	"haproxy": {"haproxy -c -f %s", "systemctl reload haproxy"},
	"apache":  {"apache2ctl -t", "apache2ctl graceful"},
}

func replaceArg(re *regexp.Regexp, format func(time.Duration) string) lineEdit {
	return func(line string, c Change) (string, bool) {
		m := re.FindStringSubmatch(line)
		d, err := time.ParseDuration(c.To)
		if m == nil || err != nil {
			return "", false
		}
		return m[1] + format(d) + m[3], true
	}
}

func nginxDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// apacheSeconds: KeepAliveTimeout takes seconds, or milliseconds with "ms".
func apacheSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

var soKeepaliveRe = regexp.MustCompile(`\sso_keepalive=\S*?(\s|;)`)
var listenRe = regexp.MustCompile(`^(\s*listen\s+[^;]*?)(\s*;.*)$`)

// nginxSoKeepalive sets listen's so_keepalive=: "on" (the host's timers) or the idle time with
// the interval and count left to the host ("80s::").
func nginxSoKeepalive(line string, c Change) (string, bool) {
	m := listenRe.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	value := "on"
	if c.Key == KeyKeepaliveIdle {
		d, err := time.ParseDuration(c.To)
		if err != nil || d%time.Second != 0 {
			return "", false
		}
		value = nginxDuration(d) + "::"
	}
	head := m[1]
	if loc := soKeepaliveRe.FindStringIndex(head + " "); loc != nil {
		head = strings.TrimRight(head[:loc[0]]+" "+strings.TrimSpace((head + " ")[loc[1]:]), " ")
	}
	return head + " so_keepalive=" + value + m[2], true
}

// configDiffs turns the plan's config-scope changes into one unified diff per file. read
// returns a file's content (nil: no diffs).
func (p *Plan) configDiffs(read func(string) ([]byte, error), formatOf func(file string) string) {
	if read == nil {
		return
	}
	edits := map[string]map[int]string{} // file -> line -> new text
	lines := map[string][]string{}
	formats := map[string]string{}
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Scope.Kind != ScopeConfig || c.Scope.File == "" || c.Scope.Line == 0 {
			continue
		}
		format := formatOf(c.Scope.File)
		edit, ok := configEdits[format+"/"+c.Key]
		if !ok {
			continue
		}
		if _, done := lines[c.Scope.File]; !done {
			data, err := read(c.Scope.File)
			if err != nil {
				p.Notes = append(p.Notes, Note{Scope: &c.Scope, Text: fmt.Sprintf("cannot read %s for a diff (%v): set it by hand", c.Scope.File, err)})
				lines[c.Scope.File] = nil
				continue
			}
			lines[c.Scope.File] = strings.Split(string(data), "\n")
		}
		ls := lines[c.Scope.File]
		if c.Scope.Line > len(ls) {
			continue
		}
		cur := ls[c.Scope.Line-1]
		if prev, ok := edits[c.Scope.File][c.Scope.Line]; ok {
			cur = prev // two changes on one line (so_keepalive on a listen line): both apply
		}
		next, ok := edit(cur, *c)
		if !ok || next == ls[c.Scope.Line-1] {
			continue
		}
		if edits[c.Scope.File] == nil {
			edits[c.Scope.File] = map[int]string{}
		}
		edits[c.Scope.File][c.Scope.Line] = next
		formats[c.Scope.File] = format
		c.Apply = append(c.Apply, Step{Kind: StepFile, Where: "persist", Text: fmt.Sprintf("%s:%d (keeptune plan -o diff)", c.Scope.File, c.Scope.Line)})
	}
	files := make([]string, 0, len(edits))
	for f := range edits {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		d := ConfigDiff{File: f, Format: formats[f], Diff: unifiedDiff(f, lines[f], edits[f])}
		if ck, ok := configChecks[formats[f]]; ok {
			d.Check, d.Reload = ck[0], ck[1]
			if strings.Contains(d.Check, "%s") {
				d.Check = fmt.Sprintf(d.Check, f)
			}
		}
		p.ConfigDiffs = append(p.ConfigDiffs, d)
	}
}

// unifiedDiff writes the diff of replacing some lines of a file, with three lines of context,
// in the form patch(1) reads.
func unifiedDiff(file string, lines []string, edits map[int]string) string {
	const ctx = 3
	n := len(lines)
	if n > 0 && lines[n-1] == "" {
		n-- // the empty string after the final newline is not a line
	}
	var changed []int
	for l := range edits {
		changed = append(changed, l)
	}
	sort.Ints(changed)
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", file, file)
	for i := 0; i < len(changed); {
		start := max(changed[i]-ctx, 1)
		end := min(changed[i]+ctx, n)
		j := i + 1
		for j < len(changed) && changed[j]-ctx <= end+1 {
			end = min(changed[j]+ctx, n)
			j++
		}
		count := end - start + 1
		fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", start, count, start, count)
		for l := start; l <= end; l++ {
			if next, ok := edits[l]; ok {
				fmt.Fprintf(&b, "-%s\n+%s\n", lines[l-1], next)
			} else {
				fmt.Fprintf(&b, " %s\n", lines[l-1])
			}
		}
		i = j
	}
	return b.String()
}
