package plan

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
)

// lvsChain is the chain: an LVS that forgets flows after 90 s in front of a local nginx
// that waits up to 300 s for its backend.
const lvsChain = `profile: api-gateway
chain:
  - {name: clients, type: client}
  - {name: lvs, catalog: linux-ipvs, idle_timeout: 90s}
  - name: nginx
    type: proxy
    runtime: nginx
    local: true
    downstream: {http_keepalive_timeout: 75s}
    upstream: {read_timeout: 300s}
  - {name: app, type: server, http_keepalive_timeout: 120s}
`

func sysctl(key, live, def string, as ...model.SysctlAssignment) model.Sysctl {
	s := model.Sysctl{Key: key, Value: live, Readable: true, Default: def, Assignments: as}
	switch w := s.Winner(); {
	case w != nil && w.Value == live:
		s.Source = model.Source{Kind: model.SourceSysctlFile, File: w.File, Line: w.Line}
	case live == def:
		s.Source = model.Source{Kind: model.SourceKernelDefault}
	default:
		s.Source = model.Source{Kind: model.SourceRuntime}
	}
	return s
}

func a(file string, line int, value string) model.SysctlAssignment {
	return model.SysctlAssignment{File: file, Line: line, Value: value}
}

// disagreeingHost: two sysctl.d files that disagree (600/30/5 and 1800/75) and /etc/sysctl.conf
// setting 3600 through Debian's 99-sysctl.conf link, applied by sysctl --system.
func disagreeingHost() *model.Snapshot {
	conf := model.SysctlAssignment{File: "/etc/sysctl.conf", Line: 1, Value: "3600", ProcpsOnly: true}
	ns := model.Namespace{Inode: 4026531840, Name: "host", Current: true, Sysctls: []model.Sysctl{
		sysctl(model.KeyKeepaliveTime, "3600", "7200", a("/etc/sysctl.d/10-platform.conf", 1, "600"), a("/etc/sysctl.d/20-legacy.conf", 1, "1800"),
			a("/etc/sysctl.d/99-sysctl.conf", 1, "3600"), conf),
		sysctl(model.KeyKeepaliveIntvl, "75", "75", a("/etc/sysctl.d/10-platform.conf", 2, "30"), a("/etc/sysctl.d/20-legacy.conf", 2, "75")),
		sysctl(model.KeyKeepaliveProbes, "5", "9", a("/etc/sysctl.d/10-platform.conf", 3, "5")),
		sysctl(model.KeyRetries2, "15", "15"),
	}}
	ns.Keepalive = keepaliveOf(ns.Sysctls)
	return &model.Snapshot{Host: model.HostInfo{Hostname: "gw-1"}, Namespaces: []model.Namespace{ns}}
}

func lvsInput(t *testing.T, snap *model.Snapshot) Input {
	t.Helper()
	c, err := chain.Resolved("keeptune.yaml", []byte(lvsChain))
	if err != nil {
		t.Fatal(err)
	}
	chain.ApplyHost(c, snap.Namespaces[0])
	p, err := profiles.Resolve("api-gateway")
	if err != nil {
		t.Fatal(err)
	}
	return Input{Snapshot: snap, Chain: c, Profile: p}
}

func TestPlanLVSHardBeforeProfile(t *testing.T) {
	p := Make(lvsInput(t, disagreeingHost()))
	seen := map[string]bool{}
	to := map[string]string{}
	for _, c := range p.Changes {
		id := c.Scope.ID() + " " + c.Key
		if seen[id] {
			t.Errorf("two changes of %s", id)
		}
		seen[id] = true
		to[c.Key] = c.To
	}
	if to[model.KeyKeepaliveTime] != "80" {
		t.Fatalf("tcp_keepalive_time -> %q, want 80 (90 s LVS minus the 10 s margin)", to[model.KeyKeepaliveTime])
	}
	c, _ := p.Find(Scope{Kind: ScopeHost}, model.KeyKeepaliveTime)
	if c.From.Value != "3600" || c.From.Source.File != "/etc/sysctl.conf" {
		t.Errorf("from = %+v, want 3600 from /etc/sysctl.conf", c.From)
	}
	if got := c.Why[0].Text; c.Why[0].Kind != ReasonHard || !strings.Contains(got, "idle 80 s, below the api-gateway profile's 180-300 s, because lvs (linux-ipvs) forgets idle flows after 90 s") {
		t.Errorf("why = %q", got)
	}
	if to[model.KeyKeepaliveIntvl] != "20" {
		t.Errorf("intvl -> %q, want the profile's 20", to[model.KeyKeepaliveIntvl])
	}
	if _, ok := p.Find(Scope{Kind: ScopeHost}, model.KeyKeepaliveProbes); ok {
		t.Error("probes 5 is in the profile's range and set by one file: no change")
	}
	if to[model.KeyRetries2] != "8" {
		t.Errorf("retries2 -> %q, want 8", to[model.KeyRetries2])
	}
	if len(p.SysctlFiles) != 1 || p.SysctlFiles[0].Path != DropIn {
		t.Fatalf("sysctl files = %+v", p.SysctlFiles)
	}
	content := p.SysctlFiles[0].Content
	for _, line := range []string{"net.ipv4.tcp_keepalive_time = 80\n", "net.ipv4.tcp_keepalive_intvl = 20\n", "net.ipv4.tcp_retries2 = 8\n"} {
		if !strings.Contains(content, line) {
			t.Errorf("file lacks %q:\n%s", line, content)
		}
	}
	var removes []string
	for _, r := range p.Removes {
		removes = append(removes, r.File+":"+itoa(r.Line)+" "+r.Text)
	}
	want := []string{
		"/etc/sysctl.d/10-platform.conf:1 net.ipv4.tcp_keepalive_time = 600",
		"/etc/sysctl.d/20-legacy.conf:1 net.ipv4.tcp_keepalive_time = 1800",
		"/etc/sysctl.conf:1 net.ipv4.tcp_keepalive_time = 3600",
		"/etc/sysctl.d/10-platform.conf:2 net.ipv4.tcp_keepalive_intvl = 30",
		"/etc/sysctl.d/20-legacy.conf:2 net.ipv4.tcp_keepalive_intvl = 75",
	}
	if strings.Join(removes, "\n") != strings.Join(want, "\n") {
		t.Errorf("removes:\n%s\nwant:\n%s", strings.Join(removes, "\n"), strings.Join(want, "\n"))
	}
	var others []string
	for _, st := range c.Apply {
		others = append(others, st.Where+": "+st.Text)
	}
	for _, w := range []string{`windows: reg add HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters /v KeepAliveTime /t REG_DWORD /d 80000 /f`,
		"macos: sysctl -w net.inet.tcp.keepidle=80000", "freebsd: sysctl net.inet.tcp.keepidle=80000"} {
		if !strings.Contains(strings.Join(others, "\n"), w) {
			t.Errorf("apply lacks %q:\n%s", w, strings.Join(others, "\n"))
		}
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0].Text, "keepalive_time_when") {
		t.Errorf("no note that live changes miss armed timers: %+v", p.Notes)
	}
}

// TestPlanConverges: a host where the plan was followed (file written, removes deleted, values
// live) gets no changes.
func TestPlanConverges(t *testing.T) {
	first := Make(lvsInput(t, disagreeingHost()))
	after := followed(first, disagreeingHost())
	in := lvsInput(t, after)
	// And nginx's change: keepalive on its accepted sockets, with the host's timers.
	if c, ok := first.FindHop("nginx", "downstream", KeyKeepalive); !ok || c.To != "on" {
		t.Fatalf("no change turns keepalive on at nginx: %+v", first.Changes)
	}
	in.Chain.Hops[2].Downstream.TCP.Enabled = model.KnownSetting(true, model.Source{Kind: model.SourceConfig, File: "/etc/nginx/nginx.conf", Line: 12})
	chain.ApplyHost(in.Chain, after.Namespaces[0])
	second := Make(in)
	for _, c := range second.Changes {
		t.Errorf("change left after following the plan: %s %s %s -> %s (%s)", c.Scope.Name, c.Key, c.From.Value, c.To, c.Why[len(c.Why)-1].Text)
	}
	if len(second.Removes) != 0 || len(second.SysctlFiles) != 0 {
		t.Errorf("removes %+v, files %+v left", second.Removes, second.SysctlFiles)
	}
}

// followed is the host after the plan: its file's lines are the assignments of its keys, the
// removed lines are gone, the live values are the planned ones.
func followed(p *Plan, snap *model.Snapshot) *model.Snapshot {
	ns := &snap.Namespaces[0]
	gone := map[string]bool{}
	for _, r := range p.Removes {
		gone[r.File+":"+itoa(r.Line)] = true
	}
	for i := range ns.Sysctls {
		s := &ns.Sysctls[i]
		var kept []model.SysctlAssignment
		for _, as := range s.Assignments {
			if !gone[realFile(as.File)+":"+itoa(as.Line)] {
				kept = append(kept, as)
			}
		}
		s.Assignments = kept
		for _, f := range p.SysctlFiles {
			for n, line := range strings.Split(f.Content, "\n") {
				if k, v, ok := strings.Cut(line, " = "); ok && k == s.Key {
					s.Assignments = append(s.Assignments, a(f.Path, n+1, v))
				}
			}
		}
		if c, ok := p.Find(Scope{Kind: ScopeHost}, s.Key); ok {
			s.Value = c.To
		}
		*s = sysctl(s.Key, s.Value, s.Default, s.Assignments...)
	}
	ns.Keepalive = keepaliveOf(ns.Sysctls)
	return snap
}

func itoa(n int) string { return strconv.Itoa(n) }

// keepaliveOf reads the keepalive triple from a namespace's sysctls, as host.Collect does.
func keepaliveOf(ss []model.Sysctl) model.KeepaliveSettings {
	get := func(key string) (int, model.Source) {
		s, _ := model.Lookup(ss, key)
		n, _ := strconv.Atoi(s.Value)
		return n, s.Source
	}
	idle, is := get(model.KeyKeepaliveTime)
	intvl, vs := get(model.KeyKeepaliveIntvl)
	count, cs := get(model.KeyKeepaliveProbes)
	return model.KeepaliveSettings{
		Idle:     model.KnownSetting(time.Duration(idle)*time.Second, is),
		Interval: model.KnownSetting(time.Duration(intvl)*time.Second, vs),
		Count:    model.KnownSetting(count, cs),
	}
}

// TestPlanOtherNamespaces: commands that work as printed (ip netns exec for a named namespace,
// which may hold no process; nsenter on a process's namespace otherwise), the pod and docker
// forms, and the kubelet note for unsafe keys.
func TestPlanOtherNamespaces(t *testing.T) {
	defaults := func(name string, pids ...int) model.Namespace {
		ns := model.Namespace{Inode: 4026532000 + uint64(len(name)), Name: name, PIDs: pids, Sysctls: []model.Sysctl{
			sysctl(model.KeyKeepaliveTime, "7200", "7200"), sysctl(model.KeyKeepaliveIntvl, "75", "75"),
			sysctl(model.KeyKeepaliveProbes, "9", "9"), sysctl(model.KeyRetries2, "15", "15")}}
		ns.Keepalive = keepaliveOf(ns.Sysctls)
		return ns
	}
	prof, _ := profiles.Resolve("api-gateway")
	snap := &model.Snapshot{Namespaces: []model.Namespace{defaults("blue"), defaults("pid 4242 node (docker 0123456789ab)", 4242, 4250)}}
	p := Make(Input{Snapshot: snap, Profile: prof})
	var cmds []string
	for _, c := range p.Changes {
		if c.Key == model.KeyKeepaliveTime {
			cmds = append(cmds, c.Apply[0].Text)
		}
	}
	want := []string{"ip netns exec blue sysctl -w net.ipv4.tcp_keepalive_time=180", "nsenter --net=/proc/4242/ns/net sysctl -w net.ipv4.tcp_keepalive_time=180"}
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
	}
	notes := ""
	for _, n := range p.Notes {
		notes += n.Text + "\n"
	}
	for _, s := range []string{"- name: net.ipv4.tcp_keepalive_time\n          value: \"180\"", "--sysctl net.ipv4.tcp_retries2=8",
		"--allowed-unsafe-sysctls=net.ipv4.tcp_retries2", "keepalive_time_when"} {
		if !strings.Contains(notes, s) {
			t.Errorf("notes lack %q:\n%s", s, notes)
		}
	}
	if strings.Contains(notes, "unsafe-sysctls=net.ipv4.tcp_keepalive") {
		t.Error("the keepalive keys are safe sysctls since Kubernetes 1.29")
	}
	if len(p.SysctlFiles) != 0 {
		t.Error("host files do not reach other namespaces: no sysctl.d file for them")
	}
}

// TestPlanOkHTTPBehindLVS is the case: an OkHttp client pooling for 5 min through a 90 s
// LVS to nginx. Raising nginx's keep-alive above the pool is planned only together with
// keepalive that refreshes the LVS; nothing planned leaves a connection idle past the LVS.
func TestPlanOkHTTPBehindLVS(t *testing.T) {
	doc := strings.Replace(lvsChain, "{name: clients, type: client}", "{name: clients, type: client, runtime: okhttp}", 1)
	doc = strings.Replace(doc, "    local: true\n", "", 1)
	c, err := chain.Resolved("keeptune.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profiles.Resolve("api-gateway")
	p := Make(Input{Chain: c, Profile: prof})
	ka, ok := p.FindHop("nginx", "downstream", KeyKeepaliveIdle)
	if !ok || ka.To != "80s" {
		t.Fatalf("nginx keepalive: %+v (changes %+v)", ka, p.Changes)
	}
	if idle, ok := p.FindHop("nginx", "downstream", KeyIdleTimeout); ok && idle.To != "310s" {
		t.Errorf("nginx keep-alive idle -> %s, want 310 s (pool 300 s + 2%%, rounded up to 5 s: safe once keepalive refreshes the LVS)", idle.To)
	}
	if len(p.Conflicts) != 0 {
		t.Errorf("conflicts: %+v", p.Conflicts)
	}
	// Without keepalive able to refresh it (an LVS that counts payload only), a longer idle is
	// not safe: the pool is shortened instead.
	doc2 := strings.Replace(doc, "idle_timeout: 90s}", "idle_timeout: 90s, refreshed_by: payload}", 1)
	c2, err := chain.Resolved("keeptune.yaml", []byte(doc2))
	if err != nil {
		t.Fatal(err)
	}
	p2 := Make(Input{Chain: c2, Profile: prof})
	if idle, ok := p2.FindHop("nginx", "downstream", KeyIdleTimeout); ok {
		t.Errorf("nginx idle raised to %s behind a payload-only 90 s middlebox", idle.To)
	}
	if pool, ok := p2.FindHop("clients", "upstream", KeyIdleTimeout); !ok || durMillis(pool.To) >= 90000 {
		t.Errorf("pool: %+v", pool)
	}
}

// TestPlanUserTimeout: TCP_USER_TIMEOUT between the keepalive cycle and the read timeout, or a
// conflict naming both choices when no value fits (KT705).
func TestPlanUserTimeout(t *testing.T) {
	prof, _ := profiles.Resolve("api-gateway")
	for _, c := range []struct {
		side, want string
		conflict   bool
	}{
		{"{user_timeout: 5s, tcp_keepalive: {idle: 60s, interval: 10s, count: 3}}", "90s", false},
		{"{user_timeout: 60s, read_timeout: 30s}", "27s", false},
		{"{user_timeout: 30s, read_timeout: 10s, tcp_keepalive: {idle: 60s, interval: 10s, count: 3}}", "", true},
		{"{user_timeout: 95s, read_timeout: 300s, tcp_keepalive: {idle: 60s, interval: 10s, count: 3}}", "", false},
	} {
		doc := "chain:\n  - {name: c, type: client, upstream: " + c.side + "}\n  - {name: s, type: server}\n"
		ch, err := chain.Resolved("k.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		p := Make(Input{Chain: ch, Profile: prof})
		got, ok := p.FindHop("c", "upstream", KeyUserTimeout)
		switch {
		case c.conflict:
			if ok || len(p.Conflicts) != 1 || len(p.Conflicts[0].Choices) != 2 {
				t.Errorf("%s: change %+v, conflicts %+v, want one conflict and no change", c.side, got, p.Conflicts)
			}
		case c.want == "":
			if ok {
				t.Errorf("%s: %s already fits, planned %s", c.side, "95s", got.To)
			}
		case !ok || got.To != c.want:
			t.Errorf("%s: planned %+v, want %s", c.side, got, c.want)
		}
	}
}
