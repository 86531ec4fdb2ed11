package apply

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/testutil"
)

// realFixture is the fixture in a sandbox: the files in the sandbox's /etc (an overlay whose
// writes vanish with it), the live values in its network namespace (standing in for the host's)
// and in a second namespace pinned at /run/netns/app (the sandbox's own /run).
func realFixture(t *testing.T) *fixture {
	t.Helper()
	if err := os.RemoveAll("/etc/sysctl.d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(appNetns); err != nil {
		if err := os.MkdirAll(filepath.Dir(appNetns), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(appNetns, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		err := netns.New(func() error {
			return unix.Mount("/proc/thread-self/ns/net", appNetns, "", unix.MS_BIND, "")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{root: "/", state: filepath.Join(fastTempDir(t), "state"), sys: ProcSysctls{}, real: true}
	f.populate(t)
	return f
}

// TestKillAtEveryStepReal is the failpoint test against the real kernel and file system: apply
// and rollback are stopped with SIGKILL at every step, in a throw-away mount and network
// namespace, and the next rollback or apply leaves every file (bytes, mode, owner, mtime) and
// every live value in both namespaces consistent.
func TestKillAtEveryStepReal(t *testing.T) {
	if !testutil.Sandbox(t) {
		return
	}
	t.Run("apply", func(t *testing.T) { killAtEveryStep(t, "apply", realFixture, false) })
	t.Run("rollback", func(t *testing.T) { killAtEveryStep(t, "rollback", realFixture, false) })
}
