package plan

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

// docName is the section of docs/json.md that documents a type of the plan's JSON.
func docName(t reflect.Type) string {
	switch t {
	case reflect.TypeOf(Plan{}):
		return "Plan"
	case reflect.TypeOf(NetnsRef{}):
		return "PlanNetns"
	case reflect.TypeOf(model.Source{}):
		return "Source"
	}
	return "Plan" + t.Name()
}

// TestJSONDocumented: every key of the plan's JSON is documented in docs/json.md under its
// type, with "when set" exactly for the keys left out when empty, and the page documents no key
// the plan does not have.
func TestJSONDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`^### (\w+)\s*$`)
	row := regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([^|]+) \\| (always|when set) \\|")
	docs := map[string]map[string]string{} // type -> key -> presence
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			cur = m[1]
			docs[cur] = map[string]string{}
			continue
		}
		if strings.HasPrefix(line, "## ") {
			cur = ""
		}
		if m := row.FindStringSubmatch(line); m != nil && cur != "" {
			docs[cur][m[1]] = m[3]
		}
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		name := docName(typ)
		doc, ok := docs[name]
		if !ok {
			t.Errorf("docs/json.md has no section ### %s for %s", name, typ)
			return
		}
		keys := map[string]bool{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			key, opts, _ := strings.Cut(tag, ",")
			if key == "" || key == "-" {
				continue
			}
			keys[key] = true
			want := "always"
			if strings.Contains(opts, "omitempty") {
				want = "when set"
			}
			if got, ok := doc[key]; !ok {
				t.Errorf("%s.%s is not documented", name, key)
			} else if got != want {
				t.Errorf("%s.%s is documented as %q, the JSON has it %q", name, key, got, want)
			}
			walk(f.Type)
		}
		var extra []string
		for k := range doc {
			if !keys[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			t.Errorf("docs/json.md documents %s.%s, which the plan does not have", name, k)
		}
	}
	walk(reflect.TypeOf(Plan{}))
}
