package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

// validateSARIF checks a SARIF log against the official SARIF 2.1.0 JSON schema, which go-sarif
// embeds and checks with gojsonschema (Report.Validate). Validate checks the parsed struct,
// marshalled again; so first make sure that struct is exactly the document written (nothing
// dropped or added in the reading), or the schema check would be of something else.
func validateSARIF(t *testing.T, data []byte) {
	t.Helper()
	if err := sarifSchemaErrors(data); err != nil {
		t.Fatal(err)
	}
}

func sarifSchemaErrors(data []byte) error { return testutil.ValidateSARIF(data) }

func indent(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// jget walks a decoded JSON value by keys and indexes; it fails the test where the path breaks.
func jget(t *testing.T, v any, path ...any) any {
	t.Helper()
	for i, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not an object", path[:i])
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("at %v: no key %q", path[:i], k)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %v: not an array with index %d", path[:i], k)
			}
			v = a[k]
		}
	}
	return v
}

func decodeSARIF(t *testing.T, r Report) (run map[string]any, results []any) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(render(t, "sarif", r, TextOptions{}), &doc); err != nil {
		t.Fatal(err)
	}
	if v := jget(t, doc, "version"); v != "2.1.0" {
		t.Fatalf("version %v", v)
	}
	if n := len(jget(t, doc, "runs").([]any)); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	run = jget(t, doc, "runs", 0).(map[string]any)
	return run, jget(t, run, "results").([]any)
}

func TestSARIFValid(t *testing.T) {
	for name, r := range map[string]Report{"audit": testReport(), "lint": lintReport(), "busy": busyReport(), "example": exampleReport(), "chains": lintChainsReport()} {
		t.Run(name, func(t *testing.T) { validateSARIF(t, render(t, "sarif", r, TextOptions{})) })
	}
}

// TestSARIFValidationCatchesErrors: the schema check can fail, on the kinds of mistakes a
// renderer makes.
func TestSARIFValidationCatchesErrors(t *testing.T) {
	breaks := map[string]func(result, rule map[string]any){
		"unknown level": func(res, _ map[string]any) { res["level"] = "critical" },
		"no message":    func(res, _ map[string]any) { delete(res, "message") },
		"line 0": func(res, _ map[string]any) {
			res["locations"] = []any{map[string]any{"physicalLocation": map[string]any{"region": map[string]any{"startLine": 0}}}}
		},
		"relative help URI": func(_, rule map[string]any) { rule["helpUri"] = "docs/rules.md#kt101" },
		// go-sarif's reader drops keys it does not know before Validate sees them: only the
		// read-back comparison in sarifSchemaErrors catches this one.
		"unknown property": func(res, _ map[string]any) { res["severity"] = "error" },
		"bad kind":         func(res, _ map[string]any) { res["kind"] = "failure" },
	}
	for name, brk := range breaks {
		t.Run(name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal(render(t, "sarif", testReport(), TextOptions{}), &doc); err != nil {
				t.Fatal(err)
			}
			brk(jget(t, doc, "runs", 0, "results", 0).(map[string]any),
				jget(t, doc, "runs", 0, "tool", "driver", "rules", 0).(map[string]any))
			data, _ := json.Marshal(doc)
			if err := sarifSchemaErrors(data); err == nil {
				t.Error("schema validation accepted a broken log")
			}
		})
	}
}

func TestSARIFGolden(t *testing.T) {
	golden(t, "report.sarif.golden", render(t, "sarif", testReport(), TextOptions{}))
}

func TestSARIFContent(t *testing.T) {
	r := testReport()
	run, results := decodeSARIF(t, r)

	driver := jget(t, run, "tool", "driver")
	for k, want := range map[string]string{"name": "keeptune", "version": "0.3.0", "informationUri": "https://github.com/keeptune/keeptune"} {
		if got := jget(t, driver, k); got != want {
			t.Errorf("driver.%s = %v, want %v", k, got, want)
		}
	}
	rules := jget(t, driver, "rules").([]any)
	if len(rules) != len(r.Rules) {
		t.Fatalf("%d rule descriptors, want %d", len(rules), len(r.Rules))
	}
	kt002 := rules[0]
	for path, want := range map[string]string{
		"id": "KT002", "name": "sysctl-syntax",
		"helpUri": "https://github.com/keeptune/keeptune/blob/v0.3.0/docs/rules.md#kt002",
	} {
		if got := jget(t, kt002, path); got != want {
			t.Errorf("rules[0].%s = %v, want %v", path, got, want)
		}
	}
	if got := jget(t, kt002, "shortDescription", "text"); got != "Unreadable line in a sysctl file" {
		t.Errorf("shortDescription = %v", got)
	}
	if got := jget(t, kt002, "defaultConfiguration", "level"); got != "warning" {
		t.Errorf("KT002 default level = %v", got)
	}
	if got := jget(t, rules[3], "name"); got != "SysctlFilesDisagree" {
		t.Errorf("name made from the title = %v", got)
	}
	if got := jget(t, rules[3], "helpUri"); got != "https://example.com/keeptune/kt106" {
		t.Errorf("an absolute HelpURI was changed: %v", got)
	}

	if len(results) != len(r.Findings) {
		t.Fatalf("%d results, want one per finding (%d)", len(results), len(r.Findings))
	}
	byRule := map[string]any{}
	fingerprints := map[any]bool{}
	for i, res := range results {
		id := jget(t, res, "ruleId").(string)
		byRule[id] = res
		idx := int(jget(t, res, "ruleIndex").(float64))
		if got := jget(t, rules[idx], "id"); got != id {
			t.Errorf("result %d: ruleIndex %d names %v, ruleId is %s", i, idx, got, id)
		}
		if len(jget(t, res, "locations").([]any)) == 0 {
			t.Errorf("result %d (%s) has no location", i, id)
		}
		fingerprints[jget(t, res, "partialFingerprints", fingerprintKey)] = true
	}
	if len(fingerprints) != len(results) {
		t.Error("two results share a fingerprint")
	}
	for id, want := range map[string]string{"KT101": "error", "KT104": "warning", "KT601": "note"} {
		if got := jget(t, byRule[id], "level"); got != want {
			t.Errorf("%s level = %v, want %v", id, got, want)
		}
	}

	// A finding on a file line: physical location relative to the root base, and a real fix.
	kt201 := byRule["KT201"]
	phys := jget(t, kt201, "locations", 0, "physicalLocation")
	if got := jget(t, phys, "artifactLocation", "uri"); got != "etc/sysctl.d/99-tune.conf" {
		t.Errorf("KT201 uri = %v", got)
	}
	if got := jget(t, phys, "artifactLocation", "uriBaseId"); got != rootBaseID {
		t.Errorf("KT201 uriBaseId = %v", got)
	}
	if got := jget(t, phys, "region", "startLine"); got != 5.0 {
		t.Errorf("KT201 startLine = %v", got)
	}
	if got := jget(t, phys, "region", "startColumn"); got != 1.0 {
		t.Errorf("KT201 startColumn = %v", got)
	}
	change := jget(t, kt201, "fixes", 0, "artifactChanges", 0)
	if got := jget(t, change, "replacements", 0, "deletedRegion", "startLine"); got != 5.0 {
		t.Errorf("KT201 fix deletes line %v, want 5", got)
	}
	if _, ok := jget(t, change, "replacements", 0, "deletedRegion").(map[string]any)["endLine"]; ok {
		t.Error("KT201 fix region has an endLine: the whole line is meant, without its newline")
	}
	if got := jget(t, change, "replacements", 0, "insertedContent", "text"); got != "net.ipv4.tcp_retries2 = 8" {
		t.Errorf("KT201 fix inserts %q", got)
	}
	if got := jget(t, run, "originalUriBaseIds", rootBaseID, "uri"); got != "file:///" {
		t.Errorf("%s base = %v", rootBaseID, got)
	}

	// A finding about a kernel value with no file: logical location, fix in message and
	// properties only.
	kt101r := byRule["KT101"]
	loc := jget(t, kt101r, "locations", 0).(map[string]any)
	if _, ok := loc["physicalLocation"]; ok {
		t.Error("KT101 has a physical location, but no file sets the value")
	}
	if got := jget(t, loc, "logicalLocations", 0, "fullyQualifiedName"); got != "web-1/netns/host" {
		t.Errorf("KT101 logical location = %v", got)
	}
	if n := len(jget(t, kt101r, "fixes").([]any)); n != 0 {
		t.Errorf("KT101 has %d SARIF fixes; its fix (a new file) cannot be expressed as one", n)
	}
	msg := jget(t, kt101r, "message", "text").(string)
	if !strings.Contains(msg, "\n\nFix: write `net.ipv4.tcp_keepalive_time = 600` to /etc/sysctl.d/60-keeptune.conf\n"+
		"Apply now: sysctl -w net.ipv4.tcp_keepalive_time=600") {
		t.Errorf("KT101 message lacks the fix:\n%s", msg)
	}
	if got := jget(t, kt101r, "properties", "fix", "apply"); got != "sysctl -w net.ipv4.tcp_keepalive_time=600" {
		t.Errorf("KT101 properties.fix.apply = %v", got)
	}

	notes := jget(t, run, "invocations", 0, "toolExecutionNotifications").([]any)
	if len(notes) != len(r.Snapshot.Problems) {
		t.Errorf("%d notifications, want one per problem (%d)", len(notes), len(r.Snapshot.Problems))
	}
}

// TestSARIFChainFindings: a finding about chain hops records them, points at its file when it
// has one, is named by its hops when it has not, and is never located on the host keeptune ran on.
func TestSARIFChainFindings(t *testing.T) {
	run, results := decodeSARIF(t, testReport())
	bySubject := map[string]any{}
	for _, res := range results {
		bySubject[jget(t, res, "properties", "subject").(string)] = res
	}
	hops := func(res any) string {
		var out []string
		for _, h := range jget(t, res, "properties", "hops").([]any) {
			out = append(out, h.(string))
		}
		return strings.Join(out, ",")
	}

	kt707 := bySubject["clients -> edge"]
	if got := hops(kt707); got != "clients,nat,edge" {
		t.Errorf("KT707 properties.hops = %s", got)
	}
	loc := jget(t, kt707, "locations", 0).(map[string]any)
	if _, ok := loc["physicalLocation"]; ok {
		t.Error("KT707 has a physical location, but the finding has no file location")
	}
	lls := jget(t, loc, "logicalLocations").([]any)
	if len(lls) != 1 {
		t.Fatalf("KT707 has %d logical locations, want 1 (its hops, not the host): %s", len(lls), indent(lls))
	}
	for k, want := range map[string]string{"name": "clients -> nat -> edge", "fullyQualifiedName": "keeptune.yaml#clients -> nat -> edge", "kind": "resource"} {
		if got := jget(t, lls[0], k); got != want {
			t.Errorf("KT707 logical location %s = %v, want %v", k, got, want)
		}
	}

	kt706 := bySubject["envoy -> app"]
	if got := hops(kt706); got != "envoy,app" {
		t.Errorf("KT706 properties.hops = %s", got)
	}
	phys := jget(t, kt706, "locations", 0, "physicalLocation")
	if got := jget(t, phys, "artifactLocation", "uri"); got != "etc/envoy/envoy.yaml" {
		t.Errorf("KT706 uri = %v", got)
	}
	if lls, _ := jget(t, kt706, "locations", 0).(map[string]any)["logicalLocations"].([]any); len(lls) != 0 {
		t.Errorf("KT706 has a file location and still logical ones: %s", indent(lls))
	}
	// A finding in the chain file: a relative URI, resolved against the consumer's checkout.
	phys = jget(t, bySubject["envoy upstream"], "locations", 0, "physicalLocation")
	if got := jget(t, phys, "artifactLocation", "uri"); got != "keeptune.yaml" {
		t.Errorf("KT705 uri = %v", got)
	}
	if _, ok := jget(t, phys, "artifactLocation").(map[string]any)["uriBaseId"]; ok {
		t.Error("a relative chain file path got a uriBaseId")
	}
	if got := jget(t, phys, "region", "startLine"); got != 10.0 {
		t.Errorf("KT705 startLine = %v", got)
	}
	// Host findings keep their host location and get no hops.
	if _, ok := jget(t, bySubject["net.ipv4.tcp_retries2 in host"], "properties").(map[string]any)["hops"]; ok {
		t.Error("a finding without hops has properties.hops")
	}
	if got := jget(t, run, "properties", "chains", 0); got != "keeptune.yaml" {
		t.Errorf("run properties.chains[0] = %v", got)
	}
}

// TestSARIFUnlistedRule: a finding whose rule the caller did not list still points at a
// descriptor.
func TestSARIFUnlistedRule(t *testing.T) {
	r := Report{Tool: testTool(), Findings: []model.Finding{{Rule: "KT999", Severity: model.SeverityWarning, Subject: "x", Message: "m"}}}
	run, results := decodeSARIF(t, r)
	if got := jget(t, run, "tool", "driver", "rules", 0, "id"); got != "KT999" {
		t.Errorf("descriptor id = %v", got)
	}
	if got := jget(t, results[0], "ruleIndex"); got != 0.0 {
		t.Errorf("ruleIndex = %v", got)
	}
	validateSARIF(t, render(t, "sarif", r, TextOptions{}))
}

func TestArtifactLocations(t *testing.T) {
	cases := []struct {
		root, path, uri, base string
	}{
		{"/", "/etc/sysctl.d/99-tune.conf", "etc/sysctl.d/99-tune.conf", rootBaseID},
		{"/", "/etc/my conf/a%b.conf", "etc/my%20conf/a%25b.conf", rootBaseID},
		{"/srv/image", "/srv/image/etc/nginx/nginx.conf", "etc/nginx/nginx.conf", rootBaseID},
		{"/srv/image", "/etc/hosts", "file:///etc/hosts", ""},
		{"/srv/image", "/srv/imagery/x", "file:///srv/imagery/x", ""},
		{"/", "keeptune.yaml", "keeptune.yaml", ""},
		{"/", "a:b/c.conf", "./a:b/c.conf", ""},
	}
	for _, c := range cases {
		b := uriBuilder{root: c.root}
		loc := b.location(c.path)
		base := ""
		if loc.URIBaseID != nil {
			base = *loc.URIBaseID
		}
		if *loc.URI != c.uri || base != c.base {
			t.Errorf("root %s, %q: uri %q base %q, want %q %q", c.root, c.path, *loc.URI, base, c.uri, c.base)
		}
		if b.used != (c.base != "") {
			t.Errorf("root %s, %q: base used = %v", c.root, c.path, b.used)
		}
	}
	if got := (&uriBuilder{root: "/srv/image"}).baseURI(); got != "file:///srv/image/" {
		t.Errorf("base URI = %q", got)
	}
}

func TestAbsoluteHelpURI(t *testing.T) {
	cases := []struct {
		tool ToolInfo
		help string
		want string
	}{
		{ToolInfo{InformationURI: "https://github.com/keeptune/keeptune"}, "docs/rules.md#kt101", "https://github.com/keeptune/keeptune/docs/rules.md#kt101"},
		{ToolInfo{InformationURI: "https://x.org/", DocsURI: "https://x.org/blob/v1/"}, "docs/rules.md#kt1", "https://x.org/blob/v1/docs/rules.md#kt1"},
		{ToolInfo{}, "https://x.org/r#1", "https://x.org/r#1"},
		{ToolInfo{}, "docs/rules.md#kt1", ""},
		{ToolInfo{InformationURI: "not absolute"}, "docs/rules.md", ""},
		{ToolInfo{InformationURI: "https://x.org"}, "", ""},
	}
	for _, c := range cases {
		if got := c.tool.absoluteHelpURI(c.help); got != c.want {
			t.Errorf("%+v %q: %q, want %q", c.tool, c.help, got, c.want)
		}
	}
}

// TestSARIFHostFindingAtSysctlFile: a host finding whose value a sysctl file sets points at
// that file's line (GitHub shows only results with a physical location), and no region offset
// is written as -1 (issue 17).
func TestSARIFHostFindingAtSysctlFile(t *testing.T) {
	r := Report{Tool: testTool(), Findings: []model.Finding{{Rule: "KT101", Severity: model.SeverityError, Subject: "net.ipv4.tcp_keepalive_time in host",
		Message: "m", Evidence: []model.Evidence{{Name: "net.ipv4.tcp_keepalive_time", Value: "7200",
			Source: model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-k.conf", Line: 2}}}}}}
	_, results := decodeSARIF(t, r)
	phys := jget(t, results[0], "locations", 0, "physicalLocation")
	if got := jget(t, phys, "artifactLocation", "uri"); got != "etc/sysctl.d/60-k.conf" {
		t.Errorf("uri = %v", got)
	}
	if got := jget(t, phys, "region", "startLine"); got != 2.0 {
		t.Errorf("startLine = %v", got)
	}
	out := string(render(t, "sarif", r, TextOptions{}))
	if strings.Contains(out, `Offset": -1`) {
		t.Errorf("-1 offsets in:\n%s", out)
	}
}
