package apache

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/testutil"
)

func TestLogicalLines(t *testing.T) {
	in := "# comment\n\n  KeepAlive On  \nProxyPass /a \\\n    http://b/ \\\n  ttl=4\n\t# indented comment\nServerName   a\t b\r\nKeep\\\nAliveTimeout 3\n# comment \\\nstill comment\nLast \\"
	got := logicalLines(in)
	want := []logicalLine{
		{"KeepAlive On", 3},
		{"ProxyPass /a http://b/ ttl=4", 4},
		{"ServerName a b", 8},
		{"KeepAliveTimeout 3", 9},
		{"Last \\", 13},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("logicalLines = %+v\nwant %+v", got, want)
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"a b", []string{"a", "b"}, false},
		{`"/var/www" 'x y'`, []string{"/var/www", "x y"}, false},
		{`"a \"q\" b"`, []string{`a "q" b`}, false},
		{`'it\'s'`, []string{"it's"}, false},
		{`"a"b`, []string{"a", "b"}, false},
		{`C:\path`, []string{`C:\path`}, false},
		{`"open`, nil, true},
	}
	for _, tt := range tests {
		got, err := words(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("words(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestUnits(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"5", 5 * time.Second, false}, {"5s", 5 * time.Second, false}, {"5sec", 5 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false}, {"2mi", 2 * time.Minute, false}, {"2min", 2 * time.Minute, false},
		{"1h", time.Hour, false}, {"0", 0, false}, {"5x", 0, true}, {"5m", 0, true}, {"-1", 0, true}, {"abc", 0, true},
	} {
		got, err := parseInterval(tt.in, time.Second)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseInterval(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, tt := range []struct {
		in   string
		want int
		rest string
	}{{"300", 300, ""}, {" 500ms", 500, "ms"}, {"2m", 2, "m"}, {"abc", 0, "abc"}, {"-1", -1, ""}, {"+7x", 7, "x"}} {
		if n, rest := Atoi(tt.in); n != tt.want || rest != tt.rest {
			t.Errorf("Atoi(%q) = %d, %q", tt.in, n, rest)
		}
	}
	got, unknown := substitute("a ${X} ${Y} ${", func(n string) (string, bool) { return "x", n == "X" })
	if got != "a x ${Y} ${" || !reflect.DeepEqual(unknown, []string{"Y"}) {
		t.Errorf("substitute = %q %q", got, unknown)
	}
}

func TestIncludesAndConditions(t *testing.T) {
	fsys := testutil.MapFS(map[string]string{
		"etc/apache2/apache2.conf": `Define LOCAL
Include mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include /etc/apache2/ports.conf
<IfModule proxy_module>
	ProxyTimeout 20
</IfModule>
<IfModule mod_ssl.c>
	KeepAliveTimeout 99
</IfModule>
<IfDefine LOCAL>
	<IfDefine !REMOTE>
		KeepAliveTimeout 7
	</IfDefine>
</IfDefine>
<IfFile ports.conf>
	MaxKeepAliveRequests 300
</IfFile>
<IfFile !/etc/apache2/ports.conf>
	MaxKeepAliveRequests 1
</IfFile>
<IfVersion >= 2.4>
	Timeout 90
</IfVersion>
IncludeOptional sites-enabled/
`,
		"etc/apache2/mods-enabled/proxy.load":      "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n",
		"etc/apache2/mods-enabled/mpm_event.load":  "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n",
		"etc/apache2/mods-enabled/.hidden.load":    "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n",
		"etc/apache2/mods-enabled/mpm_event.conf":  "<IfModule mpm_event_module>\n\tStartServers 2\n</IfModule>\n",
		"etc/apache2/ports.conf":                   "Listen 80\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n",
		"etc/apache2/sites-enabled/b.conf":         "<VirtualHost *:80>\n\tKeepAliveTimeout 65\n</VirtualHost>\n",
		"etc/apache2/sites-enabled/a/000.conf":     "<VirtualHost *:8080>\n\tKeepAlive Off\n</VirtualHost>\n",
		"etc/apache2/sites-enabled/a/001.disabled": "Timeout 1\n",
	})
	c, err := Parse(fsys, "/etc/apache2/apache2.conf")
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"/etc/apache2/apache2.conf", "/etc/apache2/mods-enabled/mpm_event.load", "/etc/apache2/mods-enabled/proxy.load",
		"/etc/apache2/mods-enabled/mpm_event.conf", "/etc/apache2/ports.conf",
		"/etc/apache2/sites-enabled/a/000.conf", "/etc/apache2/sites-enabled/a/001.disabled", "/etc/apache2/sites-enabled/b.conf"}
	if !reflect.DeepEqual(c.Files, wantFiles) {
		t.Errorf("files:\n%q\nwant\n%q", c.Files, wantFiles)
	}
	if c.ServerRoot != "/etc/apache2" || c.MPM != "event" || !c.Loaded("proxy_module") || !c.Loaded("mod_proxy.c") || c.Loaded("ssl_module") || !c.Loaded("mod_so.c") {
		t.Errorf("root %q mpm %q modules %+v", c.ServerRoot, c.MPM, c.Modules)
	}
	m := c.Main
	if m.ProxyTimeout.Value != 20*time.Second || m.KeepAliveTimeout.Value != 7*time.Second || m.KeepAliveTimeout.Source.Line != 13 ||
		m.MaxKeepAliveRequests.Value != 300 || m.Timeout.Value != time.Second {
		t.Errorf("main server: %+v", m)
	}
	// <IfVersion> without a version is read, and said so: in a note and in the value's source.
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0].Text, "IfVersion") {
		t.Errorf("notes %+v", c.Notes)
	}
	g, err := Parse(testutil.MapFS(map[string]string{"a.conf": "<IfVersion >= 2.4>\n\tKeepAliveTimeout 9\n</IfVersion>\nTimeout 30\n"}), "a.conf")
	if err != nil || !strings.Contains(g.Main.KeepAliveTimeout.Source.Detail, "could not evaluate") || g.Main.Timeout.Source.Detail != "" {
		t.Errorf("guess in the source: %v %+v %+v", err, g.Main.KeepAliveTimeout.Source, g.Main.Timeout.Source)
	}
	if len(c.VirtualHosts) != 2 || c.VirtualHosts[0].Name != "VirtualHost *:8080" || c.VirtualHosts[1].KeepAliveTimeout.Value != 65*time.Second {
		t.Errorf("virtual hosts %+v", c.VirtualHosts)
	}
	// The first virtual host (sites-enabled/a/000.conf) turns keep-alive off and inherits the rest.
	d := c.Downstream()
	if d.Pools.Value || d.IdleTimeout.Value != 7*time.Second || d.ReadTimeout.Value != time.Second || d.ReadTimeout.Source.File != "/etc/apache2/sites-enabled/a/001.disabled" {
		t.Errorf("downstream %+v", d)
	}
	// With a known version, <IfVersion >= 2.4> is evaluated.
	c, err = Options{Version: "2.2.34"}.Parse(fsys, "etc/apache2/apache2.conf")
	if err != nil || c.Main.Timeout.Source.Line != 1 || len(c.Notes) != 0 {
		t.Errorf("IfVersion with 2.2.34: %v timeout %+v notes %v", err, c.Main.Timeout, c.Notes)
	}
}

func TestDefaultsAndInheritance(t *testing.T) {
	c, err := Parse(testutil.MapFS(map[string]string{"httpd.conf": "Listen 80\n<VirtualHost *:80>\n\tTimeout 30\n</VirtualHost>\nKeepAliveTimeout 500ms\n"}), "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Downstream()
	// The main server's KeepAliveTimeout comes after the virtual host and still applies to it.
	if !d.Pools.Value || d.Pools.Source.Kind != "runtime-default" || d.IdleTimeout.Value != 500*time.Millisecond || d.IdleTimeout.Source.Line != 5 ||
		d.ReadTimeout.Value != 30*time.Second || !d.TCP.Enabled.Value || d.TCP.Idle.Known {
		t.Errorf("downstream %+v", d)
	}
	if c.Upstream() != nil {
		t.Errorf("upstream without a worker")
	}
	c, _ = Parse(testutil.MapFS(map[string]string{"httpd.conf": "Listen 80\n"}), "httpd.conf")
	d = c.Downstream()
	if d.IdleTimeout.Value != 5*time.Second || !strings.Contains(d.IdleTimeout.Source.Detail, "default KeepAliveTimeout 5") || d.ReadTimeout.Value != 60*time.Second {
		t.Errorf("defaults: %+v", d)
	}
}

func TestWorkers(t *testing.T) {
	tests := []struct {
		name                 string
		conf                 string
		pools                bool
		idle, read, connect  time.Duration
		keepalive, idleKnown bool
		detail               string
	}{
		{name: "default pool", conf: "ProxyPass /a http://b:80/", pools: true, idle: 0, read: 60 * time.Second, connect: 60 * time.Second, idleKnown: true, detail: "until the backend closes it"},
		{name: "ttl and timeouts", conf: "ProxyTimeout 25\nProxyPass /a http://b:80/ ttl=4 timeout=9 connectiontimeout=1500ms keepalive=on", pools: true, idle: 4 * time.Second, read: 9 * time.Second, connect: 1500 * time.Millisecond, keepalive: true, idleKnown: true},
		{name: "ProxyTimeout", conf: "Timeout 40\nProxyTimeout 25\nProxyPass /a http://b:80/", pools: true, read: 25 * time.Second, connect: 25 * time.Second, idleKnown: true},
		{name: "Timeout", conf: "Timeout 40\nProxyPass /a http://b:80/", pools: true, read: 40 * time.Second, connect: 40 * time.Second, idleKnown: true},
		{name: "disablereuse", conf: "ProxyPass /a http://b:80/ disablereuse=On", pools: false, read: 60 * time.Second, connect: 60 * time.Second},
		{name: "fcgi opts in", conf: "ProxyPass /a fcgi://b:9000/", pools: false, read: 60 * time.Second, connect: 60 * time.Second},
		{name: "fcgi enablereuse", conf: "ProxyPass /a fcgi://b:9000/ enablereuse=on ttl=3", pools: true, idle: 3 * time.Second, read: 60 * time.Second, connect: 60 * time.Second, idleKnown: true},
		{name: "prefork ignores ttl", conf: "LoadModule mpm_prefork_module m.so\nProxyPass /a http://b/ ttl=4", pools: true, read: 60 * time.Second, connect: 60 * time.Second, idleKnown: true, detail: "prefork"},
		{name: "balancer member", conf: "ProxyPass /static !\nProxyPass / balancer://pool/\n<Proxy balancer://pool>\n\tBalancerMember http://a:80 ttl=2\n</Proxy>\nProxySet http://a:80 timeout=7", pools: true, idle: 2 * time.Second, read: 7 * time.Second, connect: 7 * time.Second, idleKnown: true},
		{name: "in a location", conf: "<Location /x>\n\tProxyPass http://b/ ttl=11\n</Location>", pools: true, idle: 11 * time.Second, read: 60 * time.Second, connect: 60 * time.Second, idleKnown: true},
		{name: "atoi ttl", conf: "ProxyPass /a http://b/ ttl=2m", pools: true, idle: 2 * time.Second, read: 60 * time.Second, connect: 60 * time.Second, idleKnown: true},
	}
	for _, tt := range tests {
		c, err := Parse(testutil.MapFS(map[string]string{"httpd.conf": tt.conf + "\n"}), "httpd.conf")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		u := c.Upstream()
		if u == nil {
			t.Errorf("%s: no upstream", tt.name)
			continue
		}
		if u.Pools.Value != tt.pools || u.IdleTimeout.Known != tt.idleKnown || u.IdleTimeout.Value != tt.idle || u.ReadTimeout.Value != tt.read ||
			u.ConnectTimeout.Value != tt.connect || u.TCP.Enabled.Value != tt.keepalive || !strings.Contains(u.IdleTimeout.Source.Detail, tt.detail) {
			t.Errorf("%s: pools %v idle %+v read %v connect %v tcp %v", tt.name, u.Pools, u.IdleTimeout, u.ReadTimeout.Value, u.ConnectTimeout.Value, u.TCP.Enabled)
		}
	}
}

func TestFullTestdata(t *testing.T) {
	c, err := Options{Env: map[string]string{"KT_PORT": "18080", "KT_DIR": "/tmp"}}.Parse(os.DirFS("testdata/valid"), "full.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notes) != 0 {
		t.Errorf("notes %v", c.Notes)
	}
	if len(c.Files) != 3 || c.Files[2] != "/conf.d/10-tuning.conf" {
		t.Errorf("files %q", c.Files)
	}
	vh := c.FrontServer()
	if vh.Name != "VirtualHost 127.0.0.1:18080" || vh.KeepAliveTimeout.Value != 65*time.Second || vh.KeepAliveTimeout.Source.Line != 33 {
		t.Errorf("vhost %s keepalivetimeout %+v", vh.Name, vh.KeepAliveTimeout)
	}
	eff := c.InEffect(vh)
	if eff.MaxKeepAliveRequests.Value != 1000 || eff.Timeout.Value != 45*time.Second || eff.Directives["RequestReadTimeout"] == nil {
		t.Errorf("in effect: %+v", eff)
	}
	u := c.Upstream()
	w := c.BackWorker()
	// The ProxyPass spans three lines (continuations) and reads ${BACKEND} from Define.
	if w.URL != "http://127.0.0.1:9001/api" || w.Location.Line != 38 || u.IdleTimeout.Value != 30*time.Second || u.ReadTimeout.Value != 15*time.Second ||
		u.ConnectTimeout.Value != 500*time.Millisecond || !u.TCP.Enabled.Value {
		t.Errorf("worker %+v upstream %+v", w, u)
	}
	var members []string
	for _, w := range c.Workers {
		if w.Directive == "BalancerMember" {
			members = append(members, w.Balancer+" "+w.URL)
		}
	}
	if !reflect.DeepEqual(members, []string{"balancer://pool http://127.0.0.1:9002", "balancer://pool http://127.0.0.1:9003"}) {
		t.Errorf("members %q", members)
	}
	if vals := c.Values(); len(vals) < 10 || vals[0].Key != "LoadModule" || vals[1].Key != "Timeout" || vals[3].Key != "KeepAliveTimeout" || vals[3].Value != "10" {
		t.Errorf("values %+v", vals)
	}
}

func TestDebianStyleTree(t *testing.T) {
	// Debian's layout: the real files, with their symbolic links, when apache2 is installed.
	if _, err := os.Stat("/etc/apache2/apache2.conf"); err != nil {
		t.Skip("/etc/apache2 is not installed")
	}
	c, err := Parse(os.DirFS("/"), "etc/apache2/apache2.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.MPM == "" || len(c.Files) < 5 {
		t.Errorf("mpm %q files %d", c.MPM, len(c.Files))
	}
}

func wantOf(t *testing.T, path string) (int, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	rest, ok := strings.CutPrefix(first, "# want: ")
	if !ok {
		t.Fatalf("%s: no # want: header", path)
	}
	num, text, _ := strings.Cut(rest, ": ")
	n, _ := strconv.Atoi(num)
	return n, text
}

func TestInvalidTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.conf")
	if len(files) < 12 {
		t.Fatalf("only %d invalid files", len(files))
	}
	for _, f := range files {
		line, text := wantOf(t, f)
		_, err := Options{Env: map[string]string{"KT_PORT": "1", "KT_DIR": "/tmp"}}.Parse(os.DirFS("testdata/invalid"), filepath.Base(f))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.File != "/"+filepath.Base(f) || pe.Line != line || !strings.Contains(strings.ToLower(pe.Msg), strings.ToLower(text)) {
			t.Errorf("%s: got %v, want line %d with %q", f, err, line, text)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct{ files map[string]string }{
		{map[string]string{"a.conf": "Include b.conf\n", "b.conf": "Include a.conf\n"}},
		{map[string]string{"a.conf": "<IfModule x>\n"}},
		{map[string]string{"a.conf": "<Location /x>\n</Location\n"}},
		{map[string]string{"a.conf": "ProxyPass /a\n"}},
		{map[string]string{"a.conf": "BalancerMember http://x/\n"}},
		{map[string]string{"a.conf": "ProxyPass /a http://x/ bogus\n"}},
		{map[string]string{"a.conf": "ProxyPass /a http://x/ connectiontimeout=0\n"}},
		{map[string]string{"a.conf": "ServerRoot relative\n"}},
		{map[string]string{"a.conf": "<VirtualHost *:80>\n\tServerRoot /x\n</VirtualHost>\n"}},
		{map[string]string{"a.conf": "Include nothing-*.conf\n"}},
		{map[string]string{"a.conf": "LoadModule x\n"}},
		{map[string]string{"a.conf": "<Directory>\n</Directory>\n"}},
		{map[string]string{"a.conf": `Timeout "60` + "\n"}},
	}
	for _, tt := range tests {
		_, err := Parse(testutil.MapFS(tt.files), "a.conf")
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line < 1 || !strings.HasPrefix(pe.File, "/") {
			t.Errorf("%q: error %v has no file:line", tt.files["a.conf"], err)
		}
	}
	if _, err := Parse(testutil.MapFS(nil), "missing.conf"); err == nil || !strings.Contains(err.Error(), "/missing.conf") {
		t.Errorf("missing main file: %v", err)
	}
	// A <Macro> body is kept for Use, not read where it is defined; <IfModule> contents of unloaded modules are not read.
	c, err := Parse(testutil.MapFS(map[string]string{"a.conf": "<Macro VHost $n>\n\tKeepAliveTimeout $n\n</Macro>\n<IfModule nope>\n\t<Foo\n\tKeepAlive Bogus\n\t</Foo>\n</IfModule>\n"}), "a.conf")
	if err != nil || c.Main.KeepAliveTimeout.Known || len(c.Notes) != 0 {
		t.Errorf("macro/ifmodule: %v %+v %v", err, c, c.Notes)
	}
}

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		path, head string
		want       bool
	}{
		{"/etc/apache2/apache2.conf", "", true},
		{"/etc/httpd/conf/httpd.conf", "", true},
		{"/srv/site.conf", "# x\n<VirtualHost *:80>\n", true},
		{"/srv/x.conf", "ServerRoot \"/etc/httpd\"\n", true},
		{"/srv/x.conf", "LoadModule ssl_module modules/mod_ssl.so\n", true},
		{"/etc/nginx/nginx.conf", "http {\n  keepalive_timeout 65;\n}\n", false},
		{"/etc/haproxy/haproxy.cfg", "global\n", false},
		{"/etc/redis/redis.conf", "timeout 0\n", false},
		{"/etc/redis/local.conf", "include /etc/redis/base.conf\n", false},
		{"/srv/gunicorn.conf.py", "keepalive = 5\n", false},
		{"/etc/nginx/conf.d/up.conf", "upstream app {\n    keepalive 32;\n}\n", false},
		{"/srv/units.conf", "# c\nInclude prelude.inc\nTimeout 500ms\nProxyPass /app http://x/\n", true},
		{"/etc/apache2/conf-enabled/security.conf", "<IfModule mod_headers.c>\n", true},
	} {
		if got := (Parser{}).Detect(tt.path, []byte(tt.head)); got != tt.want {
			t.Errorf("Detect(%q) = %v", tt.path, got)
		}
	}
}

func TestRegistered(t *testing.T) {
	p, ok := configs.Lookup("apache")
	if !ok {
		t.Fatal("apache is not registered")
	}
	c, err := p.Parse(os.DirFS("testdata/valid"), "live.conf")
	if err != nil || c.Format != "apache" || c.File != "/live.conf" || c.Downstream == nil || c.Upstream != nil {
		t.Fatalf("%+v %v", c, err)
	}
	if !reflect.DeepEqual(p.DefaultPaths(), []string{"/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"}) {
		t.Errorf("paths %q", p.DefaultPaths())
	}
}

func TestUnknownVariables(t *testing.T) {
	files := map[string]string{"httpd.conf": "KeepAliveTimeout 20\n<VirtualHost *:80>\n\tKeepAliveTimeout ${KAT}\n\tProxyPass /a http://b/ ttl=${TTL} timeout=9\n\tErrorLog ${LOGDIR}/e.log\n</VirtualHost>\nInclude ${CONFDIR}/x.conf\n"}
	// Unknown environment: what depends on a variable is not read (no error), and an unread
	// KeepAliveTimeout does not fall back to the server config's 20.
	c, err := Parse(testutil.MapFS(files), "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Downstream()
	if d.IdleTimeout.Known || d.IdleTimeout.Source.Line != 3 || !strings.Contains(d.IdleTimeout.Source.Detail, "${KAT}") {
		t.Errorf("idle %+v", d.IdleTimeout)
	}
	if _, _, ok := c.BackWorker().Param("ttl"); ok || c.Upstream().ReadTimeout.Value != 9*time.Second {
		t.Errorf("worker %+v", c.BackWorker().Params)
	}
	kinds := map[string]int{}
	for _, n := range c.Notes {
		kinds[n.Kind]++
	}
	if kinds["value"] != 3 || kinds["environment"] != 4 {
		t.Errorf("notes %+v", c.Notes)
	}
	// A known environment without those variables: httpd fails on them, and so does keeptune.
	if _, err := (Options{Env: map[string]string{}}).Parse(testutil.MapFS(files), "httpd.conf"); err == nil {
		t.Errorf("no error with a known environment")
	}
}

// Without virtual hosts the main server is the one listener, at its Listen addresses, so that a
// chain hop can select it by port or ServerName.
func TestMainServerListener(t *testing.T) {
	c, err := Parse(testutil.MapFS(map[string]string{"httpd.conf": "ServerName www.example.com\nListen 8080\nListen 192.0.2.1:8443\nKeepAliveTimeout 7\n"}), "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Configs()
	if len(cfg.Listeners) != 1 {
		t.Fatalf("listeners %+v", cfg.Listeners)
	}
	l := cfg.Listeners[0]
	if l.Kind != "server" || l.Name != "main server" || strings.Join(l.Addresses, " ") != "*:8080 192.0.2.1:8443" || l.Location.Line != 2 ||
		l.Downstream == nil || l.Downstream.IdleTimeout.Value != 7*time.Second || l.Downstream.IdleTimeout.Source.Line != 4 {
		t.Errorf("main server listener %+v (down %+v)", l, l.Downstream)
	}
	for _, sel := range []configs.Selector{{Port: 8443}, {Name: "www.example.com"}} {
		if got, err := cfg.Select(sel); err != nil || got.Name != "main server" {
			t.Errorf("select %v: %v %v", sel, got, err)
		}
	}
	c, err = Parse(testutil.MapFS(map[string]string{"httpd.conf": "Listen 80\n<VirtualHost *:80>\n</VirtualHost>\n"}), "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	if ls := c.Configs().Listeners; len(ls) != 1 || ls[0].Kind != "virtualhost" {
		t.Errorf("with a virtual host: %+v", ls)
	}
}
