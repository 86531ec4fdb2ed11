package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Request is what to change, drawn from a plan (see FromPlan).
type Request struct {
	// Plan is stored verbatim with the journal entry.
	Plan []byte
	// Source names where the plan came from (a file, or "planned at apply").
	Source string
	// Files are whole files to write: the plan's sysctl.d file.
	Files []FileWrite
	// Removes are lines to delete from sysctl configuration files.
	Removes []Remove
	// Sysctls are live values to set, per namespace.
	Sysctls []SysctlSet
	// Configs are server configuration edits (checked, swapped in, reloaded).
	Configs []ConfigEdit
}

// FileWrite is a whole file the plan writes.
type FileWrite struct {
	Path    string
	Content []byte
}

// Remove is one line the plan deletes: File's line Line (from 1) must still read Text.
type Remove struct {
	File string
	Line int
	Text string
}

// SysctlSet is one live value: Key in Netns goes From -> To. From empty means the plan did not
// know it (no drift check).
type SysctlSet struct {
	Scope    string
	Netns    Netns
	Key      string
	From, To string
}

// Options steer Apply and Rollback.
type Options struct {
	// Root is prepended to every file path (tests); empty means /.
	Root string
	// Sysctls reads and writes live values; nil means ProcSysctls.
	Sysctls Sysctls
	// DryRun computes and reports the steps but changes nothing (and writes no journal).
	DryRun bool
	// Force makes rollback restore files and values someone changed since the apply.
	Force bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Servers checks and reloads server configurations; nil means the real servers.
	Servers ServerControl
	now     func() time.Time
}

func (o *Options) sysctls() Sysctls {
	if o.Sysctls == nil {
		return ProcSysctls{}
	}
	return o.Sysctls
}

func (o *Options) log(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (o *Options) path(p string) string {
	if o.Root == "" {
		return p
	}
	return filepath.Join(o.Root, p)
}

// Step is one change apply makes (or found already made).
type Step struct {
	Kind   string `json:"kind"` // "file", "remove", "sysctl", "config", "reload"
	Target string `json:"target"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	// Status is "done", "already" (nothing to do), "would" (dry run).
	Status string `json:"status"`
}

// Result is what Apply did.
type Result struct {
	// ID is the journal entry ("" when nothing changed).
	ID string `json:"id,omitempty"`
	// Recovered lists interrupted applies undone and rollbacks finished before this one.
	Recovered []string `json:"recovered,omitempty"`
	Steps     []Step   `json:"steps"`
	// NothingToDo is true when every planned value already holds.
	NothingToDo bool `json:"nothing_to_do"`
}

// Drift is a planned `from` that no longer holds.
type Drift struct {
	What    string `json:"what"`
	Planned string `json:"planned"`
	Now     string `json:"now"`
}

// DriftError is returned, with nothing changed, when the host is not what the plan saw.
type DriftError struct{ Drifts []Drift }

func (e *DriftError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the host changed since the plan was made (%d difference(s)); nothing was changed:", len(e.Drifts))
	for _, d := range e.Drifts {
		fmt.Fprintf(&b, "\n  %s: the plan expected %q, now %q", d.What, d.Planned, d.Now)
	}
	return b.String()
}

// pending is the work Apply found to do, with the entry that records it.
type pending struct {
	entry  *Entry
	blobs  map[string][]byte
	writes [][]byte // new content per entry.Files index
	steps  []Step
	drifts []Drift
	edits  []*configWork // per entry.Files index of config files, nil otherwise
}

// allowedSysctlFile reports whether apply may write or edit path: sysctl.d files and
// /etc/sysctl.conf, nothing else under /etc.
func allowedSysctlFile(path string) bool {
	clean := filepath.Clean(path)
	if clean == "/etc/sysctl.conf" {
		return true
	}
	dir, base := filepath.Split(clean)
	return dir == "/etc/sysctl.d/" && strings.HasSuffix(base, ".conf") && !strings.HasPrefix(base, ".")
}

// resolve follows symlinks of a path below Root (Debian's /etc/sysctl.d/99-sysctl.conf ->
// ../sysctl.conf) so that the link stays a link and the file it names is edited.
func (o *Options) resolve(p string) (string, error) {
	full := o.path(p)
	real, err := filepath.EvalSymlinks(full)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return "", err
	}
	if o.Root == "" {
		return real, nil
	}
	rootReal, err := filepath.EvalSymlinks(o.Root)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rootReal, real)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s points outside %s", p, o.Root)
	}
	return "/" + rel, nil
}

// prepare reads the host, checks every planned `from`, and builds the journal entry.
func prepare(req *Request, o *Options) (*pending, error) {
	p := &pending{entry: &Entry{Source: req.Source, Files: []FileRecord{}, Sysctls: []SysctlRecord{}}, blobs: map[string][]byte{}}
	seen := map[string]bool{}
	addFile := func(path, why string, now fileNow, next []byte, mode fs.FileMode, w *configWork) error {
		if seen[path] {
			return fmt.Errorf("the plan changes %s twice", path)
		}
		seen[path] = true
		n := len(p.entry.Files)
		rec := FileRecord{Path: path, Why: why, Existed: now.exists, AfterSHA256: sum(next), AfterMode: mode, After: fmt.Sprintf("file-%d.after", n)}
		if now.exists {
			m := now.meta
			rec.Before = &m
			rec.Backup = fmt.Sprintf("file-%d.before", n)
			p.blobs[rec.Backup] = now.data
		}
		p.blobs[rec.After] = next
		p.entry.Files = append(p.entry.Files, rec)
		p.writes = append(p.writes, next)
		p.edits = append(p.edits, w)
		return nil
	}
	for _, f := range req.Files {
		if !allowedSysctlFile(f.Path) {
			return nil, fmt.Errorf("the plan writes %s: apply writes only sysctl.d files (/etc/sysctl.d/*.conf)", f.Path)
		}
		path, err := o.resolve(f.Path)
		if err != nil {
			return nil, err
		}
		now, err := readFileNow(o.path(path))
		if err != nil {
			return nil, err
		}
		if now.exists && bytes.Equal(now.data, f.Content) {
			p.steps = append(p.steps, Step{Kind: "file", Target: path, Status: "already"})
			continue
		}
		mode := fs.FileMode(0o644)
		if now.exists {
			mode = now.meta.Mode
		}
		if err := addFile(path, "sysctl_file", now, f.Content, mode, nil); err != nil {
			return nil, err
		}
		p.steps = append(p.steps, Step{Kind: "file", Target: path, To: fmt.Sprintf("%d bytes", len(f.Content))})
	}
	byFile := map[string][]Remove{}
	var order []string
	for _, r := range req.Removes {
		if !allowedSysctlFile(r.File) {
			return nil, fmt.Errorf("the plan removes a line from %s: apply edits only /etc/sysctl.conf and /etc/sysctl.d/*.conf", r.File)
		}
		path, err := o.resolve(r.File)
		if err != nil {
			return nil, err
		}
		if !allowedSysctlFile(path) {
			return nil, fmt.Errorf("%s is a link to %s: apply edits only /etc/sysctl.conf and /etc/sysctl.d/*.conf", r.File, path)
		}
		if _, ok := byFile[path]; !ok {
			order = append(order, path)
		}
		byFile[path] = append(byFile[path], r)
	}
	for _, path := range order {
		now, err := readFileNow(o.path(path))
		if err != nil {
			return nil, err
		}
		if !now.exists {
			for _, r := range byFile[path] {
				p.steps = append(p.steps, Step{Kind: "remove", Target: fmt.Sprintf("%s:%d", path, r.Line), From: r.Text, Status: "already"})
			}
			continue
		}
		next, steps, drifts := removeLines(path, now.data, byFile[path])
		p.steps = append(p.steps, steps...)
		p.drifts = append(p.drifts, drifts...)
		if len(drifts) == 0 && !bytes.Equal(next, now.data) {
			if err := addFile(path, "remove_lines", now, next, now.meta.Mode, nil); err != nil {
				return nil, err
			}
		}
	}
	if err := prepareConfigs(req.Configs, o, p, addFile); err != nil {
		return nil, err
	}
	for _, s := range req.Sysctls {
		cur, err := o.sysctls().Read(s.Netns, s.Key)
		if err != nil {
			return nil, err
		}
		target := fmt.Sprintf("%s in %s", s.Key, scopeName(s))
		switch {
		case cur == normalize(s.To):
			p.steps = append(p.steps, Step{Kind: "sysctl", Target: target, From: cur, To: s.To, Status: "already"})
		case s.From != "" && cur != normalize(s.From):
			p.drifts = append(p.drifts, Drift{What: target, Planned: s.From, Now: cur})
		default:
			p.entry.Sysctls = append(p.entry.Sysctls, SysctlRecord{Scope: s.Scope, Netns: s.Netns, Key: s.Key, Before: cur, After: normalize(s.To)})
			p.steps = append(p.steps, Step{Kind: "sysctl", Target: target, From: cur, To: s.To})
		}
	}
	return p, nil
}

func scopeName(s SysctlSet) string {
	if s.Scope != "" {
		return s.Scope
	}
	return s.Netns.String()
}

// removeLines deletes the planned lines from data. A line is removed when it still reads as
// planned; a plan whose line is gone from the file entirely was applied already; anything else is
// drift.
func removeLines(path string, data []byte, rs []Remove) ([]byte, []Step, []Drift) {
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	drop := map[int]bool{}
	var steps []Step
	var drifts []Drift
	for _, r := range rs {
		target := fmt.Sprintf("%s:%d", path, r.Line)
		want := strings.TrimSpace(r.Text)
		if r.Line >= 1 && r.Line <= len(lines) && strings.TrimSpace(lines[r.Line-1]) == want {
			drop[r.Line-1] = true
			steps = append(steps, Step{Kind: "remove", Target: target, From: r.Text})
			continue
		}
		found := false
		for _, l := range lines {
			if strings.TrimSpace(l) == want {
				found = true
			}
		}
		if !found {
			steps = append(steps, Step{Kind: "remove", Target: target, From: r.Text, Status: "already"})
			continue
		}
		now := "(no such line)"
		if r.Line >= 1 && r.Line <= len(lines) {
			now = strings.TrimRight(lines[r.Line-1], "\r\n")
		}
		drifts = append(drifts, Drift{What: target, Planned: r.Text, Now: now})
	}
	var b strings.Builder
	for i, l := range lines {
		if !drop[i] {
			b.WriteString(l)
		}
	}
	return []byte(b.String()), steps, drifts
}

// Apply makes the changes of req. It first recovers from an interrupted apply or rollback,
// then checks every planned `from` against the host (refusing with a *DriftError and changing
// nothing when one no longer holds), writes the journal entry durably, and only then changes
// files, configurations and live values, one atomic step at a time.
func Apply(j *Journal, req *Request, o Options) (*Result, error) {
	res := &Result{}
	if !o.DryRun {
		rec, err := Recover(j, o)
		res.Recovered = rec
		if err != nil {
			return res, err
		}
	}
	p, err := prepare(req, &o)
	if err != nil {
		return res, err
	}
	if len(p.drifts) > 0 {
		return res, &DriftError{Drifts: p.drifts}
	}
	if len(p.entry.Files) == 0 && len(p.entry.Sysctls) == 0 {
		res.Steps = p.steps
		res.NothingToDo = true
		return res, nil
	}
	if o.DryRun {
		for i := range p.steps {
			if p.steps[i].Status == "" {
				p.steps[i].Status = "would"
			}
		}
		res.Steps = p.steps
		return res, nil
	}
	// Configuration edits are checked with the server's own check before anything changes.
	if err := checkConfigs(p, &o); err != nil {
		return res, err
	}
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	e := p.entry
	e.Created = now().UTC()
	e.ID = newID(e.Created)
	e.State = StateApplying
	failpoint("apply:journal:before")
	if err := j.create(e, req.Plan, p.blobs); err != nil {
		return res, fmt.Errorf("journal: %w (nothing was changed)", err)
	}
	res.ID = e.ID
	failpoint("apply:journal:written")
	for i, f := range e.Files {
		mode, uid, gid := f.AfterMode, 0, 0
		if f.Before != nil {
			uid, gid = f.Before.UID, f.Before.GID
		}
		if err := writeAtomic(o.path(f.Path), p.writes[i], mode, uid, gid, 0); err != nil {
			return res, o.undoAfterFailure(j, e, fmt.Errorf("write %s: %w", f.Path, err))
		}
		o.log("wrote %s", f.Path)
		failpoint(fmt.Sprintf("apply:file:%d", i))
	}
	if err := reloadConfigs(j, e, p, &o); err != nil {
		return res, o.undoAfterFailure(j, e, err)
	}
	for i, s := range e.Sysctls {
		if err := o.sysctls().Write(s.Netns, s.Key, s.After); err != nil {
			return res, o.undoAfterFailure(j, e, err)
		}
		o.log("set %s = %s in %s (was %s)", s.Key, s.After, scopeName(SysctlSet{Scope: s.Scope, Netns: s.Netns}), s.Before)
		failpoint(fmt.Sprintf("apply:sysctl:%d", i))
	}
	if err := j.setState(e, StateApplied, ""); err != nil {
		return res, fmt.Errorf("journal: %w (the changes are made; `keeptune rollback %s` undoes them)", err, e.ID)
	}
	failpoint("apply:done")
	for i := range p.steps {
		if p.steps[i].Status == "" {
			p.steps[i].Status = "done"
		}
	}
	res.Steps = p.steps
	return res, nil
}

// undoAfterFailure rolls back a half-done apply after a step failed, and says what happened.
func (o *Options) undoAfterFailure(j *Journal, e *Entry, cause error) error {
	if _, err := rollbackEntry(j, e, *o, "undone after a failed step: "+cause.Error()); err != nil {
		return fmt.Errorf("%w; undoing the steps already made failed too: %v (run `keeptune rollback %s`)", cause, err, e.ID)
	}
	return fmt.Errorf("%w (the steps already made were undone)", cause)
}

// ensure os is used on every platform.
var _ = os.Getpid
