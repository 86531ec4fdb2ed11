// Package ansible holds the Ansible playbooks for fleet rollouts (rollout.yml, rollback.yml)
// and their test: the real ansible-playbook, against localhost, in a throw-away mount and
// network namespace.
package ansible

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/cli"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

// The playbook runs this test binary as keeptune (through a two-line wrapper script).
const asCLI = "KEEPTUNE_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}

// loopbackTraffic opens short connections on loopback until stop; once broken() is true the
// server resets every connection it accepts, as a server that cannot cope with the change would.
func loopbackTraffic(t *testing.T, broken func() bool) (stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var d net.Dialer
	wait := testutil.PingPong(ctx, ln, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}, 10*time.Millisecond, broken)
	return func() { cancel(); wait() }
}

func live(t *testing.T, key string) string {
	t.Helper()
	v, err := apply.ProcSysctls{}.Read(apply.Netns{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRolloutPlaybook runs rollout.yml with ansible-playbook -c local against localhost: a
// harmless change passes the canary and the later verify and stays; a change after which the
// server resets its connections fails the canary, is rolled back, and stops the rollout.
func TestRolloutPlaybook(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook is not installed (apt-get install ansible-core)")
	}
	if !testutil.Sandbox(t) {
		return
	}
	const key = "net.ipv4.tcp_keepalive_time"
	for _, c := range []struct {
		name   string
		break_ bool
	}{{"harmless change widens", false}, {"failing canary rolls back", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			before := live(t, key)
			host := plan.Scope{Kind: plan.ScopeHost, Name: "host", Netns: &plan.NetnsRef{}}
			p := plan.Plan{Host: "localhost",
				Changes:     []plan.Change{{Scope: host, Key: key, From: plan.Value{Value: before, Known: true}, To: "600"}},
				SysctlFiles: []plan.SysctlFile{{Path: "/etc/sysctl.d/99-zz-keeptune.conf", Content: key + " = 600\n", Keys: []string{key}}}}
			b, _ := json.Marshal(p)
			planFile := filepath.Join(dir, "plan.json")
			wrapper := filepath.Join(dir, "keeptune")
			if err := os.WriteFile(planFile, b, 0o600); err != nil {
				t.Fatal(err)
			}
			self, _ := os.Executable()
			if err := os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\n%s=1 exec %s \"$@\"\n", asCLI, self)), 0o755); err != nil {
				t.Fatal(err)
			}
			stop := loopbackTraffic(t, func() bool { return c.break_ && live(t, key) == "600" })
			playbook := func(args ...string) ([]byte, error) {
				cmd := exec.Command("ansible-playbook", append([]string{"-c", "local", "-i", "localhost,",
					"-e", "keeptune_bin=" + wrapper, "-e", "keeptune_state_dir=" + state}, args...)...)
				cmd.Env = append(os.Environ(), "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "ansible-local"), "ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "ansible-remote"),
					"ANSIBLE_NOCOLOR=1", "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_HOME="+filepath.Join(dir, "ansible-home"))
				return cmd.CombinedOutput()
			}
			out, err := playbook("rollout.yml", "-e", "keeptune_plan="+planFile,
				"-e", "keeptune_canary=2s", "-e", "keeptune_verify_window=2s", "-e", `{"keeptune_batches": [1]}`)
			stop()
			t.Logf("ansible-playbook:\n%s", out)
			entries, lerr := os.ReadDir(filepath.Join(state, "journal"))
			if lerr != nil || len(entries) != 1 {
				t.Fatalf("journal: %v entries, %v", len(entries), lerr)
			}
			eb, _ := os.ReadFile(filepath.Join(state, "journal", entries[0].Name(), "entry.json"))
			var e apply.Entry
			_ = json.Unmarshal(eb, &e)
			if !c.break_ {
				if err != nil {
					t.Fatalf("the rollout failed: %v", err)
				}
				if v := live(t, key); v != "600" || e.State != apply.StateApplied {
					t.Errorf("after a passing rollout: %s = %s, journal %s", key, v, e.State)
				}
				if !strings.Contains(string(out), "Verify later (canary hosts)") || !strings.Contains(string(out), "failed=0") {
					t.Error("the play did not verify, or failed")
				}
				// rollback.yml undoes it.
				out, err := playbook("rollback.yml")
				if err != nil {
					t.Fatalf("rollback.yml: %v\n%s", err, out)
				}
				if v := live(t, key); v != before {
					t.Errorf("after rollback.yml: %s = %s, want %s", key, v, before)
				}
				return
			}
			if err == nil {
				t.Fatal("a failing canary did not fail the rollout")
			}
			if v := live(t, key); v != before || e.State != apply.StateRolledBack {
				t.Errorf("after a failing canary: %s = %s (was %s), journal %s", key, v, before, e.State)
			}
			if _, err := os.Stat("/etc/sysctl.d/99-zz-keeptune.conf"); err == nil {
				t.Error("the sysctl.d file stayed after the rollback")
			}
			if !strings.Contains(string(out), "keeptune rollout stopped on localhost") {
				t.Error("the play did not say it stopped")
			}
		})
	}
}
