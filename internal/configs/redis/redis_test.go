package redis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/testutil"
)

func TestTestdata(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "redis.conf")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Files, " ") != "/redis.conf /conf.d/override.conf" {
		t.Errorf("files %v", c.Files)
	}
	d := c.Downstream()
	if d.IdleTimeout.Value != 300*time.Second || d.IdleTimeout.Source.File != "/conf.d/override.conf" || d.IdleTimeout.Source.Line != 2 {
		t.Errorf("timeout: the include's later line wins: %+v", d.IdleTimeout)
	}
	k := d.TCP
	if !k.Enabled.Value || k.Idle.Value != 60*time.Second || k.Interval.Value != 20*time.Second || k.Count.Value != 3 || k.Idle.Source.Line != 5 {
		t.Errorf("keepalive %+v", k)
	}
	cfg := c.Configs()
	if len(cfg.Values) != 3 || cfg.Values[0].Key != "timeout" || cfg.Values[2].Location.String() != "/conf.d/override.conf:2" {
		t.Errorf("values %+v", cfg.Values)
	}
}

func TestSides(t *testing.T) {
	tests := []struct {
		conf       string
		enabled    bool
		idle, intv time.Duration
		timeout    time.Duration
	}{
		{"", true, 300 * time.Second, 100 * time.Second, 0},
		{"tcp-keepalive 0\n", false, 0, 0, 0},
		{"tcp-keepalive 2\ntimeout 10\n", true, 2 * time.Second, time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		c, err := Parse(testutil.MapFS(map[string]string{"r.conf": tt.conf}), "r.conf")
		if err != nil {
			t.Fatal(err)
		}
		d := c.Downstream()
		if d.TCP.Enabled.Value != tt.enabled || d.TCP.Idle.Value != tt.idle || d.TCP.Interval.Value != tt.intv || d.IdleTimeout.Value != tt.timeout || !d.IdleTimeout.Known {
			t.Errorf("%q: %+v", tt.conf, d)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"r.conf": "port 1\ntcp-keepalive x\n"}, `/r.conf:2: tcp-keepalive: expected a number of seconds (0 or more), found "x"`},
		{map[string]string{"r.conf": "timeout -1\n"}, `/r.conf:1: timeout: expected a number of seconds`},
		{map[string]string{"r.conf": "timeout 1 2\n"}, `/r.conf:1: timeout: expected one number of seconds, found 2 arguments`},
		{map[string]string{"r.conf": "\nrequirepass \"abc\n"}, `/r.conf:2: unbalanced quotes`},
		{map[string]string{"r.conf": "requirepass \"a\"b\n"}, `/r.conf:1: unbalanced quotes: a closing quote must be followed by a space`},
		{map[string]string{"r.conf": "include missing.conf\n"}, `/r.conf:1: include missing.conf: cannot read`},
		{map[string]string{"r.conf": "include r.conf\n"}, `/r.conf:1: include r.conf: /r.conf includes itself (cycle)`},
		{map[string]string{"r.conf": "include a.conf\n", "a.conf": "x\ntimeout z\n"}, `/a.conf:2: timeout`},
	}
	for _, tt := range tests {
		_, err := Parse(testutil.MapFS(tt.files), "r.conf")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.files, err, tt.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := map[string]string{
		`a b  c`:              "a|b|c",
		`save "" `:            "save|",
		`x "a\tb\x41" 'c\'d'`: "x|a\tbA|c'd",
	}
	for in, want := range tests {
		got, err := splitArgs(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("%q = %q, %v", in, got, err)
		}
	}
}

func TestDetect(t *testing.T) {
	p := Parser{}
	if !p.Detect("/etc/redis/redis.conf", nil) || !p.Detect("/x/app.conf", []byte("daemonize no\nport 6379\nappendonly no\n")) || !p.Detect("/x/b.conf", []byte("tcp-keepalive 0\n")) {
		t.Error("redis not detected")
	}
	if p.Detect("/etc/nginx/nginx.conf", []byte("http {\n keepalive_timeout 5;\n}\n")) || p.Detect("/x/postgresql.conf", []byte("timeout = 3\n")) {
		t.Error("foreign file detected")
	}
	if _, ok := configs.Lookup("redis"); !ok {
		t.Error("not registered")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b, []byte("timeout 5\n"))
	}
	f.Add([]byte("include inc.conf\ntcp-keepalive 1\n"), []byte("tcp-keepalive \"2\"\n"))
	f.Fuzz(func(t *testing.T, main, inc []byte) {
		c, err := Parse(fstest.MapFS{"r.conf": {Data: main}, "inc.conf": {Data: inc}}, "r.conf")
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
