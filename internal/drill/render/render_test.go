package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/drill"
	"github.com/keeptune/keeptune/keepalive"
)

func d(x time.Duration) *time.Duration { return &x }

func report() drill.Report {
	s := drill.Settings{Label: "explicit <x>", Config: keepalive.Config{Idle: 2 * time.Second, Interval: time.Second, Count: 2}}
	tl := []drill.Event{
		{At: 0, Side: "client", What: "connected"},
		{At: 20 * time.Millisecond, Side: "lab", What: "peer vanishes: blackhole both directions"},
		{At: 2030 * time.Millisecond, Side: "client", What: "keepalive probe 1 sent (unanswered)"},
		{At: 4060 * time.Millisecond, Side: "client", What: "read fails: ETIMEDOUT"},
	}
	return drill.Report{Scenario: "dead-peer", TimeScale: 1, Requested: []drill.Settings{s}, Runs: []drill.Run{
		{Scenario: "dead-peer", Case: "client side", Settings: s, Lab: "IPv4 client-server", Theory: d(4 * time.Second),
			Measured: d(4060 * time.Millisecond), TheoryAt: d(4 * time.Second), TheoryRule: "idle + intvl * probes",
			Expected: "ETIMEDOUT", Outcome: "ETIMEDOUT", Verdict: drill.Pass, Timeline: tl},
		{Scenario: "zombie-flood", Case: "2 clients", Settings: s, Theory: d(4 * time.Second), Measured: d(5 * time.Second),
			Expected: "ETIMEDOUT", Outcome: "1 of 2 reclaimed", Verdict: drill.Late,
			Reclaim: &drill.Reclaim{Sockets: 2, Reclaimed: 1, Max: 5 * time.Second},
			Series:  []drill.Sample{{At: 0, Inuse: 2, FDs: 2, MemBytes: 8192, Theory: 2}, {At: 5 * time.Second, Inuse: 1, FDs: 1, MemBytes: 4096}}},
	}}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, report(), TextOptions{Timelines: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		"CASE", "THEORY", "MEASURED", "VERDICT",
		"client side", "4.000s", "4.060s", "1.015", "PASS", "ETIMEDOUT",
		"LATE", "1 of 2 reclaimed (expected ETIMEDOUT)",
		"2 runs: 1 PASS, 1 LATE",
		"theory (client side): idle + intvl * probes",
		"timeline: client side", "read fails: ETIMEDOUT",
		"AFTER BLACKHOLE",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("text lacks %q:\n%s", w, out)
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, report()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, w := range []string{"<svg", "<circle", "<polyline", "class=\"theory\"", "explicit &lt;x&gt;", "class=\"PASS\"", "class=\"LATE\""} {
		if !strings.Contains(page, w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	if strings.Contains(page, "explicit <x>") {
		t.Errorf("HTML does not escape labels")
	}
	stripped := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import"} {
		if strings.Contains(stripped, bad) {
			t.Errorf("HTML has an external asset or script: %q", bad)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(report())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	runs := got["runs"].([]any)
	r0 := runs[0].(map[string]any)
	for _, k := range []string{"scenario", "settings", "theory_s", "measured_s", "verdict", "timeline"} {
		if _, ok := r0[k]; !ok {
			t.Errorf("run lacks %q", k)
		}
	}
}

func TestTicks(t *testing.T) {
	if got := ticks(4.5, 8); len(got) != 5 || got[1] != 1 {
		t.Errorf("ticks(4.5, 8) = %v", got)
	}
	if got := ticks(0, 5); len(got) != 1 {
		t.Errorf("ticks(0) = %v", got)
	}
}
