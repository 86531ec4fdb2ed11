package apply

import (
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/plan"
)

func TestFromPlan(t *testing.T) {
	host := plan.Scope{Kind: plan.ScopeHost, Name: "pid 1 init", Netns: &plan.NetnsRef{Inode: 1}}
	app := plan.Scope{Kind: plan.ScopeNetns, Name: "demo-app", Netns: &plan.NetnsRef{Inode: 7, Name: "demo-app", Path: "/run/netns/demo-app"}}
	p := &plan.Plan{
		Changes: []plan.Change{
			{Scope: host, Key: "net.ipv4.tcp_keepalive_time", From: plan.Value{Value: "7200", Known: true}, To: "180"},
			{Scope: app, Key: "net.ipv4.tcp_keepalive_time", From: plan.Value{Known: false}, To: "180"},
			{Scope: plan.Scope{Kind: plan.ScopeConfig, Name: "nginx http", File: "/etc/nginx/nginx.conf", Line: 5}, Key: "keepalive_timeout", To: "60s"},
			{Scope: plan.Scope{Kind: plan.ScopeHop, Name: "app (go)"}, Key: "keepalive", To: "80s", Apply: []plan.Step{{Where: "go", Text: "net.KeepAliveConfig{...}", Note: "Go: on the Dialer or ListenConfig"}}},
		},
		Removes:     []plan.Remove{{File: "/etc/sysctl.conf", Line: 3, Text: "net.ipv4.tcp_keepalive_time = 3600"}},
		SysctlFiles: []plan.SysctlFile{{Path: "/etc/sysctl.d/99-zz-keeptune.conf", Content: "x = 1\n"}},
		ConfigDiffs: []plan.ConfigDiff{{File: "/etc/nginx/nginx.conf", Format: "nginx", Diff: "d"}, {File: "/etc/envoy.yaml", Format: "envoy", Diff: "e"}},
	}
	req, printed, err := FromPlan(p, []byte("raw"), "plan.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Files) != 1 || len(req.Removes) != 1 || len(req.Sysctls) != 2 || len(req.Configs) != 1 || string(req.Plan) != "raw" {
		t.Fatalf("request %+v", req)
	}
	if s := req.Sysctls[0]; s.Scope != "host" || s.Netns.Path != "" || s.From != "7200" || s.To != "180" {
		t.Errorf("host change: %+v", s)
	}
	if s := req.Sysctls[1]; s.Netns.Path != "/run/netns/demo-app" || s.Netns.Inode != 7 || s.From != "" {
		t.Errorf("namespace change (unknown from: no drift check): %+v", s)
	}
	if len(printed) != 2 || !strings.Contains(printed[0], "net.KeepAliveConfig") || !strings.Contains(printed[0], "Go: on the Dialer or ListenConfig") || !strings.Contains(printed[1], "envoy") {
		t.Errorf("printed: %q", printed)
	}
	for only, want := range map[string][4]int{ // files, removes, sysctls, configs
		"host":         {1, 1, 1, 0},
		"netns":        {0, 0, 1, 0},
		"configs":      {0, 0, 0, 1},
		"host,configs": {1, 1, 1, 1},
	} {
		req, _, err := FromPlan(p, nil, "", []string{only})
		if err != nil {
			t.Fatal(err)
		}
		if got := [4]int{len(req.Files), len(req.Removes), len(req.Sysctls), len(req.Configs)}; got != want {
			t.Errorf("--only %s: %v, want %v", only, got, want)
		}
	}
	if _, _, err := FromPlan(p, nil, "", []string{"kernel"}); err == nil || !strings.Contains(err.Error(), "expected host, netns, configs") {
		t.Errorf("--only kernel: %v", err)
	}
}
