package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

func writeChain(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keeptune.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const raceChain = `profile: web-frontend
chain:
  - {name: browsers, type: client}
  - {name: edge, catalog: aws-alb}
  - {name: app, type: server, runtime: node}
`

func TestLintFindsTheRaceAndPointsAtTheChainFile(t *testing.T) {
	file := writeChain(t, raceChain)
	out, stderr, code := run(t, "lint", "--color", "never", file)
	if code != ExitFindings {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, w := range []string{"Chain " + file, "edge      middlebox aws-alb", "KT701", file + ":5:5", "server.keepAliveTimeout = 65000"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\n%s", w, out)
		}
	}
	// SARIF: valid, and the result is located at the chain file line of the hop.
	sarif, _, code := run(t, "lint", "-o", "sarif", file)
	if code != ExitFindings {
		t.Fatalf("sarif exit %d", code)
	}
	if err := testutil.ValidateSARIF([]byte(sarif)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sarif, filepath.Base(file)) || !strings.Contains(sarif, `"startLine": 5`) {
		t.Errorf("SARIF does not point at the chain file line:\n%s", sarif)
	}
	// JSON: the chain and the finding's hops.
	js, _, _ := run(t, "lint", "-o", "json", file)
	var doc struct {
		Chains   []struct{ File string } `json:"chains"`
		Findings []struct {
			Rule string
			Hops []string
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Chains) != 1 || doc.Chains[0].File != file || len(doc.Findings) != 1 || strings.Join(doc.Findings[0].Hops, ",") != "edge,app" {
		t.Errorf("json = %s", js)
	}
}

func TestLintCorrectChainIsClean(t *testing.T) {
	file := writeChain(t, strings.Replace(raceChain, "runtime: node}", "runtime: node, http_keepalive_timeout: 65s}", 1))
	out, _, code := run(t, "lint", "--color", "never", "--fail-on", "info", file)
	if code != ExitOK || !strings.Contains(out, "no findings") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestLintBadInput(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"chain:\n  - {name: c, type: client}\n  - {name: e, catalog: aws-albb}\n", `:3:24: unknown catalog "aws-albb": did you mean "aws-alb"?`},
		{"chain:\n  - {name: c, type: client}\n  - {name: s, type: server, http_keepalive_timeout: 65}\n", `:3:53: expected a duration with a unit`},
		{"chain: []\n", `:1:8: chain: empty`},
	}
	for _, c := range cases {
		file := writeChain(t, c.doc)
		out, stderr, code := run(t, "lint", file)
		// The file becomes a KT891 finding in the report, the error goes to stderr, exit 2.
		if code != ExitUsage || !strings.Contains(stderr, "error: "+file+c.want) || !strings.Contains(out, "KT891") {
			t.Errorf("exit %d, stderr %q, stdout %q; want exit 2 and %q", code, stderr, out, file+c.want)
		}
		// The finding is about the chain file, at its line and column, and no server loads it.
		pos := file + c.want[:strings.Index(c.want, ": ")]
		if !strings.Contains(out, "KT891  chain file "+file) || !strings.Contains(out, "at:       "+pos+"\n") || strings.Contains(out, "server") {
			t.Errorf("want the KT891 finding on chain file %s at %s, with no server in it:\n%s", file, pos, out)
		}
	}
	if _, stderr, code := run(t, "lint", "/nonexistent/keeptune.yaml"); code != ExitUsage || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing file: exit %d %q", code, stderr)
	}
	// Without arguments lint reads ./keeptune.yaml; there is none here.
	if _, stderr, code := run(t, "lint"); code != ExitUsage || !strings.Contains(stderr, "no ./keeptune.yaml") {
		t.Errorf("no args: exit %d %q", code, stderr)
	}
}

func TestAuditWithChain(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{})
	file := writeChain(t, raceChain)
	out, _, code := run(t, "audit", "--root", root, "--chain", file, "--color", "never")
	if code != ExitFindings || !strings.Contains(out, "KT701") || !strings.Contains(out, "KT101") || !strings.Contains(out, "profile web-frontend") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestAuditFillsLocalHopsFromTheHostSysctls(t *testing.T) {
	// pgbouncer enables keepalive with the OS values; on this (fake) host those are the kernel
	// defaults, so its first probe leaves after 2 h, long after Cloud NAT's 20 min.
	root := testutil.FakeRoot(t, testutil.Host{})
	file := writeChain(t, `chain:
  - {name: workers, type: client}
  - {name: nat, catalog: gcp-cloud-nat}
  - {name: pgbouncer, type: proxy, runtime: pgbouncer, local: true}
  - {name: db, type: server, runtime: postgres}
`)
	out, _, _ := run(t, "audit", "--root", root, "--chain", file, "-o", "json", "--enable", "KT703")
	if !strings.Contains(out, `"rule": "KT703"`) || !strings.Contains(out, "after 2h idle") {
		t.Fatalf("no KT703 from the host's 7200 s:\n%s", out)
	}
	// lint has no host: the same chain cannot say when pgbouncer probes.
	out, _, _ = run(t, "lint", "-o", "json", "--enable", "KT703", file)
	if strings.Contains(out, `"rule": "KT703"`) {
		t.Fatalf("lint invented host values:\n%s", out)
	}
}

func TestLintEnvResolvesHAProxyVariables(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(cfg, []byte(`global
    maxconn 100

defaults
    mode http
    timeout connect 5s
    timeout client "${CLIENT_TIMEOUT}"
    timeout server 30s

frontend fe
    bind 127.0.0.1:8080
    default_backend be

backend be
    server s1 127.0.0.1:9000
`), 0o644)
	value := func(out string) string {
		var doc struct {
			Values []struct{ Key, Value string } `json:"values"`
			Config []struct {
				Downstream *struct {
					Idle struct {
						Value *float64 `json:"value"`
					} `json:"idle_timeout_s"`
				} `json:"downstream"`
			} `json:"configs"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Config) != 1 || doc.Config[0].Downstream == nil || doc.Config[0].Downstream.Idle.Value == nil {
			return "unknown"
		}
		return strconv.FormatFloat(*doc.Config[0].Downstream.Idle.Value, 'f', -1, 64)
	}
	// Without the environment the client timeout is unknown, never guessed.
	out, stderr, code := run(t, "lint", "-o", "json", "--fail-on", "none", cfg)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := value(out); got != "unknown" {
		t.Errorf("keep-alive idle without --env = %s, want unknown", got)
	}
	out, _, _ = run(t, "lint", "-o", "json", "--fail-on", "none", "--env", "CLIENT_TIMEOUT=45s", cfg)
	if got := value(out); got != "45" {
		t.Errorf("keep-alive idle with --env CLIENT_TIMEOUT=45s = %s, want 45 (timeout client)", got)
	}
	if _, stderr, code := run(t, "lint", "--env", "NOVALUE", cfg); code != ExitUsage || !strings.Contains(stderr, "expected KEY=VALUE") {
		t.Errorf("bad --env: exit %d %q", code, stderr)
	}
}
