package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
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
	out, stderr, code := run(t, "probe", "idle-timeout", addr.String(), "--check-keepalive-refresh", "--write-chain", file, "--hop", "edge", "-q")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"idle timeout", "3.0", "RST", "keepalive probes alone keep the flow: yes", `wrote idle_timeout: 3s, on_expiry: rst, refreshed_by: any-segment into hop "edge"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got, _ := os.ReadFile(file)
	want := strings.Replace(orig, "idle_timeout: 350s}", "idle_timeout: 3s, on_expiry: rst, refreshed_by: any-segment}", 1)
	if string(got) != want {
		t.Errorf("chain file:\n%s\nwant:\n%s", got, want)
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
	if mb := lint.Chains[0].Hops[1].Middlebox; mb == nil || mb.IdleTimeout.Value != 3 || mb.IdleTimeout.Source.Line != 6 {
		t.Errorf("lint reads edge as %+v, want idle timeout 3 s from line 6", mb)
	}
}
