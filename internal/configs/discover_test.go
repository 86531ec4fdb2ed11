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
	for _, name := range []string{"haproxy", "nginx", "apache", "pgbouncer", "redis", "envoy", "gunicorn"} {
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
	}
	for _, c := range cases {
		f, ok := fromCommandLine([]byte(c.cmd), model.Process{PID: 1, Comm: c.comm})
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
