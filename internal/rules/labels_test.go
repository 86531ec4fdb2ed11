package rules

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
)

// TestLabelsAndNumbers pins the text fixes of issue 17: no negative deadline for a middlebox
// shorter than keeptune's margin, possessives of names ending in s, and no "2ms s".
func TestLabelsAndNumbers(t *testing.T) {
	// An 8 s middlebox timeout with a 10 s minimum margin used to say "probes must leave by -2s".
	doc := `chain:
  - {name: clients, type: client, tcp_keepalive: {idle: 60s, interval: 10s, count: 3}}
  - {name: fw, type: middlebox, layer: 4, idle_timeout: 8s, refreshed_by: any-segment, on_expiry: silent-drop}
  - {name: s, type: server, http_keepalive_timeout: 20m}
`
	fs := lintChain(t, doc, "KT703")
	if len(fs) != 1 {
		t.Fatalf("findings = %+v", fs)
	}
	if strings.Contains(fs[0].Message, "by -") || !strings.Contains(fs[0].Message, "probes must leave by 4s") {
		t.Errorf("margin: %s", fs[0].Message)
	}
	if fs[0].Fix == nil || strings.HasPrefix(fs[0].Fix.Proposed, "-") || fs[0].Fix.Proposed == "0s" {
		t.Errorf("fix proposes %+v", fs[0].Fix)
	}
	// "clients's" -> "clients'".
	pool := "chain:\n  - {name: clients, type: client, runtime: go, pools: true, pool_idle_timeout: none}\n  - {name: s, type: server, http_keepalive_timeout: 30s}\n"
	for _, f := range lintChain(t, pool, "KT701") {
		if strings.Contains(f.Message+f.Fix.Note, "clients's") {
			t.Errorf("possessive: %s / %s", f.Message, f.Fix.Note)
		}
	}
	// KeepAliveTimeout with a unit is not followed by another unit.
	fs = runRule(t, apacheInput(t, "KeepAlive On\nKeepAliveTimeout 2ms\n"), "KT840")
	if len(fs) != 1 || strings.Contains(fs[0].Message, "ms s") || !strings.Contains(fs[0].Message, "KeepAliveTimeout 2ms:") {
		t.Fatalf("%+v", fs)
	}
}

// TestUnappliedFileIsNotRuntime: a key at the kernel default whose sysctl.d line was never
// applied is reported by KT105 as an unapplied file (not "set at run time"), and KT601 does not
// call the kernel default "tuned" (issue 17).
func TestUnappliedFileIsNotRuntime(t *testing.T) {
	def := model.Source{Kind: model.SourceKernelDefault, Detail: "/etc/sysctl.d/60-k.conf:1 sets 600 but is not in effect: never applied since boot, or reset"}
	s := sysctl(model.KeyKeepaliveTime, "7200", def, model.SysctlAssignment{File: "/etc/sysctl.d/60-k.conf", Line: 1, Value: "600"})
	s.Default = "7200"
	host := namespace("host", true, 7200, 75, 9, src(model.SourceKernelDefault))
	host.Sysctls[0] = s
	host.Keepalive.Idle.Source = def
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{host}}, "general", 0, "KT105")
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "the kernel default, but /etc/sysctl.d/60-k.conf:1 sets 600: the file was never applied") ||
		strings.Contains(fs[0].Message+fs[0].Evidence[0].Source.String(), "run time") {
		t.Fatalf("KT105 = %+v", fs)
	}
	rd := model.Source{Kind: model.SourceRuntimeDefault}
	goProc := model.Process{PID: 77, Comm: "api", NetnsInode: host.Inode, Go: &model.GoBinary{Version: "go1.24.1",
		Keepalive: model.KeepaliveSettings{Idle: model.KnownSetting(15*time.Second, rd), Interval: model.KnownSetting(15*time.Second, rd), Count: model.KnownSetting(9, rd)}}}
	fs = run(t, &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{goProc}}, "general", 0, "KT601")
	if len(fs) != 1 || fs[0].Severity != model.SeverityInfo || strings.Contains(fs[0].Message, "tuned") {
		t.Fatalf("KT601 on a kernel-default host: %+v", fs)
	}
}

// TestOneFindingOrder: rules.Run's order is the reports' order, namespace included (there were
// two sort orders; the rules' ignored the namespace).
func TestOneFindingOrder(t *testing.T) {
	fs := []model.Finding{
		{Rule: "KT101", Severity: model.SeverityWarning, Subject: "x", Namespace: "pid 9 b"},
		{Rule: "KT101", Severity: model.SeverityWarning, Subject: "x", Namespace: "pid 8 a"},
		{Rule: "KT001", Severity: model.SeverityInfo, Subject: "y"},
		{Rule: "KT201", Severity: model.SeverityError, Subject: "z"},
	}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule+"/"+f.Namespace)
	}
	if want := "KT201/ KT101/pid 8 a KT101/pid 9 b KT001/"; strings.Join(got, " ") != want {
		t.Errorf("order = %q, want %q", strings.Join(got, " "), want)
	}
}

// TestFixesForConfigsNobodyRuns: a configuration found at its default path with no server
// running it gets the edit but no reload command; a running PostgreSQL is reloaded as the
// postgres user (issue 17).
func TestFixesForConfigsNobodyRuns(t *testing.T) {
	p, _ := configs.Lookup("postgres")
	fsys := fstest.MapFS{"etc/postgresql/16/main/postgresql.conf": &fstest.MapFile{Data: []byte("tcp_keepalives_idle = 0\n")}}
	cfg, err := p.Parse(fsys, "etc/postgresql/16/main/postgresql.conf")
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profiles.Resolve("general")
	rs, _ := Select(Selection{Enable: []string{"KT865"}})
	cfg.Origin = "running, pid 700 (postgres)"
	fs := Run(&Input{Configs: []*configs.Config{cfg}, Profile: prof}, rs)
	if len(fs) != 1 || fs[0].Fix.Apply != "sudo -u postgres psql -c 'SELECT pg_reload_conf()'" {
		t.Fatalf("running: %+v", fs)
	}
	cfg.Origin = "found at its default path, not running"
	fs = Run(&Input{Configs: []*configs.Config{cfg}, Profile: prof}, rs)
	if len(fs) != 1 || fs[0].Fix.Apply != "" || !strings.Contains(fs[0].Fix.Note, "No server runs this file now") ||
		!strings.Contains(fs[0].Message, "found at its default path, not running") {
		t.Fatalf("not running: %+v %+v", fs, fs[0].Fix)
	}
}

// TestKT404OncePerProgram: an nginx master and its workers are one program and one finding;
// with the configuration read, the finding names the nginx limit that binds (issue 17).
func TestKT404OncePerProgram(t *testing.T) {
	live := model.Source{Kind: model.SourceLive}
	var procs []model.Process
	for i, pid := range []int{800, 801, 802} {
		procs = append(procs, model.Process{PID: pid, Comm: "nginx", Unit: "nginx.service", Listening: []string{"0.0.0.0:80"},
			NofileSoft: model.KnownSetting[int64](1024, live), OpenFiles: 10 + i})
	}
	snap := &model.Snapshot{Processes: procs}
	prof, _ := profiles.Resolve("general")
	rs, _ := Select(Selection{Enable: []string{"KT404"}})
	fs := Run(&Input{Snapshot: snap, Profile: prof, ExpectConnections: 5000}, rs)
	if len(fs) != 1 || fs[0].Subject != "program nginx (pid 800 and 2 more)" || fs[0].Fix.Key != "LimitNOFILE" {
		t.Fatalf("without the configuration: %+v", fs)
	}
	p, _ := configs.Lookup("nginx")
	fsys := fstest.MapFS{"etc/nginx/nginx.conf": &fstest.MapFile{Data: []byte("worker_rlimit_nofile 65536;\nevents {\n    worker_connections 768;\n}\nhttp {}\n")}}
	cfg, err := p.Parse(fsys, "etc/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Origin = "running, pid 800 (nginx)"
	fs = Run(&Input{Snapshot: snap, Profile: prof, ExpectConnections: 5000, Configs: []*configs.Config{cfg}}, rs)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "worker_connections binds first") || fs[0].Fix.Key != "worker_connections" ||
		fs[0].Fix.FileLine != 3 || fs[0].Location == nil || fs[0].Location.Line != 3 {
		t.Fatalf("with the configuration: %+v %+v", fs, fs[0].Fix)
	}
	// Enough workers × worker_connections, and worker_rlimit_nofile above them: nothing.
	fs = Run(&Input{Snapshot: snap, Profile: prof, ExpectConnections: 1500, Configs: []*configs.Config{cfg}}, rs)
	if len(fs) != 0 {
		t.Fatalf("capacity suffices: %+v", fs)
	}
}

// TestGoDefaultsOneFinding: keeptune's own responder is not a Go program that forgot
// keepalive, and a Go program's sockets carrying the runtime's defaults are KT601's finding
// alone (KT604 said "change them where the program sets them": the runtime sets them).
func TestGoDefaultsOneFinding(t *testing.T) {
	host := namespace("host", true, 600, 30, 5, fileSrc("/etc/sysctl.d/60-keeptune.conf", 1))
	rd := model.Source{Kind: model.SourceRuntimeDefault}
	goKA := model.KeepaliveSettings{Idle: model.KnownSetting(15*time.Second, rd), Interval: model.KnownSetting(15*time.Second, rd), Count: model.KnownSetting(9, rd)}
	worker := model.Process{PID: 77, Comm: "orders-worker", NetnsInode: host.Inode, Go: &model.GoBinary{Version: "go1.24.1", Path: "example.com/orders", Keepalive: goKA}}
	responder := model.Process{PID: 78, Comm: "keeptune", NetnsInode: host.Inode, Go: &model.GoBinary{Version: "go1.24.1", Path: "github.com/keeptune/keeptune", Keepalive: goKA}}
	sock := model.KeepaliveSettings{Enabled: model.KnownSetting(true, sockDiag), Idle: model.KnownSetting(15*time.Second, sockDiag),
		Interval: model.KnownSetting(15*time.Second, sockDiag), Count: model.KnownSetting(9, sockDiag)}
	snap := &model.Snapshot{Namespaces: []model.Namespace{host}, Processes: []model.Process{worker, responder},
		Sockets: []model.SocketStats{{PID: 77, Comm: "orders-worker", Sampled: 4, Overridden: 4, Override: &sock}}}
	fs := run(t, snap, "general", 0, "KT601", "KT604")
	if len(fs) != 1 || fs[0].Rule != "KT601" || !strings.Contains(fs[0].Subject, "orders-worker") {
		t.Fatalf("findings = %+v", fs)
	}
	// A Go program that sets other values itself is KT604's.
	own := sock
	own.Idle = model.KnownSetting(2*time.Hour, sockDiag)
	snap.Sockets[0].Override = &own
	fs = run(t, snap, "general", 0, "KT604")
	if len(fs) != 1 {
		t.Fatalf("own values: %+v", fs)
	}
}

// TestUnnamedNamespaceLabel: a namespace nothing named is net:[INODE] in findings, as in
// `keeptune sockets` and audit's text (netns.Label), not a form of its own.
func TestUnnamedNamespaceLabel(t *testing.T) {
	host := namespace("host", true, 600, 30, 5, fileSrc("/etc/sysctl.d/60-keeptune.conf", 1))
	ctr := namespace("", false, 7200, 75, 9, src(model.SourceKernelDefault))
	fs := run(t, &model.Snapshot{Namespaces: []model.Namespace{host, ctr}}, "general", 0, "KT501")
	if len(fs) != 1 || fs[0].Subject != "network namespace net:[4026532000]" || fs[0].Namespace != "net:[4026532000]" ||
		!strings.Contains(fs[0].Message, "Namespace net:[4026532000] still has") {
		t.Errorf("KT501 for an unnamed namespace: %+v", fs)
	}
}
