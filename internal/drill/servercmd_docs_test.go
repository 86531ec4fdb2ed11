package drill

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

// TestServerJSONDocumented: the keys of a run's "server" object are those docs/json.md lists
// under DrillServer and DrillServerKeepalive, "when set" exactly for those left out when empty.
func TestServerJSONDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]bool{} // section -> key -> always
	var cur string
	row := regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| [^|]+ \\| (always|when set) \\|")
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(line, "### "); ok {
			cur = name
			docs[cur] = map[string]bool{}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && cur != "" {
			docs[cur][m[1]] = m[2] == "always"
		}
	}
	full := ServerRun{Command: "nginx", PIDs: []int{1}, Listen: "203.0.113.2:4242", KeepaliveOn: true, KeepaliveMixed: true,
		Keepalive: Settings{Config: keepalive.Config{Idle: 2 * time.Second, Interval: time.Second, Count: 2}}, Clients: 1, Released: 1, Left: map[string]int{"FIN_WAIT1": 1}}
	empty := ServerRun{}
	keys := func(v any) (map[string]any, map[string]any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		ka, _ := m["keepalive"].(map[string]any)
		return m, ka
	}
	fm, fka := keys(full)
	em, eka := keys(empty)
	for _, c := range []struct {
		section     string
		full, empty map[string]any
	}{{"DrillServer", fm, em}, {"DrillServerKeepalive", fka, eka}} {
		doc, ok := docs[c.section]
		if !ok {
			t.Fatalf("docs/json.md has no section ### %s", c.section)
		}
		for k := range c.full {
			if _, ok := doc[k]; !ok {
				t.Errorf("%s.%s is not documented in docs/json.md", c.section, k)
			}
		}
		for k, always := range doc {
			if _, ok := c.full[k]; !ok {
				t.Errorf("docs/json.md documents %s.%s, which the output does not have", c.section, k)
			}
			if _, inEmpty := c.empty[k]; inEmpty != always {
				t.Errorf("%s.%s: documented always=%v, but present in an empty report: %v", c.section, k, always, inEmpty)
			}
		}
	}
}
