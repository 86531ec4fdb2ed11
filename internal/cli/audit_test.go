package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/testutil"
)

// run executes keeptune with args and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, IO{Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestAuditKernelDefaultsIsAnErrorUnderEveryProfile(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{})
	for _, p := range profiles.Builtin() {
		out, stderr, code := run(t, "audit", "--root", root, "--profile", p.Name, "--color", "never")
		if code != ExitFindings {
			t.Fatalf("%s: exit %d, want 1 (stderr %s)", p.Name, code, stderr)
		}
		wantLines := []string{
			"error    KT101",
			"2h11m15s",
			"write to /etc/sysctl.d/99-zz-keeptune.conf:",
			"    net.ipv4.tcp_keepalive_time = " + itoa(int(p.Idle.Recommended.Seconds())),
			"    net.ipv4.tcp_keepalive_intvl = " + itoa(int(p.Interval.Recommended.Seconds())),
			"    net.ipv4.tcp_keepalive_probes = " + itoa(p.Probes.Recommended),
			"kernel default",
		}
		for _, w := range wantLines {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q\n%s", p.Name, w, out)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAuditNamesTheWinningFileAndTheConflict(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{
		Sysctls: map[string]string{"net.ipv4.tcp_keepalive_time": "900"},
		Files: map[string]string{
			"etc/sysctl.d/10-base.conf":    "# base tuning\nnet.ipv4.tcp_keepalive_time = 600\n",
			"etc/sysctl.d/70-db.conf":      "net.ipv4.tcp_keepalive_intvl=30\n\nnet.ipv4.tcp_keepalive_time = 900\n",
			"usr/lib/sysctl.d/50-pkg.conf": "net.ipv4.tcp_keepalive_probes = 5\n",
		},
	})
	out, _, _ := run(t, "audit", "--root", root, "--color", "never", "-v")
	for _, w := range []string{
		"/etc/sysctl.d/70-db.conf:3",             // the winner, as the source of the live value
		"KT106",                                  // the conflict
		"wins: /etc/sysctl.d/70-db.conf:3 = 900", // the conflict table names the winner
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\n%s", w, out)
		}
	}
	// JSON carries the same: the live value's source is the winning line.
	js, _, _ := run(t, "audit", "--root", root, "-o", "json")
	var doc struct {
		Facts struct {
			Namespaces []struct {
				Sysctls []struct {
					Key    string `json:"key"`
					Source struct {
						File string `json:"file"`
						Line int    `json:"line"`
					} `json:"source"`
				} `json:"sysctls"`
			} `json:"namespaces"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range doc.Facts.Namespaces[0].Sysctls {
		if s.Key == "net.ipv4.tcp_keepalive_time" {
			found = s.Source.File == "/etc/sysctl.d/70-db.conf" && s.Source.Line == 3
		}
	}
	if !found {
		t.Errorf("JSON does not name /etc/sysctl.d/70-db.conf:3 as the source of tcp_keepalive_time:\n%s", js)
	}
	if !strings.Contains(js, "/etc/sysctl.d/70-db.conf:3 wins with 900 and overrides /etc/sysctl.d/10-base.conf:2") {
		t.Errorf("JSON lacks the KT106 conflict message naming winner and loser:\n%s", js)
	}
}

func TestAuditJSONHasTheDocumentedTopLevel(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{})
	out, _, code := run(t, "audit", "--root", root, "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"schema_version", "tool", "command", "profile", "options", "summary", "findings", "facts", "problems"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("top level lacks %q", k)
		}
	}
	var findings []map[string]json.RawMessage
	json.Unmarshal(doc["findings"], &findings)
	if len(findings) == 0 {
		t.Fatal("no findings")
	}
	for _, k := range []string{"rule", "severity", "subject", "message", "evidence", "fix"} {
		if _, ok := findings[0][k]; !ok {
			t.Errorf("finding lacks %q: %s", k, doc["findings"])
		}
	}
}

func TestAuditSARIFValidates(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{Files: map[string]string{
		"etc/sysctl.d/60-x.conf": "net.ipv4.tcp_retries2 = 15\nthis line is garbled\n",
	}, Sysctls: map[string]string{}})
	out, _, code := run(t, "audit", "--root", root, "-o", "sarif")
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	if err := testutil.ValidateSARIF([]byte(out)); err != nil {
		t.Fatalf("SARIF does not validate: %v", err)
	}
	if !strings.Contains(out, `"version": "2.1.0"`) || !strings.Contains(out, "etc/sysctl.d/60-x.conf") || !strings.Contains(out, `"startLine": 2`) {
		t.Errorf("SARIF lacks the version or the sysctl file location:\n%s", out)
	}
}

func TestAuditGarbledLineWarnsAndGoesOn(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{Files: map[string]string{
		"etc/sysctl.d/60-x.conf": "net.ipv4.tcp_keepalive_time 600\nnet.ipv4.tcp_keepalive_probes = 5\n",
	}, Sysctls: map[string]string{"net.ipv4.tcp_keepalive_probes": "5"}})
	out, _, code := run(t, "audit", "--root", root, "--color", "never")
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{"warning  KT002  /etc/sysctl.d/60-x.conf:1", "/etc/sysctl.d/60-x.conf:2", "KT101"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\n%s", w, out)
		}
	}
}

func TestAuditExitCodes(t *testing.T) {
	tuned := testutil.FakeRoot(t, testutil.Host{
		Files: map[string]string{"etc/sysctl.d/60-keeptune.conf": "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.ipv4.tcp_keepalive_probes = 5\nnet.ipv4.tcp_retries2 = 9\n"},
		Sysctls: map[string]string{"net.ipv4.tcp_keepalive_time": "600", "net.ipv4.tcp_keepalive_intvl": "30",
			"net.ipv4.tcp_keepalive_probes": "5", "net.ipv4.tcp_retries2": "9"},
	})
	defaults := testutil.FakeRoot(t, testutil.Host{})
	badProfile := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(badProfile, []byte("name: p\nkeepalive:\n  idle: {min: 600, max: 900s}\n"), 0o644)
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"tuned host is clean", []string{"audit", "--root", tuned}, ExitOK, ""},
		{"tuned host with --fail-on info", []string{"audit", "--root", tuned, "--fail-on", "info"}, ExitOK, ""},
		{"defaults fail on error", []string{"audit", "--root", defaults}, ExitFindings, ""},
		{"--fail-on none", []string{"audit", "--root", defaults, "--fail-on", "none"}, ExitOK, ""},
		{"bad profile file", []string{"audit", "--root", defaults, "--profile", badProfile}, ExitUsage, badProfile + ":3:15: expected a duration with a unit"},
		{"unknown profile", []string{"audit", "--root", defaults, "--profile", "web-frontnd"}, ExitUsage, `did you mean "web-frontend"`},
		{"bad format", []string{"audit", "--root", defaults, "-o", "xml"}, ExitUsage, "expected one of text, json, sarif"},
		{"bad fail-on", []string{"audit", "--root", defaults, "--fail-on", "fatal"}, ExitUsage, "expected info, warning, error or none"},
		{"unknown rule", []string{"audit", "--root", defaults, "--disable", "KT999"}, ExitUsage, `unknown rule "KT999"`},
		{"unknown flag", []string{"audit", "--frobnicate"}, ExitUsage, "unknown flag"},
		{"missing root", []string{"audit", "--root", "/nonexistent"}, ExitUsage, "expected a directory"},
		{"root without proc", []string{"audit", "--root", t.TempDir()}, ExitRuntime, "proc/sys"},
	}
	for _, c := range cases {
		out, stderr, code := run(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q\nstdout: %s", c.name, code, stderr, c.code, c.stderr, out)
		}
	}
}

func TestAllNetnsNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: the privilege error cannot happen")
	}
	_, stderr, code := run(t, "audit", "--all-netns")
	if code != ExitPrivilege || !strings.Contains(stderr, "needs root") || !strings.Contains(stderr, "hint:") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestRulesAndProfilesVerbs(t *testing.T) {
	out, _, code := run(t, "rules")
	if code != 0 || !strings.Contains(out, "KT101") || !strings.Contains(out, "keepalive-detection-time") {
		t.Errorf("rules: %d %s", code, out)
	}
	out, _, code = run(t, "rules", "KT201")
	if code != 0 || !strings.Contains(out, "tcp_retries2") || strings.Contains(out, "KT101") {
		t.Errorf("rules KT201: %d %s", code, out)
	}
	out, _, code = run(t, "profiles")
	if code != 0 || !strings.Contains(out, "api-gateway") {
		t.Errorf("profiles: %d %s", code, out)
	}
}
