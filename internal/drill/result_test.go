package drill

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/keepalive"
)

func TestJudge(t *testing.T) {
	theory := 4 * time.Second
	for _, tc := range []struct {
		measured time.Duration
		want     Verdict
	}{
		{4 * time.Second, Pass},
		{4*time.Second - 8*time.Millisecond, Pass},   // two jiffies of measurement resolution
		{4*time.Second - 12*time.Millisecond, Early}, // a timer fired early: theory is wrong
		{4500 * time.Millisecond, Pass},              // 12.5% late
		{4528 * time.Millisecond, Pass},              // + 2 jiffies + slack
		{4529 * time.Millisecond, Late},
	} {
		if got := Judge(theory, tc.measured); got != tc.want {
			t.Errorf("Judge(%v, %v) = %v, want %v", theory, tc.measured, got, tc.want)
		}
	}
}

func TestReportJSON(t *testing.T) {
	s := Settings{Label: "explicit", Config: keepalive.Config{Idle: 2 * time.Second, Interval: time.Second, Count: 2}}
	rep := Report{Scenario: "dead-peer", TimeScale: 1, Requested: []Settings{s}, Runs: []Run{
		{Scenario: "dead-peer", Case: "client side", Settings: s, Theory: dur(4 * time.Second), Measured: dur(4100 * time.Millisecond), Verdict: Pass, Expected: "ETIMEDOUT", Outcome: "ETIMEDOUT"},
		{Scenario: "dead-peer", Case: "client side", Settings: s, Theory: dur(4 * time.Second), Measured: dur(4300 * time.Millisecond), Verdict: Pass},
		{Scenario: "dead-peer", Case: "client side", Settings: s, Theory: dur(4 * time.Second), Measured: dur(4000 * time.Millisecond), Verdict: Pass},
		{Scenario: "nat-expiry", Case: "server", Settings: s, Verdict: Pass, Outcome: "survives"},
	}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Runs    []map[string]any `json:"runs"`
		Summary Summary          `json:"summary"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "settings", "theory_s", "measured_s", "verdict"} {
		if _, ok := got.Runs[0][k]; !ok {
			t.Errorf("run JSON lacks %q: %s", k, b)
		}
	}
	if got.Runs[0]["theory_s"] != 4.0 || got.Runs[0]["measured_s"] != 4.1 {
		t.Errorf("theory_s/measured_s = %v/%v", got.Runs[0]["theory_s"], got.Runs[0]["measured_s"])
	}
	if got.Runs[3]["theory_s"] != nil {
		t.Errorf("a run without theory must have theory_s null")
	}
	if !strings.Contains(string(b), `"idle_s":2`) {
		t.Errorf("settings not in seconds: %s", b)
	}
	r := got.Summary.Ratios
	if len(r) != 1 || r[0].Runs != 3 || r[0].Median != 1.025 || r[0].Worst != 1.075 {
		t.Errorf("summary ratios = %+v", r)
	}
}

func TestParseProcFiles(t *testing.T) {
	if n := ParseSockstatInuse([]byte("sockets: used 5\nTCP: inuse 1001 orphan 0 tw 0 alloc 1003 mem 2\nUDP: inuse 0 mem 0\n")); n != 1001 {
		t.Errorf("sockstat inuse = %d", n)
	}
	if n := ParseSockstatInuse([]byte("TCP6: inuse 7\nUDP6: inuse 0\n")); n != 7 {
		t.Errorf("sockstat6 inuse = %d", n)
	}
	slab := "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> ...\nTCPv6 40 40 2560 12 8 : tunables 0 0 0\nTCP 52 52 2368 13 8 : tunables 0 0 0\n"
	if n := ParseSlabObjSize([]byte(slab), "TCP"); n != 2368 {
		t.Errorf("TCP objsize = %d", n)
	}
	if n := ParseSlabObjSize([]byte(slab), "UDP"); n != 0 {
		t.Errorf("missing cache = %d", n)
	}
}

// drill -o json writes "<", "->" and "&" of theory rules, notes, events and labels as they are,
// like every verb's -o json (the MarshalJSON methods used json.Marshal, which writes "\u003c",
// and the verb's non-escaping encoder cannot undo that).
func TestReportJSONDoesNotEscapeHTML(t *testing.T) {
	s := Settings{Label: "profile a&b", Config: keepalive.Config{Idle: 4 * time.Second, Interval: time.Second, Count: 5}}
	rule := "keepalive idle 4s < NAT timeout 7s: every probe refreshes the NAT's entry"
	rep := Report{Scenario: "nat-expiry", TimeScale: 1, Requested: []Settings{s}, Runs: []Run{{
		Scenario: "nat-expiry", Case: "client: keepalive", Settings: s, Verdict: Pass, Expected: "survives", Outcome: "survives",
		TheoryRule: rule, Notes: []string{"client -> NAT -> server"},
		Timeline: []Event{{At: time.Second, Side: "middlebox", What: "NAT reset 1 packet & more"}},
	}}}
	var b bytes.Buffer
	if err := jsonx.NewEncoder(&b).Encode(rep); err != nil { // the -o json encoder
		t.Fatal(err)
	}
	out := b.String()
	for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
		if strings.Contains(out, esc) {
			t.Errorf("the report's JSON writes %s:\n%s", esc, out)
		}
	}
	for _, want := range []string{rule, "client -> NAT -> server", "NAT reset 1 packet & more", "profile a&b"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report's JSON lacks %q", want)
		}
	}
}

// A request fails with a 5xx answer or with none; the rate counts both.
func TestHTTPRaceFailures(t *testing.T) {
	h := HTTPRace{Requests: 80, Status5xx: 3, NoAnswer: 1}
	if h.Failures() != 4 || h.PerThousand() != 50 {
		t.Errorf("%+v: %d failures, %v per 1000; want 4, 50", h, h.Failures(), h.PerThousand())
	}
	if (HTTPRace{}).PerThousand() != 0 {
		t.Errorf("no requests: want 0 per 1000")
	}
}
