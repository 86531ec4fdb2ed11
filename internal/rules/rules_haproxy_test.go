package rules

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/configs/haproxy"
	"github.com/keeptune/keeptune/internal/model"
)

// haproxyInput parses an HAProxy configuration written at /etc/haproxy/haproxy.cfg.
func haproxyInput(t *testing.T, text string) *Input {
	t.Helper()
	fsys := fstest.MapFS{"etc/haproxy/haproxy.cfg": &fstest.MapFile{Data: []byte(text)}}
	c, err := haproxy.ParseFiles(fsys, "etc/haproxy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	return &Input{Configs: []*configs.Config{c.Configs()}, Profile: model.Profile{Name: "general"}}
}

func runRule(t *testing.T, in *Input, id string) []model.Finding {
	t.Helper()
	sel, err := Select(Selection{Enable: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	return Run(in, sel)
}

// lines returns the file lines the findings point at.
func findingLines(fs []model.Finding) []int {
	var out []int
	for _, f := range fs {
		if f.Location == nil {
			out = append(out, 0)
			continue
		}
		out = append(out, f.Location.Line)
	}
	return out
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHAProxyMissingTimeouts(t *testing.T) {
	in := haproxyInput(t, `defaults
	mode http
	timeout connect 5s
frontend fe_plain
	bind :80
	default_backend be_plain
frontend fe_ok
	bind :81
	timeout client 30s
backend be_plain
	server s1 127.0.0.1:9
backend be_ok
	timeout server 30s
	server s1 127.0.0.1:9
backend be_empty
listen lst
	bind :82
	timeout client 0
	server s1 127.0.0.1:9
listen tcp_tunnel
	mode tcp
	bind :83
	timeout client 1m
	timeout tunnel 1h
	server s1 127.0.0.1:9
`)
	fs := runRule(t, in, "KT820")
	// be_plain (line 10), fe_plain (4), lst (16: timeout client 0 counts as missing), in subject
	// order; tcp_tunnel is fine: in TCP mode timeout tunnel stands in for timeout server.
	if got := findingLines(fs); !sameInts(got, []int{10, 4, 16}) {
		t.Fatalf("lines %v, want [10 4 16]: %+v", got, fs)
	}
	for _, f := range fs {
		if f.Location.File != "/etc/haproxy/haproxy.cfg" || f.Fix == nil || f.Fix.Line == "" || !strings.Contains(f.Fix.Note, "defaults") {
			t.Errorf("finding %+v lacks a location or a fix", f)
		}
	}
	if fs[0].Fix.Line != "timeout server 50s" || fs[2].Fix.Line != "timeout client 50s\ntimeout server 50s" {
		t.Errorf("fix lines %q / %q", fs[1].Fix.Line, fs[2].Fix.Line)
	}
	if !strings.Contains(fs[2].Message, "no timeout client, no timeout server") {
		t.Errorf("message %q", fs[2].Message)
	}
}

func TestHAProxyMissingTimeoutsFromEnvironment(t *testing.T) {
	// Timeouts set from environment variables keeptune does not know are not missing.
	in := haproxyInput(t, "defaults\n\tmode http\n\ttimeout client \"${TC}\"\n\ttimeout connect \"${TCO}\"\n\ttimeout server \"${TS}\"\nlisten l\n\tbind :80\n\tserver s 127.0.0.1:9\n")
	if fs := runRule(t, in, "KT820"); len(fs) != 0 {
		t.Errorf("%+v", fs)
	}
}

func TestHAProxyHTTPInTCPMode(t *testing.T) {
	in := haproxyInput(t, `defaults
	timeout connect 5s
	timeout client 30s
	timeout server 30s
listen pg
	bind :5432
	option http-keep-alive
	timeout http-keep-alive 10s
	no option httpclose
	server pg1 127.0.0.1:5432
listen web
	mode http
	bind :80
	option http-keep-alive
	server w 127.0.0.1:8080
`)
	fs := runRule(t, in, "KT821")
	if got := findingLines(fs); !sameInts(got, []int{7, 8, 9}) {
		t.Fatalf("lines %v, want [7 8 9]: %+v", got, fs)
	}
	if fs[0].Fix.FileLine != 7 || !strings.Contains(fs[0].Fix.Note, "mode http") || fs[0].Evidence[1].Source.Kind != model.SourceRuntimeDefault {
		t.Errorf("fix %+v evidence %+v", fs[0].Fix, fs[0].Evidence)
	}
}

func TestHAProxyTCPKATimingWithoutOption(t *testing.T) {
	in := haproxyInput(t, `defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	srvtcpka-idle 60
frontend fe_bad
	bind :80
	clitcpka-idle 30s
	clitcpka-cnt 4
	default_backend be
frontend fe_good
	bind :81
	option clitcpka
	clitcpka-idle 30s
frontend fe_disabled
	bind :82
	option tcpka
	no option clitcpka
	clitcpka-intvl 5s
backend be
	option srvtcpka
	server s 127.0.0.1:9
backend be_bad
	server s 127.0.0.1:9
`)
	fs := runRule(t, in, "KT822")
	// fe_bad at its first timing line (9), fe_disabled at 20, be_bad at the defaults line (6).
	got := findingLines(fs)
	if !sameInts(got, []int{6, 9, 20}) && !sameInts(got, []int{9, 20, 6}) {
		t.Fatalf("lines %v: %+v", got, fs)
	}
	for _, f := range fs {
		if f.Fix.Line != "option clitcpka" && f.Fix.Line != "option srvtcpka" {
			t.Errorf("fix %q", f.Fix.Line)
		}
		if f.Subject == "haproxy frontend fe_disabled" && f.Evidence[len(f.Evidence)-1].Value != "disabled" {
			t.Errorf("fe_disabled evidence %+v", f.Evidence)
		}
	}
}

func TestHAProxyWebSocketTunnel(t *testing.T) {
	cfg := `defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe
	bind :80
	acl is_ws hdr(Upgrade) -i WebSocket
	use_backend be_ws if is_ws
	default_backend be_app
backend be_ws
	server w 127.0.0.1:9
backend be_app
	server a 127.0.0.1:9
`
	fs := runRule(t, haproxyInput(t, cfg), "KT823")
	if len(fs) != 1 || fs[0].Subject != "haproxy backend be_ws" || fs[0].Location.Line != 11 || fs[0].Fix.Line != "timeout tunnel 1h" {
		t.Fatalf("%+v", fs)
	}
	// With timeout tunnel the backend is fine; without any WebSocket mention keeptune is silent.
	if fs := runRule(t, haproxyInput(t, strings.Replace(cfg, "backend be_ws\n", "backend be_ws\n\ttimeout tunnel 1h\n", 1)), "KT823"); len(fs) != 0 {
		t.Errorf("tunnel set: %+v", fs)
	}
	plain := strings.Replace(strings.Replace(cfg, "\tacl is_ws hdr(Upgrade) -i WebSocket\n", "", 1), "if is_ws", "if { path_beg /api }", 1)
	if fs := runRule(t, haproxyInput(t, plain), "KT823"); len(fs) != 0 {
		t.Errorf("no WebSocket mention: %+v", fs)
	}
	// A WebSocket mention without a dedicated use_backend: the default backend carries them.
	inline := strings.Replace(cfg, "\tuse_backend be_ws if is_ws\n", "", 1)
	if fs := runRule(t, haproxyInput(t, inline), "KT823"); len(fs) != 1 || fs[0].Subject != "haproxy backend be_app" {
		t.Errorf("default backend: %+v", fs)
	}
}

func TestHAProxyTunnelClientFin(t *testing.T) {
	cfg := `defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
listen rdp
	bind :3389
	timeout tunnel 8h
	server r 127.0.0.1:3389
`
	fs := runRule(t, haproxyInput(t, cfg), "KT824")
	if len(fs) != 1 || fs[0].Location.Line != 6 || fs[0].Fix.Line != "timeout client-fin 30s" {
		t.Fatalf("%+v", fs)
	}
	if fs := runRule(t, haproxyInput(t, strings.Replace(cfg, "8h", "8h\n\ttimeout client-fin 30s", 1)), "KT824"); len(fs) != 0 {
		t.Errorf("client-fin set: %+v", fs)
	}
}

func TestHAProxyKeepaliveTimeoutInBackend(t *testing.T) {
	cfg := `defaults
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend web
	mode http
	bind :80
	default_backend app
backend app
	mode http
	timeout http-keep-alive 10s
	server a 127.0.0.1:9
`
	fs := runRule(t, haproxyInput(t, cfg), "KT825")
	if len(fs) != 1 || fs[0].Location.Line != 11 || !strings.Contains(fs[0].Fix.Note, "frontend web") {
		t.Fatalf("%+v", fs)
	}
	// One frontend: the verbs agree with it (was "frontend web run ... and use").
	if !strings.Contains(fs[0].Message, "frontend web runs in HTTP mode and uses their own") {
		t.Errorf("message: %s", fs[0].Message)
	}
	// Behind a TCP-mode frontend the backend's value is the one used.
	tcp := strings.Replace(cfg, "frontend web\n\tmode http\n", "frontend web\n", 1)
	if fs := runRule(t, haproxyInput(t, tcp), "KT825"); len(fs) != 0 {
		t.Errorf("tcp frontend: %+v", fs)
	}
}

func TestHAProxyTCPKAHostTiming(t *testing.T) {
	cfg := `defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe
	bind :80
	option tcpka
	clitcpka-idle 300
	default_backend be
backend be
	server s 127.0.0.1:9
`
	in := haproxyInput(t, cfg)
	in.Profile = model.Profile{Name: "web-frontend", Idle: model.DurationRange{Recommended: 300e9}, Interval: model.DurationRange{Recommended: 30e9}, Probes: model.IntRange{Recommended: 5}}
	fs := runRule(t, in, "KT826")
	// fe: intvl and cnt missing; be inherits nothing (tcpka is in fe only).
	if len(fs) != 1 || fs[0].Location.Line != 8 || fs[0].Fix.Line != "clitcpka-intvl 30s\nclitcpka-cnt 5" {
		t.Fatalf("%+v", fs)
	}
}

func TestHAProxyServerClose(t *testing.T) {
	cfg := `defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe
	bind :80
	option http-server-close
	default_backend be
backend be
	server s 127.0.0.1:9
backend other
	server s 127.0.0.1:9
`
	fs := runRule(t, haproxyInput(t, cfg), "KT827")
	if len(fs) != 1 || fs[0].Subject != "haproxy backend be" || fs[0].Location.Line != 8 || fs[0].Fix.Line != "option http-keep-alive" {
		t.Fatalf("%+v", fs)
	}
}

func TestHAProxyDebianDefaultsAreQuiet(t *testing.T) {
	// Debian's stock haproxy.cfg (global and defaults only) gives no finding at all.
	in := haproxyInput(t, `global
	log /dev/log	local0
	daemon
defaults
	log	global
	mode	http
	option	httplog
	option	dontlognull
        timeout connect 5000
        timeout client  50000
        timeout server  50000
`)
	sel, _ := Select(Selection{})
	if fs := Run(in, sel); len(fs) != 0 {
		t.Errorf("findings on Debian's defaults: %+v", fs)
	}
}

func TestKT828TimeoutWithoutUnit(t *testing.T) {
	conf := "defaults\n\tmode http\n\ttimeout client 30\n\ttimeout server 50000\n\ttimeout connect 5s\nbackend be\n\ttimeout http-keep-alive 10\n\tserver s 127.0.0.1:80\n"
	fs := confLint(t, "haproxy", map[string]string{"h.cfg": conf}, "h.cfg", nil, "KT828")
	confExpect(t, fs,
		"KT828 warning /h.cfg:7 | timeout http-keep-alive 10s",
		"KT828 warning /h.cfg:3 | timeout client 30s",
	)
	if len(fs) == 2 && !strings.Contains(fs[1].Message, "30 ms, not 30 s") {
		t.Errorf("message %q", fs[1].Message)
	}
}
