package envoy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func dur[T comparable](t *testing.T, name string, s model.Setting[T], want T, line int) {
	t.Helper()
	if !s.Known || s.Value != want || s.Source.Line != line {
		t.Errorf("%s = %+v, want %v at line %d", name, s, want, line)
	}
}

func TestHTTP(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, u := c.Downstream(), c.Upstream()
	dur(t, "idle", d.IdleTimeout, 620*time.Second, 17)
	dur(t, "lifetime", d.MaxLifetime, time.Hour, 18)
	dur(t, "stream idle 0s = no limit", d.ReadTimeout, 0, 19)
	dur(t, "h2 ping", d.HTTP2Ping, 30*time.Second, 21)
	dur(t, "listener keepalive", d.TCP.Enabled, true, 8)
	dur(t, "listener idle", d.TCP.Idle, 300*time.Second, 9)
	if d.TCP.Interval.Known || !strings.Contains(d.TCP.Interval.Source.Detail, "net.ipv4.tcp_keepalive_intvl") {
		t.Errorf("interval %+v", d.TCP.Interval)
	}
	dur(t, "upstream idle", u.IdleTimeout, 50500*time.Millisecond, 43)
	dur(t, "connect", u.ConnectTimeout, 2*time.Second, 33)
	dur(t, "route timeout", u.ReadTimeout, 500*time.Millisecond, 28)
	dur(t, "cluster keepalive", u.TCP.Enabled, true, 36)
	dur(t, "cluster idle", u.TCP.Idle, 2*time.Minute, 37)
	dur(t, "cluster probes", u.TCP.Count, 4, 38)
	dur(t, "cluster h2 ping", u.HTTP2Ping, 20*time.Second, 46)
	if u.TCP.Interval.Known || u.TCP.Interval.Source.Line != 36 {
		t.Errorf("unset keepalive_interval: %+v", u.TCP.Interval)
	}
	if !u.MaxLifetime.Known || u.MaxLifetime.Value != 0 || u.MaxLifetime.Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("default lifetime %+v", u.MaxLifetime)
	}
	db := c.Clusters[1]
	if k := c.ClusterKeepalive(db); !k.Enabled.Known || k.Enabled.Value {
		t.Errorf("db cluster without tcp_keepalive: %+v", k.Enabled)
	}
	if n := len(c.Configs().Values); n != 16 {
		for _, v := range c.Configs().Values {
			t.Log(v)
		}
		t.Errorf("%d values", n)
	}
}

func TestTCPProxyJSON(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "tcp-proxy.json")
	if err != nil {
		t.Fatal(err)
	}
	d, u := c.Downstream(), c.Upstream()
	dur(t, "tcp idle", d.IdleTimeout, 900*time.Second, 9)
	if d.Pools.Known || !d.TCP.Enabled.Known || d.TCP.Enabled.Value {
		t.Errorf("tcp proxy downstream %+v", d)
	}
	dur(t, "connect", u.ConnectTimeout, time.Second, 13)
}

func TestErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"static_resources:\n  clusters:\n  - name: a\n    connect_timeout: 5\n", `/e.yaml:4: connect_timeout: expected a duration in seconds with an "s"`},
		{"static_resources:\n  clusters:\n  - name: a\n    connect_timeout: 1m\n", `/e.yaml:4: connect_timeout: expected a duration`},
		{"static_resources:\n  clusters:\n  - name: a\n    upstream_connection_options:\n      tcp_keepalive: {keepalive_time: 10s}\n", `/e.yaml:5: keepalive_time: expected a whole number of seconds or probes, found "10s"`},
		{"static_resources:\n  clusters:\n  - name: a\n    connect_timeout: {seconds: x}\n", `/e.yaml:4: connect_timeout: seconds: expected a whole number`},
		{"static_resources:\n  listeners: [\n", `/e.yaml:2: invalid YAML`},
	}
	for _, tt := range tests {
		_, err := Parse(fstest.MapFS{"e.yaml": {Data: []byte(tt.doc)}}, "e.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	p := Parser{}
	if !p.Detect("/etc/envoy/envoy.yaml", nil) || !p.Detect("/x/front.json", []byte(`{"static_resources": {}}`)) {
		t.Error("not detected")
	}
	if p.Detect("/k/deploy.yaml", []byte("apiVersion: v1\nkind: Pod\n")) || p.Detect("/k/envoy-cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\ndata:\n  envoy.yaml: |\n    static_resources:\n")) || p.Detect("/etc/envoy/notes.txt", nil) {
		t.Error("foreign file detected")
	}
	if _, ok := configs.Lookup("envoy"); !ok {
		t.Error("not registered")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("static_resources: {clusters: [&a {name: x, connect_timeout: {seconds: 1, nanos: 2}}, *a]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(fstest.MapFS{"e.yaml": {Data: data}}, "e.yaml")
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

// Every listener and cluster has its own sides, with the lines they come from; the listener that
// only redirects is named as not serving, and a chain hop without a selector takes the serving
// listener that closes idle clients first.
func TestListenersAndClusters(t *testing.T) {
	cfg, err := Parser{}.Parse(os.DirFS("testdata"), "listeners.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range cfg.Listeners {
		s := l.Kind + " " + l.Name + " " + strings.Join(l.Addresses, ",") + " @" + l.Location.String()
		if l.NotServing != "" {
			s += " not serving"
		}
		if d := l.Downstream; d != nil {
			s += fmt.Sprintf(" down idle %s@%d", d.IdleTimeout.Value, d.IdleTimeout.Source.Line)
		}
		if u := l.Upstream; u != nil {
			s += fmt.Sprintf(" up idle %s@%d keepalive %v", u.IdleTimeout.Value, u.IdleTimeout.Source.Line, u.TCP.Enabled.Value)
			if u.ReadTimeout.Known {
				s += fmt.Sprintf(" read %s@%d", u.ReadTimeout.Value, u.ReadTimeout.Source.Line)
			}
		}
		got = append(got, s)
	}
	want := []string{
		"listener listener ingress 0.0.0.0:10000 @/listeners.yaml:5 down idle 10m20s@13 up idle 50s@55 keepalive false read 20s@20",
		"listener listener to_https [::]:80 @/listeners.yaml:22 not serving down idle 5s@30",
		"listener listener postgres 127.0.0.1:5432 @/listeners.yaml:39 down idle 30s@48 up idle 1h0m0s@0 keepalive true",
		"cluster cluster app  @/listeners.yaml:50 up idle 50s@55 keepalive false",
		"cluster cluster db  @/listeners.yaml:57 up idle 1h0m0s@0 keepalive true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("listeners\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	down, up, err := cfg.ChainSides(configs.Selector{})
	if err != nil || down.IdleTimeout.Value != 30*time.Second || !strings.Contains(down.IdleTimeout.Source.Detail, "listener postgres") || !up.TCP.Enabled.Value {
		t.Errorf("default hop sides: %+v %+v %v", down, up, err)
	}
	down, _, err = cfg.ChainSides(configs.Selector{Port: 10000})
	if err != nil || down.IdleTimeout.Value != 620*time.Second {
		t.Errorf("port 10000: %+v %v", down, err)
	}
	if _, up, err := cfg.ChainSides(configs.Selector{Name: "db"}); err != nil || up == nil || up.ConnectTimeout.Value != time.Second {
		t.Errorf("cluster db: %+v %v", up, err)
	}
}
