package rules

import (
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

func TestKT860RedisKeepaliveOff(t *testing.T) {
	confExpect(t, confLint(t, "redis", map[string]string{"redis.conf": "port 6379\ntcp-keepalive 0\n"}, "redis.conf", nil, "KT860", "KT861"),
		"KT860 warning /redis.conf:2 | tcp-keepalive 300")
	confExpect(t, confLint(t, "redis", map[string]string{"redis.conf": "tcp-keepalive 60\ntimeout 600\n"}, "redis.conf", nil, "KT860", "KT861"))
}

func TestKT861RedisTimeoutZero(t *testing.T) {
	fs := confLint(t, "redis", map[string]string{"redis.conf": "timeout 0\n"}, "redis.conf", nil, "KT861")
	confExpect(t, fs, "KT861 info /redis.conf:1 | timeout 300")
	// The default (no timeout line) points at the file.
	confExpect(t, confLint(t, "redis", map[string]string{"redis.conf": "port 1\n"}, "redis.conf", nil, "KT861"), "KT861 info /redis.conf | timeout 300")
}

func TestKT865PostgresKeepaliveOS(t *testing.T) {
	fs := confLint(t, "postgres", map[string]string{"postgresql.conf": "max_connections = 10\ntcp_keepalives_idle = 0\n"}, "postgresql.conf", nil, "KT865")
	confExpect(t, fs, "KT865 warning /postgresql.conf:2 | tcp_keepalives_idle = 600 / tcp_keepalives_interval = 30 / tcp_keepalives_count = 5")
	if !strings.Contains(fs[0].Message, "2h11m15s") {
		t.Errorf("message %s", fs[0].Message)
	}
	confExpect(t, confLint(t, "postgres", map[string]string{"postgresql.conf": "tcp_keepalives_idle = 300\n"}, "postgresql.conf", nil, "KT865"))
}

func TestKT866PostgresUserTimeout(t *testing.T) {
	confExpect(t, confLint(t, "postgres", map[string]string{"postgresql.conf": "port = 5432\n"}, "postgresql.conf", nil, "KT866"),
		"KT866 info /postgresql.conf | tcp_user_timeout = '5min'")
	confExpect(t, confLint(t, "postgres", map[string]string{"postgresql.conf": "tcp_user_timeout = 30000\n"}, "postgresql.conf", nil, "KT866"))
}

func TestKT870to872PgBouncer(t *testing.T) {
	ini := "[databases]\n* = host=db\n[pgbouncer]\nlisten_port = 6432\n"
	confExpect(t, confLint(t, "pgbouncer", map[string]string{"p.ini": ini}, "p.ini", nil, "KT870", "KT871", "KT872"),
		"KT870 warning /p.ini:3 | tcp_user_timeout = 300000",
		"KT872 info /p.ini:3 | tcp_keepidle = 600 / tcp_keepintvl = 30 / tcp_keepcnt = 5")
	confExpect(t, confLint(t, "pgbouncer", map[string]string{"p.ini": ini + "tcp_keepalive = 0\ntcp_user_timeout = 10000\n"}, "p.ini", nil, "KT870", "KT871", "KT872"),
		"KT871 warning /p.ini:5 | tcp_keepalive = 1 / tcp_keepidle = 600 / tcp_keepintvl = 30 / tcp_keepcnt = 5")
	confExpect(t, confLint(t, "pgbouncer", map[string]string{"p.ini": ini + "tcp_keepidle = 60\ntcp_user_timeout = 10000\n"}, "p.ini", nil, "KT870", "KT871", "KT872"))
}

const envoyConf = `static_resources:
  listeners:
    - name: in
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                common_http_protocol_options: {idle_timeout: 0s}
                stream_idle_timeout: 0s
                route_config:
                  virtual_hosts: [{name: a, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]
  clusters:
    - name: app
      connect_timeout: 1s
    - name: half
      upstream_connection_options:
        tcp_keepalive: {keepalive_probes: 3}
    - name: good
      upstream_connection_options:
        tcp_keepalive: {keepalive_time: 300}
`

func TestKT875KT876Envoy(t *testing.T) {
	fs := confLint(t, "envoy", map[string]string{"envoy.yaml": envoyConf}, "envoy.yaml", nil, "KT875", "KT876")
	confExpect(t, fs,
		"KT876 warning /envoy.yaml:8 | idle_timeout: 3600s",
		"KT876 warning /envoy.yaml:9 | stream_idle_timeout: 300s",
		"KT875 info /envoy.yaml:13 | upstream_connection_options: /   tcp_keepalive: /     keepalive_time: 600 /     keepalive_interval: 30 /     keepalive_probes: 5",
		"KT875 info /envoy.yaml:17 | upstream_connection_options: /   tcp_keepalive: /     keepalive_time: 600 /     keepalive_interval: 30 /     keepalive_probes: 5",
	)
}

func TestKT880Gunicorn(t *testing.T) {
	confExpect(t, confLint(t, "gunicorn", map[string]string{"gunicorn.conf.py": "workers = 4\nkeepalive = 75\n"}, "gunicorn.conf.py", nil, "KT880"),
		"KT880 warning /gunicorn.conf.py:2 | worker_class = \"gthread\" / threads = 4")
	confExpect(t, confLint(t, "gunicorn", map[string]string{"Procfile": "web: gunicorn --keep-alive 75 app:app\n"}, "Procfile", nil, "KT880"),
		"KT880 warning /Procfile:1 | --worker-class gthread --threads 4")
	// gthread (directly or through threads > 1) honours keepalive; without keepalive nothing to say.
	for _, conf := range []string{"keepalive = 75\nthreads = 2\n", "keepalive = 75\nworker_class = 'gevent'\n", "workers = 2\n"} {
		confExpect(t, confLint(t, "gunicorn", map[string]string{"gunicorn.conf.py": conf}, "gunicorn.conf.py", nil, "KT880"))
	}
}

const k8sManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: partial}
spec:
  securityContext:
    sysctls:
      - {name: net.ipv4.tcp_keepalive_time, value: "600"}
  containers: [{name: p, image: p}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  securityContext:
    sysctls:
      - {name: net.ipv4.tcp_keepalive_time, value: "600"}
  containers: [{name: h, image: h}]
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  securityContext:
    sysctls:
      - {name: net.ipv4.tcp_keepalive_time, value: "600"}
      - {name: net.ipv4.tcp_keepalive_intvl, value: "30"}
      - {name: net.ipv4.tcp_keepalive_probes, value: "5"}
  containers: [{name: d, image: d}]
`

func TestKT885KT886Kubernetes(t *testing.T) {
	fs := confLint(t, "kubernetes", map[string]string{"m.yaml": k8sManifest}, "m.yaml", nil, "KT885", "KT886")
	confExpect(t, fs,
		"KT886 error /m.yaml:22 | hostNetwork: false",
		`KT885 info /m.yaml:6 | securityContext: /   sysctls: /     - {name: net.ipv4.tcp_keepalive_time, value: "600"} /     - {name: net.ipv4.tcp_keepalive_intvl, value: "30"} /     - {name: net.ipv4.tcp_keepalive_probes, value: "5"}`,
		// The entries join the existing sysctls list: no parent key, no indentation of their own
		// (it was "sysctls:" with entries four spaces in, which does not fit the list).
		`KT885 info /m.yaml:15 | - {name: net.ipv4.tcp_keepalive_intvl, value: "30"} / - {name: net.ipv4.tcp_keepalive_probes, value: "5"}`,
	)
	if !strings.Contains(fs[2].Fix.Note, "In securityContext.sysctls (its first entry is at line 15), at the indentation of its entries") {
		t.Errorf("note: %s", fs[2].Fix.Note)
	}
	if !strings.Contains(fs[1].Message, "2h11m15s") || !strings.Contains(fs[2].Message, "found after 21m15s") {
		t.Errorf("messages: %s / %s", fs[1].Message, fs[2].Message)
	}
	// A pod that sets tcp_keepalive_time to 7200 explicitly is judged against the profile like
	// a host with those values (KT101: error), and the fix sets all three.
	slow := strings.Replace(k8sManifest, `{name: net.ipv4.tcp_keepalive_time, value: "600"}
  containers: [{name: p, image: p}]`, `{name: net.ipv4.tcp_keepalive_time, value: "7200"}
  containers: [{name: p, image: p}]`, 1)
	fs = confLint(t, "kubernetes", map[string]string{"m.yaml": slow}, "m.yaml", nil, "KT885")
	var partial *model.Finding
	for i := range fs {
		if strings.Contains(fs[i].Subject, "partial") {
			partial = &fs[i]
		}
	}
	if partial == nil || partial.Severity != model.SeverityError || !strings.Contains(partial.Message, "finds a dead peer after 2h11m15s") ||
		strings.Count(partial.Fix.Line, "- {name:") != 3 || !strings.Contains(partial.Fix.Note, "replace the entries for net.ipv4.tcp_keepalive_time") {
		t.Fatalf("explicit 7200: %+v", partial)
	}

}
