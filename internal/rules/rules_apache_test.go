package rules

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/configs/apache"
	"github.com/keeptune/keeptune/internal/model"
)

// apacheInput parses httpd configuration files; the first is the main one.
func apacheInput(t *testing.T, files ...string) *Input {
	t.Helper()
	fsys := fstest.MapFS{}
	names := []string{"etc/apache2/apache2.conf", "etc/apache2/sites-enabled/site.conf"}
	for i, f := range files {
		fsys[names[i]] = &fstest.MapFile{Data: []byte(f)}
	}
	c, err := apache.Parse(fsys, names[0])
	if err != nil {
		t.Fatal(err)
	}
	return &Input{Configs: []*configs.Config{c.Configs()}, Profile: model.Profile{Name: "general"}}
}

const apacheMain = "/etc/apache2/apache2.conf"

func TestApacheKeepAliveBelowBalancer(t *testing.T) {
	// Debian's values: KeepAliveTimeout 5 in the server config, inherited by two virtual hosts:
	// one finding, at the directive, replacing it.
	fs := runRule(t, apacheInput(t, "KeepAlive On\nKeepAliveTimeout 5\nIncludeOptional sites-enabled/*.conf\n",
		"<VirtualHost *:80>\n</VirtualHost>\n<VirtualHost *:8080>\n\tKeepAliveTimeout 75\n</VirtualHost>\n<VirtualHost *:81>\n</VirtualHost>\n"), "KT840")
	if len(fs) != 1 || fs[0].Location.File != apacheMain || fs[0].Location.Line != 2 || fs[0].Fix.FileLine != 2 || fs[0].Fix.Line != "KeepAliveTimeout 65" {
		t.Fatalf("%+v", fs)
	}
	// Nothing says a balancer is in front: a note, not a warning (issue 17: KT840 fired on
	// every stock Apache).
	if !strings.Contains(fs[0].Message, "if a pooling balancer is ever put in front (AWS ALB keeps idle connections 60 s) it gives 502s") ||
		fs[0].Subject != "apache VirtualHost *:80 and 1 more" || fs[0].Severity != model.SeverityInfo {
		t.Errorf("message %q subject %q severity %v", fs[0].Message, fs[0].Subject, fs[0].Severity)
	}
	// mod_remoteip trusting X-Forwarded-For is a balancer in front: a warning that says why.
	fs = runRule(t, apacheInput(t, "KeepAlive On\nKeepAliveTimeout 5\nRemoteIPHeader X-Forwarded-For\n"), "KT840")
	if len(fs) != 1 || fs[0].Severity != model.SeverityWarning || !strings.Contains(fs[0].Message, "RemoteIPHeader X-Forwarded-For at /etc/apache2/apache2.conf:3 says a proxy or balancer is in front") {
		t.Errorf("behind a balancer: %+v", fs)
	}
	// A chain file that describes other servers says nothing about this one: still a note. A
	// chain hop whose config: is this file puts it in the chain: a warning naming the hop.
	in := apacheInput(t, "KeepAlive On\nKeepAliveTimeout 5\n")
	in.Chain = &model.Chain{Hops: []model.Hop{{Name: "alb"}, {Name: "web", Config: "/srv/nginx.conf"}}}
	if fs := runRule(t, in, "KT840"); len(fs) != 1 || fs[0].Severity != model.SeverityInfo {
		t.Errorf("chain without this file: %+v", fs)
	}
	in.Configs[0].Hop = "apache"
	if fs := runRule(t, in, "KT840"); len(fs) != 1 || fs[0].Severity != model.SeverityWarning || !strings.Contains(fs[0].Message, "The chain file's hop apache serves this file.") {
		t.Errorf("file named by a chain hop: %+v", fs)
	}
	// The default (no directive): pointed at the virtual host, with a note where to add it; the
	// prefork cost is named.
	fs = runRule(t, apacheInput(t, "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\nIncludeOptional sites-enabled/*.conf\n", "<VirtualHost *:80>\n</VirtualHost>\n"), "KT840")
	if len(fs) != 1 || fs[0].Location.File != "/etc/apache2/sites-enabled/site.conf" || fs[0].Location.Line != 1 || fs[0].Fix.FileLine != 0 ||
		!strings.Contains(fs[0].Fix.Note, "Add it inside <VirtualHost *:80>") || !strings.Contains(fs[0].Message, "mpm_prefork") ||
		fs[0].Evidence[0].Source.Kind != model.SourceRuntimeDefault {
		t.Fatalf("%+v", fs)
	}
	// Above the balancer, or keep-alive off: quiet.
	for _, conf := range []string{"KeepAliveTimeout 65\n", "KeepAlive Off\n", "KeepAliveTimeout 61s\n"} {
		if fs := runRule(t, apacheInput(t, conf), "KT840"); len(fs) != 0 {
			t.Errorf("%q: %+v", conf, fs)
		}
	}
}

func TestApacheKeepAliveOffAndMaxRequests(t *testing.T) {
	in := apacheInput(t, "KeepAlive Off\nMaxKeepAliveRequests 10\nIncludeOptional sites-enabled/*.conf\n",
		"<VirtualHost *:80>\n\tKeepAlive On\n</VirtualHost>\n<VirtualHost *:81>\n</VirtualHost>\n")
	off := runRule(t, in, "KT841")
	if len(off) != 1 || off[0].Subject != "apache VirtualHost *:81" || off[0].Location.Line != 1 || off[0].Fix.Line != "KeepAlive On" || off[0].Fix.FileLine != 1 {
		t.Fatalf("KT841 %+v", off)
	}
	low := runRule(t, in, "KT842")
	// Only the virtual host that keeps connections alive is concerned.
	if len(low) != 1 || low[0].Subject != "apache VirtualHost *:80" || low[0].Location.Line != 2 || low[0].Fix.Line != "MaxKeepAliveRequests 1000" {
		t.Fatalf("KT842 %+v", low)
	}
	for _, conf := range []string{"MaxKeepAliveRequests 0\n", "MaxKeepAliveRequests 100\n", ""} {
		if fs := runRule(t, apacheInput(t, conf), "KT842"); len(fs) != 0 {
			t.Errorf("%q: %+v", conf, fs)
		}
	}
}

func TestApacheProxyPoolWithoutTTL(t *testing.T) {
	in := apacheInput(t, `LoadModule mpm_event_module mod_mpm_event.so
ProxyPass /a http://app:8080/ timeout=30
ProxyPass /b http://app:8081/ ttl=4
ProxyPass /c http://app:8082/ disablereuse=On
ProxyPass /d fcgi://php:9000/
ProxyPass /e balancer://pool/
ProxyPass /f !
<Proxy balancer://pool>
	BalancerMember "http://m1:80" route=one
</Proxy>
`)
	fs := runRule(t, in, "KT843")
	if got := findingLines(fs); !sameInts(got, []int{9, 2}) {
		t.Fatalf("lines %v: %+v", got, fs)
	}
	if fs[1].Fix.Line != "ProxyPass /a http://app:8080/ timeout=30 ttl=4" || fs[1].Fix.FileLine != 2 {
		t.Errorf("fix %+v", fs[1].Fix)
	}
	if fs[0].Fix.Line != "BalancerMember http://m1:80 route=one ttl=4" {
		t.Errorf("member fix %q", fs[0].Fix.Line)
	}
	// Under prefork ttl does nothing: the fix disables reuse instead.
	fs = runRule(t, apacheInput(t, "LoadModule mpm_prefork_module mod_mpm_prefork.so\nProxyPass /a http://app:8080/\n"), "KT843")
	if len(fs) != 1 || fs[0].Fix.Line != "ProxyPass /a http://app:8080/ disablereuse=On" {
		t.Fatalf("prefork %+v", fs)
	}
}

func TestApacheTTLIgnoredPrefork(t *testing.T) {
	fs := runRule(t, apacheInput(t, "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\nProxyPass /a http://app:8080/ ttl=4\n"), "KT844")
	if len(fs) != 1 || fs[0].Location.Line != 2 || fs[0].Fix.FileLine != 1 ||
		fs[0].Fix.Line != "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so" || !strings.Contains(fs[0].Fix.Apply, "a2enmod mpm_event") {
		t.Fatalf("%+v", fs)
	}
	if fs := runRule(t, apacheInput(t, "LoadModule mpm_event_module m.so\nProxyPass /a http://app:8080/ ttl=4\n"), "KT844"); len(fs) != 0 {
		t.Errorf("event: %+v", fs)
	}
}

func TestApacheUnitSuffix(t *testing.T) {
	fs := runRule(t, apacheInput(t, "Timeout 500ms\nProxyTimeout 60s\nProxyPass /a http://app/ ttl=2m timeout=10\nKeepAliveTimeout 500ms\n"), "KT845")
	if got := findingLines(fs); !sameInts(got, []int{3, 1}) {
		t.Fatalf("lines %v: %+v", got, fs)
	}
	if fs[0].Fix.Line != "ProxyPass /a http://app/ ttl=120 timeout=10" || fs[1].Fix.Line != "Timeout 1" || !strings.Contains(fs[1].Message, "read as 500 seconds") {
		t.Errorf("fixes %q / %q, message %q", fs[0].Fix.Line, fs[1].Fix.Line, fs[1].Message)
	}
}

func TestApacheProxyKeepaliveHostTiming(t *testing.T) {
	fs := runRule(t, apacheInput(t, "ProxyPass /a http://app/ keepalive=On\nProxyPass /b http://app2/ keepalive=Off\n"), "KT846")
	if len(fs) != 1 || fs[0].Location.Line != 1 || fs[0].Fix.Line != "net.ipv4.tcp_keepalive_time = 600" {
		t.Fatalf("%+v", fs)
	}
}
