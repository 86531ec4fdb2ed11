package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/drill"
	"github.com/keeptune/keeptune/internal/lab"
)

func TestDrillBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drill", "dead-per"}, `unknown scenario "dead-per": did you mean "dead-peer"?`},
		{[]string{"drill", "nosuch"}, "expected one of dead-peer, unacked-data, nat-expiry, zombie-flood, http-keepalive-race"},
		{[]string{"drill"}, "expected one scenario"},
		{[]string{"drill", "dead-peer", "--idle", "0", "--intvl", "1s", "--probes", "1"}, "--idle 0: the kernel rejects 0"},
		{[]string{"drill", "dead-peer", "--idle", "40000s", "--intvl", "1s", "--probes", "1"}, "above the kernel's limit of 32767s"},
		{[]string{"drill", "dead-peer", "--idle", "-5s", "--intvl", "1s", "--probes", "1"}, "--idle -5s is negative"},
		{[]string{"drill", "dead-peer", "--idle", "5s", "--intvl", "1s", "--probes", "200"}, "--probes 200: expected 1 to 127"},
		{[]string{"drill", "dead-peer", "--idle", "5s", "--intvl", "1s"}, "need --idle, --intvl and --probes together"},
		{[]string{"drill", "dead-peer", "--profile", "api-gateway", "--from-host"}, "choose one source of settings"},
		{[]string{"drill", "dead-peer", "--profile", "api-gatway"}, `did you mean "api-gateway"?`},
		{[]string{"drill", "dead-peer", "--user-timeout", "-1s"}, "--user-timeout -1s is negative"},
		{[]string{"drill", "dead-peer", "--compare", "kernel"}, "--compare applies to zombie-flood only"},
		{[]string{"drill", "zombie-flood", "--compare", "nosuch"}, "--compare: unknown profile"},
		{[]string{"drill", "dead-peer", "--drop-at", "router"}, "expected middlebox or peer"},
		{[]string{"drill", "nat-expiry", "--on-expiry", "ignore"}, "expected drop, reset or both"},
		{[]string{"drill", "nat-expiry", "--nat-timeout", "1500ms"}, "--nat-timeout 1.5s"},
		{[]string{"drill", "zombie-flood", "--clients", "20000"}, "--clients 20000: expected 1 to 10000"},
		{[]string{"drill", "dead-peer", "--time-scale", "0"}, "invalid --time-scale 0"},
		{[]string{"drill", "dead-peer", "-o", "sarif"}, "expected text or json"},
		{[]string{"drill", "dead-peer", "--html", "/nonexistent/dir/x.html"}, "expected a file in an existing directory"},
		{[]string{"drill", "dead-peer", "--html", dir}, "is a directory; expected a file"},
		{[]string{"drill", "--cleanup", "dead-peer"}, "--cleanup takes no scenario"},
		{[]string{"drill", "http-keepalive-race", "--proxy", "envoy"}, `--proxy "envoy": expected nginx or haproxy`},
		{[]string{"drill", "http-keepalive-race", "--backend-idle", "5s", "--pool-idle", "60s", "--time-scale", "100"}, "expected at least 150ms each in the lab"},
		{[]string{"drill", "http-keepalive-race", "--requests", "5"}, "--requests 5: expected 10 to 10000"},
		{[]string{"drill", "nat-expiry", "--server-cmd", "nginx"}, "--server-cmd applies to dead-peer and zombie-flood only"},
		{[]string{"drill", "nat-expiry", "--enforce"}, "--enforce applies to dead-peer only"},
		{[]string{"drill", "dead-peer", "--server-cmd", "nginx", "--idle", "5s", "--intvl", "1s", "--probes", "2"}, "--idle does not go with --server-cmd"},
		{[]string{"drill", "zombie-flood", "--server-cmd", "nginx", "--compare", "kernel"}, "--compare does not go with --server-cmd"},
		{[]string{"drill", "dead-peer", "--server-cmd", "nginx", "--time-scale", "10"}, "the server's timers are its own"},
		{[]string{"drill", "dead-peer", "--server-cmd", "nginx", "--server-send", `\q`}, "--server-send"},
	} {
		before := lab.Built()
		out, stderr, code := run(t, tc.args...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", tc.args, code, ExitUsage, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr %q lacks %q", tc.args, stderr, tc.want)
		}
		if out != "" {
			t.Errorf("%q: wrote to stdout: %q", tc.args, out)
		}
		if n := lab.Built() - before; n != 0 {
			t.Errorf("%q: began building %d lab(s)", tc.args, n)
		}
	}
}

func TestDrillNeedsRoot(t *testing.T) {
	old := geteuid
	geteuid = func() int { return 1000 }
	defer func() { geteuid = old }()
	before := lab.Built()
	for _, args := range [][]string{
		{"drill", "dead-peer", "--idle", "1s", "--intvl", "1s", "--probes", "1"},
		{"drill", "--cleanup"},
	} {
		_, stderr, code := run(t, args...)
		if code != ExitPrivilege {
			t.Errorf("%q: exit %d, want %d", args, code, ExitPrivilege)
		}
		for _, w := range []string{"needs root", "CAP_SYS_ADMIN", "CAP_NET_ADMIN", "nothing was created"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q lacks %q", args, stderr, w)
			}
		}
	}
	if n := lab.Built() - before; n != 0 {
		t.Errorf("began building %d lab(s) without root", n)
	}
}

func TestDrillRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the drill builds a lab of network namespaces (CI runs as root)")
	}
	html := filepath.Join(t.TempDir(), "drill.html")
	out, stderr, code := run(t, "drill", "dead-peer", "--idle", "1s", "--intvl", "1s", "--probes", "1", "-o", "json", "--html", html)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var rep struct {
		Scenario string   `json:"scenario"`
		LabIDs   []string `json:"lab_ids"`
		Runs     []struct {
			Scenario string         `json:"scenario"`
			Settings map[string]any `json:"settings"`
			Theory   *float64       `json:"theory_s"`
			Measured *float64       `json:"measured_s"`
			Verdict  string         `json:"verdict"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Scenario != "dead-peer" || len(rep.Runs) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Runs {
		if r.Verdict != "PASS" || r.Theory == nil || *r.Theory != 2 || r.Measured == nil || r.Settings["idle_s"] != 1.0 {
			t.Errorf("run %+v", r)
		}
	}
	for _, id := range rep.LabIDs {
		if left, _ := lab.Remaining(id); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"<svg", "dead-peer", "PASS"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(string(page), `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("HTML refers to an external asset or runs a script: %q", bad)
		}
	}
	if !strings.Contains(stderr, "keeptune drill: dead-peer") {
		t.Errorf("no progress on stderr: %q", stderr)
	}

	out, _, code = run(t, "drill", "--cleanup", "--dry-run")
	if code != ExitOK || strings.Contains(out, "removed ") {
		t.Errorf("--cleanup --dry-run: exit %d, output %q", code, out)
	}
	out, _, code = run(t, "drill", "--cleanup")
	if code != ExitOK {
		t.Errorf("--cleanup: exit %d", code)
	}
	if strings.Contains(out, "removed") && strings.Contains(out, rep.LabIDs[0]) {
		t.Errorf("--cleanup found leftovers of a finished drill: %s", out)
	}
}

func TestDrillSettingsFromChainHop(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keeptune.yaml")
	os.WriteFile(file, []byte(`chain:
  - {name: clients, type: client}
  - {name: nlb, catalog: aws-nlb}
  - name: haproxy
    type: proxy
    downstream: {tcp_keepalive: {idle: 300s, interval: 20s, count: 5}, user_timeout: 400s}
    upstream: {tcp_keepalive: off}
  - {name: app, type: server}
`), 0o644)
	cmd := newDrillCmd(IO{})
	opts := DrillOptions{Chain: file, Hop: "haproxy", hostRoot: "/"}
	s, _, ends, err := drillSettingsEnds(cmd, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ends != drill.ServerEnd {
		t.Errorf("haproxy's downstream side has keepalive: ends = %v, want the lab's server only", ends)
	}
	if s.Idle != 300*time.Second || s.Interval != 20*time.Second || s.Count != 5 || s.UserTimeout != 400*time.Second || s.Label != "hop haproxy downstream" {
		t.Errorf("settings = %+v", s)
	}
	if tmo, ok := segmentNATTimeout(opts); !ok || tmo != 350*time.Second {
		t.Errorf("NAT timeout of the hop's segment = %v, %v; want the NLB's 350s", tmo, ok)
	}
	for _, c := range []struct {
		opts DrillOptions
		want string
	}{
		{DrillOptions{Chain: file, Hop: "haproxy", Side: "upstream"}, "have no TCP keepalive"},
		{DrillOptions{Chain: file, Hop: "haprxy"}, `did you mean "haproxy"`},
		{DrillOptions{Chain: file}, "--chain needs --hop"},
		{DrillOptions{Chain: file, Hop: "app", Side: "upstream"}, "has no upstream side"},
	} {
		c.opts.hostRoot = "/"
		if _, _, err := drillSettings(newDrillCmd(IO{}), c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opts, err, c.want)
		}
	}
}

// The goal verdict decides the exit status: keepalive idle above the NAT's timeout loses the
// connection (goal not met, exit 1, the bound printed); below it the connection survives (exit 0).
func TestDrillNATGoal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the drill builds a lab of network namespaces (CI runs as root)")
	}
	for _, tc := range []struct {
		name, idle string
		code       int
		want       []string
	}{
		{"idle-above-nat", "3s", ExitFindings, []string{"goal (profile general, real time): NOT MET", "keepalive idle must be below 3s to keep a 3s NAT open (at most 2s"}},
		{"idle-below-nat", "1s", ExitOK, []string{"goal (profile general, real time): MET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := run(t, "drill", "nat-expiry", "--idle", tc.idle, "--intvl", "1s", "--probes", "2",
				"--nat-timeout", "3s", "--on-expiry", "drop", "--retries2", "2")
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tc.code, out, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			js, _, _ := run(t, "drill", "nat-expiry", "--idle", tc.idle, "--intvl", "1s", "--probes", "2",
				"--nat-timeout", "3s", "--on-expiry", "drop", "--retries2", "2", "-o", "json")
			var rep struct {
				GoalMet bool `json:"goal_met"`
				Runs    []struct {
					Case      string `json:"case"`
					GoalMet   bool   `json:"goal_met"`
					Reference bool   `json:"reference"`
				} `json:"runs"`
			}
			if err := json.Unmarshal([]byte(js), &rep); err != nil {
				t.Fatalf("json: %v\n%s", err, js)
			}
			if rep.GoalMet != (tc.code == ExitOK) || len(rep.Runs) != 4 {
				t.Errorf("goal_met %v with %d runs", rep.GoalMet, len(rep.Runs))
			}
			for _, r := range rep.Runs {
				if r.Reference != strings.Contains(r.Case, "no keepalive") {
					t.Errorf("%s: reference %v", r.Case, r.Reference)
				}
				if !r.Reference && r.GoalMet != (tc.code == ExitOK) {
					t.Errorf("%s: goal_met %v", r.Case, r.GoalMet)
				}
			}
		})
	}
}
