package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// Inconsistencies lists where the fixes of one run disagree: a setting in one scope (a sysctl
// in a namespace, a hop's side setting) proposed with two values, or more than one new file
// proposed for sysctl lines. Every fix is drawn from the plan, so a run has none; the tests over
// examples, fixtures and the README's scenario check it.
func Inconsistencies(fs []model.Finding) []string {
	proposed := map[string]map[string][]string{} // setting -> value -> rules
	files := map[string][]string{}
	add := func(setting, value, rule string) {
		if proposed[setting] == nil {
			proposed[setting] = map[string][]string{}
		}
		for _, r := range proposed[setting][value] {
			if r == rule {
				return
			}
		}
		proposed[setting][value] = append(proposed[setting][value], rule)
	}
	for _, f := range fs {
		fix := f.Fix
		if fix == nil {
			continue
		}
		scope := f.Namespace
		if fix.Key != "" && fix.Proposed != "" {
			add(scope+" "+fix.Key, fix.Proposed, f.Rule)
		}
		sysctlLines := false
		for _, line := range strings.Split(fix.Line, "\n") {
			if k, v, ok := strings.Cut(line, " = "); ok && strings.Contains(k, ".") && !strings.ContainsAny(k, " ;") {
				add(scope+" "+strings.TrimSpace(k), strings.TrimSpace(v), f.Rule)
				sysctlLines = true
			}
		}
		if sysctlLines && fix.File != "" && fix.FileLine == 0 && strings.HasPrefix(fix.File, "/etc/sysctl.d/") {
			files[fix.File] = append(files[fix.File], f.Rule)
		}
	}
	var out []string
	for setting, values := range proposed {
		if len(values) < 2 {
			continue
		}
		var vs []string
		for v, rules := range values {
			vs = append(vs, fmt.Sprintf("%s (%s)", v, strings.Join(rules, ", ")))
		}
		sort.Strings(vs)
		out = append(out, fmt.Sprintf("%s: %s", strings.TrimSpace(setting), strings.Join(vs, " vs ")))
	}
	if len(files) > 1 {
		var names []string
		for f, rules := range files {
			names = append(names, fmt.Sprintf("%s (%s)", f, strings.Join(rules, ", ")))
		}
		sort.Strings(names)
		out = append(out, "new sysctl files: "+strings.Join(names, " vs "))
	}
	sort.Strings(out)
	return out
}
