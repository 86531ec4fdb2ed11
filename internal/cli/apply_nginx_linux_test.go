package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

const nginxInclude = "/etc/nginx/conf.d/keeptune-test.conf"

// startNginx writes a small nginx tree into the sandbox's /etc/nginx (the keepalive lives in an
// included file) and starts nginx on it; it stops with the test.
func startNginx(t *testing.T) int {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed (apt-get install nginx)")
	}
	port := testutil.FreePort(t)
	writeFile(t, "/etc/nginx/nginx.conf", fmt.Sprintf("daemon off;\npid /run/keeptune-test-nginx.pid;\nerror_log /run/keeptune-test-nginx.log;\nevents {}\nhttp {\n    access_log off;\n    include %s;\n    server {\n        listen 127.0.0.1:%d;\n    }\n}\n", nginxInclude, port), 0o644)
	writeFile(t, nginxInclude, "# keepalive towards clients\nkeepalive_timeout 75s;\nkeepalive_requests 1000;\n", 0o644)
	// daemon off: nginx stays this test's child, and dies with the thread that started it
	// (Pdeathsig) even if the test is killed. That thread stays locked and alive until cleanup:
	// Pdeathsig fires when the parent *thread* ends, and Go ends threads (a locked one that
	// entered a namespace, for example) that are not locked like this.
	started := make(chan error, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	var master int
	go func() {
		runtime.LockOSThread()
		defer close(done)
		cmd := exec.Command("nginx", "-c", "/etc/nginx/nginx.conf")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		master = cmd.Process.Pid
		started <- nil
		<-stop
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { close(stop); <-done })
	for i := 0; i < 250 && workers(master) == ""; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if workers(master) == "" {
		log, _ := os.ReadFile("/run/keeptune-test-nginx.log")
		t.Fatalf("nginx started no worker:\n%s", log)
	}
	return master
}

// workers lists the master's children: nginx replaces them on a reload.
func workers(master int) string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(master) {
				out = append(out, e.Name())
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func waitWorkersChange(t *testing.T, master int, before string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if w := workers(master); w != "" && w != before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("nginx was not reloaded: its workers are still %s", before)
}

func nginxPlan(t *testing.T, from, to string) string {
	t.Helper()
	diff := fmt.Sprintf("--- %s\n+++ %s\n@@ -1,3 +1,3 @@\n # keepalive towards clients\n-keepalive_timeout %s;\n+keepalive_timeout %s;\n keepalive_requests 1000;\n", nginxInclude, nginxInclude, from, to)
	p := plan.Plan{ConfigDiffs: []plan.ConfigDiff{{File: nginxInclude, Format: "nginx", Diff: diff, Check: "nginx -t", Reload: "systemctl reload nginx"}}}
	b, _ := json.Marshal(p)
	f := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestApplyNginxEditReloadRollback: an nginx edit in an included file is checked with nginx -t
// against the edited tree, swapped in, and the running nginx reloaded; rollback restores the
// file byte for byte and reloads again.
func TestApplyNginxEditReloadRollback(t *testing.T) {
	if !testutil.Sandbox(t) {
		return
	}
	master := startNginx(t)
	orig, _ := os.ReadFile(nginxInclude)
	st0, _ := os.Stat(nginxInclude)
	w0 := workers(master)

	out, stderr, code := run(t, "apply", "--yes", nginxPlan(t, "75s", "60s"))
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("apply:\n%s", out)
	if b, _ := os.ReadFile(nginxInclude); !strings.Contains(string(b), "keepalive_timeout 60s;") {
		t.Errorf("the edit is not in place:\n%s", b)
	}
	if !strings.Contains(out, fmt.Sprintf("SIGHUP to master %d", master)) {
		t.Errorf("apply does not say it reloaded nginx:\n%s", out)
	}
	waitWorkersChange(t, master, w0)
	w1 := workers(master)

	out, stderr, code = run(t, "rollback")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("rollback:\n%s", out)
	b, _ := os.ReadFile(nginxInclude)
	st1, _ := os.Stat(nginxInclude)
	if string(b) != string(orig) || st1.Mode() != st0.Mode() || !st1.ModTime().Equal(st0.ModTime()) {
		t.Errorf("rollback did not restore %s exactly: %q %v %v (was %v %v)", nginxInclude, b, st1.Mode(), st1.ModTime(), st0.Mode(), st0.ModTime())
	}
	waitWorkersChange(t, master, w1)
}

// TestApplyNginxFailingCheckChangesNothing: an edit nginx -t rejects changes nothing (no file,
// no journal entry, no reload) and the error carries nginx's own message.
func TestApplyNginxFailingCheckChangesNothing(t *testing.T) {
	if !testutil.Sandbox(t) {
		return
	}
	master := startNginx(t)
	orig, _ := os.ReadFile(nginxInclude)
	w0 := workers(master)
	out, stderr, code := run(t, "apply", "--yes", nginxPlan(t, "75s", "60s 50s 40s"))
	if code != ExitRuntime {
		t.Fatalf("apply: exit %d, want %d\n%s%s", code, ExitRuntime, out, stderr)
	}
	t.Logf("stderr:\n%s", stderr)
	for _, want := range []string{"nginx -t rejects the edited configuration", `invalid number of arguments in "keepalive_timeout"`, "nothing was changed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the error lacks %q", want)
		}
	}
	if b, _ := os.ReadFile(nginxInclude); string(b) != string(orig) {
		t.Errorf("the file changed:\n%s", b)
	}
	if left, _ := filepath.Glob("/etc/nginx/conf.d/.keeptune-*"); len(left) > 0 {
		t.Errorf("edited copies left beside the original: %v", left)
	}
	if entries, _ := os.ReadDir("/var/lib/keeptune/journal"); len(entries) != 0 {
		t.Errorf("a refused apply left %d journal entries", len(entries))
	}
	time.Sleep(200 * time.Millisecond)
	if w := workers(master); w != w0 {
		t.Errorf("nginx was reloaded (workers %s -> %s)", w0, w)
	}
}
