package cli

import (
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// Every -o json writes "->", "<" and "&" as they are, as audit's does (rules, catalog and plan
// wrote "-\u003e" and "\u0026").
func TestJSONOutputsDoNotEscapeHTML(t *testing.T) {
	for _, args := range [][]string{
		{"rules", "-o", "json"},
		{"catalog", "-o", "json"},
		{"plan", "--root", testutil.FakeRoot(t, testutil.Host{}), "--chain", "../../examples/alb-nginx-node.yaml", "-o", "json"},
	} {
		out, stderr, code := run(t, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, esc := range []string{`\u003e`, `\u003c`, `\u0026`} {
			if strings.Contains(out, esc) {
				t.Errorf("%v writes %s", args, esc)
			}
		}
	}
}
