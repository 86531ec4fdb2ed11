package cli

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/canary"
	"github.com/keeptune/keeptune/internal/testutil"
)

// applyDocNames maps the JSON types of apply, rollback and verify to their sections of
// docs/json.md.
var applyDocNames = map[reflect.Type]string{
	reflect.TypeOf(applyJSON{}):               "ApplyResult",
	reflect.TypeOf(apply.Step{}):              "ApplyStep",
	reflect.TypeOf(apply.RollbackResult{}):    "RollbackResult",
	reflect.TypeOf(apply.Entry{}):             "JournalEntry",
	reflect.TypeOf(apply.FileRecord{}):        "JournalFile",
	reflect.TypeOf(apply.FileMeta{}):          "JournalFileMeta",
	reflect.TypeOf(apply.SysctlRecord{}):      "JournalSysctl",
	reflect.TypeOf(apply.Netns{}):             "JournalNetns",
	reflect.TypeOf(apply.ReloadRecord{}):      "JournalReload",
	reflect.TypeOf(apply.Event{}):             "JournalEvent",
	reflect.TypeOf(canary.Verdict{}):          "CanaryVerdict",
	reflect.TypeOf(canary.NamespaceVerdict{}): "CanaryNamespace",
	reflect.TypeOf(canary.Result{}):           "CanaryCounter",
	reflect.TypeOf(canary.SocketTable{}):      "CanarySockets",
}

// TestApplyJSONDocumented: every key apply, rollback and verify write is documented in
// docs/json.md under its type, "when set" exactly for the keys left out when empty, and the page
// documents no key they do not write.
func TestApplyJSONDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`^### (\w+)\s*$`)
	row := regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([^|]+) \\| (always|when set) \\|")
	docs := map[string]map[string]string{}
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			cur = m[1]
			docs[cur] = map[string]string{}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && cur != "" {
			docs[cur][m[1]] = m[3]
		}
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	// keysOf lists a struct's JSON keys, with embedded structs' keys inline.
	var keysOf func(reflect.Type, map[string]string)
	keysOf = func(typ reflect.Type, keys map[string]string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" {
				et := f.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				keysOf(et, keys)
				continue
			}
			key, opts, _ := strings.Cut(tag, ",")
			if key == "" || key == "-" {
				continue
			}
			keys[key] = "always"
			if strings.Contains(opts, "omitempty") {
				keys[key] = "when set"
			}
			walk(f.Type)
		}
	}
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		name, ok := applyDocNames[typ]
		if typ.Kind() != reflect.Struct || seen[typ] || !ok {
			return
		}
		seen[typ] = true
		doc, ok := docs[name]
		if !ok {
			t.Errorf("docs/json.md has no section ### %s for %s", name, typ)
			return
		}
		keys := map[string]string{}
		keysOf(typ, keys)
		for k, want := range keys {
			if got, ok := doc[k]; !ok {
				t.Errorf("%s.%s is not documented", name, k)
			} else if got != want {
				t.Errorf("%s.%s is documented as %q, the JSON has it %q", name, k, got, want)
			}
		}
		var extra []string
		for k := range doc {
			if _, ok := keys[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			t.Errorf("docs/json.md documents %s.%s, which the output does not have", name, k)
		}
	}
	for _, root := range []any{applyJSON{}, apply.RollbackResult{}, apply.Entry{}, canary.Verdict{}} {
		walk(reflect.TypeOf(root))
	}
	for typ, name := range applyDocNames {
		if !seen[typ] {
			t.Errorf("%s (%s) is not reachable from the outputs", name, typ)
		}
	}
}

// apply without a plan file says which profile it planned with (it has no --profile; the dry
// run showed 600/30/5 with nothing saying they were the general profile's).
func TestApplyWithoutPlanNamesItsProfile(t *testing.T) {
	_, stderr, code := run(t, "apply", "--dry-run", "--state-dir", t.TempDir())
	if code != ExitOK && code != ExitPrivilege {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code == ExitOK && !strings.Contains(stderr, "planned now with profile general") {
		t.Errorf("stderr does not name the profile:\n%s", stderr)
	}
}

// The option names docs/json.md gives as examples are keys audit -o json writes (it named
// `expect-connections` and `fail-on`, while the keys are snake_case).
func TestJSONDocsOptionNames(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "| `options` | map of string |") {
			row = l
		}
	}
	if row == "" {
		t.Fatal("docs/json.md has no options row")
	}
	out, stderr, _ := run(t, "audit", "--root", testutil.FakeRoot(t, testutil.Host{}), "-o", "json", "--expect-connections", "10")
	var rep struct {
		Options map[string]string `json:"options"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	names := regexp.MustCompile("`([a-z_-]+)`").FindAllStringSubmatch(strings.SplitN(row, "|", 5)[4], -1)
	if len(names) == 0 {
		t.Fatalf("options row names no option: %s", row)
	}
	for _, m := range names {
		if _, ok := rep.Options[m[1]]; !ok {
			t.Errorf("docs/json.md names option %q; audit writes %v", m[1], rep.Options)
		}
	}
}
