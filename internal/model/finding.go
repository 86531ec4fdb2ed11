package model

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity orders findings. The zero value is invalid on purpose.
type Severity int

const (
	SeverityInfo Severity = iota + 1
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads "info", "warning" or "error".
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info":
		return SeverityInfo, nil
	case "warning", "warn":
		return SeverityWarning, nil
	case "error":
		return SeverityError, nil
	}
	return 0, fmt.Errorf("unknown severity %q: expected info, warning or error", s)
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one thing a rule says about the facts.
type Finding struct {
	Rule     string   `json:"rule"` // stable ID, e.g. KT101
	Severity Severity `json:"severity"`
	// Subject is what the finding is about: "net.ipv4.tcp_keepalive_time in host",
	// "process nginx (pid 812)".
	Subject string `json:"subject"`
	// Namespace names the network namespace concerned, if any.
	Namespace string `json:"namespace,omitempty"`
	// Hops names the chain hops the finding concerns, in chain order (chain rules only): the
	// text report places the finding between them.
	Hops    []string `json:"hops,omitempty"`
	Message string   `json:"message"`
	// Evidence lists the values the conclusion rests on and where each came from.
	Evidence []Evidence `json:"evidence"`
	// Location points at the file line to change, if one exists.
	Location *Location `json:"location,omitempty"`
	Fix      *Fix      `json:"fix,omitempty"`
}

// Evidence is one value a finding rests on.
type Evidence struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// Fix says exactly what to change: never "consider tuning".
type Fix struct {
	// Key is the setting to change (a sysctl key, a directive name).
	Key      string `json:"key,omitempty"`
	Current  string `json:"current,omitempty"`
	Proposed string `json:"proposed,omitempty"`
	// Line is the exact text to write.
	Line string `json:"line,omitempty"`
	// File is where to write Line; when it already sets Key at FileLine, that line is replaced.
	File     string `json:"file,omitempty"`
	FileLine int    `json:"file_line,omitempty"`
	// Apply is the command that makes the change live without a reboot.
	Apply string `json:"apply,omitempty"`
	// Note explains anything the lines above cannot say (a program to change, a pod spec).
	Note string `json:"note,omitempty"`
}

// CompareFindings is the one order every output uses (text, JSON, SARIF, HTML, and rules.Run):
// most severe first, then rule ID, subject and namespace, so two runs over the same facts print
// the same thing in the same place.
func CompareFindings(a, b Finding) int {
	if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Rule, b.Rule); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Subject, b.Subject); c != 0 {
		return c
	}
	return cmp.Compare(a.Namespace, b.Namespace)
}

// SortFindings sorts fs in place in CompareFindings order (stable: equal findings keep the
// order their rule produced them in).
func SortFindings(fs []Finding) { slices.SortStableFunc(fs, CompareFindings) }
