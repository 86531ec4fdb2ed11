package pgbouncer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

func TestTestdata(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "pgbouncer.ini")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Files, " ") != "/pgbouncer.ini /pgbouncer-local.ini" || c.Section == nil || c.Section.Line != 5 {
		t.Errorf("files %v section %+v", c.Files, c.Section)
	}
	d, u := c.Downstream(), c.Upstream()
	k := d.TCP
	if !k.Enabled.Value || k.Idle.Value != time.Minute || k.Idle.Source.Line != 14 || k.Interval.Value != 10*time.Second ||
		k.Count.Value != 5 || k.Count.Source.File != "/pgbouncer-local.ini" || k.UserTimeout.Value != 45*time.Second {
		t.Errorf("tcp %+v", k)
	}
	if !d.IdleTimeout.Known || d.IdleTimeout.Value != 0 || d.IdleTimeout.Source.Line != 12 {
		t.Errorf("client idle %+v", d.IdleTimeout)
	}
	if u.IdleTimeout.Value != 300*time.Second || u.MaxLifetime.Value != 1800500*time.Millisecond || !u.Pools.Value {
		t.Errorf("upstream %+v", u)
	}
	if u.ConnectTimeout.Value != 15*time.Second || u.ConnectTimeout.Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("connect default %+v", u.ConnectTimeout)
	}
	if n := len(c.Configs().Values); n != 8 {
		t.Errorf("%d values", n)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "minimal.ini")
	if err != nil {
		t.Fatal(err)
	}
	k := c.TCP()
	if !k.Enabled.Value || k.Idle.Known || !strings.Contains(k.Idle.Source.Detail, "net.ipv4.tcp_keepalive_time") || k.UserTimeout.Value != 0 || !k.UserTimeout.Known {
		t.Errorf("defaults %+v", k)
	}
	off, err := Parse(testutil.MapFS(map[string]string{"p.ini": "[pgbouncer]\ntcp_keepalive = 0\n"}), "p.ini")
	if err != nil {
		t.Fatal(err)
	}
	if k := off.TCP(); !k.Enabled.Known || k.Enabled.Value || k.Enabled.Source.Line != 2 {
		t.Errorf("off %+v", k.Enabled)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"p.ini": "tcp_keepidle = 5\n"}, `/p.ini:1: tcp_keepidle: value outside a section`},
		{map[string]string{"p.ini": "[pgbouncer]\ntcp_keepidle = 5 ; five\n"}, `/p.ini:2: tcp_keepidle: expected a whole number (0 or more), found "5 ; five"`},
		{map[string]string{"p.ini": "[pgbouncer]\nserver_idle_timeout = -1\n"}, `/p.ini:2: server_idle_timeout: expected a number of seconds`},
		{map[string]string{"p.ini": "[pgbouncer\n"}, `/p.ini:1: section header without "]"`},
		{map[string]string{"p.ini": "[pgbouncer]\njunk\n"}, `/p.ini:2: syntax error: expected key = value`},
		{map[string]string{"p.ini": "[pgbouncer]\n%include nope.ini\n"}, `/p.ini:2: %include nope.ini: cannot read /nope.ini`},
		{map[string]string{"p.ini": "%include p.ini\n"}, `/p.ini:1: %include p.ini: /p.ini includes itself (cycle)`},
		{map[string]string{"p.ini": "%include\n"}, `/p.ini:1: %include: expected a file name`},
	}
	for _, tt := range tests {
		_, err := Parse(testutil.MapFS(tt.files), "p.ini")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.files, err, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	p := Parser{}
	if !p.Detect("/etc/pgbouncer/pgbouncer.ini", nil) || !p.Detect("/x/pool.ini", []byte("; x\n[pgbouncer]\n")) {
		t.Error("not detected")
	}
	if p.Detect("/x/app.ini", []byte("[app]\n")) {
		t.Error("foreign file detected")
	}
	if _, ok := configs.Lookup("pgbouncer"); !ok {
		t.Error("not registered")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.ini")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b, []byte("[pgbouncer]\ntcp_keepcnt = 3\n"))
	}
	f.Add([]byte("[pgbouncer]\n%include inc.ini\ntcp_user_timeout = 0x10\n"), []byte("server_lifetime = 1e3\n"))
	f.Fuzz(func(t *testing.T, main, inc []byte) {
		c, err := Parse(fstest.MapFS{"p.ini": {Data: main}, "inc.ini": {Data: inc}}, "p.ini")
		if err != nil {
			return
		}
		for _, v := range c.Configs().Values {
			if v.Location.Line < 1 {
				t.Fatalf("value without a line: %+v", v)
			}
		}
	})
}

// A [databases] parameter PgBouncer 1.18 refuses is a warning, not silence and not an error.
func TestUnknownDatabaseParameterWarns(t *testing.T) {
	c, err := Parse(testutil.MapFS(map[string]string{"p.ini": "[databases]\np0 = port=6666 host=127.0.0.1 dbname=p0 reserve_pool_size=2\n[pgbouncer]\nlisten_port = 6432\n"}), "p.ini")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message, `"reserve_pool_size"`) || c.Warnings[0].Location.Line != 2 {
		t.Errorf("warnings %+v", c.Warnings)
	}
}

// With the server's version known, a parameter PgBouncer 1.18 does not take is an error when
// the server is that old, and a warning when it is later (it may take it).
func TestConnectionParametersByVersion(t *testing.T) {
	conf := "[databases]\np0 = host=127.0.0.1 dbname=p0\np1 = dbname=p0 reserve_pool_size=2\n[users]\nu = max_user_conections=2\n[pgbouncer]\nlisten_port = 6432\n"
	fsys := testutil.MapFS(map[string]string{"p.ini": conf})
	_, err := Parser{Version: "1.18.0"}.parse(fsys, "p.ini")
	var pe *configs.ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || pe.Msg != "unrecognized connection parameter: reserve_pool_size" || !strings.Contains(pe.Hint, `did you mean "reserve_pool"?`) {
		t.Errorf("1.18.0: %v (hint %q)", err, pe.Hint)
	}
	_, err = Parser{Version: "1.18.0"}.parse(testutil.MapFS(map[string]string{"p.ini": strings.Replace(conf, " reserve_pool_size=2", "", 1)}), "p.ini")
	if !errors.As(err, &pe) || pe.Line != 5 || pe.Msg != "unrecognized user parameter: max_user_conections" || !strings.Contains(pe.Hint, `did you mean "max_user_connections"?`) {
		t.Errorf("1.18.0 users: %v", err)
	}
	for _, v := range []string{"", "1.24.1"} {
		c, err := Parser{Version: v}.parse(fsys, "p.ini")
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if len(c.Warnings) != 2 || c.Warnings[0].Location.Line != 3 || c.Warnings[1].Location.Line != 5 {
			t.Errorf("%q: warnings %+v", v, c.Warnings)
		}
	}
}
