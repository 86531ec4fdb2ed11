package rules

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	_ "github.com/keeptune/keeptune/internal/configs/all"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
)

// lintConfig parses files (the first key of order is the main file) with a format's parser and
// runs the named rules on the result.
func confLint(t *testing.T, format string, files map[string]string, main string, snap *model.Snapshot, ids ...string) []model.Finding {
	t.Helper()
	fsys := fstest.MapFS{}
	for k, v := range files {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	p, ok := configs.Lookup(format)
	if !ok {
		t.Fatalf("format %s not registered", format)
	}
	cfg, err := p.Parse(fsys, main)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Select(Selection{Enable: ids})
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profiles.Resolve("general")
	return Run(&Input{Configs: []*configs.Config{cfg}, Profile: prof, Snapshot: snap}, rs)
}

// summary renders findings as "ID severity file:line | fix line" for comparison.
func confSummary(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		s := f.Rule + " " + f.Severity.String()
		if f.Location != nil {
			s += " " + f.Location.String()
		}
		if f.Fix != nil {
			s += " | " + strings.ReplaceAll(f.Fix.Line, "\n", " / ")
		}
		out = append(out, s)
	}
	return out
}

func confExpect(t *testing.T, got []model.Finding, want ...string) {
	t.Helper()
	s := confSummary(got)
	if strings.Join(s, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range got {
		if f.Subject == "" || f.Message == "" || len(f.Evidence) == 0 || f.Fix == nil || f.Fix.Line == "" || f.Location == nil {
			t.Errorf("%s: incomplete finding %+v", f.Rule, f)
		}
	}
}

const nginxPoolDefeatedConf = `events {}
http {
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream backend {
        server 127.0.0.1:8081;
        keepalive 32;
    }
    upstream fcgi {
        server 127.0.0.1:9000;
        keepalive 8;
    }
    server {
        listen 80;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        location / {
            proxy_pass http://backend;
        }
        location /ws/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
        location /old/ {
            proxy_pass http://backend/x;
            proxy_http_version 1.0;
            proxy_set_header Connection "";
        }
        location /ok/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /php/ {
            fastcgi_pass fcgi;
        }
        location /grpc/ {
            grpc_pass grpc://backend;
        }
    }
}
`

func TestKT800PoolDefeated(t *testing.T) {
	fs := confLint(t, "nginx", map[string]string{"n.conf": nginxPoolDefeatedConf}, "n.conf", nil, "KT800")
	confExpect(t, fs,
		`KT800 warning /n.conf:20 | proxy_http_version 1.1; / proxy_set_header Connection ""; / proxy_set_header Host $host; / proxy_set_header X-Real-IP $remote_addr;`,
		`KT800 warning /n.conf:30 | proxy_http_version 1.1;`,
		`KT800 warning /n.conf:5 | '' "";`,
		`KT800 warning /n.conf:39 | fastcgi_keep_conn on;`,
	)
	// The first location inherits two headers from the server: the fix repeats them, and says where.
	if !strings.Contains(fs[0].Fix.Note, "location /") || !strings.Contains(fs[0].Message, "proxy_http_version is 1.0 (nginx's default)") {
		t.Errorf("fix note %q / message %q", fs[0].Fix.Note, fs[0].Message)
	}
	if fs[2].Fix.FileLine != 5 || fs[2].Fix.Current != "close" || fs[2].Fix.Proposed != `""` {
		t.Errorf("map fix %+v", fs[2].Fix)
	}
	if fs[1].Fix.FileLine != 30 || fs[1].Fix.Current != "1.0" || fs[1].Fix.Proposed != "1.1" {
		t.Errorf("replace fix %+v", fs[1].Fix)
	}
}

func TestKT800QuietWhenPoolsWork(t *testing.T) {
	conf := `http {
    upstream b { server x; keepalive 4; }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    server { listen 80; location / { proxy_pass http://b; } location /h { proxy_pass http://other.example; } }
    upstream nokeep { server y; }
    server { listen 81; location / { proxy_pass http://nokeep; } }
}
events {}`
	confExpect(t, confLint(t, "nginx", map[string]string{"n.conf": conf}, "n.conf", nil, "KT800"))
}

func TestKT801KeepaliveRequests(t *testing.T) {
	conf := `http {
    keepalive_requests 50;
    upstream b { server x; keepalive 4; keepalive_requests 500; }
    server { listen 80; keepalive_requests 1000; location / { keepalive_requests 100; } }
}
events {}`
	confExpect(t, confLint(t, "nginx", map[string]string{"n.conf": conf}, "n.conf", nil, "KT801"),
		"KT801 warning /n.conf:2 | keepalive_requests 1000;",
		"KT801 info /n.conf:4 | keepalive_requests 1000;", // sorted by subject: "server ..." before "upstream ..."
		"KT801 info /n.conf:3 | keepalive_requests 1000;",
	)
}

func TestKT802HostSysctls(t *testing.T) {
	conf := `http {
    server { listen 80 default_server so_keepalive=on; listen 8443 ssl so_keepalive=30s::; listen 81 so_keepalive=1m:10s:3; proxy_socket_keepalive on; location / { proxy_pass http://x; } }
}
events {}`
	fs := confLint(t, "nginx", map[string]string{"n.conf": conf}, "n.conf", nil, "KT802")
	confExpect(t, fs,
		"KT802 info /n.conf:2 | listen 80 default_server so_keepalive=600s:30s:5;",
		"KT802 info /n.conf:2 | listen 8443 ssl so_keepalive=30s:30s:5;",
		"KT802 info /n.conf:2 | net.ipv4.tcp_keepalive_time = 600 / net.ipv4.tcp_keepalive_intvl = 30 / net.ipv4.tcp_keepalive_probes = 5",
	)
	if !strings.Contains(fs[0].Message, "2h11m15s") || !strings.Contains(fs[0].Message, "kernel default") {
		t.Errorf("lint says the kernel defaults apply: %s", fs[0].Message)
	}
	// With host facts (audit), the host's values are the ones named.
	snap := &model.Snapshot{Namespaces: []model.Namespace{{Name: "host", Current: true, Keepalive: model.KeepaliveSettings{
		Idle: model.KnownSetting(300*time.Second, model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/90-ka.conf", Line: 1}),
	}}}}
	fs = confLint(t, "nginx", map[string]string{"n.conf": conf}, "n.conf", snap, "KT802")
	if !strings.Contains(fs[0].Message, "idle 5m (/etc/sysctl.d/90-ka.conf:1)") {
		t.Errorf("audit names the host's value: %s", fs[0].Message)
	}
}

func TestKT803KeepaliveOff(t *testing.T) {
	conf := "http {\n keepalive_timeout 0;\n server { listen 80; keepalive_timeout 10s; }\n}\nevents {}\n"
	confExpect(t, confLint(t, "nginx", map[string]string{"n.conf": conf}, "n.conf", nil, "KT803"),
		"KT803 warning /n.conf:2 | keepalive_timeout 75s;")
}

func TestKT804KeepaliveHeader(t *testing.T) {
	conf := "http {\n keepalive_timeout 65s 75;\n server { listen 80; keepalive_timeout 65 60; }\n server { listen 81; keepalive_timeout 30s 30s; }\n}\nevents {}\n"
	confExpect(t, confLint(t, "nginx", map[string]string{"n.conf": conf}, "n.conf", nil, "KT804"),
		"KT804 warning /n.conf:2 | keepalive_timeout 65s 59;",
		"KT804 warning /n.conf:4 | keepalive_timeout 30s 27;")
}

// TestNginxTestdataFindings runs every nginx rule on the nginx package's testdata, so the rules
// see the configurations the real nginx accepted in the integration tests.
func TestNginxTestdataFindings(t *testing.T) {
	cfg, err := configs.ReadFile("../configs/nginx/testdata/valid/pool-defeated.conf", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profiles.Resolve("general")
	var nginxRules []Rule
	for _, r := range configs.FormatRules()["nginx"] {
		nginxRules = append(nginxRules, formatRule("nginx", r))
	}
	fs := Run(&Input{Configs: []*configs.Config{cfg}, Profile: prof}, nginxRules)
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule+"@"+f.Location.String()[strings.LastIndex(f.Location.String(), ":")+1:])
	}
	if strings.Join(ids, " ") != "KT800@20 KT800@31 KT800@7" {
		t.Errorf("findings %v", ids)
	}
}
