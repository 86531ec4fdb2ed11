package host

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

func TestCurrentNamespace(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{Sysctls: map[string]string{
		"net.ipv4.tcp_keepalive_intvl":  "30",
		"net.ipv4.tcp_keepalive_probes": "4",
		"net.ipv4.tcp_retries2":         "",
	}})
	ns, probs := CurrentNamespace(root)
	k := ns.Keepalive
	if k.Idle.Value != 7200*time.Second || k.Interval.Value != 30*time.Second || k.Count.Value != 4 {
		t.Errorf("keepalive = %+v", k)
	}
	if k.Idle.Source.Kind != model.SourceKernelDefault || k.Interval.Source.Kind == model.SourceKernelDefault {
		t.Errorf("sources: idle %v (want kernel default), intvl %v (want not the default)", k.Idle.Source, k.Interval.Source)
	}
	if !ns.Current || ns.Conntrack != nil {
		t.Errorf("current %v, conntrack %+v (nf_conntrack is not loaded in this tree)", ns.Current, ns.Conntrack)
	}
	// tcp_retries2 and the rest are missing from this tree: one Problem each, none for the
	// keys that were read.
	var retries2 bool
	for _, p := range probs {
		if p.What == "sysctl "+model.KeyKeepaliveTime+" ("+filepath.Join(root, "proc/sys/net/ipv4/tcp_keepalive_time")+")" {
			t.Errorf("problem for a key that was read: %+v", p)
		}
		if p.What == "sysctl "+model.KeyRetries2+" ("+filepath.Join(root, "proc/sys/net/ipv4/tcp_retries2")+")" {
			retries2 = true
			// drill --from-host finds the problem of a key by this field, not by the wording.
			if p.Sysctl != model.KeyRetries2 {
				t.Errorf("problem for tcp_retries2 has Sysctl %q, want %q", p.Sysctl, model.KeyRetries2)
			}
		}
	}
	if !retries2 {
		t.Errorf("no problem for the missing tcp_retries2: %+v", probs)
	}
}
