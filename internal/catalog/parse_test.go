package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/yamlx"
)

const goodDoc = `entries:
  - name: test-lb
    aliases: [tlb]
    title: Test balancer
    kind: middlebox
    layer: 7
    idle_timeout: {default: 60s, min: 1s, max: 4000s}
    refreshed_by: payload
    on_expiry: close
    http2_ping_refreshes: false
    upstream:
      idle_timeout: 90s
      pools: true
    source: "Test docs: https://example.invalid/lb"
    verified: true
    notes: a note
  - name: test-app
    title: Test app
    kind: software
    downstream:
      idle_timeout: none
      tcp: {enabled: true, idle: os, interval: 15s, count: os, user_timeout: none}
      grpc: {time: none, timeout: 20s, permit_without_stream: false, min_time: 5m}
    source: test source
    verified: false
`

func TestParseGood(t *testing.T) {
	list, err := Parse("good.yaml", []byte(goodDoc))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "test-app" || list[1].Name != "test-lb" {
		t.Fatalf("entries not parsed and sorted: %+v", list)
	}
	app, lb := list[0], list[1]
	if lb.Layer != 7 || lb.IdleTimeout == nil || *lb.IdleTimeout != (Range{60 * time.Second, time.Second, 4000 * time.Second}) ||
		lb.RefreshedBy != model.RefreshPayload || lb.OnExpiry != ExpiryClose || lb.HTTP2PingRefreshes == nil ||
		*lb.HTTP2PingRefreshes || !lb.Verified || lb.Notes != "a note" || lb.Line != 2 || lb.Aliases[0] != "tlb" {
		t.Errorf("middlebox parsed wrong: %+v", lb)
	}
	if lb.HasDownstream() || !lb.HasUpstream() {
		t.Errorf("sides: downstream %v upstream %v", lb.HasDownstream(), lb.HasUpstream())
	}
	d := app.Downstream()
	if !d.IdleTimeout.Known || d.IdleTimeout.Value != 0 {
		t.Errorf("none must be a known zero: %+v", d.IdleTimeout)
	}
	if d.TCP.Idle.Known || d.TCP.Count.Known || !strings.Contains(d.TCP.Idle.Source.Detail, "operating system") {
		t.Errorf("os must stay unknown and say why: %+v %+v", d.TCP.Idle, d.TCP.Count)
	}
	if !d.TCP.Interval.Known || d.TCP.Interval.Value != 15*time.Second || !d.TCP.UserTimeout.Known || d.TCP.UserTimeout.Value != 0 {
		t.Errorf("tcp parsed wrong: %+v", d.TCP)
	}
	if d.GRPC == nil || !d.GRPC.Time.Known || d.GRPC.Time.Value != 0 || d.GRPC.MinTime.Value != 5*time.Minute ||
		!d.GRPC.PermitWithoutStream.Known || d.GRPC.PermitWithoutStream.Value {
		t.Errorf("grpc parsed wrong: %+v", d.GRPC)
	}
	if d.Pools.Known || d.ReadTimeout.Known {
		t.Errorf("unstated values must be unknown: pools %+v read %+v", d.Pools, d.ReadTimeout)
	}
}

// TestParseRejects shows that a bad data file fails with the position and a message a person
// can act on: the built-in catalog is parsed at init, so these are the errors a contributor sees.
func TestParseRejects(t *testing.T) {
	// mb builds a middlebox entry with one line replaced or added.
	mb := func(replace, with string) string {
		doc := `entries:
  - name: bad-lb
    title: Bad
    kind: middlebox
    layer: 4
    idle_timeout: {default: 350s, min: 60s, max: 6000s}
    refreshed_by: any-segment
    on_expiry: rst
    source: somewhere
    verified: true
`
		if replace == "" {
			return doc + with
		}
		if !strings.Contains(doc, replace) {
			t.Fatalf("test bug: %q not in the template", replace)
		}
		return strings.Replace(doc, replace, with, 1)
	}
	sw := func(sides string) string {
		return "entries:\n  - name: bad-app\n    title: Bad\n    kind: software\n    source: s\n    verified: false\n" + sides
	}
	cases := []struct {
		name, doc, want string
	}{
		{"unknown key suggests", mb("    layer: 4\n", "    layer: 4\n    idel_timeout: 5s\n"),
			`bad.yaml:6:5: unknown key "idel_timeout": did you mean "idle_timeout"?`},
		{"unknown root key", "entrys: []\n", `bad.yaml:1:1: unknown key "entrys": did you mean "entries"?`},
		{"missing entries", "{}\n", `missing key "entries"`},
		{"entries not a list", "entries: {a: 1}\n", "bad.yaml:1:10: entries: expected a list"},
		{"bare number", mb("default: 350s", "default: 350"), "bad.yaml:6:29: expected a duration with a unit (ms, s, m, h), found the bare number 350"},
		{"min above max", mb("min: 60s, max: 6000s", "min: 2h, max: 1h"), "bad.yaml:6:40: idle_timeout: min 2h is greater than max 1h"},
		{"default below min", mb("default: 350s", "default: 30s"), "bad.yaml:6:29: idle_timeout: default 30s is below min 60s"},
		{"default above max", mb("default: 350s", "default: 2h"), "idle_timeout: default 2h is above max 100m"},
		{"range without default", mb("{default: 350s, min: 60s, max: 6000s}", "{min: 60s}"), `idle_timeout: missing key "default"`},
		{"missing source", mb("    source: somewhere\n", ""), `bad.yaml:2:5: entry "bad-lb": missing key "source": expected a citation`},
		{"empty source", mb("source: somewhere", `source: "  "`), "bad.yaml:9:13: source: expected a non-empty value"},
		{"missing verified", mb("    verified: true\n", ""), `missing key "verified"`},
		{"verified yes", mb("verified: true", "verified: yes"), `bad.yaml:10:15: verified: expected true or false, found "yes"`},
		{"unknown refresh suggests", mb("refreshed_by: any-segment", "refreshed_by: any-segmnt"),
			`bad.yaml:7:19: refreshed_by: unknown value "any-segmnt": did you mean "any-segment"?`},
		{"unknown expiry", mb("on_expiry: rst", "on_expiry: explode"), `on_expiry: unknown value "explode": expected one of silent-drop, rst, close, unknown`},
		{"unknown kind", mb("kind: middlebox", "kind: midlebox"), `kind: unknown value "midlebox": did you mean "middlebox"?`},
		{"layer 5", mb("layer: 4", "layer: 5"), "bad.yaml:5:12: layer: expected 4 (forwards TCP segments) or 7"},
		{"missing layer", mb("    layer: 4\n", ""), `middlebox "bad-lb": missing key "layer"`},
		{"missing idle", mb("    idle_timeout: {default: 350s, min: 60s, max: 6000s}\n", ""), `middlebox "bad-lb": missing key "idle_timeout"`},
		{"missing refresh", mb("    refreshed_by: any-segment\n", ""), `middlebox "bad-lb": missing key "refreshed_by"`},
		{"missing expiry", mb("    on_expiry: rst\n", ""), `middlebox "bad-lb": missing key "on_expiry"`},
		{"upstream on layer 4", mb("", "    upstream: {idle_timeout: 5s}\n"), "only a layer 7 middlebox opens its own connections"},
		{"downstream on middlebox", mb("", "    downstream: {idle_timeout: 5s}\n"), "only a layer 7 middlebox has an upstream side"},
		{"name not kebab", mb("name: bad-lb", "name: Bad_LB"), `name "Bad_LB": expected kebab-case`},
		{"duplicate name", mb("", "  - name: bad-lb\n    title: again\n    kind: software\n    downstream: {pools: true}\n    source: s\n    verified: false\n"),
			`name "bad-lb" is already used by entry "bad-lb"`},
		{"alias clash", mb("", "  - name: other\n    aliases: [BAD-LB]\n    title: x\n    kind: software\n    downstream: {pools: true}\n    source: s\n    verified: false\n"),
			`alias "BAD-LB": expected kebab-case`},
		{"alias repeats name", mb("    title: Bad\n", "    aliases: [bad-lb]\n    title: Bad\n"), `alias "bad-lb" repeats the entry's name`},
		{"software with layer", sw("    layer: 4\n    downstream: {pools: true}\n"), `"layer" is for middleboxes`},
		{"software without sides", sw(""), "needs a downstream side, an upstream side or both"},
		{"side without values", sw("    downstream: {}\n"), "downstream: states no value"},
		{"side bare number", sw("    downstream: {idle_timeout: 75}\n"), "found the bare number 75: write 75s for seconds (downstream.idle_timeout: a duration with a unit or \"none\")"},
		{"os where not allowed", sw("    upstream: {idle_timeout: os}\n"), `upstream.idle_timeout: a duration with a unit or "none"`},
		{"none where not allowed", sw("    upstream: {tcp: {idle: none}}\n"), `upstream.tcp.idle: a duration with a unit or "os"`},
		{"count too large", sw("    upstream: {tcp: {count: 200}}\n"), "expected a whole number from 1 to 127, found 200"},
		{"unknown tcp key", sw("    upstream: {tcp: {intervall: 5s}}\n"), `unknown key "intervall": did you mean "interval"?`},
		{"unknown grpc key", sw("    upstream: {grpc: {min_tim: 5m}}\n"), `did you mean "min_time"?`},
		{"not yaml", "entries: [\n", "bad.yaml:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(c.doc))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "bad.yaml:") {
				t.Errorf("error does not start with the file: %v", err)
			}
			var pe *yamlx.PosError
			if !errors.As(err, &pe) {
				t.Errorf("error is not a *yamlx.PosError: %T", err)
			}
		})
	}
}

// FuzzParse checks that no input makes the parser panic and that whatever it accepts keeps the
// catalog's promises (a source on every entry, a layer on every middlebox).
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodDoc))
	f.Add(data)
	f.Add([]byte("entries:\n  - name: x\n    kind: middlebox\n    idle_timeout: unknown\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		list, err := Parse("fuzz.yaml", doc)
		if err != nil {
			return
		}
		for _, e := range list {
			if e.Source == "" || e.Name == "" || e.Title == "" {
				t.Fatalf("accepted an entry without name, title or source: %+v", e)
			}
			if e.Kind == KindMiddlebox && e.Layer != 4 && e.Layer != 7 {
				t.Fatalf("accepted a middlebox with layer %d", e.Layer)
			}
			_ = e.Middlebox()
			_ = e.Downstream()
			_ = e.Upstream()
			_ = e.Values()
			if _, err := e.MarshalJSON(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
