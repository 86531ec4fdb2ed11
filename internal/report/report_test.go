package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and the example in docs/json.md")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/report -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./internal/report -update rewrites it after review):\n%s",
			path, firstDifference(string(want), string(got)))
	}
}

// firstDifference shows where two texts part, with a little context: enough to see what
// changed without a diff tool.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || i >= len(wl) || i >= len(gl) {
			from := max(0, i-2)
			var b strings.Builder
			for j := from; j < i && j < len(gl); j++ {
				fmt.Fprintf(&b, "   %4d  %s\n", j+1, gl[j])
			}
			fmt.Fprintf(&b, "-  %4d  %s\n+  %4d  %s\n", i+1, w, i+1, g)
			return b.String()
		}
	}
	return "(no difference by line)"
}

func render(t *testing.T, format string, r Report, opt TextOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, format, r, opt); err != nil {
		t.Fatalf("Render(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestRenderFormats(t *testing.T) {
	for _, f := range Formats() {
		if out := render(t, f, testReport(), TextOptions{}); len(out) == 0 {
			t.Errorf("format %s wrote nothing", f)
		}
	}
	if out := render(t, " JSON ", testReport(), TextOptions{}); !bytes.HasPrefix(out, []byte("{")) {
		t.Errorf("format names are not case- and space-insensitive: got %.40q", out)
	}
	err := Render(&bytes.Buffer{}, "yaml", testReport(), TextOptions{})
	if err == nil {
		t.Fatal("unknown format accepted")
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not list valid format %q", err, f)
		}
	}
}

// TestRenderersSortAndDoNotMutate: every renderer puts findings in severity, rule, subject
// order, and leaves the caller's Report as it was.
func TestRenderersSortAndDoNotMutate(t *testing.T) {
	r := testReport()
	before := slices.Clone(r.Findings)
	for i := range before {
		before[i].Hops = slices.Clone(before[i].Hops)
	}
	chainBefore := *testChain()
	for _, f := range Formats() {
		render(t, f, r, TextOptions{Verbose: true})
	}
	if !reflect.DeepEqual(before, r.Findings) {
		t.Error("a renderer changed Report.Findings")
	}
	if !reflect.DeepEqual(chainBefore, *r.Chains[0]) {
		t.Error("a renderer changed Report.Chains")
	}
	var got []string
	for _, f := range sortedFindings(r.Findings) {
		got = append(got, f.Severity.String()+" "+f.Rule)
	}
	want := []string{"error KT101", "error KT706", "warning KT002", "warning KT104", "warning KT201",
		"warning KT705", "warning KT705", "warning KT707", "info KT106", "info KT601"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

// TestDegenerateReports: whatever half-empty Report a command builds, no renderer panics and
// the machine formats stay valid.
func TestDegenerateReports(t *testing.T) {
	cases := map[string]Report{
		"zero":           {},
		"empty snapshot": {Snapshot: &model.Snapshot{}},
		"empty namespace": {Snapshot: &model.Snapshot{
			Namespaces: []model.Namespace{{}, {Name: "other"}},
			Processes:  []model.Process{{}},
			Conflicts:  []model.SysctlConflict{{Key: "k"}},
		}},
		"bare finding": {Findings: []model.Finding{{}, {Rule: "X", Fix: &model.Fix{}, Location: &model.Location{}}}},
		"bare chains": {
			Chains: []*model.Chain{nil, {}, {Hops: []model.Hop{
				{},
				{Type: model.HopMiddlebox, Middlebox: &model.Middlebox{}},
				{Type: model.HopProxy, Downstream: &model.Side{}, Upstream: &model.Side{GRPC: &model.GRPCKeepalive{}}},
			}}},
			Findings: []model.Finding{{Hops: []string{""}}, {Hops: []string{"nowhere"}}, {Rule: "X", Hops: []string{"", ""}}},
		},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			for _, f := range Formats() {
				render(t, f, r, TextOptions{Verbose: true, Color: true})
			}
			checkJSONAgainstDocs(t, render(t, "json", r, TextOptions{}), nil)
			validateSARIF(t, render(t, "sarif", r, TextOptions{}))
		})
	}
}
