package enforce

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sandbox is a throw-away place to enforce in: a fresh cgroup under the v2 hierarchy and a
// private bpffs mounted on a temporary directory, so that nothing touches the host's
// /sys/fs/bpf. The drill, the benchmark and the tests use it. Close removes all of it.
type Sandbox struct {
	Enforcer *Enforcer
	Target   Target
	// Dir is the cgroup's directory; start processes in it with Cmd's SysProcAttr (UseCgroupFD).
	Dir   string
	bpffs string
}

// NewSandbox creates the cgroup (named prefix-PID-TIME) and the bpffs, and opens an Enforcer on
// them. The checks of Open apply: a MissingError says what the system lacks.
func NewSandbox(prefix string) (sb *Sandbox, err error) {
	mounts, err := readMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	root, _, ok := cgroup2Mount(mounts)
	if !ok {
		return nil, &MissingError{What: "no cgroup v2 hierarchy is mounted", Hint: "mount -t cgroup2 none /sys/fs/cgroup/unified"}
	}
	cleanStale(root)
	sb = &Sandbox{}
	defer func() {
		if err != nil {
			sb.Close()
		}
	}()
	if sb.bpffs, err = os.MkdirTemp("", fmt.Sprintf("%s%d-", sandboxBPFFSPrefix, os.Getpid())); err != nil {
		return nil, err
	}
	if err := unix.Mount("bpf", sb.bpffs, "bpf", 0, "mode=0700"); err != nil {
		os.Remove(sb.bpffs)
		sb.bpffs = ""
		if errors.Is(err, unix.EPERM) {
			return nil, &MissingError{What: "mounting a bpf file system needs CAP_SYS_ADMIN", Privilege: true}
		}
		return nil, fmt.Errorf("mounting a private bpffs: %w", err)
	}
	sb.Dir = filepath.Join(root, fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(sb.Dir, 0o755); err != nil {
		sb.Dir = ""
		return nil, fmt.Errorf("creating a cgroup: %w", err)
	}
	if sb.Enforcer, err = Open(Options{BPFFS: sb.bpffs, CgroupRoot: root, NoMount: true}, true); err != nil {
		return nil, err
	}
	if sb.Target, err = sb.Enforcer.Resolve(Scope{Cgroup: sb.Dir}); err != nil {
		return nil, err
	}
	return sb, nil
}

// CgroupFD opens the cgroup's directory for SysProcAttr.CgroupFD (clone3 CLONE_INTO_CGROUP,
// Linux 5.7): the process starts in the cgroup, before it opens any socket.
func (sb *Sandbox) CgroupFD() (int, error) {
	return unix.Open(sb.Dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// ProcAttr returns SysProcAttr that starts a command in the cgroup; close fd after Start.
func (sb *Sandbox) ProcAttr() (attr *syscall.SysProcAttr, fd int, err error) {
	fd, err = sb.CgroupFD()
	if err != nil {
		return nil, -1, err
	}
	return &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Setpgid: true}, fd, nil
}

// Close detaches everything, unmounts the bpffs and removes the cgroup, killing what still runs
// in it. It returns the first error; the rest is still attempted.
func (sb *Sandbox) Close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if sb.Enforcer != nil {
		_, err := sb.Enforcer.Detach(nil)
		keep(err)
	}
	if sb.bpffs != "" {
		keep(unix.Unmount(sb.bpffs, unix.MNT_DETACH))
		keep(os.Remove(sb.bpffs))
	}
	if sb.Dir != "" {
		keep(removeCgroup(sb.Dir))
	}
	return first
}

// removeCgroup kills the cgroup's processes (cgroup.kill, Linux 5.14, else one by one) and
// removes it, waiting for them to go.
func removeCgroup(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	// Child cgroups first (cgroup.kill reached their processes too).
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	var err error
	for i := 0; i < 100; i++ {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", dir, err)
}

// BPFFS is the sandbox's private bpffs mount point (enforce's --bpffs).
func (sb *Sandbox) BPFFS() string { return sb.bpffs }

// sandboxBPFFSPrefix starts the name of a sandbox's bpffs directory under the temporary
// directory: keeptune-bpffs-PID-RANDOM. Its cgroup is PREFIX-PID-NANOSECONDS.
const sandboxBPFFSPrefix = "keeptune-bpffs-"

// cleanStale removes what sandboxes of processes that no longer run left behind (a process
// killed before its Close): their bpffs mounts (which hold their pins) and their cgroups.
func cleanStale(cgroupRoot string) {
	dead := func(name string) bool {
		f := strings.Split(name, "-")
		if len(f) < 3 {
			return false
		}
		pid, err := strconv.Atoi(f[len(f)-2])
		if err != nil || pid <= 0 {
			return false
		}
		return unix.Kill(pid, 0) == unix.ESRCH
	}
	tmp := os.TempDir()
	if entries, err := os.ReadDir(tmp); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), sandboxBPFFSPrefix) && dead(e.Name()) {
				dir := filepath.Join(tmp, e.Name())
				if isBPFFS(dir) {
					_ = unix.Unmount(dir, unix.MNT_DETACH)
				}
				_ = os.Remove(dir)
			}
		}
	}
	if entries, err := os.ReadDir(cgroupRoot); err == nil {
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "keeptune-") && dead(e.Name()) {
				_ = removeCgroup(filepath.Join(cgroupRoot, e.Name()))
			}
		}
	}
}
