package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

// TestPlanFollowedBySysctlSystemAndSystemdSysctl is the scenario on the real tools, in a
// throw-away mount and network namespace (testutil.Sandbox: /etc is an overlay, the network
// namespace is new; the sysctl.d directories outside /etc are hidden under empty tmpfs so that
// sysctl --system touches nothing but the files written here): sysctl.d files that disagree
// (600/30/5 and 1800/75), /etc/sysctl.conf setting 3600 through Debian's 99-sysctl.conf link, an
// LVS of 90 s in front of a local nginx, profile api-gateway. The plan has one value per key and
// an idle below 90 s with the reason; after writing its file and deleting its removes, both
// procps `sysctl --system` and `systemd-sysctl` leave exactly the planned values, and a new plan
// has no host changes.
func TestPlanFollowedBySysctlSystemAndSystemdSysctl(t *testing.T) {
	if !testutil.Sandbox(t) {
		return
	}
	sysctlBin, err := exec.LookPath("sysctl")
	if err != nil {
		t.Skip("procps sysctl not installed")
	}
	for _, dir := range []string{"/usr/lib/sysctl.d", "/usr/local/lib/sysctl.d", "/lib/sysctl.d"} {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
				t.Fatalf("hide %s: %v", dir, err)
			}
		}
	}
	ents, _ := os.ReadDir("/etc/sysctl.d")
	for _, e := range ents {
		if err := os.Remove(filepath.Join("/etc/sysctl.d", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	put := func(p, content string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("/etc/sysctl.d/10-platform.conf", "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.ipv4.tcp_keepalive_probes = 5\n")
	put("/etc/sysctl.d/20-legacy.conf", "net.ipv4.tcp_keepalive_time = 1800\nnet.ipv4.tcp_keepalive_intvl = 75\n")
	put("/etc/sysctl.conf", "# legacy tuning\nnet.ipv4.tcp_keepalive_time = 3600\n")
	if err := os.Symlink("../sysctl.conf", "/etc/sysctl.d/99-sysctl.conf"); err != nil {
		t.Fatal(err)
	}
	chainFile := filepath.Join(t.TempDir(), "keeptune.yaml")
	put(chainFile, `profile: api-gateway
chain:
  - {name: clients, type: client}
  - {name: lvs, catalog: linux-ipvs, idle_timeout: 90s}
  - {name: nginx, type: proxy, runtime: nginx, local: true, downstream: {http_keepalive_timeout: 75s}, upstream: {read_timeout: 300s}}
  - {name: app, type: server, http_keepalive_timeout: 120s}
`)
	runTool := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	live := func(key string) string {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	runTool(sysctlBin, "--system") // the host as the administrator left it: 3600 from /etc/sysctl.conf
	if got := live("net.ipv4.tcp_keepalive_time"); got != "3600" {
		t.Fatalf("before: tcp_keepalive_time = %s, want procps' 3600", got)
	}

	makePlan := func() plan.Plan {
		t.Helper()
		out, stderr, code := run(t, "plan", "--chain", chainFile, "--no-configs", "-o", "json")
		if code != 0 {
			t.Fatalf("plan: exit %d: %s", code, stderr)
		}
		var p plan.Plan
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := makePlan()
	planned := map[string]string{}
	for _, c := range p.Changes {
		if c.Scope.Kind != plan.ScopeHost {
			continue
		}
		if prev, dup := planned[c.Key]; dup {
			t.Errorf("%s planned twice: %s and %s", c.Key, prev, c.To)
		}
		planned[c.Key] = c.To
	}
	for _, k := range p.Kept {
		if k.Scope.Kind == plan.ScopeHost {
			if _, dup := planned[k.Key]; dup {
				t.Errorf("%s both changed and kept", k.Key)
			}
			planned[k.Key] = k.Value.Value
		}
	}
	c, ok := p.Find(plan.Scope{Kind: plan.ScopeHost}, "net.ipv4.tcp_keepalive_time")
	if !ok || c.To != "80" || !strings.Contains(c.Why[0].Text, "below the api-gateway profile's 180-300 s, because lvs (linux-ipvs) forgets idle flows after 90 s") {
		t.Fatalf("tcp_keepalive_time: %+v", c)
	}
	t.Logf("planned host values: %v", planned)

	// Follow the plan: write its file, delete its removes (each only if it still reads so).
	if len(p.SysctlFiles) != 1 {
		t.Fatalf("sysctl files: %+v", p.SysctlFiles)
	}
	put(p.SysctlFiles[0].Path, p.SysctlFiles[0].Content)
	byFile := map[string][]plan.Remove{}
	for _, r := range p.Removes {
		byFile[r.File] = append(byFile[r.File], r)
	}
	for file, rs := range byFile {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for _, r := range rs {
			if strings.TrimSpace(lines[r.Line-1]) != r.Text {
				t.Fatalf("%s:%d reads %q, the plan says %q", file, r.Line, lines[r.Line-1], r.Text)
			}
			lines[r.Line-1] = "# removed by keeptune plan: " + r.Text
		}
		put(file, strings.Join(lines, "\n"))
	}

	check := func(applier string) {
		t.Helper()
		for key, want := range planned {
			if got := live(key); got != want {
				t.Errorf("after %s: %s = %s, planned %s", applier, key, got, want)
			}
		}
	}
	reset := func() {
		for _, kv := range []string{"net.ipv4.tcp_keepalive_time=7200", "net.ipv4.tcp_keepalive_intvl=75", "net.ipv4.tcp_keepalive_probes=9", "net.ipv4.tcp_retries2=15"} {
			runTool(sysctlBin, "-q", "-w", kv)
		}
	}
	reset()
	runTool(sysctlBin, "--system")
	check("sysctl --system")
	ranSystemd := false
	for _, bin := range []string{"/usr/lib/systemd/systemd-sysctl", "/lib/systemd/systemd-sysctl"} {
		if _, err := os.Stat(bin); err == nil {
			reset()
			runTool(bin)
			check("systemd-sysctl")
			ranSystemd = true
			break
		}
	}
	if !ranSystemd {
		t.Log("systemd-sysctl not installed: checked procps only")
	}

	again := makePlan()
	for _, c := range again.Changes {
		if c.Scope.Kind == plan.ScopeHost {
			t.Errorf("after following the plan: %s %s -> %s", c.Key, c.From.Value, c.To)
		}
	}
	if len(again.Removes) != 0 || len(again.SysctlFiles) != 0 {
		t.Errorf("after following the plan: removes %+v, files %+v", again.Removes, again.SysctlFiles)
	}
}
