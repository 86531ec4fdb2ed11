package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

// etcState describes the sysctl configuration files (sha256, mode, owner, mtime, link targets)
// and live values in this namespace and in ns.
func etcState(t *testing.T, ns string) string {
	t.Helper()
	var lines []string
	for _, root := range []string{"/etc/sysctl.d", "/etc/sysctl.conf"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := os.Lstat(p)
			if err != nil {
				return err
			}
			sys := st.Sys().(*syscall.Stat_t)
			line := fmt.Sprintf("%s %v %d:%d", p, st.Mode(), sys.Uid, sys.Gid)
			if !st.IsDir() { // a directory's mtime moves with every file created in it
				line += fmt.Sprintf(" mtime=%d", st.ModTime().UnixNano())
			}
			if st.Mode()&fs.ModeSymlink != 0 {
				l, _ := os.Readlink(p)
				line += " -> " + l
			} else if st.Mode().IsRegular() {
				b, _ := os.ReadFile(p)
				line += fmt.Sprintf(" sha256=%x", sha(b))
			}
			lines = append(lines, line)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"} {
		lines = append(lines, "host "+k+"="+liveValue(t, "", k), ns+" "+k+"="+liveValue(t, ns, k))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func writeFile(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// sandboxHost prepares the sandbox's /etc (sysctl files that disagree, Debian's link to
// /etc/sysctl.conf holding a 3600), a second namespace, and a plan as `keeptune plan -o json`
// writes it, and returns the namespace path and the plan file.
func sandboxHost(t *testing.T) (nsPath, planFile string, p *plan.Plan) {
	t.Helper()
	_ = os.RemoveAll("/etc/sysctl.d")
	writeFile(t, "/etc/sysctl.conf", "# sysctl.conf\nnet.ipv4.tcp_keepalive_time = 3600\n", 0o644)
	writeFile(t, "/etc/sysctl.d/10-platform.conf", "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\n", 0o644)
	writeFile(t, "/etc/sysctl.d/50-legacy.conf", "net.ipv4.tcp_keepalive_time = 1800\n", 0o600)
	if err := os.Chown("/etc/sysctl.d/50-legacy.conf", 0, 4); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../sysctl.conf", "/etc/sysctl.d/99-sysctl.conf"); err != nil {
		t.Fatal(err)
	}
	setLive(t, "", "net.ipv4.tcp_keepalive_time", "3600")
	nsPath, name := testutil.PinnedNetns(t, func() error { return nil })
	inode := nsInode(t, nsPath)
	host := plan.Scope{Kind: plan.ScopeHost, Name: "host", Netns: &plan.NetnsRef{}}
	other := plan.Scope{Kind: plan.ScopeNetns, Name: name, Netns: &plan.NetnsRef{Inode: inode, Name: name, Path: nsPath}}
	known := func(v string) plan.Value { return plan.Value{Value: v, Known: true} }
	p = &plan.Plan{
		Host: "sandbox", Profile: "api-gateway",
		Changes: []plan.Change{
			{Scope: host, Key: "net.ipv4.tcp_keepalive_time", From: known("3600"), To: "80"},
			{Scope: host, Key: "net.ipv4.tcp_keepalive_probes", From: known("9"), To: "5"},
			{Scope: other, Key: "net.ipv4.tcp_keepalive_time", From: known("7200"), To: "80"},
			{Scope: other, Key: "net.ipv4.tcp_keepalive_intvl", From: known("75"), To: "15"},
			{Scope: plan.Scope{Kind: plan.ScopeHop, Name: "app (go)", Hop: "app", Side: "upstream"}, Key: "keepalive", To: "80s",
				Apply: []plan.Step{{Kind: "code", Where: "go", Lang: "go", Text: "net.KeepAliveConfig{Enable: true, Idle: 80 * time.Second}"}}},
		},
		Removes: []plan.Remove{
			{File: "/etc/sysctl.d/99-sysctl.conf", Line: 2, Text: "net.ipv4.tcp_keepalive_time = 3600", Key: "net.ipv4.tcp_keepalive_time"},
			{File: "/etc/sysctl.d/50-legacy.conf", Line: 1, Text: "net.ipv4.tcp_keepalive_time = 1800", Key: "net.ipv4.tcp_keepalive_time"},
		},
		SysctlFiles: []plan.SysctlFile{{Path: "/etc/sysctl.d/99-zz-keeptune.conf", Content: "net.ipv4.tcp_keepalive_time = 80\nnet.ipv4.tcp_keepalive_probes = 5\n",
			Keys: []string{"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_probes"}}},
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	planFile = filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return nsPath, planFile, p
}

// TestApplyRollbackRestoresEverything: in a throw-away /etc and network namespaces, apply a plan
// (host and a second namespace), apply it again (nothing to do), roll back, and find every file
// byte for byte with its mode, owner and mtime, and every live value, as before.
func TestApplyRollbackRestoresEverything(t *testing.T) {
	if !testutil.Sandbox(t) {
		return
	}
	ns, planFile, _ := sandboxHost(t)
	before := etcState(t, ns)

	// Not on a terminal and without --yes: it shows what it would do and changes nothing.
	out, stderr, code := run(t, "apply", planFile)
	if code != ExitUsage || !strings.Contains(stderr, "add --yes") || !strings.Contains(stderr, "set      net.ipv4.tcp_keepalive_time in host: 3600 -> 80") {
		t.Errorf("apply without --yes: exit %d\n%s", code, stderr)
	}
	if got := etcState(t, ns); got != before {
		t.Fatal("apply without --yes changed the host")
	}

	out, stderr, code = run(t, "apply", "--yes", planFile)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("apply:\n%s", out)
	for _, want := range []string{"applied ", "wrote    /etc/sysctl.d/99-zz-keeptune.conf", "removed  /etc/sysctl.conf:2  net.ipv4.tcp_keepalive_time = 3600",
		"set      net.ipv4.tcp_keepalive_intvl in " + filepath.Base(ns) + ": 75 -> 15", "not applied by keeptune", "net.KeepAliveConfig"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q", want)
		}
	}
	if v := liveValue(t, ns, "net.ipv4.tcp_keepalive_time"); v != "80" {
		t.Errorf("tcp_keepalive_time in the second namespace = %s, want 80", v)
	}
	if v := liveValue(t, "", "net.ipv4.tcp_keepalive_probes"); v != "5" {
		t.Errorf("tcp_keepalive_probes here = %s, want 5", v)
	}
	if l, err := os.Readlink("/etc/sysctl.d/99-sysctl.conf"); err != nil || l != "../sysctl.conf" {
		t.Errorf("99-sysctl.conf is no longer the link: %q %v", l, err)
	}
	if b, _ := os.ReadFile("/etc/sysctl.conf"); string(b) != "# sysctl.conf\n" {
		t.Errorf("sysctl.conf after apply: %q", b)
	}

	out, _, code = run(t, "apply", "--yes", planFile)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("second apply: exit %d, want nothing to do:\n%s", code, out)
	}

	out, _, code = run(t, "rollback", "--list")
	if code != 0 || !strings.Contains(out, "applied") {
		t.Errorf("rollback --list: exit %d\n%s", code, out)
	}
	out, stderr, code = run(t, "rollback")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("rollback:\n%s", out)
	if got := etcState(t, ns); got != before {
		t.Errorf("rollback did not restore everything:\nbefore:\n%s\nafter:\n%s", before, got)
	}
}

// TestApplyDriftedPlanChangesNothing: a live value changed after the plan was made; apply
// refuses, says which, and changes nothing.
func TestApplyDriftedPlanChangesNothing(t *testing.T) {
	if !testutil.Sandbox(t) {
		return
	}
	ns, planFile, _ := sandboxHost(t)
	setLive(t, ns, "net.ipv4.tcp_keepalive_intvl", "20")
	before := etcState(t, ns)
	out, stderr, code := run(t, "apply", "--yes", planFile)
	if code != ExitRuntime {
		t.Fatalf("apply of a drifted plan: exit %d, want %d\n%s%s", code, ExitRuntime, out, stderr)
	}
	if !strings.Contains(stderr, `net.ipv4.tcp_keepalive_intvl in `+filepath.Base(ns)+`: the plan expected "75", now "20"`) || !strings.Contains(stderr, "nothing was changed") {
		t.Errorf("the error does not say what drifted:\n%s", stderr)
	}
	if got := etcState(t, ns); got != before {
		t.Errorf("a drifted apply changed the host:\n%s\n---\n%s", before, got)
	}
	if entries, _ := os.ReadDir("/var/lib/keeptune/journal"); len(entries) != 0 {
		t.Errorf("a drifted apply left %d journal entries", len(entries))
	}
}
