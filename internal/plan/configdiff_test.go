package plan

import (
	"strings"
	"testing"
)

func TestConfigLineEdits(t *testing.T) {
	cases := []struct {
		edit, line, key, to, want string
	}{
		{"nginx/" + KeyIdleTimeout, "    keepalive_timeout 75s;", KeyIdleTimeout, "310s", "    keepalive_timeout 310s;"},
		{"nginx/" + KeyIdleTimeout, "\tkeepalive_timeout 75 60;  # header", KeyIdleTimeout, "65s", "\tkeepalive_timeout 65s 60;  # header"},
		{"nginx/" + KeyKeepaliveIdle, "    listen 80;", KeyKeepaliveIdle, "80s", "    listen 80 so_keepalive=80s::;"},
		{"nginx/" + KeyKeepaliveIdle, "    listen 80 so_keepalive=on reuseport;", KeyKeepaliveIdle, "80s", "    listen 80 reuseport so_keepalive=80s::;"},
		{"nginx/" + KeyKeepalive, "listen [::]:443 ssl;", KeyKeepalive, "on", "listen [::]:443 ssl so_keepalive=on;"},
		{"haproxy/" + KeyIdleTimeout, "    timeout http-keep-alive 75s", KeyIdleTimeout, "310s", "    timeout http-keep-alive 310s"},
		{"apache/" + KeyIdleTimeout, "KeepAliveTimeout 5", KeyIdleTimeout, "65s", "KeepAliveTimeout 65"},
		{"apache/" + KeyIdleTimeout, "keepalivetimeout 5 # old", KeyIdleTimeout, "1500ms", "keepalivetimeout 1500ms # old"},
	}
	for _, c := range cases {
		got, ok := configEdits[c.edit](c.line, Change{Key: c.key, To: c.to})
		if !ok || got != c.want {
			t.Errorf("%s on %q: %q %v, want %q", c.edit, c.line, got, ok, c.want)
		}
	}
	if _, ok := configEdits["nginx/"+KeyIdleTimeout]("    keepalive_requests 100;", Change{Key: KeyIdleTimeout, To: "65s"}); ok {
		t.Error("edited a line that is not the directive (the file changed since it was read)")
	}
}

func TestUnifiedDiffHunks(t *testing.T) {
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, "l"+itoa(i))
	}
	lines = append(lines, "")
	got := unifiedDiff("/f", lines, map[int]string{2: "L2", 5: "L5", 18: "L18"})
	want := "--- /f\n+++ /f\n@@ -1,8 +1,8 @@\n l1\n-l2\n+L2\n l3\n l4\n-l5\n+L5\n l6\n l7\n l8\n@@ -15,6 +15,6 @@\n l15\n l16\n l17\n-l18\n+L18\n l19\n l20\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "--- /f\n") {
		t.Error("no header")
	}
}
