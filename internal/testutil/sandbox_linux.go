package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// sandboxEnv marks the child process Sandbox runs the test in.
const sandboxEnv = "KEEPTUNE_TEST_SANDBOX"

// Sandbox runs the calling test again in a child process that has its own mount and network
// namespaces, for tests that change /etc, /var/lib and live sysctls (apply, rollback). In the
// child, /etc, /var/lib and /var/log are overlays of the real ones whose writes land in a tmpfs, /run is
// an empty tmpfs (so systemctl cannot reach the real systemd and /run/netns pins stay private),
// and the network namespace is new, with loopback up: it stands in for the host namespace.
// Everything vanishes when the child exits.
//
// Sandbox returns true in the child, where the test goes on, and false in the parent after the
// child finished (its failures are the parent's), where the test must return:
//
//	if !testutil.Sandbox(t) { return }
func Sandbox(t *testing.T) bool {
	t.Helper()
	if os.Getenv(sandboxEnv) == t.Name() {
		enterSandbox(t)
		return true
	}
	RequireRoot(t, "mount and network namespaces for a throw-away /etc and host namespace")
	var pattern []string
	for _, part := range strings.Split(t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(pattern, "/"), "-test.v", "-test.count=1")
	parentNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), sandboxEnv+"="+t.Name(), sandboxEnv+"_PARENT_NET="+parentNet)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	t.Logf("sandboxed run:\n%s", out)
	if err != nil {
		t.Fatalf("sandboxed run failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skip("skipped in the sandbox")
	}
	return false
}

// enterSandbox builds the child's private world and refuses to go on unless it is private.
func enterSandbox(t *testing.T) {
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("sandbox: %s: %v", what, err)
		}
	}
	must("make mounts private", unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	must("tmpfs on /run", unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"))
	// /run/lock as every system has it (apache2ctl keeps its lock directory there).
	must("/run/lock", os.Mkdir("/run/lock", 0o755))
	must("/run/lock mode", os.Chmod("/run/lock", 0o1777))
	// The overlays' upper layers live in the new /run: nothing of them reaches a real disk.
	scratch := "/run/keeptune-sandbox"
	must("scratch directory", os.Mkdir(scratch, 0o700))
	for i, dir := range []string{"/etc", "/var/lib", "/var/log"} {
		upper, work := fmt.Sprintf("%s/%d-upper", scratch, i), fmt.Sprintf("%s/%d-work", scratch, i)
		must("upper layer", os.Mkdir(upper, 0o755))
		must("work directory", os.Mkdir(work, 0o755))
		must("overlay on "+dir, unix.Mount("overlay", dir, "overlay", 0, "lowerdir="+dir+",upperdir="+upper+",workdir="+work))
	}
	// Refuse to run a test that writes /etc unless /etc really is the overlay and the network
	// namespace really is new.
	var st unix.Statfs_t
	must("statfs /etc", unix.Statfs("/etc", &st))
	if st.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Fatalf("sandbox: /etc is not the overlay (type %#x)", st.Type)
	}
	self, err := os.Readlink("/proc/self/ns/net")
	parent := os.Getenv(sandboxEnv + "_PARENT_NET")
	if err != nil || parent == "" || self == parent {
		t.Fatalf("sandbox: not in a network namespace of its own (%s, parent %s: %v)", self, parent, err)
	}
	lo, err := netlink.LinkByName("lo")
	must("loopback", err)
	must("loopback up", netlink.LinkSetUp(lo))
}
