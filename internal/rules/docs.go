package rules

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders docs/rules.md from the rules' own documentation, so the two cannot drift.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("# keeptune rules\n\n")
	b.WriteString("Generated from internal/rules by `go test ./internal/rules -run TestRulesDoc -update`; do not edit by hand.\n\n")
	b.WriteString("Every finding names its rule. Select rules with `--enable` / `--disable` (IDs or names, comma separated);\n")
	b.WriteString("`--fail-on` sets the severity that makes keeptune exit 1.\n\n")
	b.WriteString("| ID | name | severity (highest) | title |\n|---|---|---|---|\n")
	for _, r := range All() {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Name, r.Severity, r.Title)
	}
	for _, r := range All() {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		fmt.Fprintf(&b, "**%s** (`%s`, up to %s)\n\n", r.Title, r.Name, r.Severity)
		fmt.Fprintf(&b, "- **What:** %s\n- **Why:** %s\n- **Fix:** %s\n- **Source:** %s\n", r.What, r.Why, r.Fix, r.Source)
	}
	return b.Bytes()
}
