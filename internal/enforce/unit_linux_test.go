package enforce

import (
	"bufio"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/keeptune/keeptune/internal/plan"
)

func TestPolicyValidate(t *testing.T) {
	ok := Policy{Idle: 60 * time.Second, Interval: 10 * time.Second, Probes: 6, UserTimeout: 2 * time.Minute, Side: SideBoth, Mode: ModeDefault}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mod  func(*Policy)
		want string
	}{
		{func(p *Policy) { *p = Policy{Side: SideBoth, Mode: ModeDefault} }, "sets nothing"},
		{func(p *Policy) { p.Idle = 1500 * time.Millisecond }, "whole seconds"},
		{func(p *Policy) { p.Idle = 500 * time.Millisecond }, "at least 1s"},
		{func(p *Policy) { p.Interval = 40000 * time.Second }, "above the kernel's limit"},
		{func(p *Policy) { p.Probes = 128 }, "1 to 127"},
		{func(p *Policy) { p.UserTimeout = -time.Second }, "negative"},
		{func(p *Policy) { p.UserTimeout = 1500 * time.Microsecond }, "milliseconds"},
		{func(p *Policy) { p.Side = "in" }, "connect, accept or both"},
		{func(p *Policy) { p.Mode = "strict" }, "default or force"},
	} {
		p := ok
		tc.mod(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error with %q", p, err, tc.want)
		}
	}
}

func TestPolicyValueRoundTrip(t *testing.T) {
	for _, p := range []Policy{
		{Idle: 60 * time.Second, Interval: 10 * time.Second, Probes: 6, UserTimeout: 2 * time.Minute, Side: SideBoth, Mode: ModeForce},
		{UserTimeout: 1500 * time.Millisecond, Side: SideConnect, Mode: ModeDefault},
		{Idle: 30 * time.Second, Side: SideAccept, Mode: ModeDefault},
	} {
		b := policyValue(p)
		got, err := decodePolicy(b)
		if err != nil {
			t.Fatal(err)
		}
		if got != p {
			t.Errorf("round trip: got %+v, want %+v", got, p)
		}
		if flags := b[offFlags]; (flags&flagKeepalive != 0) != p.Keepalive() {
			t.Errorf("%+v: keepalive flag %v", p, flags&flagKeepalive != 0)
		}
	}
	if got := (Policy{Idle: 60 * time.Second, Probes: 6, UserTimeout: 2 * time.Minute}).String(); got != "keepalive 60s/-/6, user timeout 120s" {
		t.Errorf("String: %q", got)
	}
}

func TestCountersSumPerCPU(t *testing.T) {
	cpu := func(v ...uint64) []byte {
		b := make([]byte, numCounters*8)
		for i, x := range v {
			b[i*8] = byte(x)
		}
		return b
	}
	got := decodeCounters([][]byte{cpu(1, 2, 3, 4, 5), cpu(10, 0, 1, 0, 2)})
	want := Counters{Connect: 11, Accept: 2, AlreadySet: 4, GuardRewrites: 4, Errors: 7}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func cgroupTree(dirs ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for _, d := range dirs {
		m[d] = &fstest.MapFile{Mode: 0o755 | 1<<31} // fs.ModeDir
		m[d+"/cgroup.procs"] = &fstest.MapFile{}
	}
	return m
}

func TestResolveScope(t *testing.T) {
	const id = "4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
	tree := cgroupTree(
		"system.slice", "system.slice/nginx.service", "system.slice/legacy.service",
		"user.slice", "user.slice/user-1000.slice", "user.slice/user-1000.slice/user@1000.service",
		"user.slice/user-1000.slice/user@1000.service/app.slice", "user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service",
		"kubepods.slice", "kubepods.slice/kubepods-burstable.slice",
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_1111_2222_3333_444455556666.slice",
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_1111_2222_3333_444455556666.slice/cri-containerd-"+id+".scope",
		"system.slice/docker-"+strings.Repeat("ab", 32)+".scope",
		"machine.slice/libpod-conmon-"+strings.Repeat("cd", 32)+".scope",
		"machine.slice/libpod-"+strings.Repeat("cd", 32)+".scope",
	)
	tree["machine.slice"] = &fstest.MapFile{Mode: 0o755 | 1<<31}
	logs := cgroupTree("shop_cart-7d9f_0a1b2c3d-1111-2222-3333-444455556666", "shop_other_99")
	const mnt = "/sys/fs/cgroup/unified"
	for _, tc := range []struct {
		s    Scope
		want string // or "error: ..." substring
	}{
		{Scope{Cgroup: "/system.slice/legacy.service"}, "/system.slice/legacy.service"},
		{Scope{Cgroup: "system.slice/legacy.service/"}, "/system.slice/legacy.service"},
		{Scope{Cgroup: mnt + "/system.slice/legacy.service"}, "/system.slice/legacy.service"},
		{Scope{Cgroup: "/"}, "error: refusing to enforce on the root cgroup"},
		{Scope{Cgroup: "/nope"}, "error: cgroup /nope not found"},
		{Scope{Unit: "legacy.service"}, "/system.slice/legacy.service"},
		{Scope{Unit: "legacy"}, "/system.slice/legacy.service"},
		// Two nginx units, one system one user: the system one wins.
		{Scope{Unit: "nginx.service"}, "/system.slice/nginx.service"},
		{Scope{Unit: "app.slice"}, "/user.slice/user-1000.slice/user@1000.service/app.slice"},
		{Scope{Unit: "gone.service"}, "error: no cgroup for it"},
		{Scope{Pod: "shop/cart-7d9f"}, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_1111_2222_3333_444455556666.slice"},
		{Scope{Pod: "shop/missing"}, "error: does not run on this node"},
		{Scope{Pod: "shop"}, "error: want NAMESPACE/NAME"},
		{Scope{Container: id[:12]}, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_1111_2222_3333_444455556666.slice/cri-containerd-" + id + ".scope"},
		{Scope{Container: strings.Repeat("ab", 8)}, "/system.slice/docker-" + strings.Repeat("ab", 32) + ".scope"},
		{Scope{Container: strings.Repeat("cd", 6)}, "/machine.slice/libpod-" + strings.Repeat("cd", 32) + ".scope"},
		{Scope{Container: "xyz"}, "error: at least 12 hex digits"},
		{Scope{}, "error: name the cgroup"},
		{Scope{Unit: "a", Cgroup: "/b"}, "error: only one of"},
	} {
		got, err := resolveScope(tree, mnt, logs, tc.s)
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %q, %v; want an error with %q", tc.s, got, err, want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.s, got, err, tc.want)
		}
	}
}

func TestMountinfo(t *testing.T) {
	const hybrid = `24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
40 24 0:33 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:17 - bpf bpf rw,mode=700
41 24 0:34 / /mnt/with\040space rw - cgroup2 none rw
`
	mounts, err := parseMountinfo(bufio.NewScanner(strings.NewReader(hybrid)))
	if err != nil {
		t.Fatal(err)
	}
	point, root, ok := cgroup2Mount(mounts)
	if !ok || point != "/sys/fs/cgroup/unified" || root != "/" {
		t.Errorf("hybrid: %q %q %v", point, root, ok)
	}
	if mounts[5].Point != "/mnt/with space" {
		t.Errorf("octal escape: %q", mounts[5].Point)
	}
	if _, _, ok := cgroup2Mount(mounts[:1]); ok {
		t.Error("no cgroup2 mount found one")
	}
}

func TestParseRelease(t *testing.T) {
	for rel, want := range map[string][2]int{"6.18.44-fc-v1272": {6, 18}, "5.4.0-150-generic": {5, 4}, "6.9-rc1": {6, 9}, "5.10": {5, 10}} {
		got, err := parseRelease(rel)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", rel, got, err, want)
		}
	}
	if _, err := parseRelease("linux"); err == nil {
		t.Error("no error for a release without a version")
	}
}

func TestLinkPlan(t *testing.T) {
	paths := map[uint64]string{1: "/a", 2: "/a/b", 3: "/c", 4: "/c/d/e", 5: "/ab"}
	pols := map[uint64]Policy{
		1: {Mode: ModeDefault}, 2: {Mode: ModeForce}, 3: {Mode: ModeForce}, 4: {Mode: ModeForce}, 5: {Mode: ModeDefault},
	}
	ops, guard := linkPlan(paths, pols)
	// Every enforced cgroup has its own sock_ops link: the link's storage holds its policy.
	if len(ops) != 5 {
		t.Errorf("sock_ops links on %v, want all 5 cgroups", ops)
	}
	// /a/b is force under a default /a: it needs its own guard; /c/d/e is under the force /c.
	if len(guard) != 2 || !guard[2] || !guard[3] {
		t.Errorf("guard links on %v, want 2, 3", guard)
	}
}

func TestMissingCaps(t *testing.T) {
	all := uint64(1<<capBPF | 1<<capPerfmon | 1<<capNetAdmin | 1<<capSysAdmin)
	if m := missingCaps(all, true); len(m) != 0 {
		t.Errorf("root: %v", m)
	}
	m := missingCaps(1<<capBPF|1<<capPerfmon, true)
	if len(m) != 2 || !strings.HasPrefix(m[0], "CAP_NET_ADMIN") || !strings.HasPrefix(m[1], "CAP_SYS_ADMIN") {
		t.Errorf("without net admin and sys admin: %v", m)
	}
	if m := missingCaps(1<<capSysAdmin|1<<capNetAdmin, false); len(m) != 0 {
		t.Errorf("CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON: %v", m)
	}
}

func TestFromPlan(t *testing.T) {
	p := &plan.Plan{
		Changes: []plan.Change{
			{Scope: plan.Scope{Kind: plan.ScopeHost}, Key: planIdleKey, To: "300"},
			{Scope: plan.Scope{Kind: plan.ScopeNetns, Netns: &plan.NetnsRef{Inode: 77}}, Key: planIdleKey, To: "120"},
		},
		Kept: []plan.Kept{{Scope: plan.Scope{Kind: plan.ScopeHost}, Key: planProbesKey, Value: plan.Value{Value: "5", Known: true}}},
	}
	v, err := FromPlan(p, 10, 10)
	if err != nil || v.Idle != 300*time.Second || v.Probes != 5 || v.Interval != 0 {
		t.Errorf("host: %+v %v", v, err)
	}
	v, err = FromPlan(p, 77, 10)
	if err != nil || v.Idle != 120*time.Second || v.Probes != 0 {
		t.Errorf("netns 77: %+v %v", v, err)
	}
	if _, err := FromPlan(p, 78, 10); err == nil || !strings.Contains(err.Error(), "netns:78") {
		t.Errorf("netns without targets: %v", err)
	}
}

// The context offsets are uapi (stable), but check them against this kernel's BTF anyway.
func TestContextOffsetsMatchKernelBTF(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	for _, tc := range []struct {
		strct, field string
		size         uint32
		want         int16
	}{
		{"bpf_sock_ops", "op", 4, ctxSockOpsOp},
		{"bpf_sock_ops", "sk", 8, ctxSockOpsSk},
		{"bpf_sockopt", "sk", 8, ctxSockoptSk},
		{"bpf_sockopt", "optval", 8, ctxSockoptVal},
		{"bpf_sockopt", "optval_end", 8, ctxSockoptValEnd},
		{"bpf_sockopt", "level", 4, ctxSockoptLevel},
		{"bpf_sockopt", "optname", 4, ctxSockoptName},
		{"bpf_sockopt", "optlen", 4, ctxSockoptOptlen},
		{"bpf_sock", "protocol", 4, bpfSockProtocol},
		{"bpf_sock", "state", 4, bpfSockState},
	} {
		got, err := fieldOffset(spec, fieldSpec{tc.strct, tc.field, tc.size})
		if err != nil || got != tc.want {
			t.Errorf("%s.%s: offset %d (%v), the program uses %d", tc.strct, tc.field, got, err, tc.want)
		}
	}
	if _, err := layoutFromBTF(spec); err != nil {
		t.Errorf("this kernel's layout: %v", err)
	}
}
