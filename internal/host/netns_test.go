package host

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
)

// fakeHost builds a root in a temporary directory for namespace tests. Plain files stand for the
// /run/netns bind mounts; their inode numbers become the namespace inodes the fake processes
// point at, which is how readPinnedNetns matches them under an injected root.
type fakeHost struct {
	t    *testing.T
	root string
}

func newFakeHost(t *testing.T, kernel string) *fakeHost {
	h := &fakeHost{t: t, root: t.TempDir()}
	h.write("proc/sys/kernel/osrelease", kernel+"\n")
	h.write("proc/sys/kernel/hostname", "fake\n")
	return h
}

func (h *fakeHost) write(p, s string) {
	h.t.Helper()
	full := filepath.Join(h.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) link(p, target string) {
	h.t.Helper()
	full := filepath.Join(h.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		h.t.Fatal(err)
	}
}

// pin creates /run/netns/name and returns the inode that stands for its namespace.
func (h *fakeHost) pin(name string) uint64 {
	h.write("run/netns/"+name, "")
	ino, err := fileInode(filepath.Join(h.root, "run/netns", name))
	if err != nil {
		h.t.Fatal(err)
	}
	return ino
}

func (h *fakeHost) proc(pid int, comm string, netns uint64) {
	d := "proc/" + strconv.Itoa(pid)
	h.write(d+"/comm", comm+"\n")
	h.link(d+"/ns/net", "net:["+strconv.FormatUint(netns, 10)+"]")
	h.link(d+"/fd/0", "/dev/null")
}

func TestNetnsDiscoveryAndNames(t *testing.T) {
	h := newFakeHost(t, "5.15.0")
	const hostNs, podNs = 4026531992, 4026532500
	blue := h.pin("blue")
	empty := h.pin("empty") // `ip netns add` without a process in it
	h.proc(1, "systemd", hostNs)
	h.proc(10, "keeptune", hostNs)
	h.link("proc/self", "10")
	h.proc(20, "nginx", podNs)
	h.proc(21, "node", podNs)
	h.proc(22, "node", podNs)
	h.proc(23, "node", podNs)
	h.write("proc/20/cgroup", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8d2c1a3e_5f6b_4c7d_9e8f_0a1b2c3d4e5f.slice/cri-containerd-"+strings.Repeat("ab", 32)+".scope\n")
	h.proc(30, "dnsmasq", blue)

	procs, _, err := walkProcs(context.Background(), h.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	pinned, probs := readPinnedNetns(h.root, false)
	if len(probs) != 0 {
		t.Fatalf("problems: %+v", probs)
	}
	all := groupNetns(procs, pinned, hostNs, hostNs, parseKernelRelease("5.15.0"))
	var got []string
	for _, n := range all {
		n.readHint(h.root)
		got = append(got, n.name()+" "+strconv.FormatUint(n.Inode, 10)+" "+fmtInts(n.pids()))
	}
	want := []string{
		"host 4026531992 1,10",
		"blue " + strconv.FormatUint(blue, 10) + " 30",
		"empty " + strconv.FormatUint(empty, 10) + " ",
		"pid 20 nginx, 21 node, 22 node and 1 more (k8s pod 8d2c1a3e-5f6b-4c7d-9e8f-0a1b2c3d4e5f) 4026532500 20,21,22,23",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces:\n got %q\nwant %q", got, want)
	}
	if paths := all[1].entryPaths(h.root); len(paths) != 2 || !strings.HasSuffix(paths[0], "/run/netns/blue") ||
		!strings.HasSuffix(paths[1], "/proc/30/ns/net") {
		t.Errorf("entry paths of blue = %q", paths)
	}

	// Through Collect: without AllNetns the three others are counted, with it they are listed.
	s, err := Collect(context.Background(), Options{Root: h.root})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Namespaces) != 1 || s.Namespaces[0].Name != "host" {
		t.Errorf("namespaces = %+v", s.Namespaces)
	}
	if !hasProblem(s.Problems, "3 other network namespaces in use: not audited") {
		t.Errorf("problems = %+v", s.Problems)
	}
	s, err = Collect(context.Background(), Options{Root: h.root, AllNetns: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range s.Namespaces {
		names = append(names, n.Name)
	}
	if len(names) != 4 || names[1] != "blue" || names[2] != "empty" {
		t.Errorf("names = %q", names)
	}
	if !hasProblem(s.Problems, "sysctls of 3 other network namespaces") {
		t.Errorf("problems = %+v", s.Problems)
	}
}

func fmtInts(v []int) string {
	var s []string
	for _, n := range v {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}

// hasProblem reports whether a problem, rendered "What: Err", contains s.
func hasProblem(probs []model.Problem, s string) bool {
	for _, p := range probs {
		if strings.Contains(p.What+": "+p.Err, s) {
			return true
		}
	}
	return false
}

func TestIsHostNetns(t *testing.T) {
	k515, k618 := parseKernelRelease("5.15.0-91-generic"), parseKernelRelease("6.18.44-fc-v657")
	for _, tt := range []struct {
		inode, pid1 uint64
		kv          kernelVersion
		want        bool
	}{
		{netns.InitInode, 0, k618, true},      // PID 1 unreadable: the fixed inode tells
		{4026532000, 4026532000, k618, false}, // PID 1 of a container, not the host
		{4026531992, 4026531992, k515, true},  // older kernels: PID 1's namespace
		{4026531992, 0, k515, false},          // PID 1 unreadable on an older kernel: unknown
		{4026532000, 4026531992, k515, false}, // another namespace
		{netns.InitInode, 0, kernelVersion{}, true},
	} {
		if got := isHostNetns(tt.inode, tt.pid1, tt.kv); got != tt.want {
			t.Errorf("isHostNetns(%d, %d, %+v) = %v", tt.inode, tt.pid1, tt.kv, got)
		}
	}
}

func TestParseNsLink(t *testing.T) {
	for in, want := range map[string]uint64{
		"net:[4026531833]": 4026531833,
		"net:[]":           0,
		"mnt:[4026531833]": 0,
		"net:[12":          0,
		"net:[-1]":         0,
	} {
		got, ok := parseNsLink(in)
		if got != want || ok != (want != 0) {
			t.Errorf("parseNsLink(%q) = %d, %v", in, got, ok)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	for _, tt := range []struct{ cgroup, want string }{
		{"0::/system.slice/nginx.service\n", "nginx.service"},
		{"0::/system.slice/postgresql@16-main.service\n", "postgresql@16-main.service"},
		{"12:pids:/system.slice/haproxy.service\n1:name=systemd:/system.slice/haproxy.service\n0::/\n", "haproxy.service"},
		{"12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/haproxy.service\n", "haproxy.service"},
		{"0::/system.slice/docker-0123.scope\n", ""},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app.service\n", ""},
		{"0::/init.scope\n", ""},
		{"", ""},
	} {
		if got := systemdUnit([]byte(tt.cgroup)); got != tt.want {
			t.Errorf("systemdUnit(%q) = %q, want %q", tt.cgroup, got, tt.want)
		}
	}
}

func TestContainerHint(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct{ cgroup, want string }{
		{"0::/system.slice/docker-" + id + ".scope\n", "docker 0123456789ab"},
		{"12:pids:/docker/" + id + "\n11:cpu:/docker/" + id + "\n", "docker 0123456789ab"},
		{"0::/machine.slice/libpod-" + id + ".scope/container\n", "podman 0123456789ab"},
		{"0::/system.slice/crio-" + id + ".scope\n", "cri-o 0123456789ab"},
		{"0::/kubepods/besteffort/pod8d2c1a3e-5f6b-4c7d-9e8f-0a1b2c3d4e5f/" + id + "\n", "k8s pod 8d2c1a3e-5f6b-4c7d-9e8f-0a1b2c3d4e5f"},
		{"0::/lxc.payload.web1/init.scope\n", "lxc web1"},
		{"0::/user.slice/user-1000.slice/session-2.scope\n", ""},
		{"0::/\n", ""},
		{"garbage", ""},
		{"", ""},
	} {
		if got := containerHint([]byte(tt.cgroup)); got != tt.want {
			t.Errorf("containerHint(%q) = %q, want %q", tt.cgroup, got, tt.want)
		}
	}
}
