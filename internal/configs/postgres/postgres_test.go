package postgres

import (
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
	c, err := Parse(os.DirFS("testdata"), "postgresql.conf")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Files, " ") != "/postgresql.conf /conf.d/50-sessions.conf" {
		t.Errorf("files %v", c.Files)
	}
	d := c.Downstream()
	check := func(name string, s model.Setting[time.Duration], want time.Duration, file string, line int) {
		t.Helper()
		if !s.Known || s.Value != want || s.Source.File != file || s.Source.Line != line {
			t.Errorf("%s = %+v, want %v at %s:%d", name, s, want, file, line)
		}
	}
	check("idle", d.TCP.Idle, 300*time.Second, "/postgresql.conf", 12)
	check("interval", d.TCP.Interval, 30*time.Second, "/postgresql.conf", 14)
	check("user timeout (bare = ms)", d.TCP.UserTimeout, 10*time.Second, "/postgresql.conf", 16)
	check("idle session", d.IdleTimeout, 10*time.Minute, "/conf.d/50-sessions.conf", 1)
	if !d.TCP.Count.Known || d.TCP.Count.Value != 4 || !d.TCP.Enabled.Value {
		t.Errorf("count %+v enabled %+v", d.TCP.Count, d.TCP.Enabled)
	}
	vals := c.Configs().Values
	if len(vals) != 5 || vals[0].Key != "tcp_keepalives_idle" || vals[0].Value != "300" {
		t.Errorf("values %+v", vals)
	}
}

func TestOSDefaults(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "defaults.conf")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Downstream()
	if d.TCP.Idle.Known || d.TCP.Idle.Source.Line != 2 || !strings.Contains(d.TCP.Idle.Source.Detail, "host's net.ipv4.tcp_keepalive_time") {
		t.Errorf("0 must be the OS value, unknown with a source: %+v", d.TCP.Idle)
	}
	if d.TCP.Interval.Known || d.TCP.Interval.Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("unset interval: %+v", d.TCP.Interval)
	}
	if !d.TCP.UserTimeout.Known || d.TCP.UserTimeout.Value != 0 || !d.IdleTimeout.Known || d.IdleTimeout.Value != 0 {
		t.Errorf("user timeout %+v idle %+v", d.TCP.UserTimeout, d.IdleTimeout)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		base time.Duration
		want time.Duration
		ok   bool
	}{
		{"300", time.Second, 300 * time.Second, true},
		{"300", time.Millisecond, 300 * time.Millisecond, true},
		{"5min", time.Second, 5 * time.Minute, true},
		{"5 min", time.Second, 5 * time.Minute, true},
		{"1.5min", time.Second, 90 * time.Second, true},
		{"1500ms", time.Second, 2 * time.Second, true}, // rounded to the base unit
		{"2h", time.Millisecond, 2 * time.Hour, true},
		{"1d", time.Second, 24 * time.Hour, true},
		{"10m", time.Second, 0, false}, // "m" is not a unit (min is)
		{"5 MIN", time.Second, 0, false},
		{"x", time.Second, 0, false},
		{"-1", time.Second, 0, false},
		{"9999999999", time.Second, 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in, tt.base)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q, %v) = %v, %v", tt.in, tt.base, got, err)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"p.conf": "a = 1\ntcp_keepalives_idle = 10m\n"}, `/p.conf:2: tcp_keepalives_idle: invalid unit "m"`},
		{map[string]string{"p.conf": "shared_buffers = 128 MB\n"}, `/p.conf:1: shared_buffers: syntax error near "MB"`},
		{map[string]string{"p.conf": "x = 'abc\n"}, `/p.conf:1: x: unterminated quoted string`},
		{map[string]string{"p.conf": "= 3\n"}, `/p.conf:1: syntax error near "= 3": expected a parameter name`},
		{map[string]string{"p.conf": "x =\n"}, `/p.conf:1: x: expected a value`},
		{map[string]string{"p.conf": "tcp_keepalives_count = many\n"}, `/p.conf:1: tcp_keepalives_count: expected a count`},
		{map[string]string{"p.conf": "include 'nope.conf'\n"}, `/p.conf:1: include 'nope.conf': cannot read /nope.conf`},
		{map[string]string{"p.conf": "include_dir 'd'\n"}, `/p.conf:1: include_dir 'd': cannot read /d`},
		{map[string]string{"p.conf": "include 'p.conf'\n"}, `/p.conf:1: include 'p.conf': /p.conf includes itself (cycle)`},
		{map[string]string{"p.conf": "include 'sub/a.conf'\n", "sub/a.conf": "include 'b.conf'\n", "sub/b.conf": "\n\nx = 'y\n"}, `/sub/b.conf:3: x: unterminated`},
	}
	for _, tt := range tests {
		_, err := Parse(testutil.MapFS(tt.files), "p.conf")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.files, err, tt.want)
		}
	}
}

func TestLineSyntax(t *testing.T) {
	tests := map[string]string{
		"a=1":                          "a|1",
		"a 1 # c":                      "a|1",
		"  A.b = 'x''y' # c":           "a.b|x'y",
		`a = 'it\'s'`:                  "a|it's",
		"log_line_prefix = '%m [%p] '": "log_line_prefix|%m [%p] ",
		"# only a comment":             "",
		"":                             "",
	}
	for in, want := range tests {
		s, err := parseLine(in)
		got := ""
		if s != nil {
			got = s.Name + "|" + s.Value
		}
		if err != nil || got != want {
			t.Errorf("%q = %q, %v", in, got, err)
		}
	}
}

func TestDetect(t *testing.T) {
	p := Parser{}
	if !p.Detect("/etc/postgresql/16/main/postgresql.conf", nil) || !p.Detect("/x/pg.conf", []byte("shared_buffers = 128MB\n")) {
		t.Error("not detected")
	}
	if p.Detect("/etc/redis/redis.conf", []byte("timeout 0\n")) || p.Detect("/etc/pgbouncer/pgbouncer.ini", []byte("[pgbouncer]\n")) {
		t.Error("foreign file detected")
	}
	if _, ok := configs.Lookup("postgres"); !ok {
		t.Error("not registered")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b, []byte("tcp_keepalives_idle = '5min'\n"))
	}
	f.Add([]byte("include 'inc.conf'\ntcp_user_timeout = 5s\n"), []byte("idle_session_timeout 1.5h"))
	f.Fuzz(func(t *testing.T, main, inc []byte) {
		c, err := Parse(fstest.MapFS{"p.conf": {Data: main}, "inc.conf": {Data: inc}}, "p.conf")
		if err != nil {
			return
		}
		cfg := c.Configs()
		for _, v := range cfg.Values {
			if v.Location.Line < 1 {
				t.Fatalf("value without a line: %+v", v)
			}
		}
	})
}
