package apply

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/plan"
)

// Scopes of --only.
const (
	OnlyHost    = "host"    // the sysctl.d file, the removed lines and live values of this namespace
	OnlyNetns   = "netns"   // live values of the other namespaces
	OnlyConfigs = "configs" // server configuration edits
)

// OnlyScopes are the values --only accepts.
var OnlyScopes = []string{OnlyHost, OnlyNetns, OnlyConfigs}

// appliedFormats are the configuration formats apply edits; other formats' diffs are printed.
var appliedFormats = map[string]bool{"nginx": true, "haproxy": true, "apache": true}

// FromPlan turns a plan into the request apply carries out, limited to the scopes in only (all
// when empty). Printed lists what apply does not do itself: Kubernetes patches, code snippets,
// other formats' configuration diffs, and settings of hops no file describes.
func FromPlan(p *plan.Plan, raw []byte, source string, only []string) (req *Request, printed []string, err error) {
	want := map[string]bool{}
	for _, o := range only {
		for _, s := range strings.Split(o, ",") {
			s = strings.TrimSpace(s)
			ok := false
			for _, known := range OnlyScopes {
				ok = ok || s == known
			}
			if !ok {
				return nil, nil, fmt.Errorf("invalid --only %q: expected %s", s, strings.Join(OnlyScopes, ", "))
			}
			want[s] = true
		}
	}
	in := func(s string) bool { return len(want) == 0 || want[s] }
	req = &Request{Plan: raw, Source: source}
	if in(OnlyHost) {
		for _, f := range p.SysctlFiles {
			req.Files = append(req.Files, FileWrite{Path: f.Path, Content: []byte(f.Content)})
		}
		for _, r := range p.Removes {
			req.Removes = append(req.Removes, Remove{File: r.File, Line: r.Line, Text: r.Text})
		}
	}
	for _, c := range p.Changes {
		switch c.Scope.Kind {
		case plan.ScopeHost, plan.ScopeNetns:
			if (c.Scope.Kind == plan.ScopeHost && !in(OnlyHost)) || (c.Scope.Kind == plan.ScopeNetns && !in(OnlyNetns)) {
				continue
			}
			s := SysctlSet{Scope: c.Scope.Name, Key: c.Key, To: c.To}
			if c.From.Known {
				s.From = c.From.Value
			}
			if c.Scope.Netns != nil {
				s.Netns = Netns{Path: c.Scope.Netns.Path, Inode: c.Scope.Netns.Inode}
			}
			if c.Scope.Kind == plan.ScopeNetns && s.Netns.Path == "" {
				return nil, nil, fmt.Errorf("the plan changes %s in namespace %s but gives no way to enter it", c.Key, c.Scope.Name)
			}
			if c.Scope.Kind == plan.ScopeHost {
				s.Netns.Path = "" // this namespace
				s.Scope = "host"
			}
			req.Sysctls = append(req.Sysctls, s)
		case plan.ScopeConfig:
			// Applied through the file's diff below.
		default:
			for _, st := range c.Apply {
				line := fmt.Sprintf("%s %s -> %s (%s): %s", c.Scope.Name, c.Key, c.To, st.Where, st.Text)
				if st.Note != "" {
					line += "\n(" + st.Note + ")" // where it goes: the text alone is what to paste
				}
				printed = append(printed, line)
			}
			if len(c.Apply) == 0 {
				printed = append(printed, fmt.Sprintf("%s %s -> %s", c.Scope.Name, c.Key, c.To))
			}
		}
	}
	for _, d := range p.ConfigDiffs {
		if !appliedFormats[d.Format] {
			printed = append(printed, fmt.Sprintf("%s (%s), not applied by keeptune:\n%s", d.File, d.Format, d.Diff))
			continue
		}
		if in(OnlyConfigs) {
			req.Configs = append(req.Configs, ConfigEdit{Server: d.Format, Path: d.File, Diff: d.Diff})
		}
	}
	return req, printed, nil
}
