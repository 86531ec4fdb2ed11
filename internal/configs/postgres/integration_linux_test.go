package postgres

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/testutil"
)

// postgresBinary returns the installed postgres and its version, skipping without one.
func postgresBinary(t *testing.T) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("postgres")
	if err != nil {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
		if len(m) == 0 {
			t.Skip("PostgreSQL is not installed (Debian: postgresql)")
		}
		bin = m[len(m)-1]
	}
	testutil.RequireRoot(t, "runs postgres -C as the postgres user")
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return bin, regexp.MustCompile(`\d+\.\d+`).FindString(string(out))
}

// TestPostgresAgreesOnParameterNames runs `postgres -C` (it reads the configuration and prints
// one setting, starting nothing) on each file: the server and keeptune, given the server's
// version, accept or refuse it alike, at the same line.
func TestPostgresAgreesOnParameterNames(t *testing.T) {
	bin, version := postgresBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "postgres", data).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	at := regexp.MustCompile(`unrecognized configuration parameter "([^"]+)" in file "[^"]+" line (\d+)`)
	for _, tt := range []struct {
		name, conf string
		refused    bool
	}{
		{"known and an extension's", "tcp_keepalives_idle = 60\nmyext.setting = 'x'\nshared_buffers = 16MB\n", false},
		{"misspelt", "tcp_keepalives_idle = 60\ntcp_keepalive_interval = 10\n", true},
		{"a later version's", "listen_addresses = ''\nio_combine_limit = 16\n", true},
		{"removed in 15", "stats_temp_directory = '/tmp'\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conf := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".conf")
			if err := os.WriteFile(conf, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("runuser", "-u", "postgres", "--", bin, "-D", data, "--config-file="+conf, "-C", "tcp_keepalives_idle").CombinedOutput()
			m := at.FindStringSubmatch(string(out))
			if (err != nil) != tt.refused || (tt.refused && m == nil) {
				t.Fatalf("postgres %s: err %v, want refused=%v:\n%s", version, err, tt.refused, out)
			}
			_, kerr := Parser{Version: version}.parse(testutil.MapFS(map[string]string{"p.conf": tt.conf}), "p.conf")
			if !tt.refused {
				if kerr != nil {
					t.Fatalf("keeptune refuses what postgres %s accepts: %v", version, kerr)
				}
				return
			}
			var pe *configs.ParseError
			if !errors.As(kerr, &pe) || pe.Line != atoi(m[2]) || !strings.Contains(pe.Msg, `"`+m[1]+`"`) {
				t.Errorf("keeptune: %v; postgres %s: %s", kerr, version, strings.TrimSpace(string(out)))
			}
		})
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
