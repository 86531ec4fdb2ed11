package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/canary"
	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/testutil"
)

// resetFlows makes the lab's middlebox answer every TCP packet but SYNs with a reset: the
// client's connections die right after their handshake (`tcp flags & syn == 0 reject with tcp
// reset` in the forward path). The table goes with the lab's namespace.
func resetFlows(l *lab.Lab) error {
	return l.Middlebox.Do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		accept := nftables.ChainPolicyAccept
		tb := c.AddTable(&nftables.Table{Name: "keeptune_canary_test", Family: nftables.TableFamilyINet})
		ch := c.AddChain(&nftables.Chain{Name: "forward", Table: tb, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST},
		}})
		return c.Flush()
	})
}

// traffic opens a short request/response connection from the lab's client every gap until
// ctx ends.
func traffic(ctx context.Context, t *testing.T, l *lab.Lab, gap time.Duration) (wait func()) {
	ln, err := l.Listen(ctx, l.Server, &net.ListenConfig{}, netip.AddrPortFrom(l.ServerAddr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(l.ServerAddr(), uint16(ln.Addr().(*net.TCPAddr).Port))
	return testutil.PingPong(ctx, ln, func(ctx context.Context) (net.Conn, error) {
		return l.Client.Dial(ctx, &net.Dialer{}, addr)
	}, gap, nil)
}

// TestCanaryOnLab applies a keepalive change to the lab's client namespace with a canary while
// the client opens connections through the middlebox, and checks the verdict: a middlebox that
// starts resetting flows right after the change is a regression and the change is rolled back;
// the same change with the same traffic and a quiet middlebox is no regression; three
// connections per window are inconclusive.
func TestCanaryOnLab(t *testing.T) {
	testutil.RequireRoot(t, "network namespace lab")
	for _, c := range []struct {
		name       string
		gap        time.Duration
		breakAfter bool
		want       string
		exit       int
	}{
		{"middlebox resets after the change", 10 * time.Millisecond, true, canary.VerdictRegression, ExitFindings},
		{"harmless change", 10 * time.Millisecond, false, canary.VerdictNoRegression, ExitOK},
		{"too little traffic", 700 * time.Millisecond, false, canary.VerdictInconclusive, ExitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l, err := lab.New(ctx, lab.Spec{Topology: lab.Routed})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			nsPath := filepath.Join("/run/netns", l.Client.Name)
			before := liveValue(t, nsPath, "net.ipv4.tcp_keepalive_time")
			scope := plan.Scope{Kind: plan.ScopeNetns, Name: l.Client.Name, Netns: &plan.NetnsRef{Inode: nsInode(t, nsPath), Name: l.Client.Name, Path: nsPath}}
			p := plan.Plan{Changes: []plan.Change{{Scope: scope, Key: "net.ipv4.tcp_keepalive_time", From: plan.Value{Value: before, Known: true}, To: "600"}}}
			b, _ := json.Marshal(p)
			dir := t.TempDir()
			planFile := filepath.Join(dir, "plan.json")
			if err := os.WriteFile(planFile, b, 0o600); err != nil {
				t.Fatal(err)
			}
			wait := traffic(ctx, t, l, c.gap)
			if c.breakAfter {
				// The middlebox breaks the moment the change lands.
				go func() {
					for ctx.Err() == nil {
						if v, err := readLive(nsPath, "net.ipv4.tcp_keepalive_time"); err == nil && v == "600" {
							if err := resetFlows(l); err != nil {
								t.Error(err)
							}
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
			}
			out, stderr, code := run(t, "apply", "--yes", "--canary", "2s", "--state-dir", filepath.Join(dir, "state"), "-o", "json", planFile)
			cancel()
			wait()
			if code != c.exit {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.exit, out, stderr)
			}
			var res struct {
				ID     string         `json:"id"`
				Canary canary.Verdict `json:"canary"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			v := res.Canary
			t.Logf("verdict %s (%v), opens %d -> %d", v.Verdict, v.Reasons, v.Namespaces[0].OpensBefore, v.Namespaces[0].OpensAfter)
			if v.Verdict != c.want {
				t.Errorf("verdict %s, want %s:\n%s", v.Verdict, c.want, out)
			}
			now := liveValue(t, nsPath, "net.ipv4.tcp_keepalive_time")
			switch {
			case c.want == canary.VerdictRegression && (v.Action != "rolled_back" || now != before):
				t.Errorf("a regression was not rolled back: action %s, value %s (was %s)", v.Action, now, before)
			case c.want != canary.VerdictRegression && (v.Action != "kept" || now != "600"):
				t.Errorf("the change was not kept: action %s, value %s", v.Action, now)
			}
			if _, err := os.Stat(filepath.Join(dir, "state", "journal", res.ID, "canary-before.json")); err != nil {
				t.Errorf("the window before the change is not in the journal: %v", err)
			}
		})
	}
}

func readLive(ns, key string) (string, error) {
	return liveReader(ns, key)
}
