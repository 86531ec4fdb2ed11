package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// sysctlInt returns a readable sysctl's value as an integer.
func sysctlInt(list []model.Sysctl, key string) (model.Sysctl, int64, bool) {
	s, ok := model.Lookup(list, key)
	if !ok || !s.Readable {
		return s, 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s.Value), 10, 64)
	if err != nil {
		return s, 0, false
	}
	return s, v, true
}

// evidence describes a sysctl as evidence.
func evidence(s model.Sysctl) model.Evidence {
	return model.Evidence{Name: s.Key, Value: s.Value, Source: s.Source}
}

// seconds renders a count of seconds with its human form: "7200 s (2h)". One style for every
// output: see textfmt.
func seconds(d time.Duration) string { return textfmt.Seconds(d) }

// human renders a duration without zero units or float noise: 2h11m15s, 10m, 1.5s.
func human(d time.Duration) string { return textfmt.Duration(d) }

// nsLabel names a namespace in findings as every text output does.
func nsLabel(ns model.Namespace) string { return netns.Label(ns.Name, ns.Inode) }

// subject names a sysctl in a namespace.
func subject(ns model.Namespace, key string) string {
	return key + " in " + nsLabel(ns)
}

// sysctlDropIn is the one file keeptune proposes for new sysctl lines: the plan's, named to
// win under systemd-sysctl and procps sysctl --system alike.
const sysctlDropIn = plan.DropIn

// editable reports whether an assignment lives in the administrator's own configuration (/etc),
// where changing the line in place is the clean fix; files under /usr/lib and /run belong to
// packages and runtimes and are overridden by a drop-in instead.
func editable(a *model.SysctlAssignment) bool {
	return a != nil && strings.HasPrefix(a.File, "/etc/")
}

// setting is one key = value a fix proposes.
type setting struct {
	sysctl   model.Sysctl
	proposed string
}

// sysctlFix says exactly how to set keys to values in a namespace, persistently.
func sysctlFix(ns model.Namespace, settings ...setting) *model.Fix {
	if len(settings) == 0 {
		return nil
	}
	var lines, applies []string
	for _, s := range settings {
		lines = append(lines, fmt.Sprintf("%s = %s", s.sysctl.Key, s.proposed))
		applies = append(applies, fmt.Sprintf("%s=%s", s.sysctl.Key, s.proposed))
	}
	fix := &model.Fix{Line: strings.Join(lines, "\n")}
	if len(settings) == 1 {
		fix.Key = settings[0].sysctl.Key
		fix.Current = settings[0].sysctl.Value
		fix.Proposed = settings[0].proposed
	}
	if !ns.Current {
		target := "the namespace"
		if len(ns.PIDs) > 0 {
			target = fmt.Sprintf("/proc/%d/ns/net", ns.PIDs[0])
		}
		fix.Apply = fmt.Sprintf("nsenter --net=%s sysctl -w %s", target, strings.Join(applies, " "))
		fix.Note = "To persist, set it where the namespace is made: pod securityContext.sysctls, docker run --sysctl, or the script that runs ip netns add."
		return fix
	}
	fix.Apply = "sysctl -w " + strings.Join(applies, " ")
	if len(settings) == 1 {
		w := settings[0].sysctl.Winner()
		if w != nil && w.Value == settings[0].proposed {
			// The file already says it: the value was never applied, or changed since.
			fix.Line = ""
			fix.Note = fmt.Sprintf("%s:%d already sets %s = %s, but it is not in force: apply it now (sysctl --system applies every file).",
				w.File, w.Line, w.Value, settings[0].proposed)
			return fix
		}
		if editable(w) {
			fix.File, fix.FileLine = w.File, w.Line
			return fix
		}
	}
	var stale []string
	for _, s := range settings {
		for _, a := range s.sysctl.Assignments {
			if strings.HasPrefix(a.File, "/etc/") {
				stale = append(stale, fmt.Sprintf("%s:%d", a.File, a.Line))
			}
		}
	}
	fix.File = sysctlDropIn
	if len(stale) > 0 {
		fix.Note = "The new file is applied after " + strings.Join(stale, ", ") + ", which also set these keys: delete those lines to keep one source of truth."
	}
	return fix
}

// secondsValue formats a duration as the whole-seconds value sysctls take.
func secondsValue(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
