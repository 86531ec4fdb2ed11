package chainfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keeptune.yaml")
	if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

var upd = Update{Hop: "edge", IdleTimeout: 350 * time.Second, OnExpiry: model.ExpiryReset}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"flow mapping gets keys appended",
			`# our production path
profile: api-gateway

chain:
  - {name: clients, type: client}   # browsers
  - {name: edge, catalog: aws-nlb}  # the NLB

  - {name: app, type: server, runtime: go}
`,
			`# our production path
profile: api-gateway

chain:
  - {name: clients, type: client}   # browsers
  - {name: edge, catalog: aws-nlb, idle_timeout: 350s, on_expiry: rst}  # the NLB

  - {name: app, type: server, runtime: go}
`},
		{"block mapping: values replaced in place, comments kept",
			`chain:
  - name: clients
    type: client
  - name: edge
    type: middlebox
    idle_timeout: 60s      # a guess from the docs
    on_expiry: "silent-drop"
    layer: 4

  - name: app
    type: server
`,
			`chain:
  - name: clients
    type: client
  - name: edge
    type: middlebox
    idle_timeout: 350s      # a guess from the docs
    on_expiry: rst
    layer: 4

  - name: app
    type: server
`},
		{"block mapping: missing keys inserted after the hop",
			`chain:
    -   name: clients
        type: client
    -   name: edge
        catalog: azure-lb
    # the application
    -   name: app
        type: server
`,
			`chain:
    -   name: clients
        type: client
    -   name: edge
        catalog: azure-lb
        idle_timeout: 350s
        on_expiry: rst
    # the application
    -   name: app
        type: server
`},
		{"last hop without a final newline",
			"chain:\n  - {name: c, type: client}\n  - name: edge\n    type: middlebox\n    idle_timeout: 1m",
			"chain:\n  - {name: c, type: client}\n  - name: edge\n    type: middlebox\n    idle_timeout: 350s\n    on_expiry: rst\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.in)
			if err := Check(p, "edge"); err != nil {
				t.Fatalf("Check: %v", err)
			}
			w, err := Apply(p, upd)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if w.Rewritten {
				t.Errorf("re-encoded instead of spliced")
			}
			bak, err := os.ReadFile(p + ".bak")
			if err != nil || string(bak) != tc.in {
				t.Errorf("backup %q, %v: want the original", bak, err)
			}
			st, _ := os.Stat(p)
			if st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want the original's 0640", st.Mode())
			}
			c, err := gather.Chain(context.Background(), p, gather.ChainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range c.Hops {
				if h.Name == "edge" && (h.Middlebox.IdleTimeout.Value != 350*time.Second || h.Middlebox.OnExpiry.Value != model.ExpiryReset) {
					t.Errorf("edge reads %+v", h.Middlebox)
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(p))
			if len(entries) != 2 {
				t.Errorf("the directory holds %d files, want the file and its backup", len(entries))
			}
		})
	}
}

// TestApplyRefusesAndWritesNothing: every error leaves the file and its directory alone.
func TestApplyRefusesAndWritesNothing(t *testing.T) {
	const good = "chain:\n  - {name: clients, type: client}\n  - {name: edge, catalog: aws-nlb}\n  - {name: app, type: server}\n"
	for _, tc := range []struct {
		name, in, hop, want string
	}{
		{"unknown hop", good, "lb", `no hop named "lb" (the hops are clients, edge, app)`},
		{"not a middlebox", good, "app", `hop "app" is a server: a measured idle timeout belongs to a middlebox hop`},
		{"not yaml", "chain: [", "edge", "not valid YAML"},
		{"does not load", "chain:\n  - {name: edge, catalog: aws-nlbb}\n  - {name: app, type: server}\n", "edge", "does not load as it is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.in)
			err := Check(p, tc.hop)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
			u := upd
			u.Hop = tc.hop
			if _, err := Apply(p, u); err == nil {
				t.Errorf("Apply succeeded")
			}
			got, _ := os.ReadFile(p)
			if string(got) != tc.in {
				t.Errorf("the file changed")
			}
			entries, _ := os.ReadDir(filepath.Dir(p))
			if len(entries) != 1 {
				t.Errorf("%d files in the directory after a failed write", len(entries))
			}
		})
	}
}

func TestRoundDown(t *testing.T) {
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	for lo, want := range map[float64]string{7.86: "7800ms", 349.2: "349s", 12.95: "12s", 3: "3s", 0.05: "50ms"} {
		if got := FormatDuration(RoundDown(s(lo))); got != want {
			t.Errorf("RoundDown(%v) = %s, want %s", lo, got, want)
		}
	}
}

// The comment goes on its own line above the hop, and a second run replaces it.
func TestApplyComment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keeptune.yaml")
	in := "chain:\n  - {name: clients, type: client}\n  - {name: edge, catalog: aws-nlb}  # the NLB\n  - {name: app, type: server}\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"first run", "second run"} {
		if _, err := Apply(path, Update{Hop: "edge", IdleTimeout: 7800 * time.Millisecond, Comment: c}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	want := "chain:\n  - {name: clients, type: client}\n  # keeptune probe: second run\n  - {name: edge, catalog: aws-nlb, idle_timeout: 7800ms}  # the NLB\n  - {name: app, type: server}\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRoundest(t *testing.T) {
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{12.95, 13.05, "13s"},
		{2.95, 3.156, "3s"},
		{349.2, 352.7, "350s"},
		{12.197, 13.05, "13s"},
		{3599, 3612, "3600s"},
		{2.9496, 2.9948, "2970ms"},
		{2.9412, 2.9433, "2942ms"},
		{239.1, 241.4, "240s"},
	} {
		if got := FormatDuration(Roundest(s(tc.lo), s(tc.hi))); got != tc.want {
			t.Errorf("Roundest(%v, %v) = %s, want %s", tc.lo, tc.hi, got, tc.want)
		}
	}
}
