package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/enforce"
)

func TestEnforceApplyStatusDetach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("enforce needs root")
	}
	sb, err := enforce.NewSandbox("keeptune-cli-test")
	if err != nil {
		var me *enforce.MissingError
		if errors.As(err, &me) && !me.Privilege {
			t.Skipf("this system lacks what enforce needs: %v", err)
		}
		t.Fatal(err)
	}
	defer func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	code, _, stderr := runCLI(ctx, "enforce", "apply", "--cgroup", sb.Dir, "--bpffs", sb.BPFFS(), "--profile", "web-frontend", "--user-timeout", "45s", "--mode", "force", "--side", "accept")
	if code != 0 || !strings.Contains(stderr, "enforced keepalive") {
		t.Fatalf("apply: exit %d, %s", code, stderr)
	}
	code, out, stderr := runCLI(ctx, "enforce", "status", "--bpffs", sb.BPFFS(), "-o", "json")
	if code != 0 {
		t.Fatalf("status: exit %d, %s", code, stderr)
	}
	var st enforceStatusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Policies) != 1 || len(st.Programs) != 2 {
		t.Fatalf("status: %s", out)
	}
	p := st.Policies[0]
	if p.Cgroup != sb.Target.Path || p.Mode != "force" || p.Side != "accept" || !p.Keepalive || p.UserTimeoutMillis != 45000 ||
		p.IdleSeconds == 0 || p.Link != sb.Target.Path || p.Guard != sb.Target.Path {
		t.Errorf("status policy: %+v", p)
	}
	code, out, _ = runCLI(ctx, "enforce", "status", "--bpffs", sb.BPFFS())
	if code != 0 || !strings.Contains(out, sb.Target.Path) || !strings.Contains(out, "GUARDED") {
		t.Errorf("status text: exit %d\n%s", code, out)
	}
	// --plan: the cgroup has no process, so it shares keeptune's namespace: the plan's host scope.
	planFile := filepath.Join(t.TempDir(), "plan.json")
	planJSON := `{"host":"h","profile":"general","changes":[{"scope":{"kind":"host","name":"host"},"key":"net.ipv4.tcp_keepalive_time","to":"600"}],
		"kept":[{"scope":{"kind":"host","name":"host"},"key":"net.ipv4.tcp_keepalive_probes","value":{"value":"5","known":true}}]}`
	if err := os.WriteFile(planFile, []byte(planJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(ctx, "enforce", "apply", "--cgroup", sb.Dir, "--bpffs", sb.BPFFS(), "--plan", planFile, "--intvl", "7", "-o", "json")
	if code != 0 {
		t.Fatalf("apply --plan: exit %d, %s", code, stderr)
	}
	st = enforceStatusJSON{}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if p := st.Policies[0]; p.IdleSeconds != 600 || p.Probes != 5 || p.IntervalSeconds != 7 || p.UserTimeoutMillis != 0 || p.Mode != "default" {
		t.Errorf("policy from the plan: %+v", p)
	}
	code, _, stderr = runCLI(ctx, "enforce", "detach", "--bpffs", sb.BPFFS())
	if code != 0 || !strings.Contains(stderr, "removed every policy") {
		t.Errorf("detach: exit %d, %s", code, stderr)
	}
	code, out, _ = runCLI(ctx, "enforce", "status", "--bpffs", sb.BPFFS())
	if code != 0 || !strings.HasPrefix(out, "nothing enforced") {
		t.Errorf("status after detach: exit %d, %s", code, out)
	}
}
