package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

// disagreeingRoot is the host: sysctl.d files that disagree (600/30/5 and 1800/75) and
// /etc/sysctl.conf setting 3600 through Debian's 99-sysctl.conf link, live as sysctl --system
// left it; and the chain file with an LVS of 90 s in front of a local nginx.
func disagreeingRoot(t *testing.T) (root, chainFile string) {
	root = testutil.FakeRoot(t, testutil.Host{
		Sysctls: map[string]string{"net.ipv4.tcp_keepalive_time": "3600", "net.ipv4.tcp_keepalive_intvl": "75", "net.ipv4.tcp_keepalive_probes": "5"},
		Files: map[string]string{
			"etc/sysctl.d/10-platform.conf": "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.ipv4.tcp_keepalive_probes = 5\n",
			"etc/sysctl.d/20-legacy.conf":   "net.ipv4.tcp_keepalive_time=1800\nnet.ipv4.tcp_keepalive_intvl=75\n",
			"etc/sysctl.conf":               "# Debian's\nnet.ipv4.tcp_keepalive_time = 3600\n",
		},
		Symlinks: map[string]string{"etc/sysctl.d/99-sysctl.conf": "../sysctl.conf"},
	})
	chainFile = filepath.Join(t.TempDir(), "keeptune.yaml")
	doc := `profile: api-gateway
chain:
  - {name: clients, type: client}
  - {name: lvs, catalog: linux-ipvs, idle_timeout: 90s}
  - {name: nginx, type: proxy, runtime: nginx, local: true, downstream: {http_keepalive_timeout: 75s}, upstream: {read_timeout: 300s}}
  - {name: app, type: server, http_keepalive_timeout: 120s}
`
	if err := os.WriteFile(chainFile, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, chainFile
}

func TestPlanJSONOneValuePerKey(t *testing.T) {
	root, chainFile := disagreeingRoot(t)
	out, stderr, code := run(t, "plan", "--root", root, "--chain", chainFile, "-o", "json", "--no-configs")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p plan.Plan
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range p.Changes {
		id := c.Scope.ID() + " " + c.Key
		if prev, dup := seen[id]; dup {
			t.Errorf("%s planned twice: %s and %s", id, prev, c.To)
		}
		seen[id] = c.To
	}
	if got := seen["host net.ipv4.tcp_keepalive_time"]; got != "80" {
		t.Errorf("tcp_keepalive_time -> %q, want 80", got)
	}
	c, _ := p.Find(plan.Scope{Kind: plan.ScopeHost}, "net.ipv4.tcp_keepalive_time")
	if c == nil || !strings.Contains(c.Why[0].Text, "because lvs (linux-ipvs) forgets idle flows after 90 s") || c.From.Value != "3600" || c.From.Source.File != "/etc/sysctl.conf" {
		t.Errorf("change = %+v", c)
	}
	var removed []string
	for _, r := range p.Removes {
		removed = append(removed, r.File+": "+r.Text)
	}
	for _, w := range []string{"/etc/sysctl.conf: net.ipv4.tcp_keepalive_time = 3600", "/etc/sysctl.d/20-legacy.conf: net.ipv4.tcp_keepalive_time=1800"} {
		if !strings.Contains(strings.Join(removed, "\n"), w) {
			t.Errorf("removes lack %q: %q", w, removed)
		}
	}
	sysctl, _, code := run(t, "plan", "--root", root, "--chain", chainFile, "-o", "sysctl")
	if code != 0 || len(p.SysctlFiles) != 1 || sysctl != p.SysctlFiles[0].Content {
		t.Errorf("-o sysctl (exit %d):\n%s\nwant the JSON's file content", code, sysctl)
	}
	text, _, _ := run(t, "plan", "--root", root, "--chain", chainFile)
	for _, w := range []string{"net.ipv4.tcp_keepalive_time  3600 (/etc/sysctl.conf:2) -> 80", "sysctl -w net.ipv4.tcp_keepalive_time=80", "persist: write /etc/sysctl.d/99-zz-keeptune.conf"} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
}

func TestPlanBadOutput(t *testing.T) {
	if _, _, code := run(t, "plan", "-o", "yaml"); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
}
