package apply

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// serverCase is a minimal configuration of a real server with the keepalive line a plan edits.
type serverCase struct {
	server, bin, file, config, line, good, bad, complaint string
}

func serverCases(dir string) []serverCase {
	return []serverCase{
		{server: "nginx", bin: "nginx", file: "nginx.conf",
			config: fmt.Sprintf("pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n    access_log off;\n    keepalive_timeout 75s;\n    server { listen 127.0.0.1:18091; }\n}\n", dir, dir),
			line:   "    keepalive_timeout 75s;", good: "    keepalive_timeout 60s;", bad: "    keepalive_timeout 60s 50s 40s;",
			complaint: `invalid number of arguments in "keepalive_timeout"`},
		{server: "haproxy", bin: "haproxy", file: "haproxy.cfg",
			config: "defaults\n  mode http\n  timeout client 30s\n  timeout server 30s\n  timeout connect 5s\n  timeout http-keep-alive 10s\nfrontend f\n  bind 127.0.0.1:18092\n  default_backend b\nbackend b\n  server s 127.0.0.1:18093\n",
			line:   "  timeout http-keep-alive 10s", good: "  timeout http-keep-alive 5s", bad: "  timeout http-keep-alive 5 seconds",
			complaint: "http-keep-alive"},
		{server: "apache", bin: "apache2ctl", file: "httpd.conf",
			config: fmt.Sprintf("ServerRoot %s\nLoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\nServerName localhost\nListen 127.0.0.1:18094\nPidFile %s/pid\nErrorLog %s/error.log\nKeepAliveTimeout 5\n", dir, dir, dir),
			line:   "KeepAliveTimeout 5", good: "KeepAliveTimeout 3", bad: "KeepAliveTimeout 3 4",
			complaint: "KeepAliveTimeout takes one argument"},
	}
}

// diffLine is a unified diff replacing one line of content.
func diffLine(path, content, from, to string) string {
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	for i, l := range lines {
		if l == from {
			return fmt.Sprintf("--- %s\n+++ %s\n@@ -%d,1 +%d,1 @@\n-%s\n+%s\n", path, path, i+1, i+1, from, to)
		}
	}
	panic("no line " + from)
}

// TestConfigEditsWithRealChecks applies an edit to nginx, HAProxy and Apache configurations
// checked by the real servers (nginx -t, haproxy -c, apache2ctl -t through the edited copy
// bind-mounted over the original): a good edit is swapped in and rolled back byte for byte; an
// edit the server rejects changes nothing and carries the server's own complaint.
func TestConfigEditsWithRealChecks(t *testing.T) {
	// In a sandbox: nginx -t writes to its compiled-in error log (/var/log/nginx) before it
	// reads the configuration.
	if !testutil.Sandbox(t) {
		return
	}
	dir := t.TempDir()
	for _, c := range serverCases(dir) {
		t.Run(c.server, func(t *testing.T) {
			if _, err := exec.LookPath(c.bin); err != nil {
				t.Skipf("%s is not installed", c.bin)
			}
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, []byte(c.config), 0o640); err != nil {
				t.Fatal(err)
			}
			before, err := readFileNow(path)
			if err != nil {
				t.Fatal(err)
			}
			j, err := OpenJournal(filepath.Join(t.TempDir(), "state"))
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			edit := func(to string) *Request {
				return &Request{Configs: []ConfigEdit{{Server: c.server, Path: path, Main: path, Diff: diffLine(path, c.config, c.line, to)}}}
			}

			_, err = Apply(j, edit(c.bad), Options{})
			if err == nil || !strings.Contains(err.Error(), c.complaint) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("a bad edit: %v", err)
			}
			if now, _ := readFileNow(path); now.meta != before.meta {
				t.Fatal("a rejected edit changed the file")
			}
			if left, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*")); len(left) > 0 {
				t.Fatalf("edited copies left: %v", left)
			}

			res, err := Apply(j, edit(c.good), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); !strings.Contains(string(b), c.good+"\n") {
				t.Errorf("the good edit is not in place:\n%s", b)
			}
			if _, err := Rollback(j, res.ID, Options{}); err != nil {
				t.Fatal(err)
			}
			if now, _ := readFileNow(path); now.meta != before.meta {
				t.Errorf("rollback: %+v, want %+v", now.meta, before.meta)
			}
		})
	}
}
