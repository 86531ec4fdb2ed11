package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuiltinProfilesMatchTheWorkloadTable(t *testing.T) {
	// keeptune's workload table (docs/profiles.md): its own recommendations, collected from
	// hosting providers' tuning guides.
	want := map[string][6]int{ // idle min/max (s), interval min/max (s), probes min/max
		"general":      {600, 1800, 10, 60, 3, 6},
		"web-frontend": {300, 600, 30, 45, 4, 6},
		"api-gateway":  {180, 300, 20, 30, 5, 6},
		"db-proxy":     {900, 1800, 45, 60, 3, 5},
		"k8s-pod":      {600, 900, 30, 45, 4, 5},
	}
	got := Builtin()
	if len(got) != len(want) {
		t.Fatalf("got %d built-in profiles, want %d", len(got), len(want))
	}
	for _, p := range got {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected profile %q", p.Name)
			continue
		}
		g := [6]int{int(p.Idle.Min / time.Second), int(p.Idle.Max / time.Second), int(p.Interval.Min / time.Second),
			int(p.Interval.Max / time.Second), p.Probes.Min, p.Probes.Max}
		if g != w {
			t.Errorf("%s ranges = %v, want %v", p.Name, g, w)
		}
		if p.MaxDetection != p.Idle.Max+p.Interval.Max*time.Duration(p.Probes.Max) {
			t.Errorf("%s max detection %v is not idle.max + interval.max*probes.max", p.Name, p.MaxDetection)
		}
		// The kernel defaults (7200/75/9: 2h11m15s) must fail every built-in profile.
		if p.MaxDetection >= 7875*time.Second {
			t.Errorf("%s accepts the kernel default detection time", p.Name)
		}
		if p.Description == "" || p.Source == "" {
			t.Errorf("%s lacks a description or source", p.Name)
		}
	}
}

func TestResolve(t *testing.T) {
	p, err := Resolve("")
	if err != nil || p.Name != "general" {
		t.Fatalf("default profile = %q, %v", p.Name, err)
	}
	if _, err := Resolve("api-gatway"); err == nil || !strings.Contains(err.Error(), `did you mean "api-gateway"`) {
		t.Errorf("typo error = %v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	os.WriteFile(file, []byte("name: mine\nkeepalive:\n  idle: {min: 60s, max: 120s}\n  interval: {min: 5s, max: 10s, recommended: 10s}\n  probes: {min: 3, max: 3}\n"), 0o644)
	p, err = Resolve(file)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "mine" || p.Idle.Recommended != 60*time.Second || p.MaxDetection != 150*time.Second || p.Source != file {
		t.Errorf("custom profile = %+v", p)
	}
	if _, err := Resolve(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file error = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	head := "name: x\nkeepalive:\n"
	cases := []struct{ name, doc, want string }{
		{"bare number", head + "  idle: {min: 600, max: 900s}\n  interval: {min: 5s, max: 6s}\n  probes: {min: 1, max: 2}\n",
			`p.yaml:3:15: expected a duration with a unit (ms, s, m, h), found the bare number 600`},
		{"unknown key", head + "  idel: {min: 5s, max: 6s}\n", `p.yaml:3:3: unknown key "idel": did you mean "idle"?`},
		{"min above max", head + "  idle: {min: 900s, max: 600s}\n  interval: {min: 5s, max: 6s}\n  probes: {min: 1, max: 2}\n",
			`p.yaml:3:26: max 10m0s is below min 15m0s`},
		{"probes too many", head + "  idle: {min: 5s, max: 6s}\n  interval: {min: 5s, max: 6s}\n  probes: {min: 1, max: 200}\n",
			`p.yaml:5:25: expected a whole number from 1 to 127, found 200`},
		{"fractional seconds", head + "  idle: {min: 1500ms, max: 6s}\n", `p.yaml:3:15: expected whole seconds`},
		{"missing probes", head + "  idle: {min: 5s, max: 6s}\n  interval: {min: 5s, max: 6s}\n", `p.yaml:3:3: keepalive: missing key "probes"`},
		{"missing keepalive", "name: x\n", `p.yaml:1:1: missing key "keepalive"`},
		{"not yaml", "name: [x\n", `p.yaml:`},
		{"recommended outside", head + "  idle: {min: 5s, max: 6s, recommended: 9s}\n", `p.yaml:3:41: recommended 9s is outside [5s, 6s]`},
		{"retries2 too slow", head + "  idle: {min: 5s, max: 6s}\n  interval: {min: 5s, max: 6s}\n  probes: {min: 1, max: 2}\nunacked: {max_timeout: 1m, retries2: 15}\n",
			`p.yaml:6:24: unacked: retries2 15 gives up after 15m24.6s, longer than max_timeout 1m0s`},
	}
	for _, c := range cases {
		_, err := Parse("p.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := builtinFS.ReadFile("builtin/general.yaml")
	f.Add(data)
	f.Add([]byte("name: x\nkeepalive: {idle: {min: 1s, max: 2s}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("f.yaml", b)
		if err == nil && (p.Idle.Min > p.Idle.Max || p.Probes.Min > p.Probes.Max || p.Name == "") {
			t.Fatalf("accepted an inconsistent profile: %+v", p)
		}
	})
}

// A built-in profile's source says plainly that its ranges are keeptune's choice with no primary
// source behind them: it said "hosting guides' workload table", an unnamed source nobody can check.
func TestBuiltinSourcesAreHonest(t *testing.T) {
	for _, p := range Builtin() {
		if !strings.HasPrefix(p.Source, "keeptune's choice, no primary source") || strings.Contains(p.Source, "hosting guides'") {
			t.Errorf("profile %s: source %q does not say the ranges are keeptune's choice", p.Name, p.Source)
		}
	}
}
