// Package report renders what one keeptune run produced: human text for an operator on a
// terminal, a stable JSON document for machines (docs/json.md), and SARIF 2.1.0 for code-scanning
// tools.
//
// The renderers only read a Report: they do no I/O besides writing to the given io.Writer, keep
// no state between calls, and never change the Report they are given (findings are sorted on a
// copy). The CLI decides the format, whether the terminal takes colour, and the exit code.
package report

import (
	"cmp"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// Report is what one run produced.
type Report struct {
	Tool    ToolInfo
	Command string // "audit", "lint", ...
	Profile model.Profile
	// Snapshot holds the host facts; nil for commands that read no host (lint).
	Snapshot *model.Snapshot
	// Chains are the chain files audited or linted (nil when none).
	Chains []*model.Chain
	// Configs are the server configuration files read (lint FILE..., audit's discovered ones).
	Configs []*configs.Config
	// Findings in any order: every renderer sorts them (severity, then rule, then subject) so
	// the output does not depend on the order rules happened to run in.
	Findings []model.Finding
	// Rules lists every rule that ran, whether or not it found anything: SARIF needs a
	// descriptor for each, and the text summary says how many were checked.
	Rules []RuleInfo
	// Options are the run's settings worth echoing to machines (expect-connections, fail-on).
	Options map[string]string
}

// ToolInfo names the program that produced the report.
type ToolInfo struct {
	Name           string // "keeptune"
	Version        string
	InformationURI string // the project's home page; must be an absolute URI to appear in SARIF
	// DocsURI is the absolute URI relative RuleInfo.HelpURI values are resolved against, e.g.
	// "https://github.com/keeptune/keeptune/blob/v0.3.0/" so that "docs/rules.md#kt101" lands on
	// the rules of the version that ran. Empty means InformationURI (taken as a directory).
	DocsURI string
}

// RuleInfo describes one rule.
type RuleInfo struct {
	ID string // KT101
	// Name is the rule's kebab-case name ("keepalive-detection-time"), SARIF's rule name; empty
	// means one made from Title.
	Name  string
	Title string // one line, shown as the SARIF short description
	// Severity is the rule's default severity (a finding may carry another).
	Severity model.Severity
	// HelpURI points at the rule's documentation: absolute, or relative like
	// "docs/rules.md#kt101" (resolved against ToolInfo.DocsURI).
	HelpURI     string
	Description string
}

// TextOptions tune the text renderer.
type TextOptions struct {
	// Color adds ANSI colour. The caller decides (terminal detection, NO_COLOR); the renderer
	// never looks at the environment.
	Color bool
	// Verbose shows every process, the sysctl files in order and every rule that ran.
	Verbose bool
}

// Formats lists the output formats Render accepts, in the order to present them.
func Formats() []string { return []string{"text", "json", "sarif"} }

// Render writes r in the named format: "text", "json" or "sarif".
func Render(w io.Writer, format string, r Report, opt TextOptions) error {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "text":
		return Text(w, r, opt)
	case "json":
		return JSON(w, r)
	case "sarif":
		return SARIF(w, r)
	}
	return fmt.Errorf("unknown output format %q: valid formats are %s", format, strings.Join(Formats(), ", "))
}

// sortedFindings returns the findings in report order (model.CompareFindings) on a copy.
func sortedFindings(in []model.Finding) []model.Finding {
	out := slices.Clone(in)
	model.SortFindings(out)
	return out
}

// counts is the number of findings per severity.
type counts struct{ errors, warnings, infos int }

func countFindings(fs []model.Finding) counts {
	var c counts
	for _, f := range fs {
		switch f.Severity {
		case model.SeverityError:
			c.errors++
		case model.SeverityWarning:
			c.warnings++
		case model.SeverityInfo:
			c.infos++
		}
	}
	return c
}

// problems returns the facts that could not be read (none without a snapshot).
func (r Report) problems() []model.Problem {
	if r.Snapshot == nil {
		return nil
	}
	return r.Snapshot.Problems
}

// ruleByID finds a rule's description.
func (r Report) ruleByID(id string) (RuleInfo, bool) {
	for _, ri := range r.Rules {
		if ri.ID == id {
			return ri, true
		}
	}
	return RuleInfo{}, false
}

// absoluteHelpURI resolves a rule's HelpURI to an absolute URI, or returns "" when it cannot:
// SARIF's helpUri must be absolute, and a relative "docs/rules.md#kt101" means nothing to a
// code-scanning UI. The base is taken as a directory even without a trailing slash, because
// "https://github.com/o/r" + "docs/x.md" must give ".../r/docs/x.md", not ".../o/docs/x.md".
func (t ToolInfo) absoluteHelpURI(help string) string {
	if help == "" {
		return ""
	}
	ref, err := url.Parse(help)
	if err != nil {
		return ""
	}
	if ref.IsAbs() {
		return help
	}
	baseStr := cmp.Or(t.DocsURI, t.InformationURI)
	base, err := url.Parse(baseStr)
	if err != nil || !base.IsAbs() {
		return ""
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
		base.RawPath = ""
	}
	return base.ResolveReference(ref).String()
}
