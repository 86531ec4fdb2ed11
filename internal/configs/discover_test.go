package configs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

func TestDiscover(t *testing.T) {
	Register(fakeParser{"nginx"})
	defer delete(parsers, "nginx")
	root := t.TempDir()
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(s), 0o644)
	}
	write("srv/nginx/custom.conf", "events {}\n")
	write("proc/812/cmdline", "nginx: master process /usr/sbin/nginx -c /srv/nginx/custom.conf\x00")
	write("proc/900/cmdline", "/usr/bin/python3\x00app.py\x00")
	procs := []model.Process{{PID: 812, Comm: "nginx"}, {PID: 900, Comm: "python3"}, {PID: 901, Comm: "gone"}}
	got := Discover(root, procs)
	if len(got) != 1 || got[0].Path != "/srv/nginx/custom.conf" || got[0].Format != "nginx" || got[0].From != "command line of pid 812 (nginx)" {
		t.Fatalf("Discover = %+v", got)
	}
	// HAProxy's -f DIR is a configuration; a directory named for nginx is not.
	Register(fakeParser{"haproxy"})
	defer delete(parsers, "haproxy")
	os.MkdirAll(filepath.Join(root, "etc/haproxy/conf.d"), 0o755)
	write("proc/950/cmdline", "/usr/sbin/haproxy\x00-f\x00/etc/haproxy/conf.d\x00")
	got = Discover(root, append(procs, model.Process{PID: 950, Comm: "haproxy"}))
	if len(got) != 2 || got[1].Path != "/etc/haproxy/conf.d" || got[1].Format != "haproxy" {
		t.Fatalf("haproxy -f DIR: %+v", got)
	}
	write("proc/812/cmdline", "nginx\x00-c\x00/etc/haproxy/conf.d\x00")
	if got := Discover(root, procs); len(got) != 0 {
		t.Fatalf("a directory for nginx: %+v", got)
	}
	// A command line naming a file that is not there finds nothing.
	write("proc/812/cmdline", "nginx\x00-c\x00/nonexistent.conf\x00")
	if got := Discover(root, procs); len(got) != 0 {
		t.Fatalf("Discover = %+v", got)
	}
}

func TestFromCommandLine(t *testing.T) {
	for _, name := range []string{"haproxy", "nginx", "apache", "pgbouncer", "redis", "envoy", "gunicorn", "postgres"} {
		Register(fakeParser{name})
		defer delete(parsers, name)
	}
	cases := []struct {
		cmd, comm, path, format string
	}{
		{"/usr/sbin/haproxy\x00-Ws\x00-f\x00/etc/haproxy/haproxy.cfg\x00-p\x00/run/haproxy.pid\x00", "haproxy", "/etc/haproxy/haproxy.cfg", "haproxy"},
		{"/usr/sbin/apache2\x00-k\x00start\x00-f\x00/etc/apache2/alt.conf\x00", "apache2", "/etc/apache2/alt.conf", "apache"},
		{"/usr/sbin/pgbouncer\x00-d\x00/etc/pgbouncer/pgbouncer.ini\x00", "pgbouncer", "/etc/pgbouncer/pgbouncer.ini", "pgbouncer"},
		{"/usr/bin/redis-server 127.0.0.1:6379\x00", "redis-server", "", ""},
		{"/usr/bin/envoy\x00--config-path=/etc/envoy/e.yaml\x00", "envoy", "/etc/envoy/e.yaml", "envoy"},
		{"/usr/bin/python3\x00/usr/bin/gunicorn\x00-c\x00/srv/app/gunicorn.conf.py\x00app:app\x00", "gunicorn", "/srv/app/gunicorn.conf.py", "gunicorn"},
		{"/usr/lib/postgresql/16/bin/postgres\x00-D\x00/var/lib/postgresql/16/main\x00-c\x00config_file=/etc/postgresql/16/main/postgresql.conf\x00", "postgres", "/etc/postgresql/16/main/postgresql.conf", "postgres"},
		{"/usr/lib/postgresql/16/bin/postgres\x00-D\x00/srv/pg\x00", "postgres", "/srv/pg/postgresql.conf", "postgres"},
	}
	for _, c := range cases {
		f, _, ok := fromCommandLine([]byte(c.cmd), model.Process{PID: 1, Comm: c.comm}, "/")
		if c.path == "" {
			if ok {
				t.Errorf("%q: found %+v, want nothing", c.cmd, f)
			}
			continue
		}
		if !ok || f.Path != c.path || f.Format != c.format {
			t.Errorf("%q: %+v %v, want %s %s", c.cmd, f, ok, c.path, c.format)
		}
	}
}

// TestRelativeConfigPaths: relative -f, -c, -d and -D are resolved the way the server resolves
// them (issue 17: HAProxy started with -f haproxy.cfg from its directory was not found).
func TestRelativeConfigPaths(t *testing.T) {
	for _, name := range []string{"haproxy", "nginx", "apache", "postgres"} {
		Register(fakeParser{name})
		defer delete(parsers, name)
	}
	for _, c := range []struct{ cmd, comm, cwd, want string }{
		{"haproxy\x00-f\x00haproxy.cfg\x00", "haproxy", "/srv/lb", "/srv/lb/haproxy.cfg"},
		{"haproxy\x00-f\x00../lb/haproxy.cfg\x00", "haproxy", "/srv/x", "/srv/lb/haproxy.cfg"},
		{"nginx\x00-p\x00/opt/site\x00-c\x00conf/nginx.conf\x00", "nginx", "/", "/opt/site/conf/nginx.conf"},
		{"nginx\x00-p\x00site\x00-c\x00conf/nginx.conf\x00", "nginx", "/opt", "/opt/site/conf/nginx.conf"},
		{"nginx\x00-c\x00nginx.conf\x00", "nginx", "/home/u/web", "/home/u/web/nginx.conf"},
		{"/usr/sbin/apache2\x00-d\x00/srv/httpd\x00-f\x00conf/httpd.conf\x00", "apache2", "/", "/srv/httpd/conf/httpd.conf"},
		{"/usr/sbin/apache2\x00-f\x00httpd.conf\x00", "apache2", "/srv/h", "/srv/h/httpd.conf"},
		{"postgres\x00-D\x00data\x00", "postgres", "/var/lib/pg", "/var/lib/pg/data/postgresql.conf"},
	} {
		f, _, ok := fromCommandLine([]byte(c.cmd), model.Process{PID: 7, Comm: c.comm}, c.cwd)
		if !ok || f.Path != c.want {
			t.Errorf("%q in %s: %+v, want %s", c.cmd, c.cwd, f, c.want)
		}
	}
	// Through Discover: the working directory comes from root/proc/PID/cwd.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "srv/lb"), 0o755)
	os.WriteFile(filepath.Join(root, "srv/lb/haproxy.cfg"), []byte("global\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "proc/40"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/40/cmdline"), []byte("haproxy\x00-f\x00haproxy.cfg\x00"), 0o644)
	os.Symlink("/srv/lb", filepath.Join(root, "proc/40/cwd"))
	got := Discover(root, []model.Process{{PID: 40, Comm: "haproxy"}})
	if len(got) != 1 || got[0].Path != "/srv/lb/haproxy.cfg" || got[0].Origin() != "running, pid 40 (haproxy)" {
		t.Fatalf("Discover = %+v", got)
	}
}

// TestOrigin: each configuration says whether a server runs it (issue 17).
func TestOrigin(t *testing.T) {
	Register(pathParser{fakeParser{"redis"}, []string{"/etc/redis/redis.conf"}})
	defer delete(parsers, "redis")
	root := t.TempDir()
	def := "/etc/redis/redis.conf"
	os.MkdirAll(filepath.Join(root, filepath.Dir(def)), 0o755)
	os.WriteFile(filepath.Join(root, def), []byte("x\n"), 0o644)
	got := Discover(root, nil)
	if len(got) != 1 || got[0].Origin() != "found at its default path, not running" {
		t.Fatalf("not running: %+v", got)
	}
	// redis-server started without a file reads its default path: that file is the running one.
	os.MkdirAll(filepath.Join(root, "proc/55"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/55/cmdline"), []byte("/usr/bin/redis-server *:6379\x00"), 0o644)
	got = Discover(root, []model.Process{{PID: 55, Comm: "redis-server"}})
	if len(got) != 1 || got[0].Origin() != "running, pid 55 (redis-server)" {
		t.Fatalf("running from its default path: %+v", got)
	}
}

// pathParser is a fake parser with default paths.
type pathParser struct {
	fakeParser
	paths []string
}

func (p pathParser) DefaultPaths() []string { return p.paths }
