package rules

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

var sysctlNotPersisted = Rule{
	ID: "KT105", Name: "sysctl-not-persisted", Severity: model.SeverityWarning,
	Title: "Live value not backed by any sysctl file",
	What: "For every key keeptune reads in the namespace it runs in, compares the live value with the " +
		"last sysctl.d/sysctl.conf line that sets it (or the kernel default when none does).",
	Why: "A value set with sysctl -w, or by a script, is lost at the next reboot: the host silently " +
		"returns to the file's value or the kernel default, and the tuning everyone relies on is gone. " +
		"A file that disagrees with the live value also means someone's change was never applied.",
	Fix: "Write the live value to the file that wins (or correct the file and apply it with " +
		"sysctl --system). Services that set a key at every start (kube-proxy sets the conntrack " +
		"timeouts and nf_conntrack_max) keep it in effect: this is then informational.",
	Source: "man sysctl.d(5), systemd-sysctl.service(8)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, ns := range in.Snapshot.Namespaces {
			if !ns.Current {
				continue // files are only applied to the namespace systemd-sysctl runs in
			}
			for _, s := range ns.Sysctls {
				// A runtime value, or the kernel default where a file says otherwise (the file was
				// never applied): either way the live value is not the one the files promise.
				unapplied := s.Source.Kind == model.SourceKernelDefault && s.Winner() != nil
				if !s.Readable || (s.Source.Kind != model.SourceRuntime && !unapplied) {
					continue
				}
				sev := model.SeverityWarning
				msg := fmt.Sprintf("%s is %s now, but no sysctl file sets it: it returns to the kernel default %s at the next reboot.", s.Key, s.Value, s.Default)
				if w := s.Winner(); w != nil && unapplied {
					msg = fmt.Sprintf("%s is %s, the kernel default, but %s:%d sets %s: the file was never applied since boot (or the value was reset); the file's value takes effect at the next reboot or with sysctl --system.", s.Key, s.Value, w.File, w.Line, w.Value)
				} else if w != nil {
					msg = fmt.Sprintf("%s is %s now, but %s:%d sets %s: either the file was never applied or someone changed the value since; the file's value returns at the next reboot.", s.Key, s.Value, w.File, w.Line, w.Value)
				}
				if strings.HasPrefix(s.Key, "net.netfilter.") {
					sev = model.SeverityInfo
					msg += " (kube-proxy and some firewalls set conntrack keys at every start; then this is expected.)"
				}
				f := model.Finding{
					Severity: sev, Subject: subject(ns, s.Key), Namespace: nsLabel(ns), Message: msg,
					Evidence: []model.Evidence{evidence(s)},
					Location: nil,
					Fix:      sysctlFixFromPlan(in, ns, setting{sysctl: s, proposed: s.Value}),
				}
				if f.Fix.Proposed == s.Value {
					f.Fix.Apply = "" // the live value is already in force: only persisting is missing
				}
				if w := s.Winner(); w != nil {
					f.Evidence = append(f.Evidence, model.Evidence{Name: "file value", Value: w.Value, Source: model.Source{Kind: model.SourceSysctlFile, File: w.File, Line: w.Line}})
					f.Location = &model.Location{File: w.File, Line: w.Line}
				}
				out = append(out, f)
			}
		}
		return out
	},
}

var sysctlConflict = Rule{
	ID: "KT106", Name: "sysctl-conflict", Severity: model.SeverityWarning,
	Title: "Sysctl files disagree",
	What: "Finds keys that more than one sysctl.d/sysctl.conf file sets to different values, in the " +
		"order systemd-sysctl applies them (files sorted by name across /etc, /run, /usr/local/lib, " +
		"/usr/lib; /etc wins for equal names; /etc/sysctl.conf last with sysctl --system).",
	Why: "Only the last file wins. Whoever edits the earlier file sees no effect, and a package " +
		"update that adds or renames a file can silently change which value wins.",
	Fix:    "Keep the key in one file: delete the lines that lose, or move the value you want into the file that wins.",
	Source: "man sysctl.d(5): configuration directories and precedence",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, c := range in.Snapshot.Conflicts {
			if len(c.Assignments) < 2 {
				continue
			}
			win := c.Assignments[len(c.Assignments)-1]
			var ev []model.Evidence
			var losers []string
			for i, a := range c.Assignments {
				name := "overridden"
				if i == len(c.Assignments)-1 {
					name = "wins"
				} else {
					losers = append(losers, fmt.Sprintf("%s:%d", a.File, a.Line))
				}
				ev = append(ev, model.Evidence{Name: name, Value: a.Value, Source: model.Source{Kind: model.SourceSysctlFile, File: a.File, Line: a.Line}})
			}
			fix := &model.Fix{Key: c.Key, Current: win.Value,
				Note: "Delete the overridden lines (" + strings.Join(losers, ", ") + ") so that one file holds " + c.Key + "."}
			if f, ok := planFix(in, currentNamespace(in.Snapshot), c.Key); ok {
				fix = f
				if f.Line == "" {
					// The plan keeps the winning value: the fix is its removes.
					fix = &model.Fix{Key: c.Key, Current: win.Value, Note: removesNote(in.thePlan(), c.Key, f.Note)}
				}
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: c.Key,
				Message: fmt.Sprintf("%s is set by %d files with different values; %s:%d wins with %s and overrides %s.",
					c.Key, len(c.Assignments), win.File, win.Line, win.Value, strings.Join(losers, ", ")),
				Evidence: ev,
				Location: &model.Location{File: win.File, Line: win.Line},
				Fix:      fix,
			})
		}
		return out
	},
}
