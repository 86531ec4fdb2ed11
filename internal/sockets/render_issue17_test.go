package sockets

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

// TestDeepPartialRead: a value whose getsockopt failed is unknown ("?" in the table, null in
// JSON) while the others are shown; one failure no longer hides four good values.
func TestDeepPartialRead(t *testing.T) {
	s := &Socket{State: StateListen, Keepalive: Keepalive{Deep: true, Effective: keepalive.Effective{Enabled: true, Idle: 600 * time.Second, Interval: 30 * time.Second,
		Count: 5}, Unread: SetUserTimeout, Err: "getsockopt TCP_USER_TIMEOUT on pid 1 fd 3: operation not supported"}}
	row := string(AppendTableRow(nil, s, false))
	if !strings.Contains(row, "600/30/5") || !strings.Contains(row, "uto=?") {
		t.Errorf("row: %s", row)
	}
	js := string(AppendJSON(nil, s))
	if !strings.Contains(js, `"idle_s":600,"intvl_s":30,"count":5,"user_timeout_ms":null`) || !strings.Contains(js, `"error":"getsockopt TCP_USER_TIMEOUT`) {
		t.Errorf("json: %s", js)
	}
	if k := s.KeepaliveSettings(); !k.Idle.Known || k.UserTimeout.Known {
		t.Errorf("model: %+v", k)
	}
}
