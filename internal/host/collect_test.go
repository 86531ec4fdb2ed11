package host

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// testRoot is a hand-built host: a 5.15 kernel, nginx (pids 100, 101) in the host namespace,
// node (pid 200) in a docker container's namespace, and sysctl configuration exercising masking,
// replacement by basename, Debian's 99-sysctl.conf link and a garbled line. testdata/README.md
// lists what each sysctl and process is there to show.
const testRoot = "testdata/root"

func collectTestRoot(t *testing.T, all bool) *model.Snapshot {
	t.Helper()
	if !littleEndian {
		t.Skip("testdata/root holds /proc/net/tcp addresses of a little-endian machine")
	}
	s, err := Collect(context.Background(), Options{Root: testRoot, AllNetns: all})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return s
}

func TestCollectTestRoot(t *testing.T) {
	s := collectTestRoot(t, false)

	if s.Host.Hostname != "testhost" || s.Host.Kernel != "5.15.0-91-generic" || s.Host.Root != testRoot {
		t.Errorf("host = %+v", s.Host)
	}
	if time.Since(s.Host.TakenAt) > time.Minute {
		t.Errorf("TakenAt = %v", s.Host.TakenAt)
	}
	wantFiles := []string{
		"/usr/lib/sysctl.d/50-default.conf",
		"/etc/sysctl.d/60-keepalive.conf",
		"/etc/sysctl.d/99-sysctl.conf",
		"/etc/sysctl.conf", // procps sysctl --system applies it again, last
	}
	if !reflect.DeepEqual(s.SysctlFiles, wantFiles) {
		t.Errorf("SysctlFiles = %q, want %q", s.SysctlFiles, wantFiles)
	}
	if len(s.Conflicts) != 1 || s.Conflicts[0].Key != model.KeyKeepaliveTime {
		t.Errorf("conflicts = %+v, want one on %s", s.Conflicts, model.KeyKeepaliveTime)
	}

	if len(s.Namespaces) != 1 {
		t.Fatalf("namespaces = %+v, want only the current one", s.Namespaces)
	}
	ns := s.Namespaces[0]
	if ns.Name != "host" || !ns.Current || ns.Inode != 4026531992 || !reflect.DeepEqual(ns.PIDs, []int{1, 100, 101, 300}) {
		t.Errorf("namespace = %q current=%v inode=%d pids=%v", ns.Name, ns.Current, ns.Inode, ns.PIDs)
	}
	for _, tt := range []struct {
		key, value, def string
		src             model.Source
	}{
		{model.KeyKeepaliveTime, "600", "7200", model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-keepalive.conf", Line: 1}},
		{model.KeyKeepaliveIntvl, "75", "75", model.Source{Kind: model.SourceKernelDefault}},
		{model.KeyKeepaliveProbes, "5", "9", model.Source{Kind: model.SourceRuntime}},
		{model.KeyRetries2, "15", "15", model.Source{Kind: model.SourceKernelDefault, Detail: "/usr/lib/sysctl.d/50-default.conf:2 sets 8 but is not in effect: never applied since boot, or reset"}},
		{model.KeyFinTimeout, "30", "60", model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.conf", Line: 2}},
		{model.KeySomaxconn, "4096", "4096", model.Source{Kind: model.SourceKernelDefault}},
		{model.KeySynRetries, "6", "6", model.Source{Kind: model.SourceKernelDefault}},
		{model.KeyMaxSynBacklog, "1024", "", model.Source{Kind: model.SourceLive}},
		{model.KeyConntrackEstablished, "3600", "432000", model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-keepalive.conf", Line: 2}},
		{model.KeyConntrackCount, "12", "", model.Source{Kind: model.SourceLive}},
	} {
		got, ok := model.Lookup(ns.Sysctls, tt.key)
		if !ok {
			t.Errorf("%s missing", tt.key)
			continue
		}
		if !got.Readable || got.Value != tt.value || got.Default != tt.def || got.Source != tt.src {
			t.Errorf("%s = %q (default %q, readable %v) from %+v; want %q (default %q) from %+v",
				tt.key, got.Value, got.Default, got.Readable, got.Source, tt.value, tt.def, tt.src)
		}
	}
	ka, _ := model.Lookup(ns.Sysctls, model.KeyKeepaliveTime)
	if w := where(ka.Assignments); !reflect.DeepEqual(w, []string{
		"/usr/lib/sysctl.d/50-default.conf:3=7200", "/etc/sysctl.d/60-keepalive.conf:1=600",
	}) {
		t.Errorf("keepalive_time assignments = %q", w)
	}
	if ns.Keepalive.Idle.Value != 600*time.Second || !ns.Keepalive.Idle.Known ||
		ns.Keepalive.Interval.Value != 75*time.Second || ns.Keepalive.Count.Value != 5 || ns.Keepalive.Enabled.Known {
		t.Errorf("keepalive = %+v", ns.Keepalive)
	}
	if d, ok := ns.Keepalive.DetectionTime(); !ok || d != 600*time.Second+5*75*time.Second {
		t.Errorf("detection = %v %v", d, ok)
	}
	ct := ns.Conntrack
	if ct == nil || ct.EstablishedTimeout.Value != time.Hour || ct.Max.Value != 65536 || ct.Count.Value != 12 {
		t.Errorf("conntrack = %+v", ct)
	}

	var global []string
	for _, g := range s.Global {
		global = append(global, g.Key+"="+g.Value+"/"+string(g.Source.Kind))
	}
	wantGlobal := []string{"fs.file-max=9223372036854775807/live", "fs.nr_open=1048576/kernel-default", "net.netfilter.nf_conntrack_max=65536/live"}
	if !reflect.DeepEqual(global, wantGlobal) {
		t.Errorf("global = %q, want %q", global, wantGlobal)
	}

	// Only the host namespace's processes with TCP sockets: not sleep, not the container's node.
	if len(s.Processes) != 2 {
		t.Fatalf("processes = %+v", s.Processes)
	}
	p100, p101 := s.Processes[0], s.Processes[1]
	if p100.PID != 100 || p100.Comm != "nginx" || p100.Exe != "/usr/sbin/nginx" || p100.NetnsInode != 4026531992 || p100.Unit != "nginx.service" {
		t.Errorf("pid 100 = %+v", p100)
	}
	// 1001 (listen :80) and 1002 (listen [::]:443, twice in the fd table); 1003 is not TCP.
	if p100.TCPSockets != 2 || !reflect.DeepEqual(p100.Listening, []string{"0.0.0.0:80", "[::]:443"}) || p100.OpenFiles != 6 {
		t.Errorf("pid 100 sockets = %d %q open %d", p100.TCPSockets, p100.Listening, p100.OpenFiles)
	}
	if p100.NofileSoft != model.KnownSetting(int64(1024), model.Source{Kind: model.SourceLive, Detail: "/proc/100/limits"}) ||
		p100.NofileHard.Value != 524288 {
		t.Errorf("pid 100 nofile = %+v %+v", p100.NofileSoft, p100.NofileHard)
	}
	if p100.Go != nil {
		t.Errorf("nginx recognised as Go: %+v", p100.Go)
	}
	// The shared listener and one established connection (TIME_WAIT has no inode).
	if p101.PID != 101 || p101.TCPSockets != 2 || !reflect.DeepEqual(p101.Listening, []string{"0.0.0.0:80"}) ||
		p101.NofileSoft.Value != -1 || p101.NofileHard.Value != -1 {
		t.Errorf("pid 101 = %+v", p101)
	}

	var problems []string
	for _, p := range s.Problems {
		problems = append(problems, p.What+": "+p.Err)
	}
	joined := strings.Join(problems, "\n")
	for _, want := range []string{
		"/etc/sysctl.d/60-keepalive.conf:3: expected 'key = value'",
		"1 other network namespace in use: " + notAuditedHint(os.Geteuid()),
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
	if len(problems) != 2 {
		t.Errorf("problems:\n%s", joined)
	}
}

func TestCollectTestRootAllNetns(t *testing.T) {
	s := collectTestRoot(t, true)
	var names []string
	for _, n := range s.Namespaces {
		names = append(names, n.Name)
	}
	want := []string{"host", "pid 200 node (docker 0123456789ab)"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("namespaces = %q, want %q", names, want)
	}
	other := s.Namespaces[1]
	if other.Current || other.Inode != 4026532300 || other.Sysctls != nil || other.Conntrack != nil {
		t.Errorf("container namespace = %+v", other)
	}
	var pids []int
	for _, p := range s.Processes {
		pids = append(pids, p.PID)
	}
	if !reflect.DeepEqual(pids, []int{100, 101, 200}) {
		t.Errorf("processes = %v", pids)
	}
	node := s.Processes[2]
	if !reflect.DeepEqual(node.Listening, []string{"0.0.0.0:3000"}) || node.TCPSockets != 1 || node.NetnsInode != 4026532300 {
		t.Errorf("node = %+v", node)
	}
	found := false
	for _, p := range s.Problems {
		if strings.Contains(p.What, "sysctls of 1 other network namespace") &&
			strings.Contains(p.Err, "can only be entered on the live system") {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem about the namespace that could not be entered: %+v", s.Problems)
	}
}

func TestCollectMissingProc(t *testing.T) {
	_, err := Collect(context.Background(), Options{Root: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "proc/sys") {
		t.Fatalf("err = %v, want one naming proc/sys", err)
	}
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Collect(ctx, Options{Root: testRoot}); err == nil {
		t.Fatal("Collect with a canceled context succeeded")
	}
}

// Root is not told to run as root: the flag is what it lacks.
func TestNotAuditedHint(t *testing.T) {
	if h := notAuditedHint(0); strings.Contains(h, "root") || !strings.Contains(h, "--all-netns") {
		t.Errorf("hint for root = %q", h)
	}
	if h := notAuditedHint(1000); !strings.Contains(h, "run as root with --all-netns") {
		t.Errorf("hint for a user = %q", h)
	}
}
