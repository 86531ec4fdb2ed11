package plan

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Directive renders how to set a value in a hop's own terms: the directive of its runtime where
// keeptune knows it, otherwise the chain-file key. text is what to paste, exactly (a fix's Line,
// a step's Text); where says where it goes and anything that cannot be pasted (a step's Note):
// "keepalive_timeout 65s; (nginx, upstream block)" in one string broke the line it was pasted in.
func Directive(h *model.Hop, side, key string, d time.Duration) (text, where string) {
	s := int64(d / time.Second)
	switch h.Runtime + "/" + side + "/" + key {
	case "node/downstream/idle":
		return fmt.Sprintf("server.keepAliveTimeout = %d; server.headersTimeout = %d", d.Milliseconds(), d.Milliseconds()+1000), "Node.js: on the http.Server"
	case "nginx/downstream/idle":
		return fmt.Sprintf("keepalive_timeout %ds;", s), "nginx: in the http or server block"
	case "nginx/upstream/idle":
		return fmt.Sprintf("keepalive_timeout %ds;", s), "nginx: in the upstream block"
	case "nginx/downstream/keepalive":
		return fmt.Sprintf("so_keepalive=%ds::", s), "nginx: a parameter of each listen directive"
	case "haproxy/downstream/idle":
		return fmt.Sprintf("timeout http-keep-alive %ds", s), "HAProxy: in the frontend or defaults section"
	case "haproxy/upstream/keepalive":
		return fmt.Sprintf("option srvtcpka\nsrvtcpka-idle %ds", s), "HAProxy: in the backend or defaults section"
	case "haproxy/downstream/keepalive":
		return fmt.Sprintf("option clitcpka\nclitcpka-idle %ds", s), "HAProxy: in the frontend or defaults section"
	case "apache/downstream/idle":
		return fmt.Sprintf("KeepAliveTimeout %d", s), "Apache httpd: in the server config or virtual host"
	case "gunicorn/downstream/idle":
		return fmt.Sprintf("--keep-alive %d", s), "Gunicorn: a command-line option (keepalive = " + fmt.Sprint(s) + " in gunicorn.conf.py)"
	case "go/downstream/idle":
		return fmt.Sprintf("http.Server{IdleTimeout: %d * time.Second}", s), "Go: the server's IdleTimeout field"
	case "go/upstream/idle":
		return fmt.Sprintf("http.Transport{IdleConnTimeout: %d * time.Second}", s), "Go: the client's Transport"
	case "go/upstream/keepalive", "go/downstream/keepalive", "grpc-go/upstream/keepalive", "grpc-go/downstream/keepalive":
		return fmt.Sprintf("net.KeepAliveConfig{Enable: true, Idle: %d * time.Second, Interval: 15 * time.Second, Count: 5}", s), "Go: on the Dialer or ListenConfig"
	case "envoy/downstream/idle":
		return fmt.Sprintf("common_http_protocol_options: {idle_timeout: %ds}", s), "Envoy: in the listener's HTTP connection manager"
	case "envoy/upstream/idle":
		// The cluster-level common_http_protocol_options is deprecated; the typed extension
		// options replace it and need a protocol choice (envoyproxy.io, HTTP Protocol Options:
		// extensions.upstreams.http.v3.HttpProtocolOptions).
		return fmt.Sprintf(`typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, common_http_protocol_options: {idle_timeout: %ds}, explicit_http_config: {http_protocol_options: {}}}}`, s),
			"Envoy: on the cluster; keep its own protocol choice (explicit_http_config with http_protocol_options is HTTP/1.1) and merge into the cluster's typed_extension_protocol_options where it has them (they replace the deprecated cluster-level common_http_protocol_options)"
	case "envoy/downstream/keepalive":
		return fmt.Sprintf("socket_options: [{level: 1, name: 9, int_value: 1, state: STATE_LISTENING}, {level: 6, name: 4, int_value: %d, state: STATE_LISTENING}]", s), "Envoy: on the listener; SO_KEEPALIVE 1 and TCP_KEEPIDLE, which accepted sockets inherit"
	case "envoy/upstream/keepalive":
		return fmt.Sprintf("upstream_connection_options: {tcp_keepalive: {keepalive_time: %d}}", s), "Envoy: on the cluster"
	case "okhttp/upstream/idle":
		return fmt.Sprintf("ConnectionPool(5, %d, TimeUnit.SECONDS)", s), "OkHttp: OkHttpClient.Builder().connectionPool(...)"
	case "pgbouncer/upstream/keepalive", "pgbouncer/downstream/keepalive":
		return fmt.Sprintf("tcp_keepidle = %d", s), "pgbouncer.ini: in the [pgbouncer] section"
	case "postgres/downstream/keepalive":
		return fmt.Sprintf("tcp_keepalives_idle = %d", s), "postgresql.conf"
	case "redis/downstream/keepalive":
		return fmt.Sprintf("tcp-keepalive %d", s), "redis.conf"
	}
	if key == "keepalive-on" {
		switch h.Runtime + "/" + side {
		case "nginx/downstream":
			return "so_keepalive=on", "nginx: a parameter of each listen directive; keepalive with the host's timers"
		case "haproxy/downstream":
			return "option clitcpka", "HAProxy: in the frontend or defaults section; keepalive with the host's timers"
		case "haproxy/upstream":
			return "option srvtcpka", "HAProxy: in the backend or defaults section; keepalive with the host's timers"
		case "pgbouncer/downstream", "pgbouncer/upstream":
			return "tcp_keepalive = 1", "pgbouncer.ini: in the [pgbouncer] section; keepalive with the host's timers"
		}
		return fmt.Sprintf("%s: {tcp_keepalive: on}", side), fmt.Sprintf("chain file, hop %s; and turn SO_KEEPALIVE on for %s %s sockets, with the host's timers", h.Name, textfmt.Possessive(h.Name), side)
	}
	if key == "keepalive" {
		return fmt.Sprintf("%s: {tcp_keepalive: {idle: %ds}}", side, s), fmt.Sprintf("chain file, hop %s; and TCP keepalive with idle %ds on %s %s sockets", h.Name, s, textfmt.Possessive(h.Name), side)
	}
	return fmt.Sprintf("%s: {idle_timeout: %ds}", side, s), fmt.Sprintf("chain file, hop %s; and the %s idle timeout of %s %s side", h.Name, map[string]string{"upstream": "pool", "downstream": "keep-alive"}[side], textfmt.Possessive(h.Name), side)
}
