package redis

import (
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// Directive names as redis judges them: a near-miss of a key is refused with a did-you-mean by
// any version; another unknown name is refused by a server no newer than the table and a
// warning otherwise.
func TestDirectiveNames(t *testing.T) {
	for _, tt := range []struct {
		name, conf, version string
		err, warn           string
	}{
		{"known, aliases and other directives", "tcp-keepalive 60\nslaveof 127.0.0.1 6379\nrename-command FLUSHALL \"\"\nsave \"\"\n", "7.0.15", "", ""},
		{"misspelt", "port 0\ntcp-keepaliv 60\n", "", `/r.conf:2: Bad directive or wrong number of arguments: "tcp-keepaliv" (did you mean "tcp-keepalive"?)`, ""},
		{"later version's, version unknown", "hide-user-data-from-log yes\n", "", "", `"hide-user-data-from-log": not a directive of redis 7.0.15`},
		{"later version's, older server", "hide-user-data-from-log yes\n", "7.0.15", `/r.conf:1: Bad directive or wrong number of arguments: "hide-user-data-from-log"`, ""},
		{"later version's, later server", "hide-user-data-from-log yes\n", "7.4.0", "", "not a directive of redis 7.0.15"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parser{Version: tt.version}.parse(testutil.MapFS(map[string]string{"r.conf": tt.conf}), "r.conf")
			var warnings []string
			if c != nil {
				for _, w := range c.Warnings {
					warnings = append(warnings, w.Message)
				}
			}
			testutil.Verdict(t, err, warnings, tt.err, tt.warn)
		})
	}
}
