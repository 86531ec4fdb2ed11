package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary, run as an unprivileged user by TestPrivilegeError, try to
// enter PID 1's namespace and print what it got.
const helperEnv = "KEEPTUNE_NETNS_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		err := Do(path, func() error { return nil })
		fmt.Printf("privilege=%v err=%v\n", errors.Is(err, ErrPrivilege), err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating and entering network namespaces needs CAP_SYS_ADMIN")
	}
}

// allThreadsIn fails the test unless every thread of the process is in namespace want.
func allThreadsIn(t *testing.T, want uint64) {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		ino, err := Inode(filepath.Join("/proc/self/task", task.Name(), "ns/net"))
		if err == nil && ino != want {
			t.Errorf("thread %s left in net:[%d], want net:[%d]", task.Name(), ino, want)
		}
	}
}

// newPinned creates a namespace and keeps it open; it returns the /proc path of the open fd.
func newPinned(t *testing.T) (fd int, path string, inode uint64) {
	t.Helper()
	err := New(func() error {
		var err error
		fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		inode, err = Current()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, fmt.Sprintf("/proc/self/fd/%d", fd), inode
}

func TestDoEntersAndRestores(t *testing.T) {
	requireRoot(t)
	self, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	fd, path, inode := newPinned(t)
	if inode == self {
		t.Fatalf("New ran in the own namespace net:[%d]", self)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				check := func() error {
					if got, err := Current(); err != nil || got != inode {
						return fmt.Errorf("inside net:[%d] (err %v), want net:[%d]", got, err, inode)
					}
					return nil
				}
				if err := Do(path, check); err != nil {
					t.Error("Do:", err)
				}
				if err := DoInode(path, inode, check); err != nil {
					t.Error("DoInode:", err)
				}
				if err := DoFd(fd, "test", check); err != nil {
					t.Error("DoFd:", err)
				}
			}
		}()
	}
	wg.Wait()
	allThreadsIn(t, self)
}

func TestDoPassesCallbackError(t *testing.T) {
	requireRoot(t)
	_, path, _ := newPinned(t)
	boom := errors.New("boom")
	if err := Do(path, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestDoInodeRefusesAnotherNamespace(t *testing.T) {
	requireRoot(t)
	_, path, inode := newPinned(t)
	ran := false
	err := DoInode(path, inode+1, func() error { ran = true; return nil })
	if !errors.Is(err, ErrChanged) || ran {
		t.Errorf("err = %v, ran = %v; want ErrChanged and fn not run", err, ran)
	}
}

func TestDoEmptyPathRunsHere(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := Current()
	if err != nil {
		t.Skip("no /proc/thread-self:", err)
	}
	var got uint64
	if err := Do("", func() error { got, err = Current(); return err }); err != nil || got != self {
		t.Errorf("Do(\"\") ran in net:[%d] (err %v), want own net:[%d]", got, err, self)
	}
}

func TestDoMissingPath(t *testing.T) {
	err := Do("/nonexistent/ns/net", func() error { return nil })
	if err == nil || errors.Is(err, ErrPrivilege) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a not-exist error without ErrPrivilege", err)
	}
}

// TestPrivilegeError runs this test binary as nobody and has it enter PID 1's namespace: the
// kernel refuses, and the error must match ErrPrivilege and name CAP_SYS_ADMIN.
func TestPrivilegeError(t *testing.T) {
	requireRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The go test build directory is private to root: copy the binary where nobody can run it.
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(dir, "netns.test")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=/proc/1/ns/net")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the test binary as nobody (%v): %s", err, out)
	}
	t.Logf("%s", out)
	want := "privilege=true err="
	if len(out) < len(want) || string(out[:len(want)]) != want {
		t.Errorf("as nobody: %s; want an error matching ErrPrivilege", out)
	}
	if !strings.Contains(string(out), "CAP_SYS_ADMIN") {
		t.Errorf("error does not name CAP_SYS_ADMIN: %s", out)
	}
}

func TestWrapMapsPermissionErrors(t *testing.T) {
	for _, errno := range []error{unix.EPERM, unix.EACCES} {
		if err := wrap("enter x", errno); !errors.Is(err, ErrPrivilege) || !errors.Is(err, errno) {
			t.Errorf("wrap(%v) = %v, want ErrPrivilege and the errno", errno, err)
		}
	}
	if err := wrap("enter x", unix.ENOENT); errors.Is(err, ErrPrivilege) {
		t.Errorf("wrap(ENOENT) = %v matches ErrPrivilege", err)
	}
}
