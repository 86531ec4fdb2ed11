package enforce

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// minKernel is the oldest kernel with everything the programs use: bpf_setsockopt's keepalive
// options (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT, TCP_USER_TIMEOUT: commit f9bcf96837f1, 5.9),
// bpf_skc_to_tcp_sock and reading kernel structures through BTF from a sock_ops program (5.9),
// cgroup bpf_link (5.7) and cgroup/setsockopt (5.3).
var minKernel = [2]int{5, 9}

// kernelRelease returns uname -r and its major.minor.
func kernelRelease() (string, [2]int, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", [2]int{}, err
	}
	rel := unix.ByteSliceToString(u.Release[:])
	v, err := parseRelease(rel)
	return rel, v, err
}

func parseRelease(rel string) ([2]int, error) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("kernel release %q: no major.minor", rel)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		// "6.18-rc1": keep the leading digits of the minor.
		digits := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
		if digits > 0 {
			minor, err2 = strconv.Atoi(parts[1][:digits])
		}
		if err1 != nil || err2 != nil {
			return [2]int{}, fmt.Errorf("kernel release %q: no major.minor", rel)
		}
	}
	return [2]int{major, minor}, nil
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	Root, Point, FSType string
}

func readMounts(file string) ([]mount, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountinfo(bufio.NewScanner(f))
}

// parseMountinfo reads proc(5) mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SRC SUPER".
func parseMountinfo(sc *bufio.Scanner) ([]mount, error) {
	var out []mount
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(f) {
			continue
		}
		out = append(out, mount{Root: unescapeMount(f[3]), Point: unescapeMount(f[4]), FSType: f[sep+1]})
	}
	return out, sc.Err()
}

// unescapeMount undoes the octal escapes (\040 for space) of mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroup2Mount picks the cgroup v2 hierarchy: /sys/fs/cgroup on a unified system,
// /sys/fs/cgroup/unified on a hybrid one, else the first cgroup2 mount. root is the mount's root
// within the hierarchy ("/" unless a container sees only its part).
func cgroup2Mount(mounts []mount) (point, root string, ok bool) {
	var first *mount
	for i, m := range mounts {
		if m.FSType != "cgroup2" {
			continue
		}
		if m.Point == "/sys/fs/cgroup" || m.Point == "/sys/fs/cgroup/unified" {
			return m.Point, m.Root, true
		}
		if first == nil {
			first = &mounts[i]
		}
	}
	if first != nil {
		return first.Point, first.Root, true
	}
	return "", "", false
}

// capability numbers (include/uapi/linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// effectiveCaps reads CapEff from /proc/self/status.
func effectiveCaps() (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("/proc/self/status has no CapEff")
}

// missingCaps lists what loading, attaching and (when needed) mounting lack. CAP_BPF loads the
// programs, CAP_PERFMON lets them read kernel structures through BTF, CAP_NET_ADMIN is needed for
// sock_ops and cgroup attachment; CAP_SYS_ADMIN covers all three on kernels before 5.8 and is
// needed to mount bpffs.
func missingCaps(eff uint64, needMount bool) []string {
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	var missing []string
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF (to load the programs)")
	}
	if !has(capPerfmon) && !has(capSysAdmin) {
		missing = append(missing, "CAP_PERFMON (to let the program read the socket's own values through BTF)")
	}
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN (for sock_ops programs and attaching to cgroups)")
	}
	if needMount && !has(capSysAdmin) {
		missing = append(missing, "CAP_SYS_ADMIN (to mount bpffs)")
	}
	return missing
}

const bpfFSMagic = 0xcafe4a11

func isBPFFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && uint32(st.Type) == bpfFSMagic
}

// mountBPFFS mounts a bpf file system at dir (creating it), the way systemd does at boot.
func mountBPFFS(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("bpf", dir, "bpf", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		return fmt.Errorf("mount -t bpf bpf %s: %w", dir, err)
	}
	return nil
}

// initCgroupNS is PROC_CGROUP_INIT_INO (include/linux/proc_ns.h): the inode of the initial
// cgroup namespace. Only there are the paths under the mount the kernel's own cgroup levels.
const initCgroupNS = 0xEFFFFFFB

func inInitCgroupNS() bool {
	var st unix.Stat_t
	return unix.Stat("/proc/self/ns/cgroup", &st) == nil && st.Ino == initCgroupNS
}

// cgroupID is the id the kernel gives a cgroup: the inode number of its directory.
func cgroupID(dir string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// cgroupPaths maps the id of every cgroup under root to its /path.
func cgroupPaths(root string) map[uint64]string {
	out := map[uint64]string{}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return filepath.SkipDir
		}
		if !d.IsDir() {
			return nil
		}
		if id, err := cgroupID(p); err == nil {
			rel, _ := filepath.Rel(root, p)
			out[id] = "/" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
		}
		return nil
	})
	return out
}
