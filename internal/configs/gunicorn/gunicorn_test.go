package gunicorn

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
	tests := []struct {
		file      string
		worker    string
		pools     bool
		idle      time.Duration
		idleKnown bool
		idleLine  int
		values    []string
	}{
		{"gunicorn.conf.py", "sync", false, 0, false, 0,
			[]string{"workers=multiprocessing.cpu_count() * 2 + 1@5", "keepalive=75@6", "timeout=30@7", "worker_class=sync@8"}},
		{"gthread.conf.py", "gthread", true, 65 * time.Second, true, 1, []string{"keepalive=65@1", "threads=4@2"}},
		{"Procfile", "gevent", true, 5 * time.Second, true, 2, []string{"worker_class=gevent@2", "keepalive=5@2", "timeout=60@2"}},
		// -c gunicorn.conf.py (sync, keepalive 75), then GUNICORN_CMD_ARGS (keep-alive 10,
		// threads 2: the sync worker becomes gthread), then the command line.
		{"app.service", "gthread", true, 10 * time.Second, true, 5,
			[]string{"workers=multiprocessing.cpu_count() * 2 + 1@5", "keepalive=75@6", "timeout=30@7", "worker_class=sync@8", "keepalive=10@5", "threads=2@5"}},
		{"Dockerfile", "uvicorn", true, 30 * time.Second, true, 3, []string{"worker_class=uvicorn.workers.UvicornWorker@3", "keepalive=30@3"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Parse(os.DirFS("testdata"), tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if w, _ := c.WorkerClass(); w != tt.worker {
				t.Errorf("worker %q", w)
			}
			d := c.Downstream()
			if d.Pools.Value != tt.pools || !d.Pools.Known || d.IdleTimeout.Known != tt.idleKnown || d.IdleTimeout.Value != tt.idle || (tt.idleKnown && d.IdleTimeout.Source.Line != tt.idleLine) {
				t.Errorf("side pools %+v idle %+v", d.Pools, d.IdleTimeout)
			}
			var got []string
			for _, v := range c.Configs().Values {
				got = append(got, v.Key+"="+v.Value+"@"+itoa(v.Location.Line))
			}
			if strings.Join(got, " ") != strings.Join(tt.values, " ") {
				t.Errorf("values\n%v\nwant\n%v", got, tt.values)
			}
		})
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestSyncIgnoresKeepaliveSource(t *testing.T) {
	c, err := Parse(os.DirFS("testdata"), "gunicorn.conf.py")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Downstream()
	if d.IdleTimeout.Source.Line != 6 || !strings.Contains(d.IdleTimeout.Source.Detail, "ignored by the sync worker") || d.Pools.Source.Line != 8 {
		t.Errorf("%+v %+v", d.IdleTimeout, d.Pools)
	}
}

func TestDefaults(t *testing.T) {
	c, err := ParseCommandLine("gunicorn -k gthread app:app", "/proc/1/cmdline", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Downstream(); d.IdleTimeout.Value != DefaultKeepalive || !d.Pools.Value {
		t.Errorf("%+v", d)
	}
	c, err = ParseCommandLine("python3 -m gunicorn -t5 app:app", "cmd", 1)
	if err != nil || c.Settings["timeout"].Value != "5" {
		t.Fatalf("%+v %v", c, err)
	}
	if d := c.Downstream(); d.Pools.Value || d.Pools.Source.Detail == "" {
		t.Errorf("default sync: %+v", d.Pools)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"Procfile": "web: gunicorn --keep-alive abc app:app\n"}, `/Procfile:1: --keep-alive: expected a whole number`},
		{map[string]string{"Procfile": "web: gunicorn app:app -t\n"}, `/Procfile:1: -t: expected a value after it`},
		{map[string]string{"Procfile": "web: gunicorn \"app:app\n"}, `/Procfile:1: unterminated " quote`},
		{map[string]string{"Procfile": "web: uwsgi app\n"}, `/Procfile:1: no gunicorn command line found`},
		{map[string]string{"g.py": "keepalive = \"5\n"}, `/g.py:1: keepalive: unterminated string`},
		{map[string]string{"g.py": "\nkeepalive = 5x\n"}, `/g.py:2: keepalive: invalid number "5x"`},
		{map[string]string{"g.py": "timeout = -3\n"}, `/g.py:1: timeout: expected a whole number (0 or more), found "-3"`},
		{map[string]string{"Dockerfile": "CMD [\"gunicorn\", \"-k\"\n"}, `/Dockerfile:1: expected a JSON array`},
	}
	for _, tt := range tests {
		var name string
		for k := range tt.files {
			name = k
		}
		_, err := Parse(testutil.MapFS(tt.files), name)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.files, err, tt.want)
		}
	}
}

func TestShellWords(t *testing.T) {
	tests := map[string]string{
		`gunicorn -b '0.0.0.0:80' "a b" c\ d`: "gunicorn|-b|0.0.0.0:80|a b|c d",
		`gunicorn app && echo x`:              "gunicorn|app",
		`"a\"b"`:                              `a"b`,
	}
	for in, want := range tests {
		got, err := shellWords(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("%q = %q, %v", in, got, err)
		}
	}
}

func TestDetect(t *testing.T) {
	p := Parser{}
	for _, yes := range []struct{ path, head string }{
		{"/srv/gunicorn.conf.py", ""}, {"/srv/Procfile", "web: gunicorn app:app\n"},
		{"/etc/systemd/system/app.service", "[Service]\nExecStart=/usr/bin/gunicorn app\n"},
		{"/srv/Dockerfile", "FROM x\nCMD [\"gunicorn\", \"app\"]\n"},
		{"/srv/conf/web.py", "bind = \"0.0.0.0:80\"\nkeepalive = 5\n"},
	} {
		if !p.Detect(yes.path, []byte(yes.head)) {
			t.Errorf("%s not detected", yes.path)
		}
	}
	for _, no := range []struct{ path, head string }{
		{"/srv/settings.py", "DEBUG = True\n"}, {"/k8s/deploy.yaml", "command: [gunicorn]\n"},
		{"/etc/nginx/nginx.conf", "# gunicorn upstream\n"}, {"/srv/Procfile", "web: node server.js\n"},
	} {
		if p.Detect(no.path, []byte(no.head)) {
			t.Errorf("%s detected", no.path)
		}
	}
	if _, ok := configs.Lookup("gunicorn"); !ok {
		t.Error("not registered")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, python bool) {
		name := "Procfile"
		if python {
			name = "gunicorn.conf.py"
		}
		c, err := Parse(fstest.MapFS{name: {Data: data}, "gunicorn.conf.py.inc": {Data: data}}, name)
		if err != nil {
			return
		}
		c.Downstream()
		for _, v := range c.Configs().Values {
			if v.Location.Line < 1 {
				t.Fatalf("value without a line: %+v", v)
			}
		}
	})
}
