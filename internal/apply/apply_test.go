package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// fileSysctls keeps live values in a JSON file, so that they survive a killed process in the
// failpoint tests as the kernel's would.
type fileSysctls struct{ path string }

func (f fileSysctls) load() map[string]string {
	m := map[string]string{}
	if b, err := os.ReadFile(f.path); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func (f fileSysctls) Read(ns Netns, key string) (string, error) {
	v, ok := f.load()[ns.Path+"|"+key]
	if !ok {
		return "", fmt.Errorf("no %s in %q", key, ns.Path)
	}
	return v, nil
}

func (f fileSysctls) Write(ns Netns, key, value string) error {
	m := f.load()
	m[ns.Path+"|"+key] = value
	b, _ := json.Marshal(m)
	return writeAtomic(f.path, b, 0o600, os.Getuid(), os.Getgid(), 0)
}

// fixture is a fake root with sysctl files that disagree, Debian's 99-sysctl.conf link, and
// live values in two namespaces.
type fixture struct {
	root, state string
	sys         Sysctls
	// real fixtures live in a sandbox's /etc and namespaces (TestKillAtEveryStepReal).
	real bool
}

// liveKeys are the values the fixture's plan touches, read for snapshots.
var liveKeys = []string{"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}

// appNetns is the second namespace of the fixture's plan.
const appNetns = "/run/netns/app"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := fastTempDir(t)
	f := &fixture{root: filepath.Join(dir, "root"), state: filepath.Join(dir, "state"), sys: fileSysctls{filepath.Join(dir, "sysctls.json")}}
	f.populate(t)
	return f
}

// populate writes the fixture's files below f.root and its live values.
func (f *fixture) populate(t *testing.T) {
	t.Helper()
	files := map[string]string{
		"etc/sysctl.conf":                "# /etc/sysctl.conf\nnet.ipv4.tcp_keepalive_time = 3600\nvm.swappiness = 10\n",
		"etc/sysctl.d/10-platform.conf":  "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\n",
		"etc/sysctl.d/50-legacy.conf":    "net.ipv4.tcp_keepalive_time=1800\n",
		"etc/nginx/nginx.conf":           "events {}\n",
		"etc/sysctl.d/README.sysctl":     "not a conf\n",
		"etc/sysctl.d/60-unrelated.conf": "kernel.pid_max = 4194304\n",
	}
	for p, c := range files {
		full := filepath.Join(f.root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(f.root, "etc/sysctl.d/50-legacy.conf"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../sysctl.conf", filepath.Join(f.root, "etc/sysctl.d/99-sysctl.conf")); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"", appNetns} {
		for k, v := range map[string]string{"net.ipv4.tcp_keepalive_time": "3600", "net.ipv4.tcp_keepalive_intvl": "75", "net.ipv4.tcp_keepalive_probes": "9"} {
			if err := f.sys.Write(Netns{Path: ns}, k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *fixture) options() Options { return Options{Root: f.root, Sysctls: f.sys} }

// request is the plan a planner would make for the fixture.
func (f *fixture) request() *Request {
	return &Request{
		Plan:   []byte(`{"changes":[]}`),
		Source: "test",
		Files:  []FileWrite{{Path: "/etc/sysctl.d/99-zz-keeptune.conf", Content: []byte("net.ipv4.tcp_keepalive_time = 300\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.ipv4.tcp_keepalive_probes = 5\n")}},
		Removes: []Remove{
			{File: "/etc/sysctl.d/99-sysctl.conf", Line: 2, Text: "net.ipv4.tcp_keepalive_time = 3600"},
			{File: "/etc/sysctl.d/50-legacy.conf", Line: 1, Text: "net.ipv4.tcp_keepalive_time=1800"},
		},
		Sysctls: []SysctlSet{
			{Scope: "host", Key: "net.ipv4.tcp_keepalive_time", From: "3600", To: "300"},
			{Scope: "host", Key: "net.ipv4.tcp_keepalive_intvl", From: "75", To: "30"},
			{Scope: "netns app", Netns: Netns{Path: appNetns}, Key: "net.ipv4.tcp_keepalive_time", From: "3600", To: "300"},
			{Scope: "netns app", Netns: Netns{Path: appNetns}, Key: "net.ipv4.tcp_keepalive_probes", From: "9", To: "5"},
		},
	}
}

// snapshot describes every file, link and live value: sha256, mode, owner, mtime.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	var lines []string
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %d:%d", strings.TrimPrefix(p, f.root), st.Mode(), sys.Uid, sys.Gid)
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case st.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %s mtime=%d", sum(b), st.ModTime().UnixNano())
		}
		lines = append(lines, line)
		return nil
	}
	for _, top := range []string{"etc/sysctl.d", "etc/sysctl.conf", "etc/nginx"} {
		if _, err := os.Lstat(filepath.Join(f.root, top)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := filepath.WalkDir(filepath.Join(f.root, top), walk); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"", appNetns} {
		for _, k := range liveKeys {
			v, err := f.sys.Read(Netns{Path: ns}, k)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, "sysctl "+ns+"|"+k+"="+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (f *fixture) journal(t *testing.T) *Journal {
	t.Helper()
	j, err := OpenJournal(f.state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyThenRollbackRestoresEverything(t *testing.T) {
	f := newFixture(t)
	before := f.snapshot(t)
	j := f.journal(t)
	res, err := Apply(j, f.request(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	if res.ID == "" || res.NothingToDo {
		t.Fatalf("apply did nothing: %+v", res)
	}
	if got := read(t, filepath.Join(f.root, "etc/sysctl.conf")); got != "# /etc/sysctl.conf\nvm.swappiness = 10\n" {
		t.Errorf("sysctl.conf after apply:\n%s", got)
	}
	if l, err := os.Readlink(filepath.Join(f.root, "etc/sysctl.d/99-sysctl.conf")); err != nil || l != "../sysctl.conf" {
		t.Errorf("the 99-sysctl.conf link was replaced: %q %v", l, err)
	}
	if st, _ := os.Stat(filepath.Join(f.root, "etc/sysctl.d/50-legacy.conf")); st.Mode().Perm() != 0o640 {
		t.Errorf("50-legacy.conf mode %v, want 0640 kept", st.Mode())
	}
	if v, _ := f.sys.Read(Netns{Path: appNetns}, "net.ipv4.tcp_keepalive_probes"); v != "5" {
		t.Errorf("probes in app = %s, want 5", v)
	}
	if read(t, filepath.Join(f.root, "etc/sysctl.d/99-zz-keeptune.conf")) != string(f.request().Files[0].Content) {
		t.Error("sysctl.d file not written as planned")
	}
	e, err := j.Load(res.ID)
	if err != nil || e.State != StateApplied || len(e.Files) != 3 || len(e.Sysctls) != 4 {
		t.Fatalf("journal entry %+v, %v", e, err)
	}
	if plan, _ := j.Blob(res.ID, "plan.json"); string(plan) != `{"changes":[]}` {
		t.Errorf("plan.json = %q", plan)
	}
	if after := f.snapshot(t); after == before {
		t.Fatal("apply changed nothing")
	}

	// A second apply has nothing to do.
	again, err := Apply(j, f.request(), f.options())
	if err != nil || !again.NothingToDo || again.ID != "" {
		t.Fatalf("second apply: %+v, %v", again, err)
	}

	rb, err := Rollback(j, "", f.options())
	if err != nil {
		t.Fatal(err)
	}
	if rb.ID != res.ID {
		t.Errorf("rolled back %s, want %s", rb.ID, res.ID)
	}
	if got := f.snapshot(t); got != before {
		t.Errorf("rollback did not restore everything:\nbefore:\n%s\nafter:\n%s", before, got)
	}
	if _, err := Rollback(j, "", f.options()); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("second rollback: %v, want ErrNothingToRollBack", err)
	}
	if _, err := Rollback(j, res.ID, f.options()); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("rollback of a rolled-back apply: %v", err)
	}
}

func TestDriftedPlanChangesNothing(t *testing.T) {
	for name, drift := range map[string]func(*fixture){
		"live value": func(f *fixture) { _ = f.sys.Write(Netns{Path: appNetns}, "net.ipv4.tcp_keepalive_time", "900") },
		"removed line edited": func(f *fixture) {
			_ = os.WriteFile(filepath.Join(f.root, "etc/sysctl.d/50-legacy.conf"), []byte("net.ipv4.tcp_keepalive_time=1700\nnet.ipv4.tcp_keepalive_time=1800\n"), 0o640)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			drift(f)
			before := f.snapshot(t)
			j := f.journal(t)
			_, err := Apply(j, f.request(), f.options())
			var de *DriftError
			if !errors.As(err, &de) || len(de.Drifts) != 1 {
				t.Fatalf("want one drift, got %v", err)
			}
			if got := f.snapshot(t); got != before {
				t.Errorf("a drifted apply changed the host:\n%s\n---\n%s", before, got)
			}
			if entries, _ := j.List(); len(entries) != 0 {
				t.Errorf("a drifted apply left %d journal entries", len(entries))
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	before := f.snapshot(t)
	o := f.options()
	o.DryRun = true
	res, err := Apply(f.journal(t), f.request(), o)
	if err != nil {
		t.Fatal(err)
	}
	var would int
	for _, s := range res.Steps {
		if s.Status == "would" {
			would++
		}
	}
	if would != 7 { // one file, two removes, four sysctls
		t.Errorf("dry run lists %d steps it would take, want 7: %+v", would, res.Steps)
	}
	if f.snapshot(t) != before {
		t.Error("dry run changed the host")
	}
}

func TestRollbackRefusesEditedFile(t *testing.T) {
	f := newFixture(t)
	j := f.journal(t)
	res, err := Apply(j, f.request(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(f.root, "etc/sysctl.d/99-zz-keeptune.conf")
	if err := os.WriteFile(edited, []byte("net.ipv4.tcp_keepalive_time = 120\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := f.snapshot(t)
	_, err = Rollback(j, res.ID, f.options())
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "99-zz-keeptune.conf was edited") {
		t.Fatalf("want a conflict naming the file, got %v", err)
	}
	if f.snapshot(t) != before {
		t.Error("a refused rollback changed the host")
	}
	o := f.options()
	o.Force = true
	if _, err := Rollback(j, res.ID, o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(edited); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("forced rollback left %s (%v)", edited, err)
	}
}

func TestRefusesFilesOutsideSysctl(t *testing.T) {
	f := newFixture(t)
	j := f.journal(t)
	for _, req := range []*Request{
		{Files: []FileWrite{{Path: "/etc/nginx/nginx.conf", Content: []byte("x")}}},
		{Files: []FileWrite{{Path: "/etc/sysctl.d/../nginx/nginx.conf", Content: []byte("x")}}},
		{Removes: []Remove{{File: "/etc/nginx/nginx.conf", Line: 1, Text: "events {}"}}},
	} {
		if _, err := Apply(j, req, f.options()); err == nil {
			t.Errorf("apply of %+v: no error", req)
		}
	}
}

// fastTempDir is a temporary directory on tmpfs (/dev/shm) when there is one: apply fsyncs every
// step, which costs milliseconds each on a disk and nothing on tmpfs, and the failpoint tests
// take hundreds of steps. A kill -9 does not lose the page cache, so tmpfs tests the same thing.
func fastTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "keeptune-apply-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
