package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func TestTestdata(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "deploy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range c.Workloads {
		got = append(got, w.Label()+"@"+strconvI(w.SpecLine))
	}
	if strings.Join(got, " ") != "Deployment web@11 CronJob report@33 Pod debug@51" {
		t.Fatalf("workloads %v", got)
	}
	k := c.Keepalive(c.Workloads[0])
	if k.Idle.Value != 600*time.Second || k.Idle.Source.Line != 14 || k.Interval.Value != 30*time.Second || k.Count.Value != 5 || k.Count.Source.Line != 18 {
		t.Errorf("deployment %+v", k)
	}
	k = c.Keepalive(c.Workloads[1])
	if !k.Idle.Known || k.Idle.Value != KernelIdle || k.Idle.Source.Kind != model.SourceKernelDefault || k.Count.Value != 9 {
		t.Errorf("cronjob without sysctls: kernel defaults, got %+v", k)
	}
	k = c.Keepalive(c.Workloads[2])
	if k.Idle.Known || k.Idle.Source.Line != 52 || !strings.Contains(k.Idle.Source.Detail, "hostNetwork") {
		t.Errorf("hostNetwork pod: %+v", k.Idle)
	}
	cfg := c.Configs()
	if len(cfg.Values) != 4 || cfg.Values[0].Block != "Deployment web" || cfg.Downstream.TCP.Idle.Value != 600*time.Second {
		t.Errorf("configs %+v", cfg.Values)
	}
}

func strconvI(n int) string {
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"apiVersion: v1\nkind: Pod\nspec:\n  securityContext:\n    sysctls:\n    - name: net.ipv4.tcp_keepalive_time\n      value: 600\n", `/m.yaml:7: Pod : sysctl net.ipv4.tcp_keepalive_time: the value must be a string: write value: "600"`},
		{"apiVersion: v1\nkind: Pod\nspec:\n  securityContext:\n    sysctls:\n    - name: net.ipv4.tcp_keepalive_probes\n      value: \"many\"\n", `/m.yaml:7: Pod : sysctl net.ipv4.tcp_keepalive_probes: expected a whole number above 0, found "many"`},
		{"apiVersion: v1\nkind: Pod\nspec:\n  securityContext:\n    sysctls: 5\n", `/m.yaml:5: Pod : securityContext.sysctls: expected a list`},
		{"apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: maybe\n", `/m.yaml:4: Pod : hostNetwork: expected true or false`},
		{"apiVersion: v1\nkind: Pod\nspec:\n  a: [\n", `/m.yaml:4: invalid YAML`},
		{"a: b\n\tc: d\n", `/m.yaml:2: invalid YAML`},
	}
	for _, tt := range tests {
		_, err := Parse(fstest.MapFS{"m.yaml": {Data: []byte(tt.doc)}}, "m.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	p := Parser{}
	if !p.Detect("/k/d.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\n")) || !p.Detect("/k/p.json", []byte(`{"apiVersion": "v1", "kind": "Pod"}`)) {
		t.Error("not detected")
	}
	if p.Detect("/k/envoy.yaml", []byte("static_resources:\n  listeners: []\n")) || p.Detect("/k/keeptune.yaml", []byte("chain:\n - {name: a}\n")) {
		t.Error("foreign file detected")
	}
	if _, ok := configs.Lookup("kubernetes"); !ok {
		t.Error("not registered")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("kind: Pod\nspec: &s\n  securityContext: {sysctls: [{name: a, value: *s}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(fstest.MapFS{"m.yaml": {Data: data}}, "m.yaml")
		if err != nil {
			return
		}
		for _, v := range c.Configs().Values {
			if v.Location.Line < 1 {
				t.Fatalf("value without a line: %+v", v)
			}
		}
	})
}
