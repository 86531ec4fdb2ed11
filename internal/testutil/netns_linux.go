package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/netns"
)

// RequireRoot skips the test, saying why, unless it runs as root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// NetnsName returns a fresh name with the prefix every keeptune test resource carries.
func NetnsName(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "keeptune-test-" + hex.EncodeToString(b)
}

// PinnedNetns creates a network namespace, runs setup inside it (netns.New), and pins it
// at /run/netns/NAME as `ip netns add` does. No process lives in it: the pin keeps it. t.Cleanup
// unmounts and removes the pin (and /run/netns if the test made it) and fails the test if
// anything is left behind.
func PinnedNetns(t testing.TB, setup func() error) (path, name string) {
	t.Helper()
	name = NetnsName(t)
	path = PinPath(t, name)
	err := netns.New(func() error {
		if err := setup(); err != nil {
			return err
		}
		return unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, name
}

// PinPath creates the empty file /run/netns/name that a namespace is bind-mounted on, and in
// t.Cleanup unmounts whatever is mounted there and removes it.
func PinPath(t testing.TB, name string) string {
	t.Helper()
	const dir = netns.RunDir
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(dir) }) // fails harmlessly if someone else uses it now
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			t.Errorf("cleanup: unmount %s: %v", p, err)
		}
		if err := os.Remove(p); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (err %v)", p, err)
		}
	})
	return p
}
