package apply

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RealServers checks configurations with the servers' own checks and reloads the running
// servers the way they run: through their systemd unit when systemd runs them, else with the
// signal their master process takes for a graceful reload.
type RealServers struct{}

// Check runs the server's check in a private mount namespace where every edited copy is
// bind-mounted over its original: the check reads the edited tree, includes and all, while the
// running server and every other process still see the original files.
func (RealServers) Check(server, main string, swapped map[string]string) error {
	argv := checkCommand(server, main)
	if argv == nil {
		return fmt.Errorf("no check for %s", server)
	}
	out, err := runWithBinds(swapped, argv)
	if err != nil {
		return fmt.Errorf("%s rejects the edited configuration (%s: %v):\n  %s", strings.Join(argv, " "), server, err, firstLines(out, 6))
	}
	return nil
}

// runWithBinds runs argv on a thread that has its own mount namespace with binds (original ->
// replacement) mounted. The thread is never unlocked: it ends with its goroutine, so nothing
// else ever runs in that namespace.
func runWithBinds(binds map[string]string, argv []string) ([]byte, error) {
	type result struct {
		out []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			ch <- result{err: fmt.Errorf("private mount namespace: %w", err)}
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			ch <- result{err: fmt.Errorf("private mount namespace: %w", err)}
			return
		}
		for orig, repl := range binds {
			if err := unix.Mount(repl, orig, "", unix.MS_BIND, ""); err != nil {
				ch <- result{err: fmt.Errorf("bind %s over %s: %w", repl, orig, err)}
				return
			}
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		out, err := cmd.CombinedOutput()
		ch <- result{out, err}
	}()
	r := <-ch
	return r.out, r.err
}

// serverNames are the process names of each server's master.
var serverNames = map[string][]string{"nginx": {"nginx"}, "haproxy": {"haproxy"}, "apache": {"apache2", "httpd"}}

// Reload reloads the running server whose master reads main (or the default configuration
// when main is empty) in this mount namespace.
func (RealServers) Reload(server, main string) (string, error) {
	pids, err := masters(server, main)
	if err != nil {
		return "", err
	}
	if len(pids) == 0 {
		return "", nil
	}
	var hows []string
	for _, pid := range pids {
		if unit := systemdUnitOf(pid); unit != "" {
			if out, err := exec.Command("systemctl", "reload", unit).CombinedOutput(); err != nil {
				return "", fmt.Errorf("systemctl reload %s: %v: %s", unit, err, bytes.TrimSpace(out))
			}
			hows = append(hows, "systemctl reload "+unit)
			continue
		}
		sig, name := syscall.SIGHUP, "SIGHUP"
		switch server {
		case "apache":
			sig, name = syscall.SIGUSR1, "SIGUSR1" // graceful restart
		case "haproxy":
			if !haproxyMasterWorker(pid) {
				return "", fmt.Errorf("HAProxy (pid %d) runs without master-worker mode (-W): it cannot be reloaded by a signal; run it with -W or under systemd", pid)
			}
			sig, name = syscall.SIGUSR2, "SIGUSR2"
		}
		if err := syscall.Kill(pid, sig); err != nil {
			return "", fmt.Errorf("signal %s to %s master %d: %w", name, server, pid, err)
		}
		hows = append(hows, fmt.Sprintf("%s to master %d", name, pid))
	}
	return strings.Join(hows, "; "), nil
}

// masters finds the server's master processes in this mount namespace that read main: a
// process with one of the server's names whose parent has another name.
func masters(server, main string) ([]int, error) {
	// thread-self, not self: /proc/self/ns/mnt is the main thread's namespace, and the main
	// thread may be the one runWithBinds moved into a private mount namespace for a check (a
	// locked main thread is wedged, not ended, when its goroutine returns). Every other thread
	// is in the process's namespace, and this goroutine never runs on the wedged one.
	selfMnt, err := os.Readlink("/proc/thread-self/ns/mnt")
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	names := serverNames[server]
	isServer := func(pid string) bool {
		b, err := os.ReadFile(filepath.Join("/proc", pid, "comm"))
		if err != nil {
			return false
		}
		comm := strings.TrimSpace(string(b))
		for _, n := range names {
			if comm == n {
				return true
			}
		}
		return false
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !isServer(e.Name()) {
			continue
		}
		if mnt, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/mnt")); err != nil || mnt != selfMnt {
			continue // another mount namespace reads other files
		}
		if isServer(strconv.Itoa(parentOf(pid))) {
			continue // a worker
		}
		if !readsConfig(pid, server, main) {
			continue
		}
		out = append(out, pid)
	}
	return out, nil
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// cmdline is the process's arguments. nginx and Apache rewrite theirs into one title
// ("nginx: master process nginx -c /etc/nginx/nginx.conf"): that is split at spaces.
func cmdline(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) == 1 && strings.Contains(args[0], " ") {
		title := args[0]
		if _, rest, ok := strings.Cut(title, "master process "); ok {
			title = rest
		}
		return strings.Fields(title)
	}
	return args
}

// readsConfig reports whether the master's command line names main (-c for nginx, -f for
// haproxy and apache), or names none when main is empty.
func readsConfig(pid int, server, main string) bool {
	flag := "-f"
	if server == "nginx" {
		flag = "-c"
	}
	args := cmdline(pid)
	named := ""
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			named = args[i+1]
		} else if strings.HasPrefix(a, flag) && len(a) > len(flag) {
			named = a[len(flag):]
		}
	}
	if main == "" {
		return named == "" || named == defaultConfig[server]
	}
	return named == main
}

var defaultConfig = map[string]string{"nginx": "/etc/nginx/nginx.conf", "haproxy": "/etc/haproxy/haproxy.cfg", "apache": "/etc/apache2/apache2.conf"}

func haproxyMasterWorker(pid int) bool {
	for _, a := range cmdline(pid) {
		if a == "-W" || a == "-Ws" {
			return true
		}
	}
	return false
}

// systemdUnitOf returns the service unit systemd runs pid as, when systemd says pid is the
// unit's main process; "" otherwise (a server started by hand, in a container, or a process
// that only lives in a unit's cgroup).
func systemdUnitOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	var unit string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.LastIndexByte(line, '/'); i >= 0 && strings.HasSuffix(line, ".service") {
			unit = line[i+1:]
		}
	}
	if unit == "" {
		return ""
	}
	out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", unit).Output()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(pid) {
		return ""
	}
	return unit
}

var _ = errors.New
