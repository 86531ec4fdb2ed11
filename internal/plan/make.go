package plan

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
)

// Input is what the planner reads: what audit gathers, the profile and the expected load.
type Input struct {
	Snapshot *model.Snapshot
	Chain    *model.Chain
	Configs  []*configs.Config
	Profile  model.Profile
	// ExpectConnections is the number of concurrent connections the host must hold; 0 unknown.
	ExpectConnections int
	// ReadFile reads a configuration file by its path on the host, for the diffs; nil makes
	// no diffs (the changes still carry the directives).
	ReadFile func(path string) ([]byte, error)
}

// SysctlFile is the name of the file the plan writes in /etc/sysctl.d. Both systemd-sysctl and
// procps `sysctl --system` sort sysctl.d files by name and apply them in that order, so "99-zz"
// comes after the usual 99-sysctl.conf (Debian's link to /etc/sysctl.conf) and every "NN-" file;
// procps then applies /etc/sysctl.conf once more, so its lines for the planned keys are among
// the plan's removes.
const DropIn = "/etc/sysctl.d/99-zz-keeptune.conf"

// sysctlFallback is used when a file keeptune cannot remove lines from (/run, /usr/lib) sorts
// after DropIn and sets a planned key.
const sysctlFallback = "/etc/sysctl.d/zzzz-keeptune.conf"

// legacyFiles are names earlier keeptune versions proposed: their lines are the plan's to move.
var legacyFiles = []string{"/etc/sysctl.d/60-keeptune.conf", "/etc/sysctl.d/99-keeptune.conf"}

// Make computes the plan. It is pure: everything it needs is in the input.
func Make(in Input) *Plan {
	p := &Plan{Profile: in.Profile.Name, Changes: []Change{}, Kept: []Kept{}, Removes: []Remove{},
		Conflicts: []Conflict{}, SysctlFiles: []SysctlFile{}, ConfigDiffs: []ConfigDiff{}, Notes: []Note{}}
	snap := in.Snapshot
	if snap == nil {
		snap = &model.Snapshot{}
	}
	p.Host = snap.Host.Hostname
	limits := idleLimits(in.Chain)
	for _, ns := range snap.Namespaces {
		var nsLimits []limit
		if ns.Current {
			nsLimits = limits
		}
		targets := append(planNamespace(&in, ns, nsLimits), planCapacity(&in, ns)...)
		if ns.Current {
			p.planHost(ns, targets)
		} else {
			p.planNetns(ns, targets)
		}
	}
	p.planChain(in.Chain)
	p.configDiffs(in.ReadFile, formatOf(in.Chain))
	return p
}

// hostScope is the scope of the namespace keeptune runs in.
func hostScope(ns model.Namespace) Scope {
	return Scope{Kind: ScopeHost, Name: netns.Label(ns.Name, ns.Inode), Netns: &NetnsRef{Inode: ns.Inode}}
}

// netnsScope is the scope of another namespace, with the way into it: its `ip netns` name
// (which works with no process in it) or a process living in it.
func netnsScope(ns model.Namespace) Scope {
	ref := &NetnsRef{Inode: ns.Inode}
	if name := ipNetnsName(ns.Name); name != "" {
		ref.Name, ref.Path = name, "/run/netns/"+name
	} else if len(ns.PIDs) > 0 {
		ref.PID, ref.Path = ns.PIDs[0], fmt.Sprintf("/proc/%d/ns/net", ns.PIDs[0])
	}
	return Scope{Kind: ScopeNetns, Name: netns.Label(ns.Name, ns.Inode), Netns: ref}
}

// ipNetnsName recovers the `ip netns` name from a namespace's display name ("blue", "blue,
// green (docker 0123)"); "" for names made of processes ("pid 42 nginx") or inodes.
func ipNetnsName(name string) string {
	if name == "" || strings.HasPrefix(name, "pid ") || strings.HasPrefix(name, "net:[") || name == "host" || name == "current" {
		return ""
	}
	name, _, _ = strings.Cut(name, " (")
	name, _, _ = strings.Cut(name, ",")
	return strings.TrimSpace(name)
}

// enter is the command prefix that runs a command in a namespace.
func enter(s Scope) string {
	switch {
	case s.Kind == ScopeHost || s.Netns == nil:
		return ""
	case s.Netns.Name != "":
		return "ip netns exec " + s.Netns.Name + " "
	case s.Netns.Path != "":
		return "nsenter --net=" + s.Netns.Path + " "
	}
	return ""
}

// planHost turns the host namespace's targets into changes, one sysctl.d file and the lines to
// remove elsewhere.
func (p *Plan) planHost(ns model.Namespace, targets []target) {
	scope := hostScope(ns)
	file := DropIn
	for _, t := range targets {
		for _, a := range t.sysctl.Assignments {
			if !removable(a.File) && !a.ProcpsOnly && path.Base(a.File) > path.Base(file) && !valuesEqual(a.Value, t.to) {
				file = sysctlFallback
			}
		}
	}
	var lines []string
	var keys []string
	for _, t := range targets {
		s := t.sysctl
		done := valuesEqual(s.Value, t.to) && settled(s, t.to, file)
		inFile := false
		for _, a := range s.Assignments {
			inFile = inFile || a.File == file
		}
		if !done || inFile {
			lines = append(lines, fmt.Sprintf("%s = %s", s.Key, t.to))
			keys = append(keys, s.Key)
		}
		// Lines elsewhere that set the key go: one file holds the truth. A kept key keeps its
		// own file; only lines that disagree with it go.
		for _, a := range s.Assignments {
			if a.File == file || !removable(a.File) || (done && !inFile && valuesEqual(a.Value, t.to)) {
				continue
			}
			if a.ProcpsOnly && hasLink(s.Assignments, a) {
				continue // the same line, reached through Debian's 99-sysctl.conf: listed once
			}
			text := a.Text
			if text == "" {
				text = fmt.Sprintf("%s = %s", s.Key, a.Value)
			}
			p.addRemove(Remove{File: realFile(a.File), Line: a.Line, Text: text, Key: s.Key,
				Why: removeWhy(a, file, t.to)})
		}
		if done {
			p.Kept = append(p.Kept, Kept{Scope: scope, Key: s.Key, Value: valueOf(s), Why: t.why})
			continue
		}
		c := Change{Scope: scope, Key: s.Key, From: valueOf(s), To: t.to, Why: t.why, Live: true}
		if valuesEqual(s.Value, t.to) {
			c.Why = append(c.Why, Reason{Kind: ReasonConsistency, Source: s.Source,
				Text: fmt.Sprintf("%s is already %s live, but no file makes it so at boot: it is written to %s", s.Key, t.to, file)})
		}
		c.Apply = []Step{
			{Kind: StepCommand, Where: "now", Lang: "sh", Text: fmt.Sprintf("sysctl -w %s=%s", s.Key, t.to)},
			{Kind: StepFile, Where: "persist", Text: fmt.Sprintf("%s: %s = %s", file, s.Key, t.to)},
		}
		c.Apply = append(c.Apply, otherSystems(s.Key, t.to)...)
		p.Changes = append(p.Changes, c)
	}
	if len(p.Changes) > 0 || len(p.Removes) > 0 {
		p.SysctlFiles = append(p.SysctlFiles, SysctlFile{Path: file, Keys: keys, Content: sysctlContent(p.Profile, lines)})
	}
	if keepaliveChanged(p.Changes, scope) {
		p.Notes = append(p.Notes, Note{Scope: &scope, Text: liveNote})
	}
}

// liveNote is what `sysctl -w` of the keepalive keys does not do (net/ipv4/tcp_timer.c: the
// keepalive timer is armed with keepalive_time_when() and re-reads the sysctl only when it fires).
const liveNote = "sysctl -w changes the keepalive values for new sockets and for idle sockets only when their pending keepalive timer next fires: " +
	"the kernel reads tcp_keepalive_time when it arms the timer (keepalive_time_when() in net/ipv4/tcp_timer.c), so a connection idle since before the change " +
	"keeps its old timer, up to the old idle time (2 h with the kernel default). Restart the services whose idle connections must follow now."

func keepaliveChanged(cs []Change, s Scope) bool {
	for _, c := range cs {
		if c.Scope.ID() == s.ID() && strings.HasPrefix(c.Key, "net.ipv4.tcp_keepalive_") {
			return true
		}
	}
	return false
}

// planNetns turns another namespace's targets into changes: applied inside it now, persisted
// where the namespace is made.
func (p *Plan) planNetns(ns model.Namespace, targets []target) {
	scope := netnsScope(ns)
	var changed []target
	for _, t := range targets {
		s := t.sysctl
		if valuesEqual(s.Value, t.to) {
			p.Kept = append(p.Kept, Kept{Scope: scope, Key: s.Key, Value: valueOf(s), Why: t.why})
			continue
		}
		changed = append(changed, t)
		c := Change{Scope: scope, Key: s.Key, From: valueOf(s), To: t.to, Why: t.why}
		if prefix := enter(scope); prefix != "" {
			c.Live = true
			c.Apply = append(c.Apply, Step{Kind: StepCommand, Where: "now", Lang: "sh", Text: prefix + fmt.Sprintf("sysctl -w %s=%s", s.Key, t.to)})
		}
		c.Apply = append(c.Apply, Step{Kind: StepLine, Where: "persist",
			Text: "set it where the namespace is made (see the notes: pod securityContext.sysctls, docker run --sysctl, or the script that runs ip netns add)"})
		p.Changes = append(p.Changes, c)
	}
	if len(changed) == 0 {
		return
	}
	p.Notes = append(p.Notes, Note{Scope: &scope, Text: kubernetesPatch(changed)}, Note{Scope: &scope, Text: dockerFlags(changed)})
	if unsafe := unsafeSysctls(changed); len(unsafe) > 0 {
		p.Notes = append(p.Notes, Note{Scope: &scope, Text: fmt.Sprintf(
			"Kubernetes treats %s as unsafe: the kubelet of the node must allow it (--allowed-unsafe-sysctls=%s, or allowedUnsafeSysctls in the KubeletConfiguration) or the pod is rejected.",
			strings.Join(unsafe, ", "), strings.Join(unsafe, ","))})
	}
	if keepaliveChanged(p.Changes, scope) {
		p.Notes = append(p.Notes, Note{Scope: &scope, Text: liveNote})
	}
}

// settled reports whether every applier leaves the key at value after the plan's file is
// written: procps `sysctl --system` (Winner) and systemd-sysctl (SystemdWinner) agree, no other
// line disagrees, and no file is needed or the plan's file is the one that sets it.
func settled(s model.Sysctl, value, file string) bool {
	if len(s.Assignments) == 0 {
		return s.Source.Kind == model.SourceKernelDefault || s.Source.Kind == model.SourceLive
	}
	w, sw := s.Winner(), s.SystemdWinner()
	if w == nil || sw == nil || !valuesEqual(w.Value, value) || !valuesEqual(sw.Value, value) {
		return false
	}
	for _, a := range s.Assignments {
		if !valuesEqual(a.Value, value) && removable(a.File) {
			return false
		}
		for _, l := range legacyFiles {
			if a.File == l && l != file {
				return false
			}
		}
	}
	return true
}

// removable reports whether a line's file is the administrator's (/etc), where keeptune proposes
// to delete lines; /run and /usr/lib belong to the system and to packages.
func removable(file string) bool { return strings.HasPrefix(file, "/etc/") }

// hasLink reports whether procps' last pass line a was applied already through a sysctl.d link
// (the same line number with the same value in a non-procps assignment).
func hasLink(as []model.SysctlAssignment, a model.SysctlAssignment) bool {
	for _, b := range as {
		if !b.ProcpsOnly && b.Line == a.Line && b.Value == a.Value && realFile(b.File) == a.File {
			return true
		}
	}
	return false
}

// realFile maps Debian's /etc/sysctl.d/99-sysctl.conf link to the file it names, where the line
// is edited.
func realFile(f string) string {
	if f == "/etc/sysctl.d/99-sysctl.conf" {
		return "/etc/sysctl.conf"
	}
	return f
}

func removeWhy(a model.SysctlAssignment, file, to string) string {
	switch {
	case realFile(a.File) == "/etc/sysctl.conf":
		return fmt.Sprintf("procps sysctl --system applies /etc/sysctl.conf after every sysctl.d file: its %s would override %s", a.Value, file)
	case path.Base(a.File) > path.Base(file):
		return fmt.Sprintf("sorts after %s and would override it with %s", file, a.Value)
	}
	return fmt.Sprintf("sets %s, overridden by %s (%s): one file holds the value", a.Value, file, to)
}

func (p *Plan) addRemove(r Remove) {
	for _, x := range p.Removes {
		if x.File == r.File && x.Line == r.Line {
			return
		}
	}
	p.Removes = append(p.Removes, r)
}

// sysctlContent is the exact text of the plan's sysctl.d file.
func sysctlContent(profile string, lines []string) string {
	var b strings.Builder
	b.WriteString("# Written by keeptune plan (profile " + profile + "): one file holds these keys.\n")
	b.WriteString("# Named to sort after every other sysctl.d file; apply with: sysctl --system\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func valueOf(s model.Sysctl) Value {
	return Value{Value: s.Value, Known: s.Readable, Source: s.Source}
}

// valuesEqual compares sysctl values as the kernel's integer parser would ("075" is 75).
func valuesEqual(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == b {
		return true
	}
	x, errx := strconv.ParseInt(a, 10, 64)
	y, erry := strconv.ParseInt(b, 10, 64)
	return errx == nil && erry == nil && x == y
}

// ScopeOf is the scope of a namespace's sysctls: the host scope for the namespace keeptune runs
// in, a netns scope for the others.
func ScopeOf(ns model.Namespace) Scope {
	if ns.Current {
		return hostScope(ns)
	}
	return netnsScope(ns)
}

// Why returns the reasons the plan gives for a setting in a scope (change, kept value or
// conflict), hard ones first.
func (p *Plan) Why(scope Scope, key string) []Reason {
	if c, ok := p.Find(scope, key); ok {
		return c.Why
	}
	for _, k := range p.Kept {
		if k.Key == key && k.Scope.ID() == scope.ID() {
			return k.Why
		}
	}
	for _, c := range p.Conflicts {
		if c.Key == key && c.Scope.ID() == scope.ID() {
			return c.Constraints
		}
	}
	return nil
}

// formatOf names the configuration format of a file: the runtime of the hop that reads it, or
// what its path says.
func formatOf(c *model.Chain) func(string) string {
	return func(file string) string {
		if c != nil {
			for _, h := range c.Hops {
				if h.Config == file && h.Runtime != "" {
					return strings.ToLower(h.Runtime)
				}
			}
		}
		lower := strings.ToLower(file)
		for _, f := range []string{"nginx", "haproxy", "apache", "httpd"} {
			if strings.Contains(lower, f) {
				if f == "httpd" {
					return "apache"
				}
				return f
			}
		}
		return ""
	}
}
