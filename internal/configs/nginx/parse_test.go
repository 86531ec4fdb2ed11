package nginx

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

// validConfigs are the testdata files nginx itself accepts (the integration test runs nginx -t
// on each): every *.conf of testdata/valid and every nginx.conf one directory below.
func validConfigs(t testing.TB) []string {
	t.Helper()
	a, _ := filepath.Glob("testdata/valid/*.conf")
	b, _ := filepath.Glob("testdata/valid/*/nginx.conf")
	if len(a)+len(b) == 0 {
		t.Fatal("no testdata")
	}
	return append(a, b...)
}

// expectation reads the "# expect: file:line: message" header of an invalid testdata file.
func expectation(t testing.TB, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	want, ok := strings.CutPrefix(sc.Text(), "# expect: ")
	if !ok {
		t.Fatalf("%s: no # expect: line", file)
	}
	return want
}

func parseFile(t testing.TB, file string) (*Config, error) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(os.DirFS("/"), abs)
}

func TestTestdataValid(t *testing.T) {
	for _, f := range validConfigs(t) {
		if _, err := parseFile(t, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestTestdataInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.conf")
	for _, f := range files {
		want := expectation(t, f)
		_, err := parseFile(t, f)
		if err == nil {
			t.Errorf("%s: no error, want %q", f, want)
			continue
		}
		abs, _ := filepath.Abs(filepath.Dir(f))
		if !strings.HasPrefix(err.Error(), abs+"/") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s/%s", f, err, abs, want)
		}
	}
}

func TestIncludes(t *testing.T) {
	fsys := testutil.MapFS(map[string]string{
		"etc/nginx/nginx.conf": "http {\n include conf.d/*.conf;\n include /etc/nginx/abs.inc;\n include none/*.conf;\n}\nevents {}\n",
		// relative includes resolve against the main file's directory, not the includer's
		"etc/nginx/conf.d/b.conf":    "keepalive_timeout 20s;\ninclude sub/x.inc;\n",
		"etc/nginx/conf.d/a.conf":    "keepalive_requests 10;\n",
		"etc/nginx/conf.d/.h.conf":   "broken {\n",
		"etc/nginx/sub/x.inc":        "send_timeout 5s;\n",
		"etc/nginx/conf.d/sub/x.inc": "broken {\n",
		"etc/nginx/abs.inc":          "client_body_timeout 7s;\n",
	})
	c, err := Parse(fsys, "etc/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"/etc/nginx/nginx.conf", "/etc/nginx/conf.d/a.conf", "/etc/nginx/conf.d/b.conf", "/etc/nginx/sub/x.inc", "/etc/nginx/abs.inc"}
	if strings.Join(c.Files, " ") != strings.Join(wantFiles, " ") {
		t.Errorf("files %v, want %v", c.Files, wantFiles)
	}
	var got []string
	for _, v := range c.Configs().Values {
		got = append(got, v.Key+" "+v.Value+" "+v.Block+" "+v.Location.String())
	}
	want := []string{
		"keepalive_requests 10 http /etc/nginx/conf.d/a.conf:1",
		"keepalive_timeout 20s http /etc/nginx/conf.d/b.conf:1",
		"send_timeout 5s http /etc/nginx/sub/x.inc:1",
		"client_body_timeout 7s http /etc/nginx/abs.inc:1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("values\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"missing file", map[string]string{"n.conf": "http {\n include x.conf;\n}\n"},
			"/n.conf:2: include x.conf: cannot read /x.conf: file does not exist"},
		{"cycle", map[string]string{"n.conf": "include a.conf;\n", "a.conf": "include n.conf;\n"},
			"/a.conf:1: include n.conf: /n.conf includes itself (cycle)"},
		{"error in included file names that file", map[string]string{"n.conf": "http {\n include a.conf;\n}\n", "a.conf": "\n\nx 1\n"},
			"/a.conf:4: unexpected end of file in directive \"x\" begun at line 3"},
		{"bad pattern", map[string]string{"n.conf": "include [.conf;\n"}, "/n.conf:1: include [.conf: bad pattern"},
		{"arguments", map[string]string{"n.conf": "include a b;\n"}, "/n.conf:1: include takes one file name or pattern, found 2 arguments"},
		{"main file missing", map[string]string{}, "/n.conf: file does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(testutil.MapFS(tt.files), "n.conf")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestInheritance(t *testing.T) {
	c, err := parseFile(t, "testdata/valid/proxy.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || len(c.Upstreams) != 1 {
		t.Fatalf("servers %d upstreams %d", len(c.Servers), len(c.Upstreams))
	}
	s := c.Servers[0]
	if got := s.Get("keepalive_timeout"); got == nil || got.Line != 7 {
		t.Errorf("server inherits http's keepalive_timeout: %+v", got)
	}
	static := s.Locations[1]
	if got := static.Get("keepalive_timeout"); got == nil || got.Arg(0) != "10s" {
		t.Errorf("location overrides: %+v", got)
	}
	if got := c.Servers[1].Get("keepalive_timeout"); got == nil || got.Arg(0) != "5s" {
		t.Errorf("second server overrides: %+v", got)
	}
	// proxy_set_header: the location's own list replaces http's entirely.
	list, at := s.Locations[0].List("proxy_set_header")
	if len(list) != 2 || at != s.Locations[0] {
		t.Errorf("location headers %d at %v", len(list), at)
	}
	list, at = static.List("proxy_set_header")
	if len(list) != 1 || at != c.HTTP {
		t.Errorf("static inherits http's headers: %d at %v", len(list), at)
	}
	if s.Locations[0].Label != "server 127.0.0.1:18080 example.test > location /" {
		t.Errorf("label %q", s.Locations[0].Label)
	}
}

func setting[T comparable](t *testing.T, name string, s model.Setting[T], want T, line int) {
	t.Helper()
	if !s.Known || s.Value != want || s.Source.Line != line {
		t.Errorf("%s = %+v, want %v at line %d", name, s, want, line)
	}
}

func TestSidesProxy(t *testing.T) {
	c, err := parseFile(t, "testdata/valid/proxy.conf")
	if err != nil {
		t.Fatal(err)
	}
	d, u := c.Downstream(), c.Upstream()
	setting(t, "downstream idle", d.IdleTimeout, 65*time.Second, 7)
	setting(t, "downstream pools", d.Pools, true, 7)
	setting(t, "downstream lifetime", d.MaxLifetime, 30*time.Minute, 9)
	setting(t, "downstream read", d.ReadTimeout, 20*time.Second, 10)
	setting(t, "downstream keepalive", d.TCP.Enabled, true, 22)
	setting(t, "downstream idle", d.TCP.Idle, 30*time.Second, 22)
	setting(t, "downstream intvl", d.TCP.Interval, 5*time.Second, 22)
	setting(t, "downstream cnt", d.TCP.Count, 4, 22)
	setting(t, "upstream pools", u.Pools, true, 16)
	setting(t, "upstream idle", u.IdleTimeout, 50*time.Second, 17)
	if !u.MaxLifetime.Known || u.MaxLifetime.Value != time.Hour || u.MaxLifetime.Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("upstream lifetime %+v", u.MaxLifetime)
	}
	setting(t, "upstream read", u.ReadTimeout, 90*time.Second, 30)
	setting(t, "upstream connect", u.ConnectTimeout, 2*time.Second, 31)
	setting(t, "upstream keepalive", u.TCP.Enabled, true, 32)
	if u.TCP.Idle.Known || !strings.Contains(u.TCP.Idle.Source.Detail, "net.ipv4.tcp_keepalive_time") {
		t.Errorf("proxy_socket_keepalive idle must be the host's: %+v", u.TCP.Idle)
	}
}

func TestSidesDefaults(t *testing.T) {
	c, err := Parse(testutil.MapFS(map[string]string{"n.conf": "events {}\nhttp {\n server {\n  listen 80;\n }\n}\n"}), "n.conf")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Downstream()
	if !d.IdleTimeout.Known || d.IdleTimeout.Value != 75*time.Second || d.IdleTimeout.Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("default keepalive_timeout: %+v", d.IdleTimeout)
	}
	setting(t, "no so_keepalive", d.TCP.Enabled, false, 4)
	if c.Upstream() != nil {
		t.Errorf("nothing proxied: upstream side %+v", c.Upstream())
	}
}

func TestSidesKeepaliveOff(t *testing.T) {
	c, err := Parse(testutil.MapFS(map[string]string{"n.conf": "http {\n keepalive_timeout 0;\n server { listen 80 so_keepalive=on; location / { proxy_pass http://10.0.0.1; } }\n}\nevents {}\n"}), "n.conf")
	if err != nil {
		t.Fatal(err)
	}
	d, u := c.Downstream(), c.Upstream()
	setting(t, "keepalive off", d.Pools, false, 2)
	if d.IdleTimeout.Known {
		t.Errorf("keepalive_timeout 0 must not read as no limit: %+v", d.IdleTimeout)
	}
	setting(t, "so_keepalive=on", d.TCP.Enabled, true, 3)
	if d.TCP.Idle.Known || !strings.Contains(d.TCP.Idle.Source.Detail, "host's net.ipv4.tcp_keepalive_time") || d.TCP.Idle.Source.Line != 3 {
		t.Errorf("so_keepalive=on idle: %+v", d.TCP.Idle)
	}
	if !u.Pools.Known || u.Pools.Value || u.Pools.Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("no upstream keepalive: %+v", u.Pools)
	}
	setting(t, "proxy_read_timeout default", u.ReadTimeout, 60*time.Second, 0)
}

func TestSidesPoolDefeated(t *testing.T) {
	c, err := parseFile(t, "testdata/valid/pool-defeated.conf")
	if err != nil {
		t.Fatal(err)
	}
	u := c.Upstream()
	if !u.Pools.Known || u.Pools.Value || u.Pools.Source.Line != 20 || !strings.Contains(u.Pools.Source.Detail, "keepalive 32 at") {
		t.Errorf("defeated pool: %+v", u.Pools)
	}
	uses := c.PoolUses(c.Upstreams[0])
	if len(uses) != 3 {
		t.Fatalf("%d uses", len(uses))
	}
	var got []string
	for _, use := range uses {
		for _, p := range use.Problems {
			line := 0
			if p.Dir != nil {
				line = p.Dir.Line
			}
			got = append(got, use.Pass.Dir.Name+"@"+itoa(use.Pass.Dir.Line)+" "+itoa(line)+" "+strings.SplitN(p.What, ":", 2)[0])
		}
	}
	want := []string{
		"proxy_pass@20 0 proxy_http_version is 1.0 (nginx's default)",
		"proxy_pass@20 0 no proxy_set_header Connection among the headers in force here",
		"proxy_pass@24 7 proxy_set_header Connection $connection_upgrade",
		"fastcgi_pass@31 0 fastcgi_keep_conn is off (nginx's default)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSidesStream(t *testing.T) {
	c, err := parseFile(t, "testdata/valid/stream.conf")
	if err != nil {
		t.Fatal(err)
	}
	d, u := c.Downstream(), c.Upstream()
	setting(t, "stream idle", d.IdleTimeout, 5*time.Minute, 12)
	setting(t, "stream keepalive", d.TCP.Enabled, true, 10)
	setting(t, "stream upstream idle", u.IdleTimeout, 5*time.Minute, 12)
	setting(t, "stream connect", u.ConnectTimeout, 3*time.Second, 13)
	setting(t, "stream socket keepalive", u.TCP.Enabled, true, 14)
}

func TestSnippet(t *testing.T) {
	c, err := Parse(testutil.MapFS(map[string]string{"etc/nginx/sites-enabled/app": "upstream a { server x; keepalive 4; }\nserver {\n listen 8080 default_server;\n keepalive_timeout 15s;\n location / { proxy_pass http://a; proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n}\n"}), "etc/nginx/sites-enabled/app")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Snippet {
		t.Error("not read as a snippet")
	}
	setting(t, "snippet idle", c.Downstream().IdleTimeout, 15*time.Second, 4)
	setting(t, "snippet pool", c.Upstream().Pools, true, 1)
}

func TestDebianDefaultFile(t *testing.T) {
	// Debian 12's /etc/nginx/nginx.conf as shipped does not set keepalive_timeout (older
	// releases wrote 65): nginx's own 75 s applies.
	if _, err := os.Stat("/etc/nginx/nginx.conf"); err != nil {
		t.Skip("nginx is not installed: no /etc/nginx/nginx.conf")
	}
	c, err := Parse(os.DirFS("/"), "etc/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Downstream()
	if !d.IdleTimeout.Known {
		t.Fatal("idle timeout unknown")
	}
	if kt := c.HTTP.Get("keepalive_timeout"); kt != nil {
		v, _ := Duration(kt, 0, false)
		if d.IdleTimeout.Value != v {
			t.Errorf("side %v, file says %v", d.IdleTimeout.Value, v)
		}
	} else if d.IdleTimeout.Value != 75*time.Second {
		t.Errorf("nginx's documented default is 75s, got %v", d.IdleTimeout.Value)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		path, head string
		want       bool
	}{
		{"/etc/nginx/nginx.conf", "", true},
		{"/etc/nginx/sites-enabled/default", "", true},
		{"/srv/site.conf", "# site\nserver {\n listen 80;\n", true},
		{"/srv/x.conf", "upstream backend {\n", true},
		{"/srv/x.conf", "http {\n", true},
		{"/srv/y.conf", "events{}\nhttp{\n", true},
		{"/srv/z.conf", "server = 1\n", false},
		{"/etc/haproxy/haproxy.cfg", "frontend fe\n bind :80\n", false},
		{"/etc/apache2/apache2.conf", "<VirtualHost *:80>\n", false},
		{"/etc/redis/redis.conf", "tcp-keepalive 300\n", false},
		{"/k8s/deploy.yaml", "server {\n", false},
	}
	for _, tt := range tests {
		if got := (Parser{}).Detect(tt.path, []byte(tt.head)); got != tt.want {
			t.Errorf("Detect(%q) = %v", tt.path, got)
		}
	}
}

func TestRegistered(t *testing.T) {
	p, ok := configs.Lookup("nginx")
	if !ok {
		t.Fatal("nginx not registered")
	}
	cfg, err := p.Parse(testutil.MapFS(map[string]string{"n.conf": "events {} http { keepalive_timeout 9s; }"}), "n.conf")
	if err != nil || cfg.Format != "nginx" || cfg.File != "/n.conf" || len(cfg.Values) != 1 || cfg.Detail == nil {
		t.Fatalf("%+v %v", cfg, err)
	}
}
