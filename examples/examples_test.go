// Package examples holds realistic chain files, each with the findings keeptune must report
// (NAME.golden) and a corrected version (NAME-fixed.yaml) that must produce no warning or error.
package examples

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the .golden files")

func lint(t *testing.T, file string) []model.Finding {
	t.Helper()
	c, err := gather.Chain(context.Background(), file, gather.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Resolve(c.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return rules.Run(&rules.Input{Chain: c, Profile: p, ExpectConnections: c.ExpectConnections}, rules.All())
}

// summary is one line per finding: what a reviewer checks against the incident the example
// describes.
func summary(fs []model.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s %s %s\n  %s\n", f.Severity, f.Rule, f.Subject, f.Message)
		if f.Fix != nil && f.Fix.Line != "" {
			fmt.Fprintf(&b, "  fix: %s\n", strings.ReplaceAll(f.Fix.Line, "\n", "\n       "))
		}
	}
	return b.String()
}

func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	var broken int
	for _, f := range files {
		if strings.HasSuffix(f, "-fixed.yaml") {
			continue
		}
		broken++
		name := strings.TrimSuffix(f, ".yaml")
		t.Run(name, func(t *testing.T) {
			got := summary(lint(t, f))
			golden := name + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./examples -update writes it; review it)", err)
			}
			if got != string(want) {
				t.Errorf("findings differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
			if !strings.Contains(got, "error ") && !strings.Contains(got, "warning ") {
				t.Errorf("%s describes an incident but keeptune finds nothing to warn about", f)
			}
		})
		t.Run(name+"-fixed", func(t *testing.T) {
			fixed := name + "-fixed.yaml"
			fs := lint(t, fixed)
			for _, f := range fs {
				if f.Severity >= model.SeverityWarning {
					t.Errorf("%s: false alarm on the corrected chain: %s %s %s: %s", fixed, f.Severity, f.Rule, f.Subject, f.Message)
				}
			}
		})
	}
	if broken < 6 {
		t.Errorf("%d examples, want at least six", broken)
	}
}

// TestExamplesFixesAgree: no example run proposes two values for one setting in one scope.
func TestExamplesFixesAgree(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		for _, bad := range rules.Inconsistencies(lint(t, f)) {
			t.Errorf("%s: %s", f, bad)
		}
	}
}
