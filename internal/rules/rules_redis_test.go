package rules

import (
	"testing"
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
