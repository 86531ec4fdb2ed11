package plan

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Directive renders how to set a value in a hop's own terms: the directive of its runtime where
// keeptune knows it, otherwise the chain-file key.
func Directive(h *model.Hop, side, key string, d time.Duration) string {
	s := int64(d / time.Second)
	switch h.Runtime + "/" + side + "/" + key {
	case "node/downstream/idle":
		return fmt.Sprintf("server.keepAliveTimeout = %d; server.headersTimeout = %d (Node.js)", d.Milliseconds(), d.Milliseconds()+1000)
	case "nginx/downstream/idle":
		return fmt.Sprintf("keepalive_timeout %ds; (nginx, http or server block)", s)
	case "nginx/upstream/idle":
		return fmt.Sprintf("keepalive_timeout %ds; (nginx, upstream block)", s)
	case "nginx/downstream/keepalive":
		return fmt.Sprintf("listen ... so_keepalive=%ds::; (nginx)", s)
	case "haproxy/downstream/idle":
		return fmt.Sprintf("timeout http-keep-alive %ds (HAProxy)", s)
	case "haproxy/upstream/keepalive":
		return fmt.Sprintf("option srvtcpka + srvtcpka-idle %ds (HAProxy backend)", s)
	case "haproxy/downstream/keepalive":
		return fmt.Sprintf("option clitcpka + clitcpka-idle %ds (HAProxy frontend)", s)
	case "apache/downstream/idle":
		return fmt.Sprintf("KeepAliveTimeout %d (Apache httpd)", s)
	case "gunicorn/downstream/idle":
		return fmt.Sprintf("--keep-alive %d (Gunicorn)", s)
	case "go/downstream/idle":
		return fmt.Sprintf("http.Server{IdleTimeout: %d * time.Second} (Go)", s)
	case "go/upstream/idle":
		return fmt.Sprintf("http.Transport{IdleConnTimeout: %d * time.Second} (Go)", s)
	case "go/upstream/keepalive", "go/downstream/keepalive", "grpc-go/upstream/keepalive", "grpc-go/downstream/keepalive":
		return fmt.Sprintf("net.KeepAliveConfig{Enable: true, Idle: %d * time.Second, Interval: 15 * time.Second, Count: 5} on the Dialer/ListenConfig (Go)", s)
	case "envoy/downstream/idle", "envoy/upstream/idle":
		return fmt.Sprintf("common_http_protocol_options: {idle_timeout: %ds} (Envoy)", s)
	case "envoy/downstream/keepalive":
		return fmt.Sprintf("listener socket_options: SO_KEEPALIVE 1, TCP_KEEPIDLE %d (Envoy)", s)
	case "envoy/upstream/keepalive":
		return fmt.Sprintf("upstream_connection_options: {tcp_keepalive: {keepalive_time: %d}} (Envoy cluster)", s)
	case "okhttp/upstream/idle":
		return fmt.Sprintf("ConnectionPool(5, %d, TimeUnit.SECONDS) (OkHttp)", s)
	case "pgbouncer/upstream/keepalive", "pgbouncer/downstream/keepalive":
		return fmt.Sprintf("tcp_keepidle = %d (pgbouncer.ini)", s)
	case "postgres/downstream/keepalive":
		return fmt.Sprintf("tcp_keepalives_idle = %d (postgresql.conf)", s)
	case "redis/downstream/keepalive":
		return fmt.Sprintf("tcp-keepalive %d (redis.conf)", s)
	}
	if key == "keepalive-on" {
		switch h.Runtime + "/" + side {
		case "nginx/downstream":
			return "listen ... so_keepalive=on; (nginx: keepalive with the host's timers)"
		case "haproxy/downstream":
			return "option clitcpka (HAProxy frontend: keepalive with the host's timers)"
		case "haproxy/upstream":
			return "option srvtcpka (HAProxy backend: keepalive with the host's timers)"
		case "pgbouncer/downstream", "pgbouncer/upstream":
			return "tcp_keepalive = 1 (pgbouncer.ini: keepalive with the host's timers)"
		}
		return fmt.Sprintf("turn SO_KEEPALIVE on for %s %s sockets, with the host's timers (chain file: %s: {tcp_keepalive: on})", textfmt.Possessive(h.Name), side, side)
	}
	if key == "keepalive" {
		return fmt.Sprintf("TCP keepalive with idle %ds on %s %s sockets (chain file: %s: {tcp_keepalive: {idle: %ds}})", s, textfmt.Possessive(h.Name), side, side, s)
	}
	return fmt.Sprintf("%s idle timeout %ds on %s %s side (chain file: %s: {idle_timeout: %ds})", map[string]string{"upstream": "pool", "downstream": "keep-alive"}[side], s, textfmt.Possessive(h.Name), side, side, s)
}
