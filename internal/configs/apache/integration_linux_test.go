//go:build linux

package apache_test

// Integration tests against the real Apache httpd (Debian's apache2 package; .ci/run installs
// it). They skip, saying why, when the binary is missing; reading the accepted socket's options
// also needs root (pidfd_getfd on httpd's child process).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/cli"
	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/configs/apache"
	"github.com/keeptune/keeptune/internal/testutil"
)

func apacheBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("apache2")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/apache2"); err != nil {
			t.Skip("apache2 is not installed (apt-get install apache2; .ci/run installs it)")
		}
	}
	return bin
}

// checkEnv is what the testdata needs: a port, a directory, a document root, and the user the
// children run as when httpd starts as root (nobody; unprivileged, httpd ignores User).
func checkEnv(t *testing.T) map[string]string {
	docroot, _ := filepath.Abs("testdata/valid/htdocs")
	env := map[string]string{"KT_PORT": "18080", "KT_PORT2": "18081", "KT_DIR": t.TempDir(), "KT_DOCROOT": docroot, "KT_USER": "nobody", "KT_GROUP": "nogroup"}
	if os.Geteuid() != 0 {
		env["KT_USER"], env["KT_GROUP"] = "#"+strconv.Itoa(os.Geteuid()), "#"+strconv.Itoa(os.Getegid())
	}
	return env
}

// TestApacheCheckAgrees runs apache2 -t on every testdata configuration: the valid ones pass
// both httpd and keeptune, the invalid ones fail both, at the same line.
func TestApacheCheckAgrees(t *testing.T) {
	bin := apacheBinary(t)
	env := checkEnv(t)
	for _, dir := range []string{"valid", "invalid"} {
		abs, _ := filepath.Abs(filepath.Join("testdata", dir))
		files, _ := filepath.Glob(filepath.Join(abs, "*.conf"))
		for _, f := range files {
			cmd := exec.Command(bin, "-t", "-f", f, "-d", abs)
			cmd.Env = testutil.Environ(env)
			out, err := cmd.CombinedOutput()
			_, perr := apache.Options{Env: env, ServerRoot: abs}.Parse(os.DirFS("/"), f)
			if dir == "valid" {
				if err != nil || !strings.Contains(string(out), "Syntax OK") {
					t.Errorf("apache2 -t -f %s: %v\n%s", f, err, out)
				}
				if perr != nil {
					t.Errorf("keeptune: %v", perr)
				}
				continue
			}
			want := wantLine(t, f)
			m := regexp.MustCompile(`Syntax error on line (\d+) of ([^:]+):`).FindSubmatch(out)
			if u := regexp.MustCompile(`Syntax error on line \d+ of macro .*used on line (\d+) of "([^"]+)"+:`).FindSubmatch(out); u != nil {
				// Inside a mod_macro expansion httpd names the line within the macro and, last,
				// the Use line in the file: keeptune names that one.
				m = u
			}
			if err == nil || m == nil || string(m[1]) != strconv.Itoa(want) || string(m[2]) != f {
				t.Errorf("apache2 -t -f %s: want a syntax error at line %d:\n%s", f, want, out)
			}
			var pe *apache.ParseError
			if !errors.As(perr, &pe) || pe.Line != want || pe.File != f {
				t.Errorf("keeptune: %s: %v, want an error at %s:%d", filepath.Base(f), perr, f, want)
			}
		}
	}
}

func wantLine(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	rest, _ := strings.CutPrefix(first, "# want: ")
	n, _ := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
	return n
}

// startApache runs httpd in the foreground with its own server root, port, pid file, error log
// and mutex directory, and stops it (and checks that no process is left) when the test ends.
func startApache(t *testing.T, bin, conf string, env map[string]string) *exec.Cmd {
	t.Helper()
	abs, _ := filepath.Abs(conf)
	root := filepath.Dir(abs)
	// The children may run as another user: let them into the directory.
	if err := os.Chmod(env["KT_DIR"], 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-f", abs, "-d", root, "-DFOREGROUND")
	cmd.Env, cmd.Stdout, cmd.Stderr = testutil.Environ(env), &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(testutil.ProcessesWith(abs)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if left := testutil.ProcessesWith(abs); len(left) > 0 {
			t.Errorf("httpd processes left running after the test: %v", left)
		}
		if _, err := os.Stat(filepath.Join(env["KT_DIR"], "httpd.pid")); err == nil {
			t.Errorf("httpd left its pid file behind (not stopped cleanly)")
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(env["KT_DIR"], "error.log"))
			t.Logf("httpd stderr:\n%s\nerror.log:\n%s", stderr.String(), log)
		}
	})
	addr := "127.0.0.1:" + env["KT_PORT"]
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("httpd does not listen on %s:\n%s", addr, stderr.String())
	return nil
}

// TestApacheLive runs httpd with testdata/valid/live.conf and checks what keeptune reads from
// the file against what httpd does: the keep-alive idle timeout of a client connection, and
// (root) the TCP keepalive of the socket httpd accepted.
func TestApacheLive(t *testing.T) {
	bin := apacheBinary(t)
	if testing.Short() {
		t.Skip("starts httpd and waits for its keep-alive timeout (-short)")
	}
	env := checkEnv(t)
	env["KT_PORT"] = strconv.Itoa(testutil.FreePort(t))
	c, err := apache.Options{Env: env}.Parse(os.DirFS("testdata/valid"), "live.conf")
	if err != nil {
		t.Fatal(err)
	}
	down := c.Downstream()
	if down.IdleTimeout.Value != 2*time.Second || !down.Pools.Value || !down.TCP.Enabled.Value || down.TCP.Idle.Known {
		t.Fatalf("keeptune read %+v", down)
	}
	cmd := startApache(t, bin, "testdata/valid/live.conf", env)
	addr := "127.0.0.1:" + env["KT_PORT"]

	t.Run("tcp keepalive on the accepted socket", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("reading httpd's socket with pidfd_getfd needs root (CAP_SYS_PTRACE)")
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// httpd's listeners use TCP_DEFER_ACCEPT (AcceptFilter http data): a connection is
		// accepted once data arrives. Start a request and leave it unfinished.
		if _, err := io.WriteString(conn, "GET /index.html HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
		local := conn.LocalAddr().(*net.TCPAddr)
		var got testutil.SocketKeepalive
		var found bool
		var read int
		for i := 0; i < 100 && !found; i++ { // until a worker has accepted it
			got, found, read = testutil.ServerSocket(t, append(children(cmd.Process.Pid), cmd.Process.Pid), nil, local)
			if !found {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if !found {
			t.Fatalf("no socket of httpd (pid %d and children, %d socket descriptors read) has peer %s", cmd.Process.Pid, read, local)
		}
		// keeptune: SO_KEEPALIVE on (httpd sets it on listeners), timings from the host.
		want := testutil.SocketKeepalive{PID: got.PID, Keepalive: true, Idle: testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_time"),
			Interval: testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_intvl"), Count: testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_probes")}
		if got != want {
			t.Errorf("accepted socket: %+v; keeptune says on with the host's %d/%d/%d", got, want.Idle, want.Interval, want.Count)
		}
		t.Logf("accepted socket: %+v", got)
	})

	t.Run("keep-alive idle timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		io.WriteString(conn, "GET /index.html HTTP/1.1\r\nHost: keeptune.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
		}
		idle := down.IdleTimeout.Value
		start := time.Now()
		conn.SetReadDeadline(start.Add(idle + 5*time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("data on an idle connection")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("httpd kept the idle connection more than %v", idle+5*time.Second)
		}
		got := time.Since(start)
		// httpd starts its timer when it has sent the response, a moment before the client read
		// it: allow 20 ms of that, never more.
		if got < idle-20*time.Millisecond || got > idle+time.Second {
			t.Errorf("httpd closed the idle connection after %v; keeptune read KeepAliveTimeout %v (want within [%v, %v])", got, idle, idle, idle+time.Second)
		}
		t.Logf("idle connection closed after %v (keeptune: %v from %s)", got.Round(time.Millisecond), idle, down.IdleTimeout.Source)
	})
}

func debianConffile(pkg, path string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Conffiles}", pkg).Output()
	if err != nil {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	sum := md5.Sum(data)
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == path {
			return f[1] == hex.EncodeToString(sum[:])
		}
	}
	return false
}

// TestDebianApacheConfig reads the apache2.conf Debian installed, with its includes, through
// the registry (format detected) and keeptune lint: no parse error, no error finding, and
// Debian's documented values (KeepAliveTimeout 5, KeepAlive On, MaxKeepAliveRequests 100,
// Timeout 300). apache2ctl configtest agrees that the tree is valid.
func TestDebianApacheConfig(t *testing.T) {
	const path = "/etc/apache2/apache2.conf"
	apacheBinary(t)
	if !debianConffile("apache2", path) {
		t.Skip(path + " is not the file Debian's apache2 package installed (missing or edited)")
	}
	if out, err := exec.Command("apache2ctl", "configtest").CombinedOutput(); err != nil || !strings.Contains(string(out), "Syntax OK") {
		t.Errorf("apache2ctl configtest: %v\n%s", err, out)
	}
	c, err := configs.ReadFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "apache" || len(c.Files) < 10 {
		t.Fatalf("format %q, %d files", c.Format, len(c.Files))
	}
	want := map[string]string{"KeepAliveTimeout": "5", "KeepAlive": "On", "MaxKeepAliveRequests": "100", "Timeout": "300"}
	for _, v := range c.Values {
		if w, ok := want[v.Key]; ok && v.Location.File == path {
			if v.Value != w {
				t.Errorf("%s = %q, want %q", v.Key, v.Value, w)
			}
			delete(want, v.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("not read: %v", want)
	}
	d := c.Downstream
	if d.IdleTimeout.Value != 5*time.Second || d.IdleTimeout.Source.File != path || !d.Pools.Value || d.ReadTimeout.Value != 300*time.Second {
		t.Errorf("downstream %+v", d)
	}
	if c.Detail.(*apache.Config).MPM == "" {
		t.Errorf("no MPM found among %d files", len(c.Files))
	}
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), []string{"lint", "--color", "never", "--fail-on", "error", path}, cli.IO{Out: &out, Err: &errb})
	if code != cli.ExitOK {
		t.Errorf("keeptune lint %s: exit %d\n%s%s", path, code, out.String(), errb.String())
	}
	t.Logf("keeptune lint %s:\n%s", path, out.String())
}

// children lists the child processes of pid (httpd's workers hold the accepted sockets).
func children(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: the comm may hold spaces, so split after the last ')'.
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
