package catalog

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

var update = flag.Bool("update", false, "rewrite docs/catalog.md")

func TestCatalogDocInSync(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "catalog.md")
	want := Markdown()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/catalog -run TestCatalogDoc -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/catalog.md is out of date: run go test ./internal/catalog -run TestCatalogDoc -update")
	}
}

// TestBuiltinDataIsComplete holds the built-in data to the catalog's promise: every entry can
// be traced to a source, and every middlebox states the four things the rules ask of it.
func TestBuiltinDataIsComplete(t *testing.T) {
	all := All()
	if len(all) < 40 {
		t.Errorf("only %d entries: an entry went missing", len(all))
	}
	for _, e := range all {
		if strings.TrimSpace(e.Source) == "" {
			t.Errorf("%s: no source", e.Name)
		}
		if e.Title == "" {
			t.Errorf("%s: no title", e.Name)
		}
		switch e.Kind {
		case KindMiddlebox:
			if e.Layer != 4 && e.Layer != 7 {
				t.Errorf("%s: layer %d", e.Name, e.Layer)
			}
			// The parser already refuses a middlebox without idle_timeout, refreshed_by and
			// on_expiry lines; "unknown" is allowed there, but a verified entry must at least
			// know its idle timeout.
			if e.IdleTimeout == nil && e.Verified {
				t.Errorf("%s: verified middlebox without an idle timeout", e.Name)
			}
			m := e.Middlebox()
			if m == nil || !m.Layer.Known || m.IdleTimeout.Known != (e.IdleTimeout != nil) {
				t.Errorf("%s: converter lost the layer or idle timeout: %+v", e.Name, m)
			}
			if e.HasDownstream() {
				t.Errorf("%s: a middlebox with a downstream side", e.Name)
			}
		case KindSoftware:
			if !e.HasDownstream() && !e.HasUpstream() {
				t.Errorf("%s: software without sides", e.Name)
			}
			if e.Middlebox() != nil {
				t.Errorf("%s: software converted to a middlebox", e.Name)
			}
		default:
			t.Errorf("%s: kind %q", e.Name, e.Kind)
		}
	}
}

// TestResearchEntriesPresent pins the entries the issues ask for, so
// that a rename is a deliberate change (chain files refer to these names).
func TestResearchEntriesPresent(t *testing.T) {
	for _, name := range []string{
		"aws-alb", "aws-clb", "aws-nlb", "aws-gwlb", "aws-nat-gateway", "gcp-global-external-alb",
		"gcp-internal-passthrough-nlb", "gcp-cloud-nat", "azure-lb", "azure-nat-gateway",
		"azure-application-gateway", "aks-outbound-lb", "cloudflare", "f5-bigip-fastl4", "cisco-asa",
		"palo-alto", "linux-ipvs", "linux-conntrack", "kube-proxy-iptables", "kube-proxy-ipvs",
		"docker-swarm-vip", "oci-lb", "heroku-router",
		"node", "go", "gunicorn", "okhttp", "jdk-httpclient", "envoy", "nginx", "haproxy", "apache",
		"redis", "postgres", "pgbouncer", "grpc-go", "mysql",
		// Issue 17's catalog gaps.
		"gcp-vpc-firewall", "aws-global-accelerator", "azure-front-door", "aws-cloudfront-origin",
		"ingress-nginx", "envoy-route", "traefik", "caddy", "tomcat", "hikaricp", "aws-rds-proxy",
		"aws-api-gateway-websocket", "oci-nlb", "uwsgi",
	} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("entry %q missing", name)
		}
	}
}

func TestNamesSortedUniqueAndKeys(t *testing.T) {
	names := Names()
	if !sort.StringsAreSorted(names) {
		t.Errorf("Names not sorted: %v", names)
	}
	all := All()
	for i, e := range all {
		if names[i] != e.Name {
			t.Fatalf("All and Names disagree at %d: %s vs %s", i, e.Name, names[i])
		}
	}
	keys := Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[strings.ToLower(k)] {
			t.Errorf("key %q appears twice", k)
		}
		seen[strings.ToLower(k)] = true
	}
	for _, k := range []string{"aws-alb", "alb", "natgw", "nodejs"} {
		if !seen[k] {
			t.Errorf("Keys lacks %q", k)
		}
	}
}

func TestLookup(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"aws-alb", "aws-alb"},
		{"ALB", "aws-alb"},
		{"  alb ", "aws-alb"},
		{"Aws-Nat-Gateway", "aws-nat-gateway"},
		{"natgw", "aws-nat-gateway"},
		{"nodejs", "node"},
		{"kube-proxy", "kube-proxy-iptables"},
		{"postgresql", "postgres"},
		{"nf-conntrack", "linux-conntrack"},
		{"aws-albb", ""},
		{"", ""},
	}
	for _, c := range cases {
		e, ok := Lookup(c.in)
		if ok != (c.want != "") || e.Name != c.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", c.in, e.Name, ok, c.want)
		}
	}
}

func TestAllAndLookupReturnCopies(t *testing.T) {
	e, _ := Lookup("aws-alb")
	e.Aliases[0] = "changed"
	e.IdleTimeout.Default = time.Nanosecond
	*e.HTTP2PingRefreshes = true
	again, _ := Lookup("aws-alb")
	if again.Aliases[0] == "changed" || again.IdleTimeout.Default != 60*time.Second || *again.HTTP2PingRefreshes {
		t.Fatalf("Lookup handed out shared state: %+v", again)
	}
	side := again.Upstream()
	side.IdleTimeout.Value = time.Nanosecond
	if again.Upstream().IdleTimeout.Value != 60*time.Second {
		t.Fatal("Upstream handed out shared state")
	}
}

type known[T comparable] struct {
	set   model.Setting[T]
	known bool
	value T
}

func check[T comparable](t *testing.T, what string, c known[T], name string) {
	t.Helper()
	if c.set.Known != c.known || (c.known && c.set.Value != c.value) {
		t.Errorf("%s %s = %+v; want known=%v value=%v", name, what, c.set, c.known, c.value)
	}
	if c.set.Source.Kind != model.SourceCatalog || !strings.HasPrefix(c.set.Source.Detail, name+": ") {
		t.Errorf("%s %s: source %+v, want catalog with detail %q...", name, what, c.set.Source, name+": ")
	}
}

func TestMiddleboxConverter(t *testing.T) {
	cases := []struct {
		name    string
		idle    time.Duration // 0: unknown
		layer   int
		refresh model.Refresh // "": unknown
		expiry  model.Expiry  // "": unknown
		h2      *bool
	}{
		{"aws-alb", 60 * time.Second, 7, model.RefreshPayload, ExpiryClose, ptr(false)},
		{"aws-nlb", 350 * time.Second, 4, model.RefreshAnySegment, model.ExpiryReset, nil},
		{"aws-nat-gateway", 350 * time.Second, 4, model.RefreshAnySegment, model.ExpiryReset, nil},
		{"azure-lb", 4 * time.Minute, 4, model.RefreshAnySegment, model.ExpirySilent, nil},
		{"gcp-cloud-nat", 1200 * time.Second, 4, "", "", nil},
		{"linux-conntrack", 5 * 24 * time.Hour, 4, model.RefreshAnySegment, "", nil},
		{"heroku-router", 0, 7, model.RefreshPayload, ExpiryClose, nil},
	}
	for _, c := range cases {
		e, ok := Lookup(c.name)
		if !ok {
			t.Fatalf("%s missing", c.name)
		}
		m := e.Middlebox()
		check(t, "idle", known[time.Duration]{m.IdleTimeout, c.idle != 0, c.idle}, c.name)
		check(t, "layer", known[int]{m.Layer, true, c.layer}, c.name)
		check(t, "refreshed_by", known[model.Refresh]{m.RefreshedBy, c.refresh != "", c.refresh}, c.name)
		check(t, "on_expiry", known[model.Expiry]{m.OnExpiry, c.expiry != "", c.expiry}, c.name)
		var h2 bool
		if c.h2 != nil {
			h2 = *c.h2
		}
		check(t, "http2_ping_refreshes", known[bool]{m.HTTP2PingRefreshes, c.h2 != nil, h2}, c.name)
		switch d := e.Downstream(); {
		case c.layer == 7 && c.idle != 0:
			if d == nil {
				t.Fatalf("%s: layer 7 middlebox without a downstream side", c.name)
			}
			check(t, "downstream idle", known[time.Duration]{d.IdleTimeout, true, c.idle}, c.name)
			check(t, "downstream pools", known[bool]{d.Pools, false, false}, c.name)
		case d != nil:
			t.Errorf("%s: layer %d middlebox (idle %v) has a downstream side", c.name, c.layer, c.idle)
		}
	}
}

func TestSideConverters(t *testing.T) {
	sec := time.Second
	type want struct {
		downNil, upNil bool
		check          func(t *testing.T, down, up *model.Side)
	}
	cases := map[string]want{
		"aws-alb": {check: func(t *testing.T, _, up *model.Side) {
			check(t, "up idle", known[time.Duration]{up.IdleTimeout, true, 60 * sec}, "aws-alb")
			check(t, "up pools", known[bool]{up.Pools, true, true}, "aws-alb")
			check(t, "up tcp idle", known[time.Duration]{up.TCP.Idle, false, 0}, "aws-alb")
		}},
		"go": {check: func(t *testing.T, down, up *model.Side) {
			check(t, "down idle (none)", known[time.Duration]{down.IdleTimeout, true, 0}, "go")
			check(t, "down tcp enabled", known[bool]{down.TCP.Enabled, true, true}, "go")
			check(t, "down tcp idle", known[time.Duration]{down.TCP.Idle, true, 15 * sec}, "go")
			check(t, "down tcp interval", known[time.Duration]{down.TCP.Interval, true, 15 * sec}, "go")
			check(t, "down tcp count", known[int]{down.TCP.Count, true, 9}, "go")
			check(t, "up idle", known[time.Duration]{up.IdleTimeout, true, 90 * sec}, "go")
			check(t, "up tcp idle", known[time.Duration]{up.TCP.Idle, true, 30 * sec}, "go")
			check(t, "up connect", known[time.Duration]{up.ConnectTimeout, true, 30 * sec}, "go")
			check(t, "up user timeout", known[time.Duration]{up.TCP.UserTimeout, false, 0}, "go")
			if d, ok := down.TCP.DetectionTime(); !ok || d != 150*sec {
				t.Errorf("go downstream detection = %v, %v; want 2m30s", d, ok)
			}
		}},
		"postgres": {upNil: true, check: func(t *testing.T, down, _ *model.Side) {
			check(t, "tcp enabled", known[bool]{down.TCP.Enabled, true, true}, "postgres")
			check(t, "tcp idle (os)", known[time.Duration]{down.TCP.Idle, false, 0}, "postgres")
			check(t, "user timeout (none)", known[time.Duration]{down.TCP.UserTimeout, true, 0}, "postgres")
			if !strings.Contains(down.TCP.Count.Source.Detail, "operating system") {
				t.Errorf("os value does not say the OS decides: %+v", down.TCP.Count.Source)
			}
		}},
		"grpc-go": {check: func(t *testing.T, down, up *model.Side) {
			if down.GRPC == nil || up.GRPC == nil {
				t.Fatal("grpc settings missing")
			}
			check(t, "server time", known[time.Duration]{down.GRPC.Time, true, 2 * time.Hour}, "grpc-go")
			check(t, "server min time", known[time.Duration]{down.GRPC.MinTime, true, 5 * time.Minute}, "grpc-go")
			check(t, "server permit", known[bool]{down.GRPC.PermitWithoutStream, true, false}, "grpc-go")
			check(t, "client time (none)", known[time.Duration]{up.GRPC.Time, true, 0}, "grpc-go")
			check(t, "client timeout", known[time.Duration]{up.GRPC.Timeout, true, 20 * sec}, "grpc-go")
			check(t, "client min time", known[time.Duration]{up.GRPC.MinTime, false, 0}, "grpc-go")
		}},
		"node": {check: func(t *testing.T, down, _ *model.Side) {
			check(t, "idle", known[time.Duration]{down.IdleTimeout, true, 5 * sec}, "node")
		}},
		"okhttp": {downNil: true, check: func(t *testing.T, _, up *model.Side) {
			check(t, "idle", known[time.Duration]{up.IdleTimeout, true, 5 * time.Minute}, "okhttp")
		}},
		"gunicorn": {upNil: true, check: func(t *testing.T, down, _ *model.Side) {
			check(t, "pools", known[bool]{down.Pools, true, false}, "gunicorn")
			if down.GRPC != nil {
				t.Error("gunicorn has gRPC settings")
			}
		}},
		"redis": {upNil: true, check: func(t *testing.T, down, _ *model.Side) {
			if d, ok := down.TCP.DetectionTime(); !ok || d != 10*time.Minute {
				t.Errorf("redis detection = %v, %v; want 10m", d, ok)
			}
		}},
	}
	for name, w := range cases {
		e, ok := Lookup(name)
		if !ok {
			t.Fatalf("%s missing", name)
		}
		down, up := e.Downstream(), e.Upstream()
		if (down == nil) != w.downNil || (up == nil) != w.upNil {
			t.Errorf("%s: downstream nil %v, upstream nil %v", name, down == nil, up == nil)
			continue
		}
		w.check(t, down, up)
	}
}

func TestMarshalJSON(t *testing.T) {
	e, _ := Lookup("aws-alb")
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "aliases,downstream,http2_ping_refreshes,idle_timeout,kind,layer,name,notes,on_expiry,refreshed_by,source,title,upstream,verified" {
		t.Errorf("keys = %s", got)
	}
	idle := doc["idle_timeout"].(map[string]any)
	if idle["default_s"] != 60.0 || idle["min_s"] != 1.0 || idle["max_s"] != 4000.0 {
		t.Errorf("idle_timeout = %v", idle)
	}
	if doc["downstream"] != nil || doc["layer"] != 7.0 {
		t.Errorf("downstream %v layer %v", doc["downstream"], doc["layer"])
	}
	up := doc["upstream"].(map[string]any)
	if up["idle_timeout_s"] != 60.0 || up["read_timeout_s"] != nil || up["pools"] != true {
		t.Errorf("upstream = %v", up)
	}

	pg, _ := Lookup("postgres")
	b, _ = json.Marshal(pg)
	var p struct {
		Layer      *int `json:"layer"`
		Downstream struct {
			TCP struct {
				IdleS        *float64 `json:"idle_s"`
				UserTimeoutS *float64 `json:"user_timeout_s"`
			} `json:"tcp"`
			OSDefault []string `json:"os_default"`
		} `json:"downstream"`
		Aliases []string `json:"aliases"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Layer != nil || p.Downstream.TCP.IdleS != nil || p.Downstream.TCP.UserTimeoutS == nil || *p.Downstream.TCP.UserTimeoutS != 0 ||
		strings.Join(p.Downstream.OSDefault, ",") != "tcp.idle,tcp.interval,tcp.count" {
		t.Errorf("postgres JSON = %s", b)
	}
	ng, _ := Lookup("nginx")
	b, _ = json.Marshal(ng)
	if !bytes.Contains(b, []byte(`"aliases":[]`)) || !bytes.Contains(b, []byte(`"os_default":[]`)) {
		t.Errorf("empty lists must be arrays: %s", b)
	}
}

func TestValuesAndSummaries(t *testing.T) {
	e, _ := Lookup("aws-nat-gateway")
	if e.IdleText() != "350s (fixed)" || e.RangeText() != "fixed" {
		t.Errorf("nat gateway idle %q range %q", e.IdleText(), e.RangeText())
	}
	e, _ = Lookup("aws-alb")
	if e.IdleText() != "60s (1s–4000s)" || e.IdleSummary() != "60s, up 60s" {
		t.Errorf("alb idle %q summary %q", e.IdleText(), e.IdleSummary())
	}
	var text []string
	for _, v := range e.Values() {
		text = append(text, v.Side+"|"+v.Key+"|"+v.Text)
	}
	want := []string{
		"|layer|7 (terminates TCP on both sides: keepalive is per side)",
		"|idle_timeout|60s (1s–4000s)",
		"|refreshed_by|payload only (TCP keepalive probes do not count)",
		"|on_expiry|closes the connection (FIN)",
		"|http2_ping_refreshes|no",
		"upstream|idle_timeout|60s",
		"upstream|pools|yes",
	}
	if strings.Join(text, "\n") != strings.Join(want, "\n") {
		t.Errorf("Values:\n%s\nwant:\n%s", strings.Join(text, "\n"), strings.Join(want, "\n"))
	}
	g, _ := Lookup("go")
	if g.IdleSummary() != "down none, up 90s" {
		t.Errorf("go summary %q", g.IdleSummary())
	}
	if g.down.tcpSummary() != "on, 15s/15s/9" {
		t.Errorf("go tcp summary %q", g.down.tcpSummary())
	}
	pg, _ := Lookup("postgres")
	if pg.down.tcpSummary() != "on, OS defaults" {
		t.Errorf("postgres tcp summary %q", pg.down.tcpSummary())
	}
	hp, _ := Lookup("haproxy")
	if hp.down.tcpSummary() != "off" || hp.IdleSummary() != "-" {
		t.Errorf("haproxy tcp %q idle %q", hp.down.tcpSummary(), hp.IdleSummary())
	}
}

func ptr[T any](v T) *T { return &v }

// TestIssue17Corrections pins the catalog corrections of issue 17, each checked against the
// source the entry now cites: grpc-go's client uses the OS keepalive values (not Go's 15 s) and
// goes idle after 30 min; HAProxy's entry was re-read in doc/configuration.txt.
func TestIssue17Corrections(t *testing.T) {
	g, _ := Lookup("grpc-go")
	up := g.Upstream()
	if up == nil {
		t.Fatal("grpc-go has no upstream side")
	}
	if !up.TCP.Enabled.Known || !up.TCP.Enabled.Value {
		t.Errorf("grpc-go upstream TCP keepalive = %+v, want enabled (grpc-go sets SO_KEEPALIVE itself)", up.TCP.Enabled)
	}
	if up.TCP.Idle.Known && up.TCP.Idle.Value == 15*time.Second {
		t.Errorf("grpc-go upstream TCP idle is Go's 15 s; grpc-go turns Go's override off")
	}
	if !up.IdleTimeout.Known || up.IdleTimeout.Value != 30*time.Minute {
		t.Errorf("grpc-go channel idle = %+v, want 30m", up.IdleTimeout)
	}
	for name, want := range map[string]bool{"haproxy": true, "heroku-router": false, "azure-application-gateway": false} {
		e, _ := Lookup(name)
		if e.Verified != want {
			t.Errorf("%s verified = %v, want %v", name, e.Verified, want)
		}
	}
	n, _ := Lookup("nginx")
	if !strings.Contains(n.Notes, "1.29.7") || !strings.Contains(n.Notes, "1.30.0") {
		t.Errorf("nginx notes do not say upstream pooling depends on the version (1.29.7 / 1.30.0): %s", n.Notes)
	}
	lb, _ := Lookup("azure-lb")
	if !strings.Contains(lb.Notes, "4-120") {
		t.Errorf("azure-lb notes do not give the outbound range 4-120 min")
	}
}
