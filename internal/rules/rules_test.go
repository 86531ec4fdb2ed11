package rules

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/profiles"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md")

func TestRulesDocInSync(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "rules.md")
	want := Markdown()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/rules -run TestRulesDoc -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/rules.md is out of date: run go test ./internal/rules -run TestRulesDoc -update")
	}
}

func TestRulesAreWellFormed(t *testing.T) {
	id := regexp.MustCompile(`^KT\d{3}$`)
	name := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, r := range All() {
		if !id.MatchString(r.ID) || !name.MatchString(r.Name) {
			t.Errorf("bad ID or name: %q %q", r.ID, r.Name)
		}
		if seen[r.ID] || seen[r.Name] {
			t.Errorf("duplicate %s / %s", r.ID, r.Name)
		}
		seen[r.ID], seen[r.Name] = true, true
		if r.Title == "" || r.What == "" || r.Why == "" || r.Fix == "" || r.Source == "" || r.Check == nil || r.Severity == 0 {
			t.Errorf("%s: incomplete documentation or no check", r.ID)
		}
	}
}

func TestSelect(t *testing.T) {
	rs, err := Select(Selection{Enable: []string{"KT101,keepalive-time-range"}})
	if err != nil || len(rs) != 2 || rs[0].ID != "KT101" || rs[1].ID != "KT102" {
		t.Fatalf("Select = %v, %v", ids(rs), err)
	}
	rs, err = Select(Selection{Disable: []string{"kt001"}})
	if err != nil || len(rs) != len(All())-1 {
		t.Fatalf("disable: %d rules, %v", len(rs), err)
	}
	if _, err := Select(Selection{Enable: []string{"KT999"}}); err == nil {
		t.Fatal("unknown rule accepted")
	}
}

func ids(rs []Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// --- fixtures: hand-built snapshots ---

func src(kind model.SourceKind) model.Source { return model.Source{Kind: kind} }

func fileSrc(file string, line int) model.Source {
	return model.Source{Kind: model.SourceSysctlFile, File: file, Line: line}
}

func sysctl(key, value string, s model.Source, assigns ...model.SysctlAssignment) model.Sysctl {
	return model.Sysctl{Key: key, Value: value, Readable: true, Source: s, Assignments: assigns}
}

// namespace builds a namespace with keepalive time/intvl/probes and the rest of the keys.
func namespace(name string, current bool, idle, intvl, probes int, s model.Source, extra ...model.Sysctl) model.Namespace {
	ns := model.Namespace{Name: name, Current: current, Inode: 4026531840}
	if !current {
		ns.Inode, ns.PIDs = 4026532000, []int{4242}
	}
	ns.Sysctls = []model.Sysctl{
		sysctl(model.KeyKeepaliveTime, itoa(idle), s),
		sysctl(model.KeyKeepaliveIntvl, itoa(intvl), s),
		sysctl(model.KeyKeepaliveProbes, itoa(probes), s),
	}
	ns.Sysctls = append(ns.Sysctls, extra...)
	ns.Keepalive = model.KeepaliveSettings{
		Idle:     model.KnownSetting(time.Duration(idle)*time.Second, s),
		Interval: model.KnownSetting(time.Duration(intvl)*time.Second, s),
		Count:    model.KnownSetting(probes, s),
	}
	return ns
}

func itoa(n int) string { return strconv.Itoa(n) }

func run(t *testing.T, snap *model.Snapshot, profile string, expect int, ruleIDs ...string) []model.Finding {
	t.Helper()
	p, err := profiles.Resolve(profile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Select(Selection{Enable: ruleIDs})
	if err != nil {
		t.Fatal(err)
	}
	return Run(&Input{Snapshot: snap, Profile: p, ExpectConnections: expect}, rs)
}

func TestKernelDefaultsAreAnErrorUnderEveryProfile(t *testing.T) {
	snap := &model.Snapshot{Namespaces: []model.Namespace{namespace("host", true, 7200, 75, 9, src(model.SourceKernelDefault))}}
	for _, p := range profiles.Names() {
		fs := run(t, snap, p, 0, "KT101")
		if len(fs) != 1 || fs[0].Severity != model.SeverityError {
			t.Fatalf("%s: findings = %+v", p, fs)
		}
		f := fs[0]
		if !strings.Contains(f.Message, "2h11m15s") {
			t.Errorf("%s: message lacks the detection time: %s", p, f.Message)
		}
		prof, _ := profiles.Resolve(p)
		want := "net.ipv4.tcp_keepalive_time = " + itoa(int(prof.Idle.Recommended/time.Second)) + "\n" +
			"net.ipv4.tcp_keepalive_intvl = " + itoa(int(prof.Interval.Recommended/time.Second)) + "\n" +
			"net.ipv4.tcp_keepalive_probes = " + itoa(prof.Probes.Recommended)
		if f.Fix == nil || f.Fix.Line != want || f.Fix.File != plan.DropIn {
			t.Errorf("%s: fix = %+v, want lines %q in %s", p, f.Fix, want, plan.DropIn)
		}
		if !strings.HasPrefix(f.Fix.Apply, "sysctl -w net.ipv4.tcp_keepalive_time=") {
			t.Errorf("%s: apply = %q", p, f.Fix.Apply)
		}
	}
}

func TestDetectionWithinProfileIsQuiet(t *testing.T) {
	snap := &model.Snapshot{Namespaces: []model.Namespace{namespace("host", true, 600, 30, 5, fileSrc("/etc/sysctl.d/60-keeptune.conf", 1))}}
	if fs := run(t, snap, "general", 0, "KT101", "KT102", "KT103", "KT104"); len(fs) != 0 {
		t.Fatalf("findings = %+v", fs)
	}
	// Too aggressive: 10 s idle, 1 s interval, 1 probe.
	snap = &model.Snapshot{Namespaces: []model.Namespace{namespace("host", true, 10, 1, 1, src(model.SourceRuntime))}}
	fs := run(t, snap, "general", 0, "KT101")
	if len(fs) != 1 || fs[0].Severity != model.SeverityWarning {
		t.Fatalf("aggressive: %+v", fs)
	}
}

// TestRangeRulesFixFromThePlan: the value is the plan's, written to the plan's one file, and the
// line that set it before is among the lines to delete (one file holds the truth).
func TestRangeRulesFixFromThePlan(t *testing.T) {
	// api-gateway: idle 180-300 s; 350/20/5 detects in 450 s, within the profile's 280-480 s,
	// so only the idle value is out of line.
	a := model.SysctlAssignment{File: "/etc/sysctl.d/90-net.conf", Line: 4, Value: "350"}
	ns := namespace("host", true, 350, 20, 5, fileSrc(a.File, a.Line))
	ns.Sysctls[0].Assignments = []model.SysctlAssignment{a}
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "api-gateway", 0, "KT101", "KT102", "KT103", "KT104")
	if len(fs) != 1 || fs[0].Rule != "KT102" {
		t.Fatalf("findings = %+v", fs)
	}
	f := fs[0]
	if f.Fix.File != plan.DropIn || f.Fix.Line != "net.ipv4.tcp_keepalive_time = 180" || !strings.Contains(f.Fix.Note, "Delete /etc/sysctl.d/90-net.conf:4") {
		t.Errorf("fix = %+v, want 180 in %s and line 4 of %s deleted", f.Fix, plan.DropIn, a.File)
	}
	if f.Location == nil || f.Location.File != a.File || f.Location.Line != 4 {
		t.Errorf("location = %+v", f.Location)
	}
	if !strings.Contains(f.Message, "above") || !strings.Contains(f.Message, "180-300") {
		t.Errorf("message = %s", f.Message)
	}
}

func TestRangeRulesDeferToTheDetectionRule(t *testing.T) {
	// 1200/75/5 under api-gateway: every value is off, detection is 26m15s. One finding, KT101,
	// whose fix sets all three and whose evidence marks each value outside its range.
	ns := namespace("host", true, 1200, 75, 5, src(model.SourceRuntime))
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "api-gateway", 0, "KT101", "KT102", "KT103", "KT104")
	if len(fs) != 1 || fs[0].Rule != "KT101" {
		t.Fatalf("findings = %+v", fs)
	}
	ev := fs[0].Evidence
	if !strings.HasSuffix(ev[0].Value, "outside 180-300 s") || !strings.HasSuffix(ev[1].Value, "outside 20-30 s") || strings.Contains(ev[2].Value, "outside") {
		t.Errorf("evidence = %+v", ev)
	}
}

func TestFixFileSortsAfterVendorFile(t *testing.T) {
	vendor := model.SysctlAssignment{File: "/usr/lib/sysctl.d/70-vendor.conf", Line: 2, Value: "7200"}
	ns := namespace("host", true, 7200, 75, 9, fileSrc(vendor.File, vendor.Line))
	ns.Sysctls[0].Assignments = []model.SysctlAssignment{vendor}
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "general", 0, "KT101")
	if len(fs) != 1 || fs[0].Fix.File != plan.DropIn || fs[0].Fix.FileLine != 0 {
		t.Fatalf("findings = %+v: a 60- file would lose to 70-vendor.conf", fs)
	}
	if strings.Contains(strings.ToLower(fs[0].Fix.Note), "delete") {
		t.Errorf("note asks to delete a package's file line: %q", fs[0].Fix.Note)
	}
	// One key in a package file with a later name than 99-zz-keeptune.conf.
	vendor.File = "/usr/lib/sysctl.d/99-zzz.conf"
	ns.Sysctls[0].Assignments = []model.SysctlAssignment{vendor}
	fs = run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "general", 0, "KT101")
	if len(fs) != 1 || fs[0].Fix.File != "/etc/sysctl.d/zzzz-keeptune.conf" {
		t.Fatalf("fix = %+v", fs[0].Fix)
	}
}

func TestNotPersistedAndConflict(t *testing.T) {
	a1 := model.SysctlAssignment{File: "/etc/sysctl.d/10-a.conf", Line: 1, Value: "600"}
	a2 := model.SysctlAssignment{File: "/etc/sysctl.d/20-b.conf", Line: 7, Value: "900"}
	ns := namespace("host", true, 600, 30, 5, fileSrc(a2.File, a2.Line))
	ns.Sysctls[0] = sysctl(model.KeyKeepaliveTime, "300", model.Source{Kind: model.SourceRuntime}, a1, a2)
	snap := &model.Snapshot{Namespaces: []model.Namespace{ns},
		Conflicts: []model.SysctlConflict{{Key: model.KeyKeepaliveTime, Assignments: []model.SysctlAssignment{a1, a2}}}}
	fs := run(t, snap, "general", 0, "KT105", "KT106")
	if len(fs) != 2 {
		t.Fatalf("findings = %+v", fs)
	}
	for _, f := range fs {
		switch f.Rule {
		case "KT105":
			// The live 300 is below the general profile's 600-1800: the plan's 600, not the live value.
			if !strings.Contains(f.Message, "20-b.conf:7 sets 900") || f.Fix.File != plan.DropIn || f.Fix.Line != "net.ipv4.tcp_keepalive_time = 600" ||
				!strings.Contains(f.Fix.Note, "/etc/sysctl.d/20-b.conf:7") {
				t.Errorf("KT105 = %+v %+v", f, f.Fix)
			}
		case "KT106":
			if !strings.Contains(f.Message, "/etc/sysctl.d/20-b.conf:7 wins with 900 and overrides /etc/sysctl.d/10-a.conf:1") ||
				f.Location.File != a2.File || f.Location.Line != 7 {
				t.Errorf("KT106 = %+v", f)
			}
		}
	}
}

func TestUnackedTimeout(t *testing.T) {
	ns := namespace("host", true, 600, 30, 5, src(model.SourceKernelDefault),
		sysctl(model.KeyRetries2, "15", src(model.SourceKernelDefault)))
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "web-frontend", 0, "KT201")
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "15m24.6s") || fs[0].Fix.Line != "net.ipv4.tcp_retries2 = 8" {
		t.Fatalf("findings = %+v", fs)
	}
	ns.Sysctls[3].Value = "8"
	if fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "web-frontend", 0, "KT201"); len(fs) != 0 {
		t.Fatalf("tcp_retries2 = 8 flagged: %+v", fs)
	}
}

func TestConntrackBelowKeepalive(t *testing.T) {
	ns := namespace("host", true, 600, 30, 5, src(model.SourceKernelDefault),
		sysctl(model.KeyConntrackEstablished, "300", src(model.SourceRuntime)))
	ns.Conntrack = &model.Conntrack{EstablishedTimeout: model.KnownSetting(300*time.Second, src(model.SourceRuntime))}
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "general", 0, "KT301")
	if len(fs) != 1 || fs[0].Severity != model.SeverityError || !strings.HasPrefix(fs[0].Fix.Line, model.KeyConntrackEstablished+" = ") {
		t.Fatalf("findings = %+v", fs)
	}
	ns.Conntrack.EstablishedTimeout.Value = 432000 * time.Second
	if fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{ns}}, "general", 0, "KT301"); len(fs) != 0 {
		t.Fatalf("5-day timeout flagged: %+v", fs)
	}
}

func TestCapacity(t *testing.T) {
	ns := namespace("host", true, 600, 30, 5, src(model.SourceKernelDefault),
		sysctl(model.KeySomaxconn, "128", src(model.SourceRuntime)),
		sysctl(model.KeyMaxSynBacklog, "64", src(model.SourceLive)))
	ns.Conntrack = &model.Conntrack{Count: model.KnownSetting(9700, src(model.SourceLive))}
	snap := &model.Snapshot{
		Namespaces: []model.Namespace{ns},
		Global: []model.Sysctl{sysctl(model.KeyFileMax, "65536", src(model.SourceLive)), sysctl(model.KeyNrOpen, "1048576", src(model.SourceKernelDefault)),
			sysctl(model.KeyConntrackMax, "10000", src(model.SourceLive))},
		Processes: []model.Process{
			{PID: 812, Comm: "nginx", Unit: "nginx.service", Listening: []string{"0.0.0.0:443"}, NofileSoft: model.KnownSetting[int64](1024, src(model.SourceLive)), OpenFiles: 12},
			{PID: 900, Comm: "busy", Listening: []string{"0.0.0.0:8080"}, NofileSoft: model.KnownSetting[int64](1024, src(model.SourceLive)), OpenFiles: 1000},
			{PID: 901, Comm: "client", NofileSoft: model.KnownSetting[int64](1024, src(model.SourceLive)), OpenFiles: 1000},
		},
	}
	fs := run(t, snap, "general", 100000, "KT401", "KT402", "KT403", "KT404", "KT405")
	count := map[string]int{}
	for _, f := range fs {
		count[f.Rule]++
		if f.Rule == "KT404" && strings.Contains(f.Subject, "nginx") {
			if f.Fix.File != "/etc/systemd/system/nginx.service.d/keeptune.conf" || f.Fix.Line != "LimitNOFILE=130000" {
				t.Errorf("nofile fix = %+v", f.Fix)
			}
		}
		if f.Rule == "KT405" && strings.Contains(f.Message, "97%") && f.Severity != model.SeverityError {
			t.Errorf("97%% full is not an error: %+v", f)
		}
	}
	want := map[string]int{"KT401": 1, "KT402": 1, "KT403": 1, "KT404": 2, "KT405": 2}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d findings, want %d (all: %v)", k, count[k], v, count)
		}
	}
	// Without --expect-connections only the process near its limit and the table fill remain.
	fs = run(t, snap, "general", 0, "KT403", "KT404", "KT405")
	if len(fs) != 2 {
		t.Errorf("without expect: %+v", fs)
	}
}

func TestNamespaceDefaults(t *testing.T) {
	host := namespace("host", true, 600, 30, 5, fileSrc("/etc/sysctl.d/60-keeptune.conf", 1))
	ctr := namespace("pid 4242 nginx", false, 7200, 75, 9, src(model.SourceKernelDefault))
	tuned := namespace("pid 5000 app", false, 600, 30, 5, src(model.SourceRuntime))
	tuned.Inode = 4026532111
	// A namespace that someone tuned, badly: KT101, with a namespace-specific fix.
	slow := namespace("pid 6000 db", false, 3600, 75, 9, src(model.SourceRuntime))
	slow.Inode, slow.PIDs = 4026532222, []int{6000}
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{host, ctr, tuned, slow}}, "general", 0, "KT501", "KT101", "KT102")
	var kt501, kt101 int
	for _, f := range fs {
		switch f.Rule {
		case "KT501":
			kt501++
			if f.Severity != model.SeverityError || !strings.Contains(f.Message, "while host is tuned") ||
				!strings.Contains(f.Message, "detected after 2h11m15s") || !strings.Contains(f.Fix.Apply, "nsenter --net=/proc/4242/ns/net sysctl -w") {
				t.Errorf("KT501 = %+v / %+v", f, f.Fix)
			}
		case "KT101":
			kt101++
			if f.Namespace != "pid 6000 db" || f.Fix.File != "" || !strings.Contains(f.Fix.Apply, "/proc/6000/ns/net") {
				t.Errorf("KT101 in a container must not propose /etc/sysctl.d: %+v", f.Fix)
			}
		default:
			t.Errorf("unexpected %s: %+v", f.Rule, f)
		}
	}
	if kt501 != 1 || kt101 != 1 {
		t.Fatalf("KT501 %d, KT101 %d: %+v", kt501, kt101, fs)
	}
}

func TestGoPrograms(t *testing.T) {
	host := namespace("host", true, 600, 30, 5, fileSrc("/etc/sysctl.d/60-keeptune.conf", 1))
	rd := model.Source{Kind: model.SourceRuntimeDefault, Detail: "Go 1.23+ net.KeepAliveConfig defaults"}
	goProc := model.Process{PID: 77, Comm: "api", NetnsInode: host.Inode, Go: &model.GoBinary{Version: "go1.24.1",
		Keepalive: model.KeepaliveSettings{Idle: model.KnownSetting(15*time.Second, rd), Interval: model.KnownSetting(15*time.Second, rd), Count: model.KnownSetting(9, rd)}}}
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{goProc, {PID: 78, Comm: "c-prog"}}}, "general", 0, "KT601")
	if len(fs) != 1 || fs[0].Severity != model.SeverityWarning || !strings.Contains(fs[0].Message, "15s idle") ||
		!strings.Contains(fs[0].Fix.Line, "Idle: 10 * time.Minute") {
		t.Fatalf("findings = %+v", fs)
	}
	if !strings.Contains(fs[0].Fix.Note, "keeptune enforce apply --cgroup $(awk -F: '$1==0{print $3}' /proc/77/cgroup) --idle 600s") {
		t.Errorf("KT601 does not propose keeptune enforce: %q", fs[0].Fix.Note)
	}
	// With the process's cgroup known, the command names it; once enforced, the finding says so.
	socks := []model.SocketStats{{PID: 77, Cgroup: "/system.slice/api.service"}}
	fs = run(t, &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{goProc}, Sockets: socks}, "general", 0, "KT601")
	if len(fs) != 1 || !strings.Contains(fs[0].Fix.Note, "--cgroup /system.slice/api.service ") {
		t.Errorf("KT601 with the cgroup known: %+v", fs)
	}
	// In the root cgroup, enforce refuses (`--cgroup /`): the fix must not propose it.
	root := []model.SocketStats{{PID: 77, Cgroup: "/"}}
	fs = run(t, &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{goProc}, Sockets: root}, "general", 0, "KT601")
	if len(fs) != 1 || strings.Contains(fs[0].Fix.Note, "--cgroup / ") || !strings.Contains(fs[0].Fix.Note, "root cgroup") ||
		!strings.Contains(fs[0].Fix.Note, "--cgroup CGROUP --idle 600s") {
		t.Errorf("KT601 in the root cgroup: %+v", fs[0].Fix)
	}
	socks[0].Enforced = "/system.slice/api.service: keepalive 600s/30s/5, force mode"
	fs = run(t, &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{goProc}, Sockets: socks}, "general", 0, "KT601")
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "keeptune enforce covers its new connections (/system.slice/api.service") || strings.Contains(fs[0].Fix.Note, "enforce apply") {
		t.Errorf("KT601 on an enforced process: %+v", fs)
	}
	host.Keepalive.Idle.Source = src(model.SourceKernelDefault)
	fs = run(t, &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{goProc}}, "general", 0, "KT601")
	if len(fs) != 1 || fs[0].Severity != model.SeverityInfo {
		t.Fatalf("untuned host: %+v", fs)
	}
}

func TestProblemsBecomeFindings(t *testing.T) {
	snap := &model.Snapshot{Problems: []model.Problem{
		{What: "the file descriptors of 12 processes", Err: "permission denied", Needs: "root or CAP_SYS_PTRACE"},
		{What: "/etc/sysctl.d/50-x.conf:3", Err: "expected 'key = value', found \"net.ipv4.tcp_keepalive_time 600\"", Location: &model.Location{File: "/etc/sysctl.d/50-x.conf", Line: 3}},
	}}
	fs := run(t, snap, "general", 0, "KT001", "KT002")
	if len(fs) != 2 {
		t.Fatalf("findings = %+v", fs)
	}
	if fs[0].Rule != "KT002" || fs[0].Location.Line != 3 || fs[1].Rule != "KT001" || fs[1].Fix == nil || !strings.Contains(fs[1].Fix.Note, "root or CAP_SYS_PTRACE") {
		t.Fatalf("findings = %+v", fs)
	}
}

func TestSocketRules(t *testing.T) {
	setBy := model.Source{Kind: model.SourceSocket, Detail: "set by program"}
	snap := &model.Snapshot{Sockets: []model.SocketStats{
		{PID: 10, Comm: "leaky", Established: 50, CloseWaitLeaks: 12, OldestCloseWait: 3 * time.Hour},
		{PID: 11, Comm: "quiet", Established: 5, KeepaliveOff: 5, IdleNoKeepalive: 4, LongestIdle: 2 * time.Hour},
		{PID: 12, Comm: "own", Established: 8, Sampled: 8, Overridden: 8, Override: &model.KeepaliveSettings{
			Enabled: model.KnownSetting(true, setBy), Idle: model.KnownSetting(15*time.Second, setBy),
			Interval: model.KnownSetting(15*time.Second, setBy), Count: model.KnownSetting(9, setBy)}},
		{PID: 13, Comm: "fine", Established: 8, KeepaliveOn: 8, Sampled: 8},
	}}
	fs := run(t, snap, "general", 0, "KT602", "KT603", "KT604")
	got := map[string]model.Finding{}
	for _, f := range fs {
		got[f.Rule] = f
	}
	if len(fs) != 3 {
		t.Fatalf("findings = %+v", fs)
	}
	if f := got["KT602"]; !strings.Contains(f.Message, "leaky (pid 10) holds 12 connections in CLOSE_WAIT, the oldest for at least 3h") {
		t.Errorf("KT602 = %s", f.Message)
	}
	if f := got["KT603"]; !strings.Contains(f.Message, "4 connections idle") || f.Fix.Line != "setsockopt SO_KEEPALIVE=1, TCP_KEEPIDLE=600, TCP_KEEPINTVL=30, TCP_KEEPCNT=5" {
		t.Errorf("KT603 = %+v %+v", f, f.Fix)
	}
	// 15s/15s/9 detects in 2m30s, faster than the general profile's 10m30s: a warning.
	if f := got["KT604"]; f.Severity != model.SeverityWarning || !strings.Contains(f.Message, "15s/15s/9") {
		t.Errorf("KT604 = %+v", f)
	}
}
