package rules

import (
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

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
