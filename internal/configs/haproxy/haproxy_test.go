package haproxy

import (
	"bufio"
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

func TestWords(t *testing.T) {
	env := map[string]string{"PORT": "8080", "LIST": "a b  c", "EMPTY": ""}
	tests := []struct {
		line string
		want []string
		err  string
		unk  []string
	}{
		{line: "   ", want: nil},
		{line: "# comment", want: nil},
		{line: "\ttimeout client 30s # idle", want: []string{"timeout", "client", "30s"}},
		{line: "global#this is the global section", want: []string{"global"}},
		{line: `log-format %{+Q}o\ %t\ %s`, want: []string{"log-format", "%{+Q}o %t %s"}},
		{line: `log-format "%{+Q}o %t"' %s'\ %{-Q}r`, want: []string{"log-format", "%{+Q}o %t %s %{-Q}r"}},
		{line: `a '#not a comment' "# nor this" \# b`, want: []string{"a", "#not a comment", "# nor this", "#", "b"}},
		{line: `x "" y`, want: []string{"x", "", "y"}},
		{line: `esc \\ \' \" \x41\x42 "\n"`, want: []string{"esc", `\`, "'", `"`, "AB", "\n"}},
		{line: `re ^\d+$`, want: []string{"re", `^\d+$`}},
		{line: `bind "127.0.0.1:${PORT}"`, want: []string{"bind", "127.0.0.1:8080"}},
		{line: `bind 127.0.0.1:${PORT}`, want: []string{"bind", "127.0.0.1:${PORT}"}}, // no expansion outside quotes
		{line: `bind "127.0.0.1:$PORT"`, want: []string{"bind", "127.0.0.1:8080"}},
		{line: `x '${PORT}'`, want: []string{"x", "${PORT}"}},
		{line: `x "\${PORT}"`, want: []string{"x", "${PORT}"}},
		{line: `x "${NOPE-9000}"`, want: []string{"x", "9000"}},
		{line: `x "${EMPTY-9000}"`, want: []string{"x", ""}}, // the default replaces unset, not empty
		{line: `x "${NOPE}" y`, want: []string{"x", "${NOPE}", "y"}, unk: []string{"NOPE"}},
		{line: `x "p${LIST[*]}q"`, want: []string{"x", "pa", "b", "cq"}},
		{line: `x "cost $"`, want: []string{"x", "cost $"}},
		{line: `x "unterminated`, err: "unmatched double quote at position 3"},
		{line: `x 'unterminated`, err: "unmatched single quote"},
		{line: `x \x4`, err: "invalid hexadecimal"},
		{line: `x "${NOPE"`, err: "unterminated ${NOPE"},
		{line: "trailing\\", want: []string{`trailing\`}},
		{line: "crlf 1\r", want: []string{"crlf", "1"}},
	}
	for _, tt := range tests {
		lx := &lexer{env: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
		got, err := lx.words(tt.line)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("words(%q) error = %v, want %q", tt.line, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("words(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
		if !reflect.DeepEqual(lx.unresolved, tt.unk) {
			t.Errorf("words(%q) unresolved = %q, want %q", tt.line, lx.unresolved, tt.unk)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		def  time.Duration
		want time.Duration
		err  string
	}{
		{"5000", time.Millisecond, 5 * time.Second, ""},
		{"50000", time.Millisecond, 50 * time.Second, ""},
		{"30s", time.Millisecond, 30 * time.Second, ""},
		{"1500ms", time.Millisecond, 1500 * time.Millisecond, ""},
		{"250us", time.Millisecond, 250 * time.Microsecond, ""},
		{"2m", time.Millisecond, 2 * time.Minute, ""},
		{"1h", time.Millisecond, time.Hour, ""},
		{"1d", time.Millisecond, 24 * time.Hour, ""},
		{"24d", time.Millisecond, 24 * 24 * time.Hour, ""},
		{"120", time.Second, 2 * time.Minute, ""}, // clitcpka-idle: seconds by default
		{"0", time.Millisecond, 0, ""},
		{"25d", time.Millisecond, 0, "too large"},
		{"2147483648", time.Millisecond, 0, "too large"},
		{"99999999999999999999", time.Millisecond, 0, "too large"},
		{"30x", time.Millisecond, 0, `unexpected "x"`},
		{"30sec", time.Millisecond, 0, `unexpected "sec"`},
		{"s", time.Millisecond, 0, "expected a number"},
		{"", time.Millisecond, 0, "expected a number"},
		{"-1", time.Millisecond, 0, "expected a number"},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in, tt.def)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseTime(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestConditions(t *testing.T) {
	known := &Options{Env: map[string]string{"A": "1", "SSL": "yes"}, Features: []string{"OPENSSL", "LUA"}, Version: "2.6.12"}
	unknown := &Options{}
	tests := []struct {
		o    *Options
		expr string
		unk  []string
		want tri
		err  string
	}{
		{o: known, expr: "", want: triFalse},
		{o: known, expr: "0", want: triFalse},
		{o: known, expr: "1", want: triTrue},
		{o: known, expr: "!0", want: triTrue},
		{o: known, expr: "defined(A)", want: triTrue},
		{o: known, expr: "defined(B)", want: triFalse},
		{o: unknown, expr: "defined(A)", want: triUnknown},
		{o: unknown, expr: "defined(A) && 0", want: triFalse},
		{o: unknown, expr: "defined(A) || 1", want: triTrue},
		{o: known, expr: "feature(OPENSSL) && (streq(yes,yes) || streq(no,yes))", want: triTrue},
		{o: known, expr: "feature(QUIC)", want: triFalse},
		{o: unknown, expr: "feature(OPENSSL)", want: triUnknown},
		{o: known, expr: "strneq(a,b)", want: triTrue},
		{o: known, expr: `streq("a b","a b")`, want: triTrue},
		{o: unknown, expr: "streq(${X},yes)", unk: []string{"X"}, want: triUnknown},
		{o: known, expr: "version_atleast(2.4-dev19)", want: triTrue},
		{o: known, expr: "version_atleast(2.6)", want: triTrue},
		{o: known, expr: "version_atleast(2.7)", want: triFalse},
		{o: known, expr: "version_before(2.6.13)", want: triTrue},
		{o: known, expr: "version_before(2.6-dev1)", want: triFalse},
		{o: unknown, expr: "version_atleast(2.4)", want: triUnknown},
		{o: known, expr: "1 && 0 || 1 && 1", want: triTrue}, // && binds tighter
		{o: known, expr: "0 && 1 || 0", want: triFalse},
		{o: known, expr: "newpredicate(x)", want: triUnknown},
		{o: known, expr: "yes", want: triUnknown},
		{o: known, expr: "(1", err: "missing ')'"},
		{o: known, expr: "defined(A", err: "missing ')'"},
		{o: known, expr: "1 &&", err: "missing term"},
		{o: known, expr: "1 2", err: "unparsed trailing"},
		{o: known, expr: "defined(A,B)", err: "expects 1 argument"},
		{o: known, expr: "&& 1", err: "expected a predicate"},
	}
	for _, tt := range tests {
		got, why, err := tt.o.evalCond(tt.expr, tt.unk)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("evalCond(%q) error = %v, want %q", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("evalCond(%q) = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
		if got == triUnknown && len(why) == 0 {
			t.Errorf("evalCond(%q) is unknown without a reason", tt.expr)
		}
	}
}

func parseString(t *testing.T, o Options, text string) *Config {
	t.Helper()
	c, err := o.ParseFiles(testutil.MapFS(map[string]string{"etc/haproxy/haproxy.cfg": text}), "/etc/haproxy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConditionalBlocks(t *testing.T) {
	text := `defaults
	mode http
.if defined(SHORT)
	timeout http-keep-alive 1s
.elif streq("${TIER}",web)
	timeout http-keep-alive 2s
	.if 0
	timeout http-keep-alive 99s
	.else
	timeout http-request 2s
	.endif
.else
	timeout http-keep-alive 3s
.endif
frontend fe
	bind :80
`
	tests := []struct {
		name  string
		o     Options
		want  time.Duration
		notes int
	}{
		{"if branch", Options{Env: map[string]string{"SHORT": ""}}, time.Second, 0},
		{"elif branch", Options{Env: map[string]string{"TIER": "web"}}, 2 * time.Second, 0},
		{"else branch", Options{Env: map[string]string{"TIER": "db"}}, 3 * time.Second, 0},
		// Unknown environment: the first branch that may be taken is read, and said so.
		{"unknown", Options{}, time.Second, 1},
	}
	for _, tt := range tests {
		c := parseString(t, tt.o, text)
		d := c.Downstream()
		if d.IdleTimeout.Value != tt.want {
			t.Errorf("%s: keep-alive idle = %v, want %v", tt.name, d.IdleTimeout.Value, tt.want)
		}
		if len(c.Notes) != tt.notes {
			t.Errorf("%s: notes = %v, want %d", tt.name, c.Notes, tt.notes)
		}
		if tt.notes > 0 && !strings.Contains(c.Notes[0].Text, "first branch") {
			t.Errorf("%s: note %q does not say which branch was read", tt.name, c.Notes[0].Text)
		}
	}
	// The nested .else took http-request in the elif branch only.
	c := parseString(t, Options{Env: map[string]string{"TIER": "web"}}, text)
	if r, ok := c.Proxies[0].Settings.Timeout("http-request"); !ok || r.Value != 2*time.Second || r.Source.Line != 10 {
		t.Errorf("nested .else: http-request = %+v", r)
	}
}

func TestInheritance(t *testing.T) {
	text := `global
	maxconn 100
defaults base
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	option clitcpka
defaults http from base
	mode http
	timeout client 40s
defaults
	mode tcp
	timeout client 1m
frontend web from http
	bind :80
	default_backend app
backend app from http
	server a 10.0.0.1:80
listen db
	bind :5432
	server d 10.0.0.2:5432
`
	c := parseString(t, Options{}, text)
	if len(c.Defaults) != 3 || len(c.Proxies) != 3 || len(c.Sections) != 7 {
		t.Fatalf("sections: %d defaults, %d proxies, %d in all", len(c.Defaults), len(c.Proxies), len(c.Sections))
	}
	web, app, db := c.Proxies[0], c.Proxies[1], c.Proxies[2]
	if web.Defaults.Name != "http" || db.Defaults.Name != "" || c.Defaults[1].Parent.Name != "base" {
		t.Errorf("defaults links: web<-%q db<-%q http<-%v", web.Defaults.Name, db.Defaults.Name, c.Defaults[1].Parent)
	}
	cl, _ := web.Settings.Timeout("client")
	if cl.Value != 40*time.Second || cl.Source.Line != 10 {
		t.Errorf("web timeout client = %+v, want 40s from line 10", cl)
	}
	if co, _ := app.Settings.Timeout("connect"); co.Value != 5*time.Second || co.Source.Line != 4 {
		t.Errorf("app timeout connect = %+v, want 5s from base (line 4)", co)
	}
	if !web.Settings.CliTCPKA.Value || web.Settings.CliTCPKA.Source.Line != 7 {
		t.Errorf("web clitcpka = %+v, want on from line 7", web.Settings.CliTCPKA)
	}
	// The anonymous defaults starts afresh: db has no option clitcpka and no timeout server.
	if db.Settings.CliTCPKA.Known || db.Settings.IsHTTP() {
		t.Errorf("db inherited from the wrong defaults: %+v", db.Settings)
	}
	if _, ok := db.Settings.Timeout("server"); ok {
		t.Errorf("db has a timeout server it should not inherit")
	}
	if c.FrontProxy() != web || c.BackProxy() != app {
		t.Errorf("front %s, back %s", c.FrontProxy().Title(), c.BackProxy().Title())
	}
}

func TestDownstreamIdleFallback(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     time.Duration
		line     int
		detail   string
		pools    bool
		poolsSet bool
	}{
		{"http-keep-alive", "mode http\n\ttimeout http-keep-alive 2s\n\ttimeout http-request 5s\n\ttimeout client 30s", 2 * time.Second, 3, "", true, true},
		{"http-request", "mode http\n\ttimeout http-request 5s\n\ttimeout client 30s", 5 * time.Second, 3, "timeout http-request applies", true, true},
		{"client", "mode http\n\ttimeout client 30s", 30 * time.Second, 3, "timeout client applies", true, true},
		{"zero is unset", "mode http\n\ttimeout http-keep-alive 0\n\ttimeout client 30s", 30 * time.Second, 4, "timeout client applies", true, true},
		{"none", "mode http", 0, 3, "never time out", true, true},
		{"httpclose", "mode http\n\toption httpclose\n\ttimeout client 30s", 30 * time.Second, 4, "", false, true},
		{"no httpclose", "mode http\n\toption httpclose\n\tno option httpclose\n\ttimeout client 30s", 30 * time.Second, 5, "", true, true},
		{"tcp uses client", "timeout client 30s", 30 * time.Second, 2, "", false, false},
	}
	for _, tt := range tests {
		c := parseString(t, Options{}, "defaults\n\t"+tt.body+"\nfrontend fe\n\tbind :80\n")
		d := c.Downstream()
		if !d.IdleTimeout.Known || d.IdleTimeout.Value != tt.want || d.IdleTimeout.Source.Line != tt.line ||
			!strings.Contains(d.IdleTimeout.Source.Detail, tt.detail) {
			t.Errorf("%s: idle = %+v, want %v at line %d with %q", tt.name, d.IdleTimeout, tt.want, tt.line, tt.detail)
		}
		if d.Pools.Known != tt.poolsSet || d.Pools.Value != tt.pools {
			t.Errorf("%s: pools = %+v, want %v (known %v)", tt.name, d.Pools, tt.pools, tt.poolsSet)
		}
	}
}

func TestKeepaliveOptions(t *testing.T) {
	tests := []struct {
		name               string
		body               string
		cli, srv           bool
		idle, intvl        time.Duration
		cnt                int
		idleKnown, srvSeen bool
	}{
		{name: "off by default"},
		{name: "tcpka both", body: "option tcpka", cli: true, srv: true},
		{name: "clitcpka", body: "option clitcpka\n\tclitcpka-idle 30s\n\tclitcpka-intvl 5\n\tclitcpka-cnt 4", cli: true, idle: 30 * time.Second, intvl: 5 * time.Second, cnt: 4, idleKnown: true},
		{name: "no clitcpka after tcpka", body: "option tcpka\n\tno option clitcpka", srv: true},
		{name: "default option restores", body: "option clitcpka\n\tdefault option clitcpka"}, // "default option tcpka" is refused: tcpka cannot be negated
		{name: "idle in ms rounds down to seconds", body: "option clitcpka\n\tclitcpka-idle 1500ms", cli: true, idle: time.Second, idleKnown: true},
	}
	for _, tt := range tests {
		c := parseString(t, Options{}, "defaults\n\tmode http\n\t"+tt.body+"\nfrontend fe\n\tbind :80\n\tdefault_backend be\nbackend be\n\tserver s 1.2.3.4:80\n")
		d, u := c.Downstream(), c.Upstream()
		if !d.TCP.Enabled.Known || d.TCP.Enabled.Value != tt.cli || !u.TCP.Enabled.Known || u.TCP.Enabled.Value != tt.srv {
			t.Errorf("%s: enabled cli=%+v srv=%+v", tt.name, d.TCP.Enabled, u.TCP.Enabled)
			continue
		}
		if !tt.cli {
			continue
		}
		if d.TCP.Idle.Known != tt.idleKnown || d.TCP.Idle.Value != tt.idle {
			t.Errorf("%s: idle = %+v", tt.name, d.TCP.Idle)
		}
		if !tt.idleKnown && !strings.Contains(d.TCP.Idle.Source.Detail, "host sysctls (net.ipv4.tcp_keepalive_time)") {
			t.Errorf("%s: unset idle does not name the host sysctl: %+v", tt.name, d.TCP.Idle.Source)
		}
		if tt.intvl != 0 && d.TCP.Interval.Value != tt.intvl {
			t.Errorf("%s: interval = %+v", tt.name, d.TCP.Interval)
		}
		if tt.cnt != 0 && d.TCP.Count.Value != tt.cnt {
			t.Errorf("%s: count = %+v", tt.name, d.TCP.Count)
		}
	}
}

func TestUpstream(t *testing.T) {
	base := "defaults\n\tmode http\n\ttimeout connect 4s\n\ttimeout server 20s\n\ttimeout client 30s\n"
	tests := []struct {
		name   string
		extra  string
		pools  bool
		idle   time.Duration
		detail string
	}{
		{name: "default reuse", pools: true, idle: 15 * time.Second, detail: "pool-purge-delay"},
		{name: "purge delay", extra: "\tdefault-server pool-purge-delay 1s\n", pools: true, idle: 3 * time.Second},
		{name: "reuse never follows the client", extra: "\thttp-reuse never\n", pools: true, idle: 30 * time.Second, detail: "idles as long as its client connection"},
		{name: "server-close", extra: "\toption http-server-close\n", pools: false},
		{name: "pool-max-conn 0", extra: "\tdefault-server pool-max-conn 0\n", pools: false},
	}
	for _, tt := range tests {
		c := parseString(t, Options{}, base+"frontend fe\n\tbind :80\n\tdefault_backend be\nbackend other\n\tserver o 1.1.1.1:80\nbackend be\n"+tt.extra+"\tserver s 1.2.3.4:80\n")
		u := c.Upstream()
		if c.BackProxy().Name != "be" {
			t.Fatalf("back proxy %s, want the default_backend be", c.BackProxy().Title())
		}
		if u.Pools.Value != tt.pools || (tt.pools && (u.IdleTimeout.Value != tt.idle || !strings.Contains(u.IdleTimeout.Source.Detail, tt.detail))) {
			t.Errorf("%s: pools %+v idle %+v", tt.name, u.Pools, u.IdleTimeout)
		}
		if u.ReadTimeout.Value != 20*time.Second || u.ConnectTimeout.Value != 4*time.Second {
			t.Errorf("%s: read %v connect %v", tt.name, u.ReadTimeout, u.ConnectTimeout)
		}
	}
	// TCP mode never reuses; missing timeouts are known "no limit".
	c := parseString(t, Options{}, "listen l\n\tbind :1\n\tserver s 1.2.3.4:1\n")
	u := c.Upstream()
	if !u.Pools.Known || u.Pools.Value || !u.ReadTimeout.Known || u.ReadTimeout.Value != 0 || !strings.Contains(u.ReadTimeout.Source.Detail, "not set") {
		t.Errorf("tcp listen: %+v", u)
	}
}

func TestMultipleFilesAndDirectories(t *testing.T) {
	fsys := testutil.MapFS(map[string]string{
		"etc/haproxy/haproxy.cfg":       "global\n\tmaxconn 10\ndefaults\n\tmode http\n\ttimeout client 10s\n",
		"etc/haproxy/conf.d/b.cfg":      "backend app\n\tserver a 1.2.3.4:80\n",
		"etc/haproxy/conf.d/A.cfg":      "frontend web\n\tbind :80\n\tdefault_backend app\n",
		"etc/haproxy/conf.d/notes.txt":  "ignored\n",
		"etc/haproxy/conf.d/.swap.cfg":  "ignored\n",
		"etc/haproxy/conf.d/sub/x.cfg":  "ignored: not recursive\n",
		"etc/haproxy/conf.d/10-x.cfg":   "defaults\n\tmode http\n\ttimeout client 20s\n",
		"etc/haproxy/split/1-start.cfg": "frontend f\n",
		"etc/haproxy/split/2-rest.cfg":  "\tbind :80\n",
	})
	c, err := ParseFiles(fsys, "etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/10-x.cfg", "/etc/haproxy/conf.d/A.cfg", "/etc/haproxy/conf.d/b.cfg"}
	if !reflect.DeepEqual(c.Files, want) {
		t.Errorf("files = %q, want %q (C-locale order: digits, upper case, lower case)", c.Files, want)
	}
	// web comes after conf.d/10-x.cfg's defaults: 20 s.
	if cl, _ := c.FrontProxy().Settings.Timeout("client"); cl.Value != 20*time.Second || cl.Source.File != "/etc/haproxy/conf.d/10-x.cfg" {
		t.Errorf("web timeout client = %+v", cl)
	}
	// A section cannot continue into the next file.
	_, err = ParseFiles(fsys, "etc/haproxy/split")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "/etc/haproxy/split/2-rest.cfg" || pe.Line != 1 || !strings.Contains(pe.Msg, "out of section") {
		t.Errorf("split section: %v", err)
	}
	if _, err := ParseFiles(fsys, "etc/haproxy/missing.cfg"); err == nil || !strings.Contains(err.Error(), "/etc/haproxy/missing.cfg") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ParseFiles(fsys); err == nil {
		t.Errorf("no file: no error")
	}
}

// wantOf reads the "# want: LINE: TEXT" header of an invalid test file.
func wantOf(t *testing.T, path string) (int, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
	if !ok {
		t.Fatalf("%s: first line is not # want: LINE: TEXT", path)
	}
	num, text, _ := strings.Cut(rest, ": ")
	n, err := strconv.Atoi(num)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n, text
}

func TestInvalidTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.cfg")
	if len(files) < 10 {
		t.Fatalf("only %d invalid test files", len(files))
	}
	for _, f := range files {
		line, text := wantOf(t, f)
		_, err := Options{Env: map[string]string{"HOME": "/root"}}.ParseFiles(os.DirFS("."), f)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v is not a ParseError", f, err)
			continue
		}
		if pe.File != "/"+f || pe.Line != line || !strings.Contains(pe.Msg, text) {
			t.Errorf("%s: got %v, want line %d with %q", f, err, line, text)
		}
	}
}

func TestValidTestdata(t *testing.T) {
	env := map[string]string{"KT_FE_PORT": "18001", "KT_FE2_PORT": "18002", "KT_BE_PORT": "18003", "KT_APP": "web"}
	for _, f := range []string{"debian.cfg", "full.cfg", "live.cfg", "missing-timeouts.cfg", "tcp-mode.cfg", "conf.d"} {
		c, err := Options{Env: env}.ParseFiles(os.DirFS("testdata/valid"), f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(c.Notes) > 0 {
			t.Errorf("%s: notes with a known environment: %v", f, c.Notes)
		}
	}
}

func TestFullTestdata(t *testing.T) {
	env := map[string]string{"KT_FE_PORT": "18001", "KT_BE_PORT": "18003", "KT_APP": "web"}
	c, err := Options{Env: env}.ParseFiles(os.DirFS("testdata/valid"), "full.cfg")
	if err != nil {
		t.Fatal(err)
	}
	fe := c.FrontProxy()
	if fe.Name != "fe_web" || fe.Binds[0].Address != "127.0.0.1:18001" || fe.Defaults.Name != "http" {
		t.Errorf("frontend %q bind %q defaults %q", fe.Name, fe.Binds[0].Address, fe.Defaults.Name)
	}
	d, u := c.Downstream(), c.Upstream()
	// streq("${KT_APP}",web) picks the .elif: 3 s at line 28.
	if d.IdleTimeout.Value != 3*time.Second || d.IdleTimeout.Source.Line != 28 {
		t.Errorf("downstream idle = %+v", d.IdleTimeout)
	}
	if !d.TCP.Enabled.Value || d.TCP.Idle.Value != 120*time.Second || d.TCP.Interval.Value != 30*time.Second || d.TCP.Count.Value != 4 {
		t.Errorf("downstream tcp = %+v", d.TCP)
	}
	if !u.Pools.Value || u.IdleTimeout.Value != 6*time.Second || u.IdleTimeout.Source.Line != 43 {
		t.Errorf("upstream pool = %+v idle %+v", u.Pools, u.IdleTimeout)
	}
	if !u.TCP.Enabled.Value || u.TCP.Idle.Value != time.Minute || u.TCP.Count.Value != 3 {
		t.Errorf("upstream tcp = %+v", u.TCP)
	}
	db := c.Backend("db")
	if !db.Settings.CliTCPKA.Value || db.Settings.SrvTCPKA.Value || !db.Settings.SrvTCPKA.Known {
		t.Errorf("db: tcpka then no srvtcpka: %+v %+v", db.Settings.CliTCPKA, db.Settings.SrvTCPKA)
	}
	if db.Servers[0].Address != "127.0.0.1:5432" {
		t.Errorf("db server %q", db.Servers[0].Address)
	}
	// Unknown environment: the frontend name keeps the reference and a note says so.
	c, err = ParseFiles(os.DirFS("testdata/valid"), "full.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c.FrontProxy().Name != "fe_${KT_APP}" || len(c.Notes) == 0 {
		t.Errorf("unknown env: name %q notes %v", c.FrontProxy().Name, c.Notes)
	}
}

func TestDebianDefaults(t *testing.T) {
	c, err := ParseFiles(os.DirFS("testdata/valid"), "debian.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// Debian's file has only global and defaults: the sides are what a proxy added after the
	// defaults gets: timeout connect 5000, client 50000, server 50000 (milliseconds).
	d, u := c.Downstream(), c.Upstream()
	if d.IdleTimeout.Value != 50*time.Second || d.IdleTimeout.Source.Line != 26 || d.ReadTimeout.Value != 50*time.Second {
		t.Errorf("downstream: idle %+v read %+v", d.IdleTimeout, d.ReadTimeout)
	}
	if u.ConnectTimeout.Value != 5*time.Second || u.ConnectTimeout.Source.Line != 25 || u.ReadTimeout.Value != 50*time.Second || u.ReadTimeout.Source.Line != 27 {
		t.Errorf("upstream: connect %+v read %+v", u.ConnectTimeout, u.ReadTimeout)
	}
	vals := c.Values()
	if len(vals) != 4 || vals[1].Key != "timeout connect" || vals[1].Value != "5000" || vals[1].Block != "defaults" {
		t.Errorf("values = %+v", vals)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		path, head string
		want       bool
	}{
		{"/etc/haproxy/haproxy.cfg", "", true},
		{"/srv/lb.cfg", "# lb\nglobal\n  maxconn 10\n", true},
		{"/srv/lb.cfg", "frontend web\n", true},
		{"/etc/haproxy/conf.d/web", "\n\nbackend app\n", true},
		{"/srv/app.cfg", "[section]\nkey=value\n", false},
		{"/etc/nginx/nginx.conf", "http {\n listen 80;\n}\n", false},
		{"/srv/x.cfg", "listen 80;\n", false},
		{"/etc/apache2/apache2.conf", "ServerRoot /etc/apache2\n", false},
	}
	for _, tt := range tests {
		if got := (Parser{}).Detect(tt.path, []byte(tt.head)); got != tt.want {
			t.Errorf("Detect(%q, %q) = %v, want %v", tt.path, tt.head, got, tt.want)
		}
	}
}

func TestRegistered(t *testing.T) {
	p, ok := configs.Lookup("haproxy")
	if !ok {
		t.Fatal("haproxy is not registered")
	}
	c, err := p.Parse(os.DirFS("testdata/valid"), "live.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "haproxy" || c.File != "/live.cfg" || c.Downstream == nil || c.Upstream == nil || c.Detail.(*Config) == nil {
		t.Errorf("config = %+v", c)
	}
	if !reflect.DeepEqual(p.DefaultPaths(), []string{"/etc/haproxy/haproxy.cfg"}) {
		t.Errorf("default paths %q", p.DefaultPaths())
	}
}

func TestUnknownEnvironment(t *testing.T) {
	text := `defaults
	mode http
	timeout client "${CLIENT_TIMEOUT}"
	timeout server 30s
.if defined(DEBUG)
	timeout http-keep-alive 9s
.endif
frontend fe
	bind "${ADDR}"
	default_backend be
backend be
	server s1 "${BACKEND}" pool-purge-delay 2s
`
	// Unknown environment: the timeout that needs a variable is not read (and not an error),
	// the server line still counts, and the value read in the undecided branch says so.
	c := parseString(t, Options{}, text)
	if cl, ok := c.Proxies[0].Settings.Timeouts["client"]; !ok || cl.Known || !strings.Contains(cl.Source.Detail, "CLIENT_TIMEOUT") {
		t.Errorf("timeout client from an unknown variable: %+v", cl)
	}
	if r := c.Downstream().ReadTimeout; r.Known || r.Source.Line != 3 {
		t.Errorf("read timeout %+v, want unknown from line 3", r)
	}
	kinds := map[string]int{}
	for _, n := range c.Notes {
		kinds[n.Kind]++
	}
	if kinds["value"] != 1 || kinds["condition"] != 1 || kinds["environment"] != 3 {
		t.Errorf("notes %+v", c.Notes)
	}
	if be := c.Backend("be"); len(be.Servers) != 1 || be.Servers[0].Params.PurgeDelay.Value != 2*time.Second {
		t.Errorf("server %+v", be.Servers)
	}
	d := c.Downstream()
	if d.IdleTimeout.Value != 9*time.Second || !strings.Contains(d.IdleTimeout.Source.Detail, "could not decide") {
		t.Errorf("idle %+v", d.IdleTimeout)
	}
	// A known environment: everything is read, nothing is noted.
	c = parseString(t, Options{Env: map[string]string{"CLIENT_TIMEOUT": "20s", "ADDR": ":80", "BACKEND": "10.0.0.1:80"}}, text)
	if cl, _ := c.Proxies[0].Settings.Timeout("client"); cl.Value != 20*time.Second || len(c.Notes) != 0 {
		t.Errorf("client %+v notes %+v", cl, c.Notes)
	}
}
