package redis

import (
	"errors"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/configs"
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
			if tt.err != "" {
				var pe *configs.ParseError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.warn == "" && len(c.Warnings) > 0:
				t.Errorf("unexpected warnings %+v", c.Warnings)
			case tt.warn != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message, tt.warn)):
				t.Errorf("warnings %+v, want one with %q", c.Warnings, tt.warn)
			}
		})
	}
}
