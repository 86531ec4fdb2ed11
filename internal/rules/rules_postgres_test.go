package rules

import (
	"strings"
	"testing"
)

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
