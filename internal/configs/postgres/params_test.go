package postgres

import (
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// Parameter names as PostgreSQL judges them: a misspelling is refused with a did-you-mean by
// any version; a name the table does not have is refused by a server no newer than the table
// and a warning otherwise; a removed one is refused from its version on; a dotted name is an
// extension's and always accepted.
func TestParameterNames(t *testing.T) {
	for _, tt := range []struct {
		name, conf, version string
		err                 string // substring of the error, "" for none
		warn                string // substring of the single warning, "" for none
	}{
		{"known", "tcp_keepalives_idle = 60\nmyext.setting = 'x'\n", "15.4", "", ""},
		{"misspelt", "tcp_keepalives_idle = 60\ntcp_keepalive_interval = 10\n", "", `/p.conf:2: unrecognized configuration parameter "tcp_keepalive_interval" (did you mean "tcp_keepalives_interval"?)`, ""},
		{"later version's, version unknown", "io_combine_limit = 16\n", "", "", `unrecognized configuration parameter "io_combine_limit"`},
		{"later version's, older server", "io_combine_limit = 16\n", "15.18", `/p.conf:1: unrecognized configuration parameter "io_combine_limit"`, ""},
		{"later version's, later server", "io_combine_limit = 16\n", "17.2", "", `unrecognized configuration parameter "io_combine_limit"`},
		{"removed, version unknown", "stats_temp_directory = '/tmp'\n", "", "", "removed in PostgreSQL 15"},
		{"removed, older server", "stats_temp_directory = '/tmp'\n", "14.9", "", ""},
		{"removed, newer server", "stats_temp_directory = '/tmp'\n", "15.1", `unrecognized configuration parameter "stats_temp_directory" (removed in PostgreSQL 15; the server is 15.1)`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parser{Version: tt.version}.parse(testutil.MapFS(map[string]string{"p.conf": tt.conf}), "p.conf")
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
