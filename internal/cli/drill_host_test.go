package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

// drill --from-host, --compare host and the goal's tcp_retries2 read the host's sysctls through
// the gather stage, under the injected root.
func TestDrillFromHostReadsSysctls(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{Sysctls: map[string]string{
		"net.ipv4.tcp_keepalive_time":   "600",
		"net.ipv4.tcp_keepalive_intvl":  "30",
		"net.ipv4.tcp_keepalive_probes": "4",
		"net.ipv4.tcp_retries2":         "8",
	}})
	cmd := newDrillCmd(IO{})
	if err := cmd.Flags().Set("compare", "host"); err != nil {
		t.Fatal(err)
	}
	s, cmp, err := drillSettings(cmd, DrillOptions{FromHost: true, Compare: "host", hostRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []struct {
		name        string
		idle, intvl time.Duration
		count       int
		viaSysctl   bool
	}{{"settings", s.Idle, s.Interval, s.Count, s.ViaSysctl}, {"compare", cmp.Idle, cmp.Interval, cmp.Count, cmp.ViaSysctl}} {
		if got.idle != 600*time.Second || got.intvl != 30*time.Second || got.count != 4 || !got.viaSysctl {
			t.Errorf("%s = %+v, want 600s/30s/4 applied as sysctls", got.name, got)
		}
	}
	if r := hostRetries2(root); r != 8 {
		t.Errorf("hostRetries2 = %d, want 8", r)
	}
	if r := hostRetries2(t.TempDir()); r != 0 {
		t.Errorf("hostRetries2 of an empty root = %d, want 0 (unknown)", r)
	}
}

func TestDrillFromHostUnreadable(t *testing.T) {
	missing := testutil.FakeRoot(t, testutil.Host{Sysctls: map[string]string{"net.ipv4.tcp_keepalive_intvl": ""}})
	garbage := testutil.FakeRoot(t, testutil.Host{Sysctls: map[string]string{"net.ipv4.tcp_keepalive_intvl": "soon"}})
	for _, c := range []struct{ root, want string }{
		{missing, "--from-host: read net.ipv4.tcp_keepalive_intvl: not present on this kernel"},
		{garbage, `--from-host: read net.ipv4.tcp_keepalive_intvl: "soon" is not a number`},
	} {
		_, _, err := drillSettings(newDrillCmd(IO{}), DrillOptions{FromHost: true, hostRoot: c.root})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.root, err, c.want)
		}
		if code := exitCode(err, &strings.Builder{}); code != ExitRuntime {
			t.Errorf("%s: exit %d, want %d", c.root, code, ExitRuntime)
		}
	}
}

// unreadSysctl finds the Problem of a key by its Sysctl field: a problem worded for people that
// happens to mention the key (here the intvl problem names tcp_keepalive_time) is not it, and
// one whose wording does not spell the key is.
func TestUnreadSysctlMatchesByKey(t *testing.T) {
	probs := []model.Problem{
		{What: "sysctl " + model.KeyKeepaliveIntvl + " (read after " + model.KeyKeepaliveTime + " failed)",
			Err: "input/output error", Sysctl: model.KeyKeepaliveIntvl},
		{What: "the keepalive idle time", Err: "permission denied", Sysctl: model.KeyKeepaliveTime},
	}
	var ns model.Namespace
	for key, want := range map[string]string{
		model.KeyKeepaliveTime:   "read net.ipv4.tcp_keepalive_time: permission denied",
		model.KeyKeepaliveIntvl:  "read net.ipv4.tcp_keepalive_intvl: input/output error",
		model.KeyKeepaliveProbes: "read net.ipv4.tcp_keepalive_probes: not readable",
	} {
		if err := unreadSysctl(ns, probs, key); err == nil || err.Error() != want {
			t.Errorf("unreadSysctl(%s) = %v, want %q", key, err, want)
		}
	}
}
