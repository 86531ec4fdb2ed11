// Package plan computes one consistent target for every keepalive and idle-timeout setting of a
// host and its chain, and says how to get there.
//
// The planner reads what audit gathers (the host's namespaces with their sysctls and the files
// that set them, server configurations, the chain with catalog and measured values), the workload
// profile and the expected connection count. It satisfies the hard constraints first (what breaks
// connections: keepalive below every middlebox idle timeout it must refresh, a backend's
// keep-alive above the pool in front of it, ...), then comes as close to the profile as those
// allow and says where the profile had to give way. Where hard constraints cannot all hold it
// names the conflict and the choices, and plans nothing for that setting.
//
// The plan holds exactly one target per setting per scope. audit's and lint's findings draw their
// fixes from it, and `keeptune apply` writes it; these types are its JSON form (docs/json.md,
// "Plan"), so their field names are a contract.
package plan

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/model"
)

// Plan is the one answer: what to change, where, why, and how.
type Plan struct {
	// Host is the host the plan was made for (its hostname).
	Host string `json:"host"`
	// Profile names the workload profile the soft targets come from.
	Profile string `json:"profile"`
	// Changes are the settings whose target differs from what is in force, one per setting per
	// scope, ordered by scope then key.
	Changes []Change `json:"changes"`
	// Kept are the settings the plan looked at and leaves as they are (already at target): the
	// plan has converged for them.
	Kept []Kept `json:"kept"`
	// Removes are the lines to delete elsewhere so that the planned sysctl.d file holds the one
	// truth for its keys (an overridden line, a line in /etc/sysctl.conf that procps would apply
	// after every sysctl.d file).
	Removes []Remove `json:"removes"`
	// Conflicts are settings for which the hard constraints cannot all hold: nothing is planned
	// for them; the choices say what a person can decide.
	Conflicts []Conflict `json:"conflicts"`
	// SysctlFiles are the files to write, with their exact bytes: at most one per host.
	SysctlFiles []SysctlFile `json:"sysctl_files"`
	// ConfigDiffs are unified diffs against the real configuration files, one per file.
	ConfigDiffs []ConfigDiff `json:"config_diffs"`
	// Notes say what the changes cannot (a live change that does not reach existing idle
	// connections, a key Kubernetes treats as unsafe).
	Notes []Note `json:"notes"`
}

// ScopeKind says what kind of place a setting lives in.
type ScopeKind string

const (
	// ScopeHost is the network namespace keeptune runs in (the host's, normally): the one
	// sysctl.d files configure.
	ScopeHost ScopeKind = "host"
	// ScopeNetns is another network namespace (a container, a pod, an `ip netns` namespace).
	ScopeNetns ScopeKind = "netns"
	// ScopeConfig is one block of a server configuration file (an nginx server, an HAProxy
	// section, an Apache VirtualHost).
	ScopeConfig ScopeKind = "config"
	// ScopeHop is one side of a chain hop that no configuration file describes (a runtime's
	// code, a cloud balancer's setting).
	ScopeHop ScopeKind = "hop"
)

// Scope is where one setting lives. Two changes with equal scopes and keys never appear in a
// plan: that is what "one target per setting per scope" means.
type Scope struct {
	Kind ScopeKind `json:"kind"`
	// Name is how people know it: "host", the namespace's name, "nginx server (nginx.conf:12)",
	// "alb (aws-alb)".
	Name string `json:"name"`
	// Netns identifies a network namespace (host and netns scopes).
	Netns *NetnsRef `json:"netns,omitempty"`
	// File and Line locate the configuration block (config scopes); Block names it ("server",
	// "upstream backend", "defaults", "VirtualHost *:80").
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	Block string `json:"block,omitempty"`
	// Hop and Side name a chain hop and its side ("downstream", "upstream", or "" for a
	// middlebox) for hop scopes and for config scopes that belong to a hop.
	Hop  string `json:"hop,omitempty"`
	Side string `json:"side,omitempty"`
}

// ID is a stable, unique key of the scope, for maps and for comparing plans.
func (s Scope) ID() string {
	switch s.Kind {
	case ScopeHost:
		return "host"
	case ScopeNetns:
		if s.Netns != nil {
			return fmt.Sprintf("netns:%d", s.Netns.Inode)
		}
		return "netns:" + s.Name
	case ScopeConfig:
		return fmt.Sprintf("config:%s:%d:%s", s.File, s.Line, s.Block)
	}
	return "hop:" + s.Hop + ":" + s.Side
}

func (s Scope) String() string { return s.Name }

// NetnsRef identifies a network namespace and says how to enter it.
type NetnsRef struct {
	Inode uint64 `json:"inode"`
	// Name is the `ip netns` name when the namespace has one (a file in /run/netns).
	Name string `json:"name,omitempty"`
	// PID is a process living in it, when it has no `ip netns` name.
	PID int `json:"pid,omitempty"`
	// Path is the namespace file that enters it: /run/netns/NAME or /proc/PID/ns/net; empty for
	// the namespace keeptune runs in.
	Path string `json:"path,omitempty"`
}

// Value is a setting's value with where it came from.
type Value struct {
	// Value is written in the setting's own syntax ("600" for a sysctl, "75s" for nginx).
	Value string `json:"value"`
	// Known is false when nobody sets it and keeptune does not know the default.
	Known  bool         `json:"known"`
	Source model.Source `json:"source"`
}

// ReasonKind separates the two classes of constraints.
type ReasonKind string

const (
	// ReasonHard is a constraint whose violation breaks connections (a middlebox forgets the
	// flow, a backend closes a connection the pool is about to reuse).
	ReasonHard ReasonKind = "hard"
	// ReasonProfile is the workload profile's range or recommended value.
	ReasonProfile ReasonKind = "profile"
	// ReasonConsistency keeps a value in line with another planned value (an interval that
	// keeps detection within the profile once the idle time had to give way).
	ReasonConsistency ReasonKind = "consistency"
)

// Reason is one constraint that decided a target.
type Reason struct {
	Kind ReasonKind `json:"kind"`
	// Text says it in one sentence: "idle 80 s, below the profile's 180-300 s, because lvs
	// forgets flows after 90 s".
	Text string `json:"text"`
	// Bound is the limit the constraint sets, in the setting's syntax, and Op how ("<=", ">=",
	// "=", "in" for a profile range "MIN-MAX").
	Op    string `json:"op,omitempty"`
	Bound string `json:"bound,omitempty"`
	// Source is where the constraint comes from (a catalog entry, a chain-file line, a
	// configuration line, the profile).
	Source model.Source `json:"source"`
}

// Change is one setting in one scope that the plan moves to a new value.
type Change struct {
	Scope Scope  `json:"scope"`
	Key   string `json:"key"`
	From  Value  `json:"from"`
	// To is the target, in the setting's own syntax.
	To string `json:"to"`
	// Why lists the constraints that decided To, hard ones first.
	Why []Reason `json:"why"`
	// Apply lists how to make it so, each step ready to paste.
	Apply []Step `json:"apply"`
	// Live says whether Apply has a step that takes effect without a restart or reboot.
	Live bool `json:"live,omitempty"`
}

// StepKind says what a step of Apply is.
type StepKind string

const (
	// StepCommand is a shell command that works as printed (sysctl -w, ip netns exec NAME ...).
	StepCommand StepKind = "command"
	// StepFile says to write a file of SysctlFiles or apply a diff of ConfigDiffs (Text names it).
	StepFile StepKind = "file"
	// StepLine is a line to put into a configuration the plan cannot diff (a chain file, a
	// balancer's settings page).
	StepLine StepKind = "line"
	// StepSnippet is code for a runtime (Go, Java, Python, Node, OkHttp, gRPC).
	StepSnippet StepKind = "snippet"
	// StepPatch is a patch of an orchestrator's object (a pod's securityContext.sysctls).
	StepPatch StepKind = "patch"
)

// Step is one way to apply a change.
type Step struct {
	Kind StepKind `json:"kind"`
	// Where says where it applies: "now" (live), "persist" (survives a reboot), "kubernetes",
	// "docker", "windows", "macos", "freebsd", or a runtime name ("go", "java", ...).
	Where string `json:"where"`
	// Lang is the language of a snippet or patch ("go", "java", "yaml", "sh").
	Lang string `json:"lang,omitempty"`
	// Text is exactly what to run, paste or write: a command works as printed.
	Text string `json:"text"`
	// Note says where Text goes and what it cannot say itself (units, the block of a
	// configuration, when it takes effect).
	Note string `json:"note,omitempty"`
}

// Kept is a setting the plan leaves as it is.
type Kept struct {
	Scope Scope    `json:"scope"`
	Key   string   `json:"key"`
	Value Value    `json:"value"`
	Why   []Reason `json:"why"`
}

// Remove is a line to delete so that one file holds the truth.
type Remove struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Text is the line as it is in the file (without the newline): delete it only if it still
	// reads so.
	Text string `json:"text"`
	// Key is the setting the line sets, and Why says why it must go.
	Key string `json:"key"`
	Why string `json:"why"`
}

// Conflict is a setting whose hard constraints cannot all hold.
type Conflict struct {
	Scope Scope  `json:"scope"`
	Key   string `json:"key"`
	// Constraints are the hard constraints that contradict each other.
	Constraints []Reason `json:"constraints"`
	// Choices are the ways out, each a decision for a person ("raise lvs's timeout to 330 s").
	Choices []string `json:"choices"`
}

// SysctlFile is a sysctl.d file to write.
type SysctlFile struct {
	// Path is where to write it: named and placed so that it wins under both systemd-sysctl and
	// procps `sysctl --system` (together with Removes).
	Path string `json:"path"`
	// Content is the exact bytes to write.
	Content string `json:"content"`
	// Keys are the settings it holds, in file order.
	Keys []string `json:"keys"`
}

// ConfigDiff is a unified diff against one real configuration file.
type ConfigDiff struct {
	File   string `json:"file"`
	Format string `json:"format"`
	// Diff applies with `patch FILE < diff` (its headers name File).
	Diff string `json:"diff"`
	// Check is the server's own syntax check to run after applying it (nginx -t).
	Check string `json:"check,omitempty"`
	// Reload makes the server read it.
	Reload string `json:"reload,omitempty"`
}

// Note is something the changes cannot say by themselves.
type Note struct {
	// Scope is the scope it concerns, if one.
	Scope *Scope `json:"scope,omitempty"`
	Text  string `json:"text"`
}

// Find returns the planned change of a setting in a scope, if any.
func (p *Plan) Find(scope Scope, key string) (*Change, bool) {
	for i := range p.Changes {
		if p.Changes[i].Key == key && p.Changes[i].Scope.ID() == scope.ID() {
			return &p.Changes[i], true
		}
	}
	return nil, false
}

// Target returns the value the plan wants for a setting in a scope: the change's target, or the
// kept value. ok is false when the plan has nothing to say about it (or it is in conflict).
func (p *Plan) Target(scope Scope, key string) (string, bool) {
	if c, ok := p.Find(scope, key); ok {
		return c.To, true
	}
	for _, k := range p.Kept {
		if k.Key == key && k.Scope.ID() == scope.ID() {
			return k.Value.Value, true
		}
	}
	return "", false
}
