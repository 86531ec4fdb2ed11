package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

const docsPath = "../../docs/json.md"

// docType is one "### Name" section of docs/json.md: its keys and their types.
type docType map[string]docField

type docField struct {
	typ    docValue
	always bool
}

// docValue is a parsed Type cell: "string", "array of [Sysctl](#sysctl)", "number or null".
type docValue struct {
	nullable bool
	array    bool   // array of elem
	mapOf    bool   // map of elem
	ref      string // object type name, or "" for a primitive
	prim     string // string, integer, number, boolean
}

var (
	headingRe = regexp.MustCompile(`^### (\w+)\s*$`)
	rowRe     = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([^|]+) \\| (always|when set) \\|")
	refRe     = regexp.MustCompile(`^\[(\w+)\]\(#(\w+)\)$`)
)

// loadDocTypes parses the type tables of docs/json.md. It fails the test on a row it cannot
// read, so the page cannot drift into a form the check silently skips.
func loadDocTypes(t *testing.T) map[string]docType {
	t.Helper()
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]docType{}
	var cur string
	for i, line := range strings.Split(string(data), "\n") {
		if m := headingRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
			types[cur] = docType{}
			continue
		}
		if strings.HasPrefix(line, "## ") {
			cur = ""
		}
		if cur == "" || !strings.HasPrefix(line, "| `") {
			continue
		}
		m := rowRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: cannot read table row %q", docsPath, i+1, line)
		}
		v, err := parseDocValue(strings.TrimSpace(m[2]))
		if err != nil {
			t.Fatalf("%s:%d: %v", docsPath, i+1, err)
		}
		if _, dup := types[cur][m[1]]; dup {
			t.Fatalf("%s:%d: key %q documented twice in %s", docsPath, i+1, m[1], cur)
		}
		types[cur][m[1]] = docField{typ: v, always: m[3] == "always"}
	}
	for name, dt := range types {
		for key, f := range dt {
			if f.typ.ref != "" {
				if _, ok := types[f.typ.ref]; !ok {
					t.Fatalf("%s: %s.%s refers to undocumented type %s", docsPath, name, key, f.typ.ref)
				}
			}
		}
	}
	if _, ok := types["Report"]; !ok {
		t.Fatalf("%s: no Report type", docsPath)
	}
	return types
}

func parseDocValue(s string) (docValue, error) {
	var v docValue
	if rest, ok := strings.CutSuffix(s, " or null"); ok {
		v.nullable, s = true, rest
	}
	if rest, ok := strings.CutPrefix(s, "array of "); ok {
		v.array, s = true, rest
	} else if rest, ok := strings.CutPrefix(s, "map of "); ok {
		v.mapOf, s = true, rest
	}
	if m := refRe.FindStringSubmatch(s); m != nil {
		if strings.ToLower(m[1]) != m[2] {
			return v, fmt.Errorf("link %q: anchor does not match the type name", s)
		}
		v.ref = m[1]
		return v, nil
	}
	switch s {
	case "string", "integer", "number", "boolean":
		v.prim = s
		return v, nil
	}
	return v, fmt.Errorf("unknown type %q", s)
}

// checkJSONAgainstDocs checks a JSON document against docs/json.md: every key documented, every
// "always" key present, every value of its documented type. seen, if not nil, collects the
// "Type.key" pairs met, for the coverage check.
func checkJSONAgainstDocs(t *testing.T, data []byte, seen map[string]bool) {
	t.Helper()
	types := loadDocTypes(t)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("output has more than one JSON value")
	}
	var errs []string
	var checkObject func(v any, typ, path string)
	var checkValue func(v any, dv docValue, path string)
	checkValue = func(v any, dv docValue, path string) {
		if v == nil {
			if !dv.nullable {
				errs = append(errs, path+": null, but the docs do not allow null")
			}
			return
		}
		switch {
		case dv.array:
			arr, ok := v.([]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %T, documented as an array", path, v))
				return
			}
			elem := docValue{ref: dv.ref, prim: dv.prim}
			for i, e := range arr {
				checkValue(e, elem, fmt.Sprintf("%s[%d]", path, i))
			}
		case dv.mapOf:
			obj, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %T, documented as a map", path, v))
				return
			}
			elem := docValue{ref: dv.ref, prim: dv.prim}
			for k, e := range obj {
				checkValue(e, elem, path+"."+k)
			}
		case dv.ref != "":
			checkObject(v, dv.ref, path)
		default:
			ok := false
			switch dv.prim {
			case "string":
				_, ok = v.(string)
			case "boolean":
				_, ok = v.(bool)
			case "number":
				_, ok = v.(json.Number)
			case "integer":
				if n, isNum := v.(json.Number); isNum {
					_, err := n.Int64()
					ok = err == nil
				}
			}
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %v (%T), documented as %s", path, v, v, dv.prim))
			}
		}
	}
	checkObject = func(v any, typ, path string) {
		obj, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, documented as object %s", path, v, typ))
			return
		}
		dt := types[typ]
		for k, val := range obj {
			f, ok := dt[k]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: key not documented in %s (type %s)", path, k, docsPath, typ))
				continue
			}
			if seen != nil {
				seen[typ+"."+k] = true
			}
			checkValue(val, f.typ, path+"."+k)
		}
		for k, f := range dt {
			if _, ok := obj[k]; f.always && !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: documented as always present, missing", path, k))
			}
		}
	}
	checkObject(doc, "Report", "$")
	sort.Strings(errs)
	for _, e := range errs {
		t.Error(e)
	}
}

// TestJSONMatchesDocs: the output has exactly the keys docs/json.md documents, of the
// documented types; and every documented key appears in some fixture's output, so the page
// documents nothing that is not there.
func TestJSONMatchesDocs(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range []Report{testReport(), lintReport(), busyReport(), exampleReport(), lintChainsReport()} {
		checkJSONAgainstDocs(t, render(t, "json", r, TextOptions{}), seen)
	}
	var never []string
	types := loadDocTypes(t)
	reachable := map[string]bool{}
	var walk func(string)
	walk = func(name string) { // types of other documents on the page (the plan) are checked by their own tests
		if reachable[name] {
			return
		}
		reachable[name] = true
		for _, f := range types[name] {
			if f.typ.ref != "" {
				walk(f.typ.ref)
			}
		}
	}
	walk("Report")
	for name, dt := range types {
		if !reachable[name] {
			continue
		}
		for k := range dt {
			if !seen[name+"."+k] {
				never = append(never, name+"."+k)
			}
		}
	}
	sort.Strings(never)
	for _, k := range never {
		t.Errorf("%s documents %s, which no fixture's output has (set it in fixture_test.go or drop it)", docsPath, k)
	}
}

// TestJSONDocsExample keeps the example in docs/json.md what the renderer writes; -update
// rewrites it.
func TestJSONDocsExample(t *testing.T) {
	const begin, end = "<!-- example:", "<!-- end of example -->"
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no example markers", docsPath)
	}
	i += strings.Index(doc[i:], "\n") + 1
	want := "```json\n" + string(render(t, "json", exampleReport(), TextOptions{})) + "```\n"
	if *update {
		if err := os.WriteFile(docsPath, []byte(doc[:i]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := doc[i:j]; got != want {
		t.Errorf("the example in %s is stale (go test ./internal/report -update rewrites it):\n%s",
			docsPath, firstDifference(got, want))
	}
}

func TestJSONGolden(t *testing.T) {
	golden(t, "report.json.golden", render(t, "json", testReport(), TextOptions{}))
	golden(t, "lint.json.golden", render(t, "json", lintReport(), TextOptions{}))
}

// TestJSONSeconds: durations are seconds, not time.Duration's nanoseconds.
func TestJSONSeconds(t *testing.T) {
	var doc struct {
		Profile struct {
			MaxDetection float64 `json:"max_detection_s"`
			Idle         struct {
				Max float64 `json:"max"`
			} `json:"idle_s"`
		} `json:"profile"`
		Facts struct {
			Namespaces []struct {
				Keepalive struct {
					Idle      struct{ Value *float64 } `json:"idle_s"`
					Detection *float64                 `json:"detection_s"`
				} `json:"keepalive"`
				Conntrack *struct {
					Established struct{ Value *float64 } `json:"established_timeout_s"`
				} `json:"conntrack"`
			} `json:"namespaces"`
			Processes []struct {
				NofileSoft struct{ Value *int64 } `json:"nofile_soft"`
				Go         *struct {
					Keepalive struct {
						UserTimeout struct{ Value *float64 } `json:"user_timeout_s"`
					} `json:"keepalive"`
				} `json:"go"`
			} `json:"processes"`
		} `json:"facts"`
	}
	if err := json.Unmarshal(render(t, "json", testReport(), TextOptions{}), &doc); err != nil {
		t.Fatal(err)
	}
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	p := doc.Profile
	check("profile.max_detection_s", &p.MaxDetection, 2160)
	check("profile.idle_s.max", &p.Idle.Max, 900)
	host := doc.Facts.Namespaces[0]
	check("host keepalive.idle_s", host.Keepalive.Idle.Value, 7200)
	check("host keepalive.detection_s", host.Keepalive.Detection, 7875)
	check("host conntrack.established_timeout_s", host.Conntrack.Established.Value, 432000)
	check("go user_timeout_s", doc.Facts.Processes[1].Go.Keepalive.UserTimeout.Value, 1.5)
	if v := doc.Facts.Processes[2].NofileSoft.Value; v != nil {
		t.Errorf("unknown nofile_soft has value %d, want null", *v)
	}
}

// TestJSONChains: chains are there with their hops in order, durations in seconds, and null
// for what a kind of hop does not have; findings name their hops.
func TestJSONChains(t *testing.T) {
	var doc struct {
		Findings []struct {
			Rule string    `json:"rule"`
			Hops *[]string `json:"hops"`
		} `json:"findings"`
		Chains []struct {
			File              string `json:"file"`
			Profile           string `json:"profile"`
			ExpectConnections int    `json:"expect_connections"`
			Hops              []struct {
				Name      string         `json:"name"`
				Declared  model.Location `json:"declared"`
				Middlebox *struct {
					Idle      struct{ Value *float64 } `json:"idle_timeout_s"`
					Refreshed struct{ Value *string }  `json:"refreshed_by"`
					Ping      struct {
						Value *bool
						Known bool
					} `json:"http2_ping_refreshes"`
				} `json:"middlebox"`
				Downstream *json.RawMessage `json:"downstream"`
				Upstream   *struct {
					Idle struct{ Value *float64 } `json:"idle_timeout_s"`
					TCP  struct {
						UserTimeout struct{ Value *float64 } `json:"user_timeout_s"`
						Detection   *float64                 `json:"detection_s"`
					} `json:"tcp"`
					MaxLifetime struct{ Value *float64 } `json:"max_lifetime_s"`
					GRPC        *struct {
						Time    struct{ Value *float64 } `json:"time_s"`
						MinTime struct {
							Value *float64
							Known bool
						} `json:"min_time_s"`
					} `json:"grpc"`
				} `json:"upstream"`
			} `json:"hops"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(render(t, "json", testReport(), TextOptions{}), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Chains) != 1 {
		t.Fatalf("%d chains, want 1", len(doc.Chains))
	}
	c := doc.Chains[0]
	if c.File != "keeptune.yaml" || c.Profile != "edge-proxy" || c.ExpectConnections != 50000 {
		t.Errorf("chain = %s %s %d", c.File, c.Profile, c.ExpectConnections)
	}
	var names []string
	for _, h := range c.Hops {
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "clients nat edge envoy app" {
		t.Fatalf("hops = %s", got)
	}
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	clients, nat, edge, envoy := c.Hops[0], c.Hops[1], c.Hops[2], c.Hops[3]
	if clients.Middlebox != nil || clients.Downstream != nil || nat.Upstream != nil {
		t.Error("a hop has values of another kind of hop")
	}
	if clients.Declared != (model.Location{File: "keeptune.yaml", Line: 4, Column: 5}) {
		t.Errorf("clients declared at %v", clients.Declared)
	}
	check("nat idle_timeout_s", nat.Middlebox.Idle.Value, 350)
	if v := edge.Middlebox.Refreshed.Value; v == nil || *v != "payload" {
		t.Errorf("edge refreshed_by = %v", v)
	}
	if p := edge.Middlebox.Ping; !p.Known || p.Value == nil || *p.Value {
		t.Errorf("edge http2_ping_refreshes = %+v, want known false", p)
	}
	if p := nat.Middlebox.Ping; p.Known || p.Value != nil {
		t.Errorf("nat http2_ping_refreshes = %+v, want unknown and null", p)
	}
	up := envoy.Upstream
	check("envoy upstream idle_timeout_s", up.Idle.Value, 3600)
	check("envoy upstream tcp.user_timeout_s", up.TCP.UserTimeout.Value, 30)
	check("envoy upstream tcp.detection_s", up.TCP.Detection, 675) // 10m + 75s, cut short by the user timeout
	check("envoy upstream max_lifetime_s", up.MaxLifetime.Value, 3600)
	check("envoy upstream grpc.time_s", up.GRPC.Time.Value, 30)
	if up.GRPC.MinTime.Known || up.GRPC.MinTime.Value != nil {
		t.Error("an unknown gRPC min_time is not null")
	}
	if clients.Upstream.GRPC != nil {
		t.Error("a side without gRPC has a grpc object")
	}

	hopsOf := map[string]string{}
	for _, f := range doc.Findings {
		if f.Hops != nil {
			hopsOf[f.Rule] += strings.Join(*f.Hops, ",") + ";"
		}
	}
	if got := hopsOf["KT706"]; got != "envoy,app;" {
		t.Errorf("KT706 hops = %q", got)
	}
	if _, ok := hopsOf["KT101"]; ok {
		t.Error("a finding without hops has a hops key")
	}

	var lint struct {
		Chains []any `json:"chains"`
	}
	if err := json.Unmarshal(render(t, "json", lintReport(), TextOptions{}), &lint); err != nil {
		t.Fatal(err)
	}
	if lint.Chains == nil {
		t.Error(`a run without chains has no "chains": []`)
	}
}

// TestJSONViewsCoverModel: the view types list some model types' fields by hand (to rename
// duration keys). If one of those model types gains a field, this fails until the view has it.
func TestJSONViewsCoverModel(t *testing.T) {
	cases := []struct {
		typ    reflect.Type
		fields []string
		view   string
	}{
		{reflect.TypeFor[model.Snapshot](), []string{"Host", "Namespaces", "Global", "SysctlFiles", "Conflicts", "Processes", "Sockets", "Problems"}, "jsonSnapshot (Problems: jsonReport.Problems)"},
		{reflect.TypeFor[model.KeepaliveSettings](), []string{"Enabled", "Idle", "Interval", "Count", "UserTimeout"}, "jsonKeepalive"},
		{reflect.TypeFor[model.Conntrack](), []string{"EstablishedTimeout", "Max", "Count"}, "jsonConntrack"},
		{reflect.TypeFor[model.Profile](), []string{"Name", "Description", "Source", "Idle", "Interval", "Probes", "MaxDetection", "MaxUnackedTimeout", "Retries2"}, "jsonProfile"},
		{reflect.TypeFor[model.DurationRange](), []string{"Min", "Max", "Recommended"}, "jsonSecondsRange"},
		{reflect.TypeFor[model.Setting[int]](), []string{"Value", "Known", "Source"}, "jsonSetting"},
		{reflect.TypeFor[model.Chain](), []string{"File", "Profile", "ExpectConnections", "Hops"}, "jsonChain (Hops: jsonHop)"},
		{reflect.TypeFor[model.Hop](), []string{"Name", "Type", "Catalog", "Runtime", "Config", "Declared", "Local", "Middlebox", "Downstream", "Upstream"}, "jsonHop (Middlebox, Downstream, Upstream)"},
		{reflect.TypeFor[model.Middlebox](), []string{"IdleTimeout", "Layer", "RefreshedBy", "OnExpiry", "HTTP2PingRefreshes"}, "jsonMiddlebox"},
		{reflect.TypeFor[model.Side](), []string{"IdleTimeout", "Pools", "TCP", "ReadTimeout", "ConnectTimeout", "MaxLifetime", "GRPC", "HTTP2Ping"}, "jsonSide"},
		{reflect.TypeFor[model.GRPCKeepalive](), []string{"Time", "Timeout", "PermitWithoutStream", "MinTime"}, "jsonGRPC"},
	}
	for _, c := range cases {
		var got []string
		for f := range c.typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, c.fields) {
			t.Errorf("model.%s has fields %v, %s was written for %v: update it, docs/json.md and this test",
				c.typ.Name(), got, c.view, c.fields)
		}
	}
}

// TestFixtureCoversModel: every field of every model type reachable from a Report is set
// (non-zero) somewhere in the fixtures, so that the goldens and the docs check see it. A field
// added to the model fails here until the fixture sets it, which then shows whether JSON,
// text and docs/json.md carry it.
func TestFixtureCoversModel(t *testing.T) {
	set := map[reflect.Type]map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Struct:
			typ := v.Type()
			if typ.PkgPath() != reflect.TypeFor[model.Snapshot]().PkgPath() {
				return
			}
			if set[typ] == nil {
				set[typ] = map[string]bool{}
			}
			for i := range typ.NumField() {
				if !v.Field(i).IsZero() {
					set[typ][typ.Field(i).Name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	for _, r := range []Report{testReport(), exampleReport(), lintChainsReport()} {
		walk(reflect.ValueOf(r.Snapshot))
		walk(reflect.ValueOf(r.Chains))
		walk(reflect.ValueOf(r.Findings))
		walk(reflect.ValueOf(r.Profile))
	}
	var missing []string
	for typ, fields := range set {
		for f := range typ.Fields() {
			if !fields[f.Name] {
				missing = append(missing, typ.Name()+"."+f.Name)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no fixture sets model field %s", m)
	}
	// The types that must have been reached at all.
	for _, typ := range []reflect.Type{
		reflect.TypeFor[model.Conntrack](), reflect.TypeFor[model.GoBinary](), reflect.TypeFor[model.SysctlConflict](),
		reflect.TypeFor[model.Problem](), reflect.TypeFor[model.Fix](), reflect.TypeFor[model.Location](),
		reflect.TypeFor[model.Setting[time.Duration]](), reflect.TypeFor[model.Setting[bool]](),
		reflect.TypeFor[model.Setting[int]](), reflect.TypeFor[model.Setting[int64]](),
		reflect.TypeFor[model.Chain](), reflect.TypeFor[model.Hop](), reflect.TypeFor[model.Middlebox](),
		reflect.TypeFor[model.Side](), reflect.TypeFor[model.GRPCKeepalive](),
		reflect.TypeFor[model.Setting[model.Refresh]](), reflect.TypeFor[model.Setting[model.Expiry]](),
	} {
		if set[typ] == nil {
			t.Errorf("no fixture has a %s", typ.Name())
		}
	}
}
