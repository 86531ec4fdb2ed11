package exporter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/testutil"
)

func writeEntry(t *testing.T, stateDir string, e apply.Entry) {
	t.Helper()
	dir := filepath.Join(stateDir, "journal", e.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "entry.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Drift against the newest applied journal entry: a sysctl that still has apply's value, one
// that was changed since, a file as apply wrote it and one edited since. A newer rolled-back
// entry is not the plan in force.
func TestDriftFromJournal(t *testing.T) {
	testutil.RequireRoot(t, "creates a network namespace with its own sysctls")
	path, _ := testutil.PinnedNetns(t, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("600"), 0o644)
	})
	ino, err := netns.Inode(path)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if st, errs := readDrift(state, "/", 1); st.journal || len(errs) != 0 {
		t.Fatalf("no journal directory: %+v %v, want nothing", st, errs)
	}
	if err := os.MkdirAll(filepath.Join(state, "journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if st, _ := readDrift(state, "/", 1); !st.journal || st.applied {
		t.Fatalf("empty journal: %+v, want a journal without an applied plan", st)
	}

	files := t.TempDir()
	kept, edited := filepath.Join(files, "kept.conf"), filepath.Join(files, "edited.conf")
	for _, p := range []string{kept, edited} {
		if err := os.WriteFile(p, []byte("net.ipv4.tcp_keepalive_time = 600\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte("net.ipv4.tcp_keepalive_time = 600\n"))
	ns := apply.Netns{Path: path, Inode: ino}
	writeEntry(t, state, apply.Entry{ID: "20261205T060000Z-aaaa", State: apply.StateApplied,
		Sysctls: []apply.SysctlRecord{
			{Scope: "netns test", Netns: ns, Key: "net.ipv4.tcp_keepalive_time", Before: "7200", After: "600"},
			{Scope: "netns test", Netns: ns, Key: "net.ipv4.tcp_keepalive_intvl", Before: "75", After: "30"},
		},
		Files: []apply.FileRecord{
			{Path: kept, AfterSHA256: hex.EncodeToString(sum[:])},
			{Path: edited, AfterSHA256: hex.EncodeToString(sum[:])},
		}})
	writeEntry(t, state, apply.Entry{ID: "20261205T070000Z-bbbb", State: apply.StateRolledBack,
		Sysctls: []apply.SysctlRecord{{Netns: ns, Key: "net.ipv4.tcp_fin_timeout", After: "10"}}})
	if err := os.WriteFile(edited, []byte("net.ipv4.tcp_keepalive_time = 900\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	st, errs := readDrift(state, "/", 1)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := map[string]bool{}
	for _, r := range st.rows {
		got[r.netns+" "+r.key] = r.drifted
	}
	n := strconv.FormatUint(ino, 10)
	want := map[string]bool{
		n + " net.ipv4.tcp_keepalive_time":  false,
		n + " net.ipv4.tcp_keepalive_intvl": true, // apply set 30, the namespace has 75
		" " + kept:                          false,
		" " + edited:                        true,
	}
	if !st.applied || len(got) != len(want) {
		t.Fatalf("drift %+v, want %v", st, want)
	}
	for k, v := range want {
		if d, ok := got[k]; !ok || d != v {
			t.Errorf("%s: drifted %v (found %v), want %v", k, d, ok, v)
		}
	}

	// Through a scrape: the rows become keeptune_plan_drift, and keeptune_plan_applied is 1.
	e, err := New(Options{JournalDir: state, AuditInterval: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, e)
	mfs := scrape(t, srv.URL+"/metrics")
	if v, ok := value(mfs, "keeptune_plan_applied", nil); !ok || v != 1 {
		t.Errorf("keeptune_plan_applied = %v (%v), want 1", v, ok)
	}
	if v, ok := value(mfs, "keeptune_plan_drift", map[string]string{"netns": n, "key": "net.ipv4.tcp_keepalive_intvl"}); !ok || v != 1 {
		t.Errorf("drift of tcp_keepalive_intvl = %v (%v), want 1", v, ok)
	}
	if v, ok := value(mfs, "keeptune_plan_drift", map[string]string{"key": kept}); !ok || v != 0 {
		t.Errorf("drift of %s = %v (%v), want 0", kept, v, ok)
	}
}
