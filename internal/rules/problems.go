package rules

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

var factUnreadable = Rule{
	ID: "KT001", Name: "fact-unreadable", Severity: model.SeverityInfo,
	Title:  "A fact could not be read",
	What:   "Reports each fact keeptune could not read (a /proc entry, another user's process, another network namespace) and the privilege that would read it.",
	Why:    "An audit that silently skips what it cannot see looks cleaner than the host is.",
	Fix:    "Run again with the named privilege (usually root, or CAP_SYS_PTRACE for other users' processes), or accept the gap.",
	Source: "proc(5): ptrace access mode checks for /proc/PID/fd, exe and ns",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, p := range in.Snapshot.Problems {
			if p.Location != nil {
				continue // KT002
			}
			msg := fmt.Sprintf("Could not read %s: %s.", p.What, strings.TrimSuffix(p.Err, "."))
			f := model.Finding{Severity: model.SeverityInfo, Subject: p.What, Message: msg}
			if p.Needs != "" {
				f.Fix = &model.Fix{Note: "Run keeptune with " + p.Needs + " to read this."}
			}
			out = append(out, f)
		}
		return out
	},
}

var sysctlSyntax = Rule{
	ID: "KT002", Name: "sysctl-syntax", Severity: model.SeverityWarning,
	Title: "Unreadable line in a sysctl file",
	What:  "Reports lines in sysctl.d and sysctl.conf files that are not `key = value`, a comment or empty.",
	Why: "systemd-sysctl and sysctl --system skip such lines (with a message in the journal nobody " +
		"reads): whatever the author meant to set is not set.",
	Fix:    "Correct the line to `key = value` or comment it out with #.",
	Source: "man sysctl.d(5)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, p := range in.Snapshot.Problems {
			if p.Location == nil {
				continue
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: p.Location.String(),
				Message:  fmt.Sprintf("%s: %s; systemd-sysctl skips this line.", p.What, p.Err),
				Location: p.Location,
				Fix:      &model.Fix{File: p.Location.File, FileLine: p.Location.Line, Note: "Write it as `key = value`, or comment it out with #."},
			})
		}
		return out
	},
}
