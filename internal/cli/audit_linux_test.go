package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// TestAuditAllNetnsReportsARealNamespace sets values inside a fresh network namespace and
// checks that `keeptune audit --all-netns` reports them with the right sources and findings,
// on the real kernel.
func TestAuditAllNetnsReportsARealNamespace(t *testing.T) {
	testutil.RequireRoot(t, "creates a network namespace and enters it with setns")
	_, name := testutil.PinnedNetns(t, func() error {
		// Inside the new namespace: a tuned idle time, the rest left at kernel defaults, and a
		// tcp_retries2 of 5.
		if err := os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("1500"), 0); err != nil {
			return err
		}
		return os.WriteFile("/proc/sys/net/ipv4/tcp_retries2", []byte("5"), 0)
	})
	_, untouchedName := testutil.PinnedNetns(t, func() error { return nil })

	out, stderr, code := run(t, "audit", "--all-netns", "-o", "json", "--fail-on", "none")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Findings []struct {
			Rule, Namespace, Message string
		} `json:"findings"`
		Facts struct {
			Namespaces []struct {
				Name    string `json:"name"`
				Sysctls []struct {
					Key, Value string
					Source     struct{ Kind string } `json:"source"`
				} `json:"sysctls"`
			} `json:"namespaces"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, ns := range doc.Facts.Namespaces {
		if ns.Name != name {
			continue
		}
		for _, s := range ns.Sysctls {
			values[s.Key] = s.Value + " " + s.Source.Kind
		}
	}
	want := map[string]string{
		"net.ipv4.tcp_keepalive_time":  "1500 runtime",
		"net.ipv4.tcp_keepalive_intvl": "75 kernel-default",
		"net.ipv4.tcp_retries2":        "5 runtime",
	}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("namespace %s: %s = %q, want %q (all: %v)", name, k, values[k], v, values)
		}
	}
	// 1500 + 75*9 = 2175 s is beyond the general profile's 36 min: KT101 for the tuned
	// namespace, KT501 (the cause) for the untouched one, and no KT201 where tcp_retries2 is 5.
	got := map[string]bool{}
	for _, f := range doc.Findings {
		got[f.Rule+" "+f.Namespace] = true
		if f.Rule == "KT101" && f.Namespace == name && !strings.Contains(f.Message, "36m15s") {
			t.Errorf("KT101 message lacks the detection time 36m15s: %s", f.Message)
		}
	}
	for _, w := range []string{"KT101 " + name, "KT501 " + untouchedName} {
		if !got[w] {
			t.Errorf("missing finding %s (got %v)", w, got)
		}
	}
	if got["KT201 "+name] || got["KT501 "+name] || got["KT101 "+untouchedName] {
		t.Errorf("unexpected findings: %v", got)
	}
}
