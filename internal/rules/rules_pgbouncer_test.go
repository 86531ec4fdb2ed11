package rules

import (
	"testing"
)

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
