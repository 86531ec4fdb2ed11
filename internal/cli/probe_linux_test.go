package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/probe"
)

// TestProbeWriteChain measures a lab NAT through the CLI and writes the result into a chain
// file.
func TestProbeWriteChain(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lab creates network namespaces, veths and nftables tables (CI runs as root)")
	}
	ctx := context.Background()
	l, err := lab.New(ctx, lab.Spec{Topology: lab.Routed, NAT: &lab.NAT{IdleTimeout: 3 * time.Second, OnExpiry: lab.ExpiryReset}})
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(l.ServerAddr(), 4242)
	ln, err := l.Server.Listen(ctx, probe.ListenConfig(), addr)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	r, _ := probe.NewResponder(probe.ResponderConfig{})
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.Serve(sctx, ln) }()
	defer func() {
		cancel()
		wg.Wait()
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		if left, _ := lab.Remaining(l.ID); len(left) > 0 {
			t.Errorf("lab left %v", left)
		}
	}()
	old := probeDial
	probeDial = func(ctx context.Context, d *net.Dialer, a netip.AddrPort) (*net.TCPConn, error) {
		return l.Client.Dial(ctx, d, a)
	}
	defer func() { probeDial = old }()

	file := filepath.Join(t.TempDir(), "keeptune.yaml")
	orig := "profile: api-gateway\nchain:\n  - {name: clients, type: client}\n\n  # the cloud NAT in front of us\n  - {name: edge, type: middlebox, idle_timeout: 350s}\n  - {name: app, type: server, runtime: go}\n"
	os.WriteFile(file, []byte(orig), 0o644)
	html := filepath.Join(t.TempDir(), "probe.html")
	out, stderr, code := run(t, "probe", "idle-timeout", addr.String(), "--check-keepalive-refresh", "--write-chain", file, "--hop", "edge", "-q", "--html", html)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if page, err := os.ReadFile(html); err != nil || !strings.Contains(string(page), "the bracket narrowing over the run") || strings.Count(string(page), "<circle") < 10 {
		t.Errorf("--html wrote no bracket chart with the run's tests (%v)", err)
	}
	for _, want := range []string{"idle timeout", "3.0", "RST", "keepalive probes alone keep the flow: yes", "wrote idle_timeout: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The value written is the lower end of the bracket rounded down (to 100 ms below 10 s):
	// never above the NAT's 3 s, and within the precision (1 s) below it.
	m := regexp.MustCompile(`wrote idle_timeout: (\d+)ms, on_expiry: rst, refreshed_by: any-segment into hop "edge"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output does not say what it wrote:\n%s", out)
	}
	ms, _ := strconv.Atoi(m[1])
	written := time.Duration(ms) * time.Millisecond
	if written > 3*time.Second || written < 2*time.Second || written%(100*time.Millisecond) != 0 {
		t.Errorf("wrote idle_timeout %v: want the bracket's lower end rounded down to 100 ms, in [2s, 3s]", written)
	}
	got, _ := os.ReadFile(file)
	want := strings.Replace(orig, "idle_timeout: 350s}", "idle_timeout: "+m[1]+"ms, on_expiry: rst, refreshed_by: any-segment}", 1)
	commentRe := regexp.MustCompile(`(?m)^  # keeptune probe: idle_timeout ` + m[1] + `ms is the lower end of the bracket [0-9.]+s-[0-9.]+s rounded down, measured \d{4}-\d\d-\d\d \d\d:\d\d UTC by ` + "`keeptune probe idle-timeout " + regexp.QuoteMeta(addr.String()) + "`" + ` \(\d+ connections, precision 1s\)\n`)
	if loc := commentRe.FindIndex(got); loc == nil || string(got[:loc[0]])+string(got[loc[1]:]) != want {
		t.Errorf("chain file:\n%s\nwant, with the comment line above edge:\n%s", got, want)
	}
	if bak, _ := os.ReadFile(file + ".bak"); string(bak) != orig {
		t.Errorf("backup:\n%s", bak)
	}
	// lint (and audit) now use the measured value.
	out, _, _ = run(t, "lint", file, "-o", "json")
	var lint struct {
		Chains []struct {
			Hops []struct {
				Name      string
				Middlebox *struct {
					IdleTimeout struct {
						Value  float64
						Source struct{ Line int }
					} `json:"idle_timeout_s"`
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &lint); err != nil || len(lint.Chains) != 1 || len(lint.Chains[0].Hops) != 3 {
		t.Fatalf("lint JSON: %v\n%s", err, out)
	}
	if mb := lint.Chains[0].Hops[1].Middlebox; mb == nil || mb.IdleTimeout.Value != written.Seconds() || mb.IdleTimeout.Source.Line != 7 {
		t.Errorf("lint reads edge as %+v, want idle timeout %v from line 7", mb, written)
	}
}
