package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

// TestPlanConfigDiffsPassTheServersCheck: every configuration diff of a plan applies with
// patch(1) and the result passes the real server's own check (nginx -t, haproxy -c, apache2
// -t), and says what the plan planned.
func TestPlanConfigDiffsPassTheServersCheck(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("patch not installed")
	}
	port := testutil.FreePort(t)
	cases := []struct {
		name, bin, file, conf, chain string
		want                         []string // lines the patched file must have
		check                        func(dir, file string) *exec.Cmd
	}{
		{
			name: "nginx", bin: "nginx", file: "nginx.conf",
			conf: "events {}\nhttp {\n    access_log off;\n    server {\n        listen 127.0.0.1:" + itoa(port) + ";\n        keepalive_timeout 75s;\n        location / { proxy_pass http://127.0.0.1:9; proxy_read_timeout 300s; }\n    }\n}\n",
			// OkHttp pools for 5 min through a 90 s LVS to an nginx that waits up to 300 s for its
			// backend: nginx's keepalive must refresh the LVS, and then its keep-alive idle may (and
			// must) outlast the pool.
			chain: "  - {name: clients, type: client, runtime: okhttp}\n  - {name: lvs, catalog: linux-ipvs, idle_timeout: 90s}\n  - {name: nginx, type: proxy, runtime: nginx, config: CONF}\n  - {name: app, type: server, http_keepalive_timeout: 120s}\n",
			want:  []string{"listen 127.0.0.1:" + itoa(port) + " so_keepalive=80s::;", "keepalive_timeout 310s;"},
			check: func(dir, file string) *exec.Cmd {
				return exec.Command("nginx", "-t", "-q", "-p", dir+"/", "-c", file, "-e", "stderr")
			},
		},
		{
			name: "haproxy", bin: "haproxy", file: "haproxy.cfg",
			conf:  "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n    timeout http-keep-alive 75s\n\nfrontend web\n    bind 127.0.0.1:" + itoa(port) + "\n    default_backend app\n\nbackend app\n    server a 127.0.0.1:9\n",
			chain: "  - {name: clients, type: client, runtime: okhttp}\n  - {name: haproxy, type: proxy, runtime: haproxy, config: CONF}\n  - {name: app, type: server, http_keepalive_timeout: 120s}\n",
			want:  []string{"timeout http-keep-alive 310s"},
			check: func(dir, file string) *exec.Cmd { return exec.Command("haproxy", "-c", "-f", file) },
		},
		{
			name: "apache", bin: "apache2", file: "apache2.conf",
			conf:  "ServerRoot /etc/apache2\nInclude /etc/apache2/mods-enabled/*.load\nInclude /etc/apache2/mods-enabled/*.conf\nListen 127.0.0.1:" + itoa(port) + "\nPidFile PIDDIR/apache.pid\nErrorLog /dev/null\nKeepAlive On\nKeepAliveTimeout 5\n<VirtualHost *:" + itoa(port) + ">\n    DocumentRoot /var/www\n</VirtualHost>\n",
			chain: "  - {name: clients, type: client}\n  - {name: alb, catalog: aws-alb}\n  - {name: apache, type: server, runtime: apache, config: CONF}\n",
			want:  []string{"KeepAliveTimeout 65"},
			check: func(dir, file string) *exec.Cmd {
				cmd := exec.Command("apache2", "-t", "-f", file)
				cmd.Env = append(os.Environ(), "APACHE_RUN_DIR="+dir, "APACHE_LOG_DIR="+dir, "APACHE_RUN_USER=nobody", "APACHE_RUN_GROUP=nogroup", "APACHE_PID_FILE="+dir+"/pid", "APACHE_LOCK_DIR="+dir)
				return cmd
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s not installed", tc.bin)
			}
			// --root is honoured for the configurations chain hops name: the server's file lives
			// in the audited root (/srv/FILE there); Apache's includes reach the machine's modules.
			root := testutil.FakeRoot(t, testutil.Host{Symlinks: map[string]string{"etc/apache2": "/etc/apache2"}})
			dir := filepath.Join(root, "srv")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, tc.file)
			hostFile := "/srv/" + tc.file
			conf := strings.ReplaceAll(tc.conf, "PIDDIR", dir)
			if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := tc.check(dir, file).CombinedOutput(); err != nil {
				t.Fatalf("the configuration before the plan fails its check: %v\n%s", err, out)
			}
			chainFile := filepath.Join(dir, "keeptune.yaml")
			if err := os.WriteFile(chainFile, []byte("profile: api-gateway\nchain:\n"+strings.ReplaceAll(tc.chain, "CONF", hostFile)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := run(t, "plan", "--chain", chainFile, "--no-configs", "--root", root, "-o", "json")
			if code != 0 {
				t.Fatalf("plan: exit %d: %s", code, stderr)
			}
			var p plan.Plan
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatal(err)
			}
			if len(p.ConfigDiffs) != 1 || p.ConfigDiffs[0].File != hostFile {
				t.Fatalf("config diffs: %+v\nchanges: %+v", p.ConfigDiffs, p.Changes)
			}
			diff := filepath.Join(dir, "plan.diff")
			if err := os.WriteFile(diff, []byte(p.ConfigDiffs[0].Diff), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("patch", file, diff).CombinedOutput(); err != nil {
				t.Fatalf("patch: %v\n%s\n%s", err, out, p.ConfigDiffs[0].Diff)
			}
			patched, _ := os.ReadFile(file)
			for _, w := range tc.want {
				if !strings.Contains(string(patched), w) {
					t.Errorf("patched file lacks %q:\n%s", w, patched)
				}
			}
			if out, err := tc.check(dir, file).CombinedOutput(); err != nil {
				t.Errorf("%s rejects the patched configuration: %v\n%s\n%s", tc.bin, err, out, patched)
			}
			// Converged: after the diff, the plan has nothing left to change in the file.
			d, _, _ := run(t, "plan", "--chain", chainFile, "--no-configs", "--root", root, "-o", "diff")
			if d != "" {
				t.Errorf("after patching, -o diff still has:\n%s", d)
			}
			out, _, _ = run(t, "plan", "--chain", chainFile, "--no-configs", "--root", root, "-o", "json")
			var again plan.Plan
			if err := json.Unmarshal([]byte(out), &again); err != nil {
				t.Fatal(err)
			}
			for _, c := range again.Changes {
				if c.Scope.File == hostFile {
					t.Errorf("after patching: %s %s -> %s", c.Scope.Name, c.Key, c.To)
				}
			}
		})
	}
}
