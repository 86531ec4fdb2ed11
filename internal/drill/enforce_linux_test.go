package drill

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/enforce"
	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/keepalive"
)

// --enforce: the server is a program that never sets keepalive, in a cgroup under keeptune
// enforce; it detects the dead peer in theory time, with the policy's values (the drill reads
// them back from its socket before the fault and fails if they are not the policy's).
func TestDeadPeerEnforced(t *testing.T) {
	requireRoot(t)
	// The kernel must really lack BPF for a skip: probe with a sandbox, as the drill does.
	sb, err := enforce.NewSandbox("keeptune-drill-probe")
	if err != nil {
		var me *enforce.MissingError
		if errors.As(err, &me) && !me.Privilege {
			t.Skipf("this system lacks what enforce needs: %v", err)
		}
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"keepalive", Options{Settings: short, Enforce: true}},
		// TCP_USER_TIMEOUT through enforce too: killed at the first firing >= 2.5s: 3s.
		{"user-timeout", Options{Settings: Settings{Label: "uto", Config: keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 9, UserTimeout: 2500 * time.Millisecond}}, Enforce: true, Family: lab.IPv6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := execute(t, "dead-peer", tc.o)
			requirePass(t, rep, 2)
			server := rep.Runs[1]
			if !strings.Contains(server.Case, "keeptune enforce") || server.Outcome != "ETIMEDOUT" {
				t.Errorf("server run: %+v", server)
			}
		})
	}
	if _, err := Execute(t.Context(), "unacked-data", Options{Settings: short, Enforce: true}); err == nil || !strings.Contains(err.Error(), "dead-peer only") {
		t.Errorf("--enforce on unacked-data: %v", err)
	}
}
