package chain

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

func TestParseResolvesCatalogConfigAndOverrides(t *testing.T) {
	doc := `profile: api-gateway
expect: {connections: 50000}
chain:
  - {name: clients, type: client}
  - {name: edge, catalog: aws-alb, idle_timeout: 120s}
  - name: nginx
    type: proxy
    runtime: nginx
    downstream: {http_keepalive_timeout: 130s, tcp_keepalive: {idle: 60s, interval: 10s, count: 3}}
    upstream: {pools: true, read_timeout: 5m}
  - {name: app, type: server, runtime: node, http_keepalive_timeout: 65s}
`
	c, err := Resolved("k.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "api-gateway" || c.ExpectConnections != 50000 || len(c.Hops) != 4 {
		t.Fatalf("chain = %+v", c)
	}
	edge := c.Hops[1]
	if edge.Type != model.HopMiddlebox || edge.Middlebox.IdleTimeout.Value != 120*time.Second ||
		edge.Middlebox.IdleTimeout.Source.Kind != model.SourceChainFile || edge.Middlebox.IdleTimeout.Source.Line != 5 {
		t.Errorf("override: %+v", edge.Middlebox.IdleTimeout)
	}
	if !edge.Middlebox.Layer.Known || edge.Middlebox.Layer.Value != 7 || edge.Middlebox.Layer.Source.Kind != model.SourceCatalog {
		t.Errorf("catalog layer: %+v", edge.Middlebox.Layer)
	}
	ng := c.Hops[2]
	if ng.Downstream.IdleTimeout.Value != 130*time.Second || !ng.Downstream.TCP.Enabled.Value || ng.Downstream.TCP.Count.Value != 3 {
		t.Errorf("nginx downstream: %+v", ng.Downstream)
	}
	if !ng.Upstream.Pools.Value || ng.Upstream.ReadTimeout.Value != 5*time.Minute {
		t.Errorf("nginx upstream: %+v", ng.Upstream)
	}
	// nginx's upstream keepalive_timeout comes from the catalog (60 s) where the chain says nothing.
	if ng.Upstream.IdleTimeout.Source.Kind != model.SourceCatalog || ng.Upstream.IdleTimeout.Value != 60*time.Second {
		t.Errorf("nginx upstream idle from catalog: %+v", ng.Upstream.IdleTimeout)
	}
	app := c.Hops[3]
	if app.Upstream != nil || app.Downstream.IdleTimeout.Value != 65*time.Second || app.Declared.Line != 11 {
		t.Errorf("app: %+v", app)
	}
}

func TestSegments(t *testing.T) {
	c, err := Resolved("k.yaml", []byte(`chain:
  - {name: c, type: client}
  - {name: nat, catalog: aws-nat-gateway}
  - {name: alb, catalog: aws-alb}
  - {name: fw, idle_timeout: 10m, type: middlebox}
  - {name: p, type: proxy}
  - {name: s, type: server}
`))
	if err != nil {
		t.Fatal(err)
	}
	segs := Segments(c)
	// c -> [nat] -> alb (L7 ends the connection), alb -> [fw] -> p, p -> s.
	want := []string{"c>alb[1]", "alb>p[3]", "p>s[]"}
	if len(segs) != len(want) {
		t.Fatalf("%d segments, want %d", len(segs), len(want))
	}
	for i, s := range segs {
		got := fmt.Sprintf("%s>%s%v", s.Opener.Name(), s.Acceptor.Name(), s.Middleboxes)
		if got != want[i] {
			t.Errorf("segment %d = %s, want %s", i, got, want[i])
		}
	}
	if segs[1].Opener.L7 == nil || !segs[1].Opener.Side.Pools.Value || segs[1].Opener.Side.IdleTimeout.Value != 60*time.Second {
		t.Errorf("an L7 balancer opener pools with its idle timeout: %+v", segs[1].Opener.Side)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown catalog", "chain:\n  - {name: c, type: client}\n  - {name: e, catalog: aws-albb}\n", `k.yaml:3:24: unknown catalog "aws-albb": did you mean "aws-alb"?`},
		{"unknown runtime", "chain:\n  - {name: c, type: client}\n  - {name: s, type: server, runtime: gunicron}\n", `k.yaml:3:38: unknown runtime "gunicron": did you mean "gunicorn"?`},
		{"bare number", "chain:\n  - {name: c, type: client}\n  - {name: s, type: server, http_keepalive_timeout: 65}\n", `k.yaml:3:53: expected a duration with a unit (ms, s, m, h), found the bare number 65`},
		{"zero duration", "chain:\n  - {name: c, type: client}\n  - {name: m, type: middlebox, idle_timeout: 0s}\n  - {name: s, type: server}\n", `k.yaml:3:46: expected a duration greater than zero`},
		{"negative duration", "chain:\n  - {name: c, type: client}\n  - {name: m, type: middlebox, idle_timeout: -5s}\n  - {name: s, type: server}\n", `k.yaml:3:46: expected a duration greater than zero`},
		{"empty chain", "chain: []\n", `k.yaml:1:8: chain: empty`},
		{"no chain", "profile: general\n", `k.yaml:1:1: missing key "chain"`},
		{"unknown top key", "chian: []\n", `k.yaml:1:1: unknown key "chian": did you mean "chain"?`},
		{"unknown hop key", "chain:\n  - {name: c, type: client, idel_timeout: 5s}\n", `k.yaml:2:29: unknown key "idel_timeout": did you mean "idle_timeout"?`},
		{"wrong type", "chain:\n  - {name: c, type: client}\n  - {name: m, type: middlebox, idle_timeout: 5m, layer: seven}\n  - {name: s, type: server}\n", `k.yaml:3:57: expected layer 4 or 7, found "seven"`},
		{"bad enum", "chain:\n  - {name: c, type: client}\n  - {name: m, type: middlebox, idle_timeout: 5m, on_expiry: reset}\n  - {name: s, type: server}\n", `expected one of silent-drop, rst, close, found "reset"`},
		{"unknown type", "chain:\n  - {name: c, type: clint}\n", `k.yaml:2:21: unknown type "clint": expected client, middlebox, proxy or server`},
		{"proxy flat key", "chain:\n  - {name: c, type: client}\n  - {name: p, type: proxy, read_timeout: 5s}\n", `k.yaml:3:28: a proxy has two sides: put "read_timeout" under downstream:`},
		{"duplicate name", "chain:\n  - {name: c, type: client}\n  - {name: c, type: server}\n", `k.yaml:3:5: hop name "c" used twice`},
		{"one hop", "chain:\n  - {name: c, type: client}\n", `k.yaml:2:3: chain: one hop`},
		{"middlebox without idle", "chain:\n  - {name: c, type: client}\n  - {name: m, type: middlebox}\n  - {name: s, type: server}\n", `k.yaml:3:5: middlebox "m" has no idle timeout`},
		{"software as catalog", "chain:\n  - {name: c, type: client}\n  - {name: m, catalog: nginx}\n", `"nginx" is software, not a middlebox: write runtime: nginx`},
		{"not yaml", "chain: [\n", `k.yaml:`},
		{"fractional keepalive", "chain:\n  - {name: c, type: client, tcp_keepalive: {idle: 1500ms}}\n  - {name: s, type: server}\n", `k.yaml:2:51: expected whole seconds`},
	}
	for _, c := range cases {
		_, err := Parse("k.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v\n want it to contain %q", c.name, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("chain:\n  - {name: c, type: client}\n  - {name: e, catalog: aws-alb}\n  - {name: s, type: server, runtime: node}\n"))
	f.Add([]byte("chain:\n  - name: p\n    type: proxy\n    downstream: {tcp_keepalive: {idle: 60s}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Resolved("f.yaml", b)
		if err == nil {
			if len(c.Hops) < 2 {
				t.Fatalf("accepted a chain of %d hops", len(c.Hops))
			}
			Segments(c) // must not panic
		}
	})
}

func TestApplyHostFillsOSValues(t *testing.T) {
	c, err := Resolved("k.yaml", []byte(`chain:
  - {name: c, type: client}
  - {name: nat, catalog: gcp-cloud-nat}
  - {name: pgb, type: proxy, runtime: pgbouncer, local: true}
  - {name: db, type: server, runtime: postgres}
`))
	if err != nil {
		t.Fatal(err)
	}
	src := model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-x.conf", Line: 1}
	ns := model.Namespace{Keepalive: model.KeepaliveSettings{
		Idle: model.KnownSetting(7200*time.Second, src), Interval: model.KnownSetting(75*time.Second, src), Count: model.KnownSetting(9, src)}}
	ApplyHost(c, ns)
	pgb := c.Hops[2]
	if !pgb.Local || pgb.Downstream.TCP.Idle.Value != 7200*time.Second || pgb.Downstream.TCP.Idle.Source != src {
		t.Errorf("pgbouncer downstream keepalive = %+v", pgb.Downstream.TCP)
	}
	if c.Hops[3].Downstream.TCP.Idle.Known {
		t.Errorf("a hop not marked local took the host's values: %+v", c.Hops[3].Downstream.TCP)
	}
}

// TestBalancerSides: a layer-7 balancer's idle_timeout reaches both its sides where one setting
// governs both (AWS ALB: "applies to client and target connections alike"), only the client
// side elsewhere (GCP's external ALB keeps 600 s towards backends), and each side can be set on
// its own; a layer-4 middlebox has no sides.
func TestBalancerSides(t *testing.T) {
	idle := func(s *model.Side) time.Duration {
		if s == nil || !s.IdleTimeout.Known {
			return -1
		}
		return s.IdleTimeout.Value
	}
	for _, c := range []struct {
		hop        string
		down, up   time.Duration
		downSource string
	}{
		{"{name: lb, catalog: aws-alb, idle_timeout: 120s}", 120 * time.Second, 120 * time.Second, "k.yaml"},
		{"{name: lb, catalog: aws-clb, idle_timeout: 300s}", 300 * time.Second, 300 * time.Second, "k.yaml"},
		{"{name: lb, catalog: aws-alb}", 60 * time.Second, 60 * time.Second, ""},
		{"{name: lb, catalog: gcp-global-external-alb, idle_timeout: 900s}", 900 * time.Second, 600 * time.Second, "k.yaml"},
		{"{name: lb, catalog: gcp-global-external-alb, upstream: {idle_timeout: 620s}}", 610 * time.Second, 620 * time.Second, ""},
		{"{name: lb, catalog: aws-alb, idle_timeout: 120s, upstream: {idle_timeout: 90s}}", 120 * time.Second, 90 * time.Second, "k.yaml"},
	} {
		c2, err := Resolved("k.yaml", []byte("chain:\n  - {name: c, type: client}\n  - "+c.hop+"\n  - {name: s, type: server, http_keepalive_timeout: 75s}\n"))
		if err != nil {
			t.Fatalf("%s: %v", c.hop, err)
		}
		h := c2.Hops[1]
		if idle(h.Downstream) != c.down || idle(h.Upstream) != c.up {
			t.Errorf("%s: downstream %v, upstream %v; want %v, %v", c.hop, idle(h.Downstream), idle(h.Upstream), c.down, c.up)
		}
		if c.downSource != "" && h.Downstream.IdleTimeout.Source.File != c.downSource {
			t.Errorf("%s: downstream idle from %+v, want the chain file", c.hop, h.Downstream.IdleTimeout.Source)
		}
		// The balancer's pool towards the server is what the server must outlast.
		segs := Segments(c2)
		if got := segs[1].Opener.Side.IdleTimeout.Value; got != c.up {
			t.Errorf("%s: the segment to the server sees a pool idle of %v, want %v", c.hop, got, c.up)
		}
	}
	if _, err := Resolved("k.yaml", []byte("chain:\n  - {name: c, type: client}\n  - {name: n, catalog: aws-nlb, downstream: {idle_timeout: 60s}}\n  - {name: s, type: server}\n")); err == nil ||
		!strings.Contains(err.Error(), "layer-4 middlebox forwards segments and has no sides") {
		t.Errorf("downstream: on an NLB: %v", err)
	}
}

// A hop that names a configuration file but no runtime takes the file's format as its runtime,
// so its fixes are that server's directives ("keepalive_timeout 125s;"), not chain-file keys; a
// runtime written on the hop wins.
func TestConfigFormatNamesTheRuntime(t *testing.T) {
	spec, err := Parse("keeptune.yaml", []byte(`chain:
  - {name: clients, type: client}
  - {name: web, type: server, config: /etc/nginx/nginx.conf}
  - {name: api, type: server, runtime: node, config: /srv/api.conf}
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := spec.Resolve(Sources{
		Config: func(string) (*model.Side, *model.Side, error) { return &model.Side{}, nil, nil },
		ConfigFormat: func(path string) string {
			return map[string]string{"/etc/nginx/nginx.conf": "nginx", "/srv/api.conf": "haproxy"}[path]
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Hops[1].Runtime; got != "nginx" {
		t.Errorf("web's runtime = %q, want nginx (its config's format)", got)
	}
	if got := c.Hops[2].Runtime; got != "node" {
		t.Errorf("api's runtime = %q, want node (written on the hop)", got)
	}
}
