package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// TestProfilesCommand: `keeptune profiles NAME`, -o json, and the recommended values in the
// table (issue 17: "profiles api-gateway" was an unknown command).
func TestProfilesCommand(t *testing.T) {
	p, err := profiles.Resolve("api-gateway")
	if err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf("%s/%s/%d", textfmt.Duration(p.Idle.Recommended), textfmt.Duration(p.Interval.Recommended), p.Probes.Recommended)
	code, out, stderr := runCLI(context.Background(), "profiles")
	if code != ExitOK || !strings.Contains(out, "RECOMMENDED") || !regexp.MustCompile(`api-gateway .* `+regexp.QuoteMeta(rec)+` `).MatchString(out) {
		t.Fatalf("table: exit %d, want %s\n%s%s", code, rec, out, stderr)
	}
	code, out, stderr = runCLI(context.Background(), "profiles", "api-gateway")
	if code != ExitOK || !strings.Contains(out, fmt.Sprintf("net.ipv4.tcp_keepalive_time = %d", int(p.Idle.Recommended.Seconds()))) ||
		!strings.Contains(out, "(recommended "+textfmt.Duration(p.Idle.Recommended)+")") {
		t.Fatalf("api-gateway: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(context.Background(), "profiles", "api-gateway", "-o", "json")
	var one struct {
		Name string `json:"name"`
		Idle struct {
			Recommended float64 `json:"recommended"`
		} `json:"idle_s"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &one) != nil || one.Name != "api-gateway" || one.Idle.Recommended != p.Idle.Recommended.Seconds() {
		t.Fatalf("json one: exit %d %+v\n%s", code, one, out)
	}
	code, out, _ = runCLI(context.Background(), "profiles", "-o", "json")
	var all []map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &all) != nil || len(all) < 5 {
		t.Fatalf("json all: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(context.Background(), "profiles", "no-such-profile"); code != ExitUsage {
		t.Errorf("unknown profile: exit %d", code)
	}
}

// TestRulesJSONSnakeCase: `keeptune rules -o json` uses the snake_case keys docs/json.md lists.
func TestRulesJSONSnakeCase(t *testing.T) {
	code, out, _ := runCLI(context.Background(), "rules", "KT101", "-o", "json")
	var docs []map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &docs) != nil || len(docs) != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var keys []string
	for k := range docs[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, " "); got != "fix id name severity source title what why" {
		t.Errorf("keys = %s", got)
	}
	page, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(page)[strings.Index(string(page), "## Rules (`keeptune rules -o json`)"):]
	for _, k := range keys {
		if !strings.Contains(sec, "| "+k+" |") {
			t.Errorf("docs/json.md's Rules section does not document %q", k)
		}
	}
}

// TestVersionFromCheckout: a binary built from a git checkout says its revision in --version
// and `keeptune version`, not "dev" (issue 17).
func TestVersionFromCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed: no checkout to build from")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	bin := filepath.Join(t.TempDir(), "keeptune")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "../../cmd/keeptune")
	build.Env = append(os.Environ(), "GOFLAGS=") // a -buildvcs=false in the environment would win
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if meta, err := exec.Command("go", "version", "-m", bin).Output(); err != nil || !strings.Contains(string(meta), "vcs.revision=") {
		// The go tool finds the repository by a .git directory; a `git worktree` has a .git
		// file, and the build carries no revision to report. CI builds from a clone.
		t.Skipf("the go tool stamped no VCS revision here (a git worktree?): %v", err)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v := strings.TrimSpace(string(out)); strings.HasSuffix(v, " dev") || !strings.Contains(v, rev[:12]) {
		t.Errorf("--version = %q, want the revision %s", v, rev[:12])
	}
	out, err = exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var b BuildInfo
	if err := json.Unmarshal(out, &b); err != nil || b.Revision != rev || !strings.HasPrefix(b.GoVersion, "go") || b.Module != "github.com/keeptune/keeptune" {
		t.Errorf("version -o json = %+v (%v)\n%s", b, err, out)
	}
	out, _ = exec.Command(bin, "version").Output()
	if !strings.Contains(string(out), "revision: "+rev) || !strings.Contains(string(out), "go:       go") {
		t.Errorf("version:\n%s", out)
	}
}
