package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/profiles"
)

// consistencyHosts are the fixtures the consistency test runs every rule over: the issue's host
// (sysctl.d files that disagree, /etc/sysctl.conf through Debian's link applied last by procps),
// the README's audit host (60-net-tuning vs 80-legacy-db, a namespace at kernel defaults), a
// host at kernel defaults and one with a value set only at run time.
func consistencyHosts() map[string]*model.Snapshot {
	as := func(file string, line int, v string) model.SysctlAssignment {
		return model.SysctlAssignment{File: file, Line: line, Value: v}
	}
	file := func(a model.SysctlAssignment) model.Source {
		return model.Source{Kind: model.SourceSysctlFile, File: a.File, Line: a.Line}
	}
	conf := as("/etc/sysctl.conf", 1, "3600")
	conf.ProcpsOnly = true
	issue := namespace("host", true, 3600, 75, 5, file(conf))
	issue.Sysctls[0] = sysctl(model.KeyKeepaliveTime, "3600", file(conf), as("/etc/sysctl.d/10-platform.conf", 1, "600"),
		as("/etc/sysctl.d/20-legacy.conf", 1, "1800"), as("/etc/sysctl.d/99-sysctl.conf", 1, "3600"), conf)
	issue.Sysctls[1] = sysctl(model.KeyKeepaliveIntvl, "75", file(as("/etc/sysctl.d/20-legacy.conf", 2, "75")),
		as("/etc/sysctl.d/10-platform.conf", 2, "30"), as("/etc/sysctl.d/20-legacy.conf", 2, "75"))
	issueConflicts := []model.SysctlConflict{{Key: model.KeyKeepaliveTime, Assignments: issue.Sysctls[0].Assignments},
		{Key: model.KeyKeepaliveIntvl, Assignments: issue.Sysctls[1].Assignments}}

	legacy := as("/etc/sysctl.d/80-legacy-db.conf", 2, "1800")
	readme := namespace("host", true, 1800, 30, 5, file(legacy))
	readme.Sysctls[0] = sysctl(model.KeyKeepaliveTime, "1800", file(legacy), as("/etc/sysctl.d/60-net-tuning.conf", 2, "600"), legacy)
	readme.Conntrack = &model.Conntrack{EstablishedTimeout: model.KnownSetting(432000*time.Second, src(model.SourceKernelDefault))}
	demo := namespace("demo-app", false, 7200, 75, 9, src(model.SourceKernelDefault))
	demo.PIDs = []int{3211}

	runtime := namespace("host", true, 300, 30, 5, src(model.SourceRuntime))
	runtime.Sysctls[0] = sysctl(model.KeyKeepaliveTime, "300", src(model.SourceRuntime), as("/etc/sysctl.d/10-a.conf", 1, "600"), as("/etc/sysctl.d/20-b.conf", 7, "900"))
	return map[string]*model.Snapshot{
		"issue":           {Namespaces: []model.Namespace{issue}, Conflicts: issueConflicts},
		"readme":          {Namespaces: []model.Namespace{readme, demo}, Conflicts: []model.SysctlConflict{{Key: model.KeyKeepaliveTime, Assignments: readme.Sysctls[0].Assignments}}},
		"kernel-defaults": {Namespaces: []model.Namespace{namespace("host", true, 7200, 75, 9, src(model.SourceKernelDefault))}},
		"runtime":         {Namespaces: []model.Namespace{runtime}, Conflicts: []model.SysctlConflict{{Key: model.KeyKeepaliveTime, Assignments: runtime.Sysctls[0].Assignments}}},
	}
}

const lvsNginx = `chain:
  - {name: clients, type: client}
  - {name: lvs, catalog: linux-ipvs, idle_timeout: 90s}
  - {name: nginx, type: proxy, runtime: nginx, local: true, downstream: {http_keepalive_timeout: 75s}, upstream: {read_timeout: 300s}}
  - {name: app, type: server, http_keepalive_timeout: 120s}
`

// TestFixesAgreeWithThePlan: over every fixture, profile and with or without the LVS chain, no
// run proposes two values for one setting in one scope or two new sysctl files, and every
// sysctl value a fix proposes is the plan's target.
func TestFixesAgreeWithThePlan(t *testing.T) {
	checked := 0
	defer func() { t.Logf("%d findings checked", checked) }()
	for name, snap := range consistencyHosts() {
		for _, prof := range profiles.Builtin() {
			for _, withChain := range []bool{false, true} {
				in := &Input{Snapshot: snap, Profile: prof, ExpectConnections: 50000}
				if withChain {
					c, err := chain.Resolved("keeptune.yaml", []byte(lvsNginx))
					if err != nil {
						t.Fatal(err)
					}
					chain.ApplyHost(c, currentNamespace(snap))
					in.Chain = c
				}
				fs := Run(in, All())
				checked += len(fs)
				label := name + "/" + prof.Name
				if withChain {
					label += "/lvs"
				}
				for _, bad := range Inconsistencies(fs) {
					t.Errorf("%s: %s", label, bad)
				}
				for _, f := range fs {
					if f.Fix == nil || f.Namespace == "" {
						continue
					}
					var ns model.Namespace
					for _, n := range snap.Namespaces {
						if nsLabel(n) == f.Namespace {
							ns = n
						}
					}
					for _, line := range strings.Split(f.Fix.Line, "\n") {
						k, v, ok := strings.Cut(line, " = ")
						if !ok {
							continue
						}
						if want, planned := in.Plan.Target(plan.ScopeOf(ns), k); planned && want != v {
							t.Errorf("%s: %s proposes %s = %s, the plan %s", label, f.Rule, k, v, want)
						}
					}
				}
				if withChain && name == "issue" && prof.Name == "api-gateway" {
					if v, _ := in.Plan.Target(plan.ScopeOf(snap.Namespaces[0]), model.KeyKeepaliveTime); v != "80" {
						t.Errorf("%s: planned idle %s, want 80", label, v)
					}
				}
			}
		}
	}
}

func TestInconsistenciesCanFail(t *testing.T) {
	fs := []model.Finding{
		{Rule: "KT101", Namespace: "host", Fix: &model.Fix{Line: "net.ipv4.tcp_keepalive_time = 300", File: "/etc/sysctl.d/99-keeptune.conf"}},
		{Rule: "KT201", Namespace: "host", Fix: &model.Fix{Key: "net.ipv4.tcp_keepalive_time", Proposed: "80", Line: "net.ipv4.tcp_keepalive_time = 80", File: "/etc/sysctl.d/60-keeptune.conf"}},
	}
	got := Inconsistencies(fs)
	if len(got) != 2 || !strings.Contains(got[0], "300 (KT101) vs 80 (KT201)") && !strings.Contains(got[1], "300 (KT101) vs 80 (KT201)") {
		t.Errorf("inconsistencies = %q", got)
	}
}
