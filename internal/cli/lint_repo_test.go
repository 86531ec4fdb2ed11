package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A configuration repository linted with --root: its own absolute includes are read from the
// tree; a file the tree lacks is never read from the machine's /etc (/etc/passwd exists on
// every machine and is not nginx syntax: reading it would fail), only named in a warning.
func TestLintRootReadsTheRepositoryNotTheHost(t *testing.T) {
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("the check needs a file that exists only under the machine's /etc")
	}
	repo := writeTree(t, map[string]string{
		"etc/nginx/nginx.conf":             "events {}\nhttp {\n    include /etc/passwd;\n    include /etc/nginx/conf.d/*.conf;\n    include /etc/nginx/sites-enabled/*;\n}\n",
		"etc/nginx/conf.d/upstream.conf":   "upstream app {\n    server 10.0.0.1:8080;\n    keepalive 16;\n}\n",
		"etc/nginx/sites-enabled/api.conf": "server {\n    listen 80;\n    server_name api.example.com;\n    keepalive_timeout 5s;\n    location / { proxy_pass http://app; }\n}\n",
	})
	out, stderr, code := run(t, "lint", "--root", repo, "-o", "json", filepath.Join(repo, "etc/nginx/nginx.conf"))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Configs []struct {
			Files  []string `json:"files"`
			Values []struct {
				Key, Value, Block, File string
			} `json:"values"`
		} `json:"configs"`
		Findings []struct{ Rule, Message string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Configs) != 1 {
		t.Fatalf("%v\n%s", err, out)
	}
	files := strings.Join(rep.Configs[0].Files, " ")
	if files != "/etc/nginx/nginx.conf /etc/nginx/conf.d/upstream.conf /etc/nginx/sites-enabled/api.conf" {
		t.Errorf("files read: %s", files)
	}
	var warned bool
	for _, f := range rep.Findings {
		if f.Rule == "KT890" && strings.Contains(f.Message, "include /etc/passwd: not in the tree") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning naming the include that leaves the tree: %+v", rep.Findings)
	}
	// Without --root the same include reads the machine's /etc/passwd, which nginx refuses.
	_, stderr, code = run(t, "lint", filepath.Join(repo, "etc/nginx/nginx.conf"))
	if code != ExitUsage || !strings.Contains(stderr, "/etc/passwd") {
		t.Errorf("host read: exit %d %s", code, stderr)
	}
}

// A directory argument: every file whose format is detected, the included ones read in their
// place; a bad file is a KT891 finding and the others are still linted; exit 2 at the end.
func TestLintDirectoryGoesOnAfterABadFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"nginx/nginx.conf":       "events {}\nhttp {\n    include conf.d/*.conf;\n}\n",
		"nginx/conf.d/site.conf": "server {\n    listen 80;\n    keepalive_timeout 0;\n}\n",
		"haproxy/haproxy.cfg":    "defaults\n\tmode http\n\tcontimeout 5000\n",
		"notes.txt":              "not a configuration\n",
	})
	out, stderr, code := run(t, "lint", "-v", "--server-version", "haproxy=2.6", "--color", "never", dir)
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2: %s", code, stderr)
	}
	if !strings.Contains(stderr, "error: /"+strings.TrimPrefix(filepath.Join(dir, "haproxy/haproxy.cfg"), "/")+":3: the 'contimeout' directive is not supported anymore since HAProxy 2.1") {
		t.Errorf("stderr: %s", stderr)
	}
	if !strings.Contains(stderr, "not linted: "+filepath.Join(dir, "notes.txt")) {
		t.Errorf("ignored files not listed: %s", stderr)
	}
	// nginx.conf was linted with the file it includes, which is not linted a second time.
	if !strings.Contains(out, "Configurations (1)") || !strings.Contains(out, "conf.d/site.conf:3") || !strings.Contains(out, "KT891") {
		t.Errorf("report:\n%s", out)
	}
}

// Inline suppressions and the baseline.
func TestLintSuppressionAndBaseline(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a/nginx.conf": "events {}\nhttp {\n    keepalive_timeout 0; # keeptune:ignore KT803 clients are one-shot\n}\n",
		"b/nginx.conf": "events {}\nhttp {\n    # keeptune:ignore KT801 reason\n    keepalive_timeout 0;\n}\n",
	})
	a, b := filepath.Join(dir, "a/nginx.conf"), filepath.Join(dir, "b/nginx.conf")
	if out, _, code := run(t, "lint", "--fail-on", "warning", a); code != ExitOK || strings.Contains(out, "KT803") {
		t.Errorf("suppressed on its line: exit %d\n%s", code, out)
	}
	if out, _, code := run(t, "lint", "--fail-on", "warning", b); code != ExitFindings || !strings.Contains(out, "KT803") {
		t.Errorf("a suppression of another rule does not apply: exit %d\n%s", code, out)
	}
	base := filepath.Join(dir, "baseline.json")
	if _, stderr, code := run(t, "lint", "--fail-on", "warning", "--baseline", base, b); code != ExitOK || !strings.Contains(stderr, "wrote baseline") {
		t.Errorf("first run writes the baseline: exit %d %s", code, stderr)
	}
	if out, _, code := run(t, "lint", "--fail-on", "warning", "--baseline", base, b); code != ExitOK || strings.Contains(out, "KT803") {
		t.Errorf("baselined finding shown: exit %d\n%s", code, out)
	}
	// A new finding is not in the baseline.
	if err := os.WriteFile(b, []byte("events {}\nhttp {\n    keepalive_timeout 0;\n    keepalive_requests 10;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := run(t, "lint", "--fail-on", "warning", "--baseline", base, b); code != ExitFindings || !strings.Contains(out, "KT801") || strings.Contains(out, "KT803") {
		t.Errorf("new finding: exit %d\n%s", code, out)
	}
}
