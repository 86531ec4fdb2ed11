package host

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

func TestGoKeepalive(t *testing.T) {
	probes := model.KnownSetting(5, model.Source{Kind: model.SourceSysctlFile, File: "/etc/sysctl.d/60-ka.conf", Line: 3})
	for _, tt := range []struct {
		version          string
		enabled, known   bool
		idle, interval   time.Duration
		count            int
		countKind        model.SourceKind
		countKnown       bool
		countDetailMatch string
	}{
		{"go1.26.8", true, true, 15 * time.Second, 15 * time.Second, 9, model.SourceRuntimeDefault, true, "net.KeepAliveConfig"},
		{"go1.23rc1", true, true, 15 * time.Second, 15 * time.Second, 9, model.SourceRuntimeDefault, true, ""},
		{"devel go1.24-abcdef Mon Jan 1", true, true, 15 * time.Second, 15 * time.Second, 9, model.SourceRuntimeDefault, true, ""},
		{"go1.22.3", true, true, 15 * time.Second, 15 * time.Second, 5, model.SourceSysctlFile, true, "leaves TCP_KEEPCNT to the kernel"},
		{"go1.13", true, true, 15 * time.Second, 15 * time.Second, 5, model.SourceSysctlFile, true, ""},
		{"go1.12.17", true, true, 15 * time.Second, 15 * time.Second, 5, model.SourceSysctlFile, true, ""},
		{"go1.11.13", false, true, 0, 0, 0, "", false, ""},
		{"gccgo", false, false, 0, 0, 0, "", false, ""},
	} {
		k := goKeepalive(tt.version, probes)
		if k.Enabled.Known != tt.known || k.Enabled.Value != tt.enabled {
			t.Errorf("%s: enabled = %+v", tt.version, k.Enabled)
		}
		if k.Idle.Value != tt.idle || k.Interval.Value != tt.interval || k.Count.Value != tt.count ||
			k.Count.Known != tt.countKnown || k.Count.Source.Kind != tt.countKind {
			t.Errorf("%s: idle %v interval %v count %+v", tt.version, k.Idle.Value, k.Interval.Value, k.Count)
		}
		if !strings.Contains(k.Count.Source.Detail, tt.countDetailMatch) {
			t.Errorf("%s: count detail %q lacks %q", tt.version, k.Count.Source.Detail, tt.countDetailMatch)
		}
		if tt.known && (!k.UserTimeout.Known || k.UserTimeout.Value != 0) {
			t.Errorf("%s: user timeout = %+v", tt.version, k.UserTimeout)
		}
	}
	if c := goKeepalive("go1.22.3", probes).Count; c.Source.File != "/etc/sysctl.d/60-ka.conf" || c.Source.Line != 3 {
		t.Errorf("go1.22 count lost the sysctl's file: %+v", c.Source)
	}
}

// TestProcessFactsGoDetection points fake processes' exe links at this test binary (a Go
// program) and at /bin/sh (not one).
func TestProcessFactsGoDetection(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const sh = "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("no /bin/sh to stand for a program that is not Go")
	}
	h := newFakeHost(t, "6.1.0")
	const ns = 4026531992
	for _, p := range []struct {
		pid int
		exe string
	}{{40, self}, {41, self}, {50, sh}} {
		h.proc(p.pid, "p", ns)
		h.link("proc/"+itoa(p.pid)+"/exe", p.exe)
		h.write("proc/"+itoa(p.pid)+"/limits", "Max open files            1024                 4096                 files     \n")
	}
	procs := []*procInfo{
		{PID: 40, Comm: "gotest", NetnsInode: ns, tcp: 1},
		{PID: 41, Comm: "gotest", NetnsInode: ns, tcp: 1},
		{PID: 50, Comm: "sh", NetnsInode: ns, tcp: 1},
		{PID: 60, Comm: "idle", NetnsInode: ns}, // no TCP socket: not reported
	}
	probes := func(uint64) model.Setting[int] {
		return model.KnownSetting(9, model.Source{Kind: model.SourceKernelDefault})
	}
	out, probs, err := processFacts(context.Background(), h.root, procs, probes)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 0 {
		t.Errorf("problems: %+v", probs)
	}
	if len(out) != 3 {
		t.Fatalf("processes = %+v", out)
	}
	for _, p := range out[:2] {
		if p.Exe != self || p.Go == nil {
			t.Fatalf("pid %d: exe %q go %+v, want this Go test binary", p.PID, p.Exe, p.Go)
		}
		if p.Go.Version != runtime.Version() {
			t.Errorf("pid %d: version %q, want %q", p.PID, p.Go.Version, runtime.Version())
		}
		if !strings.HasPrefix(p.Go.Path, "github.com/keeptune/keeptune") {
			t.Errorf("pid %d: path %q", p.PID, p.Go.Path)
		}
		if k := p.Go.Keepalive; k.Idle.Value != 15*time.Second || k.Count.Value != 9 || k.Idle.Source.Kind != model.SourceRuntimeDefault {
			t.Errorf("pid %d: keepalive %+v", p.PID, k)
		}
		if p.NofileSoft.Value != 1024 || p.NofileHard.Value != 4096 {
			t.Errorf("pid %d: nofile %+v %+v", p.PID, p.NofileSoft, p.NofileHard)
		}
	}
	if out[0].Go == out[1].Go {
		t.Error("processes share one GoBinary: a change to one would show in the other")
	}
	if out[2].Exe != sh || out[2].Go != nil {
		t.Errorf("/bin/sh: exe %q go %+v", out[2].Exe, out[2].Go)
	}
}
