package rules

import (
	"testing"
)

func TestKT875KT876Envoy(t *testing.T) {
	fs := confLint(t, "envoy", map[string]string{"envoy.yaml": envoyConf}, "envoy.yaml", nil, "KT875", "KT876")
	confExpect(t, fs,
		"KT876 warning /envoy.yaml:8 | idle_timeout: 3600s",
		"KT876 warning /envoy.yaml:9 | stream_idle_timeout: 300s",
		"KT875 info /envoy.yaml:13 | upstream_connection_options: /   tcp_keepalive: /     keepalive_time: 600 /     keepalive_interval: 30 /     keepalive_probes: 5",
		"KT875 info /envoy.yaml:17 | upstream_connection_options: /   tcp_keepalive: /     keepalive_time: 600 /     keepalive_interval: 30 /     keepalive_probes: 5",
	)
}
