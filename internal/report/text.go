package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// lineWidth is what the text output is laid out for. Terminals are at least 80 columns and most
// are wider; 100 keeps a sysctl key, its value and a short source on one line.
const lineWidth = 100

// maxProcessRows is how many processes are listed without Verbose: enough for a server's
// daemons, few enough that the findings stay on screen on a busy node.
const maxProcessRows = 20

// isSecondsKey reports whether a sysctl's value is a number of seconds, shown with a human
// duration beside it: "7200 (2h)" is what an operator compares with a profile.
func isSecondsKey(key string) bool {
	switch key {
	case model.KeyKeepaliveTime, model.KeyKeepaliveIntvl, model.KeyFinTimeout, model.KeyConntrackEstablished:
		return true
	}
	return false
}

// maxKeyColumn is the widest the sysctl key column gets: every per-namespace key keeptune reads
// fits except nf_conntrack_tcp_timeout_established.
const maxKeyColumn = len("net.netfilter.nf_conntrack_count")

// isKeepaliveKey reports whether a sysctl is one of the keepalive triple, which every namespace
// block shows even when equal to the host's.
func isKeepaliveKey(key string) bool {
	switch key {
	case model.KeyKeepaliveTime, model.KeyKeepaliveIntvl, model.KeyKeepaliveProbes:
		return true
	}
	return false
}

// Text writes the report for a person: a header, the facts that matter for connection
// liveness, each chain drawn hop by hop with its findings between the hops, the findings with
// paste-ready fixes, what could not be read, and a summary.
func Text(w io.Writer, r Report, opt TextOptions) error {
	t := &textRenderer{st: style{on: opt.Color}, verbose: opt.Verbose}
	t.header(r)
	if s := r.Snapshot; s != nil {
		t.keepalive(r)
		t.conflicts(s)
		t.sysctlFiles(s)
		t.processes(s)
	}
	findings := sortedFindings(r.Findings)
	t.chains(r, findings)
	t.configs(r)
	t.findings(r, findings)
	t.rules(r, findings)
	t.problems(r.problems())
	t.summary(r, findings)
	_, err := io.WriteString(w, t.b.String())
	return err
}

// textRenderer accumulates the output so that a write error is reported once, at the end.
type textRenderer struct {
	b       strings.Builder
	st      style
	verbose bool
}

func (t *textRenderer) line(s string) { t.b.WriteString(strings.TrimRight(s, " ") + "\n") }

func (t *textRenderer) lines(ls []string) {
	for _, l := range ls {
		t.line(l)
	}
}

// section starts a block with a blank line and a bold title.
func (t *textRenderer) section(title string) {
	t.line("")
	t.line(t.st.bold(title))
}

func (t *textRenderer) header(r Report) {
	tool := cmp.Or(r.Tool.Name, "keeptune")
	if r.Tool.Version != "" {
		tool += " " + r.Tool.Version
	}
	head := strings.TrimSpace(tool + " " + r.Command)
	var note string
	if s := r.Snapshot; s != nil {
		h := s.Host
		head += " of " + cmp.Or(h.Hostname, "unknown host")
		var attrs []string
		if h.Kernel != "" {
			attrs = append(attrs, "kernel "+h.Kernel)
		}
		attrs = append(attrs, "euid "+strconv.Itoa(h.Euid))
		if h.Root != "" && h.Root != "/" {
			attrs = append(attrs, "root "+h.Root)
		}
		head += " (" + strings.Join(attrs, ", ") + ")"
		if needsPrivilege(s.Problems) {
			if h.Euid != 0 {
				note = "not root: some facts could not be read (each is a finding below)"
			} else {
				note = "some facts need a privilege this run lacks (each is a finding below)"
			}
		}
	}
	t.lines(wrap(t.st.bold(head), lineWidth, ""))
	if p := r.Profile; p.Name != "" {
		pl := "profile " + p.Name
		if p.MaxDetection > 0 {
			pl += ": a dead peer must be detected within " + textfmt.Duration(p.MaxDetection)
		}
		t.lines(wrap(pl, lineWidth, "  "))
	}
	if note != "" {
		t.lines(wrap(t.st.warn("note: ")+note, lineWidth, "  "))
	}
}

func needsPrivilege(ps []model.Problem) bool {
	for _, p := range ps {
		if p.Needs != "" {
			return true
		}
	}
	return false
}

// sysctlBlock is one namespace's (or the global) part of the keepalive table.
type sysctlBlock struct {
	title string
	rows  [][]string
	after []string
}

func (t *textRenderer) keepalive(r Report) {
	s := r.Snapshot
	var blocks []sysctlBlock
	host := hostNamespace(s.Namespaces)
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		b := sysctlBlock{title: namespaceTitle(ns)}
		if ns == host {
			for _, sc := range ns.Sysctls {
				b.rows = append(b.rows, sysctlRow(sc))
			}
		} else {
			// Other namespaces repeat the host's values almost always; only the keepalive
			// triple and what differs are worth the lines.
			same := 0
			for _, sc := range ns.Sysctls {
				hs, ok := model.Lookup(host.Sysctls, sc.Key)
				if isKeepaliveKey(sc.Key) || !ok || hs.Value != sc.Value || hs.Readable != sc.Readable {
					b.rows = append(b.rows, sysctlRow(sc))
				} else {
					same++
				}
			}
			if same > 0 {
				b.after = append(b.after, fmt.Sprintf("%s as in %s", plural(same, "more sysctl", "more sysctls"), host.Name))
			}
		}
		b.after = append(b.after, detectionLine(ns.Keepalive, r.Profile))
		if ct := ns.Conntrack; ct != nil {
			b.after = append(b.after, conntrackLine(ct))
		}
		blocks = append(blocks, b)
	}
	if len(s.Global) > 0 {
		b := sysctlBlock{title: "global (not per namespace)"}
		for _, sc := range s.Global {
			b.rows = append(b.rows, sysctlRow(sc))
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return
	}
	t.section("Keepalive and timeouts")
	// One set of column widths for every block, so values line up down the whole section.
	var all [][]string
	for _, b := range blocks {
		all = append(all, b.rows...)
	}
	widths := columnWidths(all)
	// Cap the key column: one 50-character conntrack key would otherwise push every source
	// past the line width. A longer key gets a line to itself, like a long flag in --help.
	if len(widths) > 0 {
		widths[0] = min(widths[0], maxKeyColumn)
	}
	for i, b := range blocks {
		if i > 0 {
			t.line("")
		}
		t.line("  " + t.st.bold(b.title))
		t.lines(table("    ", b.rows, widths, lineWidth))
		for _, a := range b.after {
			t.lines(wrap(a, lineWidth-4, "      ", "    "))
		}
	}
}

// hostNamespace is the namespace keeptune runs in: the one other namespaces are compared to.
func hostNamespace(nss []model.Namespace) *model.Namespace {
	for i := range nss {
		if nss[i].Current {
			return &nss[i]
		}
	}
	if len(nss) > 0 {
		return &nss[0]
	}
	return nil
}

// namespaceTitle names a namespace as sockets and findings do (netns.Label), then what else
// identifies it: its inode where the label is a name other than "host" (the NETNS column of
// `keeptune sockets` shows net:[INODE] for namespaces nothing pinned), whether keeptune runs in
// it, and its first processes.
func namespaceTitle(ns *model.Namespace) string {
	label := netns.Label(ns.Name, ns.Inode)
	var attrs []string
	if inode := netns.Label("", ns.Inode); ns.Inode != 0 && label != inode && label != "host" {
		attrs = append(attrs, inode)
	}
	if ns.Current {
		attrs = append(attrs, "current")
	}
	if len(ns.PIDs) > 0 {
		ps := make([]string, len(ns.PIDs))
		for i, p := range ns.PIDs {
			ps[i] = strconv.Itoa(p)
		}
		attrs = append(attrs, "pids "+strings.Join(ps, " "))
	}
	if len(attrs) == 0 {
		return label
	}
	return fmt.Sprintf("%s (%s)", label, strings.Join(attrs, ", "))
}

func sysctlRow(sc model.Sysctl) []string {
	return []string{sc.Key, sysctlValue(sc), sc.Source.String()}
}

// sysctlValue shows a live value, with a human duration for keys counted in seconds.
func sysctlValue(sc model.Sysctl) string {
	if !sc.Readable {
		return "unreadable"
	}
	if isSecondsKey(sc.Key) {
		if n, err := strconv.ParseInt(sc.Value, 10, 64); err == nil {
			return fmt.Sprintf("%s (%s)", sc.Value, textfmt.Duration(time.Duration(n)*time.Second))
		}
	}
	return cmp.Or(sc.Value, `""`)
}

// detectionLine spells out how long a silent peer on an idle connection goes unnoticed, with
// the arithmetic, because that sum is what the keepalive rules judge.
func detectionLine(k model.KeepaliveSettings, p model.Profile) string {
	d, ok := k.DetectionTime()
	if !ok {
		var missing []string
		for _, m := range []struct {
			name  string
			known bool
		}{{"idle", k.Idle.Known}, {"intvl", k.Interval.Known}, {"probes", k.Count.Known}} {
			if !m.known {
				missing = append(missing, m.name)
			}
		}
		return "dead-peer detection: unknown (" + strings.Join(missing, ", ") + " could not be read)"
	}
	var s string
	if k.UserTimeout.Known && k.UserTimeout.Value > 0 {
		s = fmt.Sprintf("dead-peer detection: first keepalive check at or after TCP_USER_TIMEOUT %s = %s",
			textfmt.Duration(k.UserTimeout.Value), textfmt.Duration(d))
	} else {
		s = fmt.Sprintf("dead-peer detection: idle + intvl*probes = %s + %s*%d = %s",
			textfmt.Duration(k.Idle.Value), textfmt.Duration(k.Interval.Value), k.Count.Value, textfmt.Duration(d))
	}
	if p.Name != "" && p.MaxDetection > 0 {
		s += fmt.Sprintf(" (profile max %s)", textfmt.Duration(p.MaxDetection))
	}
	return s
}

func conntrackLine(ct *model.Conntrack) string {
	var parts []string
	if ct.EstablishedTimeout.Known {
		parts = append(parts, "established flows forgotten after "+textfmt.Duration(ct.EstablishedTimeout.Value)+" idle")
	}
	switch {
	case ct.Count.Known && ct.Max.Known:
		parts = append(parts, fmt.Sprintf("%d of %d entries in use", ct.Count.Value, ct.Max.Value))
	case ct.Max.Known:
		parts = append(parts, fmt.Sprintf("at most %d entries", ct.Max.Value))
	case ct.Count.Known:
		parts = append(parts, fmt.Sprintf("%d entries in use", ct.Count.Value))
	}
	if len(parts) == 0 {
		return "conntrack: loaded, nothing readable"
	}
	return "conntrack: " + strings.Join(parts, "; ")
}

func (t *textRenderer) conflicts(s *model.Snapshot) {
	if len(s.Conflicts) == 0 {
		return
	}
	t.section("Sysctl conflicts (files that set one key to different values)")
	for _, c := range s.Conflicts {
		t.line("  " + c.Key)
		for _, a := range c.Assignments {
			t.line("    " + assignment(a))
		}
		if n := len(c.Assignments); n > 0 {
			t.line("    " + t.st.bold("wins:") + " " + assignment(c.Assignments[n-1]))
		}
	}
}

func assignment(a model.SysctlAssignment) string {
	loc := model.Location{File: a.File, Line: a.Line}.String()
	s := loc + " = " + a.Value
	if a.IgnoreErrors {
		s += " (errors ignored)"
	}
	return s
}

func (t *textRenderer) sysctlFiles(s *model.Snapshot) {
	if !t.verbose || len(s.SysctlFiles) == 0 {
		return
	}
	t.section("Sysctl files, in the order they are applied")
	for i, f := range s.SysctlFiles {
		t.line(fmt.Sprintf("  %2d. %s", i+1, f))
	}
}

func (t *textRenderer) processes(s *model.Snapshot) {
	if len(s.Processes) == 0 {
		return
	}
	t.section(fmt.Sprintf("Processes with TCP sockets (%d)", len(s.Processes)))
	names := map[uint64]string{}
	for _, ns := range s.Namespaces {
		names[ns.Inode] = ns.Name
	}
	// The unit column appears only when some process has one (systemd hosts): it says what to
	// restart or override (LimitNOFILE=) better than the command name does.
	withUnit := false
	for _, p := range s.Processes {
		withUnit = withUnit || p.Unit != ""
	}
	header := []string{"PID", "COMM", "NETNS", "TCP", "NOFILE", "GO", "LISTENING"}
	if withUnit {
		header = slices.Insert(header, 2, "UNIT")
	}
	rows := [][]string{header}
	shown := s.Processes
	if !t.verbose && len(shown) > maxProcessRows {
		shown = shown[:maxProcessRows]
	}
	for _, p := range shown {
		nsLabel := netns.Label(names[p.NetnsInode], p.NetnsInode)
		goVer := "-"
		if p.Go != nil {
			goVer = p.Go.Version
		}
		row := []string{
			strconv.Itoa(p.PID), p.Comm, nsLabel, strconv.Itoa(p.TCPSockets),
			limit(p.NofileSoft) + "/" + limit(p.NofileHard), goVer, listening(p.Listening),
		}
		if withUnit {
			row = slices.Insert(row, 2, cmp.Or(p.Unit, "-"))
		}
		rows = append(rows, row)
	}
	out := table("  ", rows, columnWidths(rows), lineWidth)
	out[0] = t.st.dim(out[0])
	t.lines(out)
	if n := len(s.Processes) - len(shown); n > 0 {
		t.line(fmt.Sprintf("  ... %d more (verbose output lists all)", n))
	}
}

func limit(s model.Setting[int64]) string {
	switch {
	case !s.Known:
		return "?"
	case s.Value < 0:
		return "unlimited"
	}
	return strconv.FormatInt(s.Value, 10)
}

// listening shows up to three listening addresses; a proxy with dozens would push everything
// else off the line.
func listening(ls []string) string {
	const shown = 3
	if len(ls) == 0 {
		return "-"
	}
	if len(ls) <= shown {
		return strings.Join(ls, " ")
	}
	return strings.Join(ls[:shown], " ") + fmt.Sprintf(" +%d", len(ls)-shown)
}

// findingIndent is where a finding's body starts; labels ("fix: ") sit in front of it.
const findingIndent = "  "

func (t *textRenderer) findings(r Report, fs []model.Finding) {
	var last model.Severity
	for _, f := range fs {
		if f.Severity != last {
			last = f.Severity
			n := 0
			for _, g := range fs {
				if g.Severity == f.Severity {
					n++
				}
			}
			t.section(fmt.Sprintf("%s (%d)", severityHeading(f.Severity), n))
		} else {
			t.line("")
		}
		t.finding(r, f)
	}
}

func severityHeading(s model.Severity) string {
	switch s {
	case model.SeverityError:
		return "Errors"
	case model.SeverityWarning:
		return "Warnings"
	case model.SeverityInfo:
		return "Info"
	}
	return "Findings of " + s.String()
}

func (t *textRenderer) finding(r Report, f model.Finding) {
	subject := f.Subject
	if f.Namespace != "" && !strings.Contains(subject, f.Namespace) {
		subject += " (netns " + f.Namespace + ")"
	}
	sev := f.Severity.String()
	// "warning" is the longest severity word: pad to it so rule IDs line up.
	lead := t.st.sev(f.Severity, sev) + strings.Repeat(" ", max(len("warning")-len(sev), 0)+2) + t.st.bold(f.Rule) + "  "
	t.lines(wrap(subject, lineWidth, findingIndent+"    ", lead))
	t.lines(wrap(f.Message, lineWidth, findingIndent))

	t.labelled("evidence", evidenceLines(f.Evidence))
	if f.Location != nil {
		t.labelled("at", []labelValue{{text: f.Location.String()}})
	}
	if f.Fix != nil {
		fixLines, note := fixText(f.Fix)
		var vs []labelValue
		// The fix and apply lines are meant to be pasted: never wrapped.
		for _, l := range fixLines {
			vs = append(vs, labelValue{text: t.st.fix(l)})
		}
		if note != "" {
			vs = append(vs, labelValue{text: "note: " + note, wrap: true})
		}
		t.labelled("fix", vs)
	}
	if t.verbose {
		if ri, ok := r.ruleByID(f.Rule); ok && ri.HelpURI != "" {
			t.labelled("help", []labelValue{{text: cmp.Or(r.Tool.absoluteHelpURI(ri.HelpURI), ri.HelpURI)}})
		}
	}
}

// labelValue is one line of a labelled block in a finding; prose wraps, paste-ready lines do not.
type labelValue struct {
	text string
	wrap bool
}

// labelled prints "name:" once, in front of the first value, and lines the other values up
// under the first.
func (t *textRenderer) labelled(name string, values []labelValue) {
	const labelWidth = len("evidence: ")
	pad := findingIndent + strings.Repeat(" ", labelWidth)
	for i, v := range values {
		lead := pad
		if i == 0 {
			lead = findingIndent + t.st.dim(name+":") + strings.Repeat(" ", labelWidth-len(name)-1)
		}
		if !v.wrap {
			t.line(lead + v.text)
			continue
		}
		t.lines(wrap(v.text, lineWidth, pad+"  ", lead))
	}
}

// fixText says what to change in the words an operator acts on: the line to write and where,
// then the command that applies it now. The note comes back separately because it is prose to
// wrap, while the other lines must stay whole to be pasted.
func fixText(fx *model.Fix) (lines []string, note string) {
	switch {
	case fx.Line != "" && fx.File != "" && fx.FileLine > 0:
		lines = append(lines, fmt.Sprintf("replace line %d of %s with `%s`", fx.FileLine, fx.File, fx.Line))
	case strings.Contains(fx.Line, "\n") && fx.File != "":
		lines = append(lines, "write to "+fx.File+":")
		for _, l := range strings.Split(fx.Line, "\n") {
			lines = append(lines, "    "+l)
		}
	case fx.Line != "" && fx.File != "":
		lines = append(lines, fmt.Sprintf("write `%s` to %s", fx.Line, fx.File))
	case strings.Contains(fx.Line, "\n"):
		lines = append(lines, "set:")
		for _, l := range strings.Split(fx.Line, "\n") {
			lines = append(lines, "    "+l)
		}
	case fx.Line != "":
		lines = append(lines, fmt.Sprintf("set `%s`", fx.Line))
	case fx.File != "" && fx.FileLine > 0:
		lines = append(lines, fmt.Sprintf("edit line %d of %s", fx.FileLine, fx.File))
	case fx.Key != "" && fx.Proposed != "":
		s := fmt.Sprintf("set %s to %s", fx.Key, fx.Proposed)
		if fx.Current != "" {
			s += " (now " + fx.Current + ")"
		}
		lines = append(lines, s)
	}
	if fx.Apply != "" {
		lines = append(lines, "apply now: "+fx.Apply)
	}
	return lines, fx.Note
}

// fixParagraph is fixText as plain lines for places without layout (SARIF messages): one
// instruction per line, so a command is never run together with the prose after it.
func fixParagraph(fx *model.Fix) string {
	lines, note := fixText(fx)
	if len(lines) > 0 {
		lines[0] = "fix: " + lines[0]
	}
	if note != "" {
		lines = append(lines, "note: "+note)
	}
	for i, l := range lines {
		lines[i] = strings.ToUpper(l[:1]) + l[1:] // each line starts with an ASCII label
	}
	return strings.Join(lines, "\n")
}

func (t *textRenderer) rules(r Report, fs []model.Finding) {
	if !t.verbose || len(r.Rules) == 0 {
		return
	}
	t.section(fmt.Sprintf("Rules checked (%d)", len(r.Rules)))
	var rows [][]string
	for _, ri := range r.Rules {
		n := 0
		for _, f := range fs {
			if f.Rule == ri.ID {
				n++
			}
		}
		result := "ok"
		if n > 0 {
			result = plural(n, "finding", "findings")
		}
		rows = append(rows, []string{ri.ID, ri.Severity.String(), result, ri.Title})
	}
	t.lines(table("  ", rows, columnWidths(rows), lineWidth))
}

// problems lists what could not be read. Rules turn each problem into a finding (KT001, KT002),
// so the list repeats them and is shown only in verbose mode.
func (t *textRenderer) problems(ps []model.Problem) {
	if len(ps) == 0 || !t.verbose {
		return
	}
	t.section("Problems")
	for _, p := range ps {
		s := "could not read: " + p.What
		if p.Err != "" {
			s += " (" + p.Err + ")"
		}
		if p.Location != nil {
			s += " at " + p.Location.String()
		}
		if p.Needs != "" {
			s += " — needs " + p.Needs
		}
		t.lines(wrap(s, lineWidth, "    ", "  "))
	}
}

func (t *textRenderer) summary(r Report, fs []model.Finding) {
	c := countFindings(fs)
	var parts []string
	if c.errors > 0 {
		parts = append(parts, t.st.sev(model.SeverityError, plural(c.errors, "error", "errors")))
	}
	if c.warnings > 0 {
		parts = append(parts, t.st.sev(model.SeverityWarning, plural(c.warnings, "warning", "warnings")))
	}
	if c.infos > 0 {
		parts = append(parts, t.st.sev(model.SeverityInfo, plural(c.infos, "info", "info")))
	}
	s := strings.Join(parts, ", ")
	if len(fs) == 0 {
		s = t.st.good("no findings")
	}
	var extra []string
	if n := len(r.Rules); n > 0 {
		extra = append(extra, plural(n, "rule", "rules")+" checked")
	}
	if n := len(r.problems()); n > 0 {
		extra = append(extra, plural(n, "fact", "facts")+" could not be read")
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	t.line("")
	t.line(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// columnWidths is the widest cell of each column (the last column is not padded, so its width
// is not needed but harmless).
func columnWidths(rows [][]string) []int {
	var w []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(w) {
				w = append(w, 0)
			}
			w[i] = max(w[i], visibleLen(c))
		}
	}
	return w
}

// minLastColumn is the narrowest room a table's last column wraps in; narrower, a column of
// two-word lines is harder to read than one line of its own.
const minLastColumn = 20

// table lays out rows in columns two spaces apart. A cell wider than its column ends the line
// and the row goes on below, at the next column. The last column wraps in the room left and
// continues under itself, so a long source never breaks the alignment; when fewer than
// minLastColumn columns are left it goes on its own indented line instead.
func table(indent string, rows [][]string, widths []int, width int) []string {
	var out []string
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		col := visibleLen(indent) // where the current column starts
		for i, c := range r[:len(r)-1] {
			b.WriteString(c)
			col += widths[i] + 2
			if gap := col - visibleLen(b.String()); gap > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			} else {
				out = append(out, strings.TrimRight(b.String(), " "))
				b.Reset()
				b.WriteString(strings.Repeat(" ", col))
			}
		}
		prefix := b.String()
		last := r[len(r)-1]
		room := width - visibleLen(prefix)
		if room < minLastColumn && visibleLen(prefix)+visibleLen(last) > width {
			out = append(out, strings.TrimRight(prefix, " "))
			out = append(out, wrap(last, width, indent+"    ", indent+"    ")...)
			continue
		}
		out = append(out, wrap(last, width, strings.Repeat(" ", visibleLen(prefix)), prefix)...)
	}
	return out
}

// wrap and visibleLen are textfmt's: one wrapper for every output.
func wrap(s string, width int, indent string, first ...string) []string {
	return textfmt.Wrap(s, width, indent, first...)
}

func visibleLen(s string) int { return textfmt.VisibleLen(s) }

// style adds ANSI SGR colour when on; off, every method returns its argument unchanged, so the
// layout code is the same either way.
type style struct{ on bool }

const ansiReset = "\x1b[0m"

func (s style) wrap(code, x string) string {
	if !s.on || x == "" {
		return x
	}
	return "\x1b[" + code + "m" + x + ansiReset
}

func (s style) bold(x string) string { return s.wrap("1", x) }
func (s style) dim(x string) string  { return s.wrap("2", x) }
func (s style) warn(x string) string { return s.wrap("33", x) }
func (s style) good(x string) string { return s.wrap("32", x) }
func (s style) fix(x string) string  { return s.wrap("32", x) }

func (s style) sev(sev model.Severity, x string) string {
	switch sev {
	case model.SeverityError:
		return s.wrap("1;31", x)
	case model.SeverityWarning:
		return s.wrap("1;33", x)
	case model.SeverityInfo:
		return s.wrap("36", x)
	}
	return x
}

// evidenceLines writes a finding's evidence, one value per line with its origin; consecutive
// values from the same origin share one line and name it once ("a = 1, b = 2 (file:3)"): a long
// provenance repeated for each of three keepalive values buried the values themselves.
func evidenceLines(evidence []model.Evidence) []labelValue {
	var out []labelValue
	for i := 0; i < len(evidence); {
		e := evidence[i]
		src := ""
		// Computed values (a detection time) and profile targets carry no origin worth a
		// parenthesis: the header already names the profile and its source.
		if e.Source.Kind != "" && e.Source.Kind != model.SourceProfile {
			src = e.Source.String()
		}
		parts := []string{fmt.Sprintf("%s = %s", e.Name, e.Value)}
		j := i + 1
		for src != "" && j < len(evidence) && evidence[j].Source == e.Source {
			parts = append(parts, fmt.Sprintf("%s = %s", evidence[j].Name, evidence[j].Value))
			j++
		}
		text := strings.Join(parts, ", ")
		if src != "" {
			text += " (" + src + ")"
		}
		out = append(out, labelValue{text: text, wrap: true})
		i = j
	}
	return out
}
