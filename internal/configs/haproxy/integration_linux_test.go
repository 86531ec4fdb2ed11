//go:build linux

package haproxy_test

// Integration tests against the real HAProxy (Debian's haproxy package; .ci/run installs it).
// They skip, saying why, when the binary is missing; the socket checks also need root
// (pidfd_getfd reads HAProxy's own accepted socket).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/cli"
	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/configs/haproxy"
	"github.com/keeptune/keeptune/internal/rules"
	"github.com/keeptune/keeptune/internal/testutil"
)

func haproxyBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install haproxy; .ci/run installs it)")
	}
	return bin
}

// testEnv is the environment the valid testdata needs (ports for bind and server lines).
var testEnv = map[string]string{"KT_FE_PORT": "18001", "KT_FE2_PORT": "18002", "KT_BE_PORT": "18003", "KT_APP": "web"}

func validConfigs(t *testing.T) []string {
	entries, err := os.ReadDir("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestHAProxyCheckAgrees runs haproxy -c on every testdata configuration: the valid ones pass
// both haproxy and keeptune, the invalid ones fail both, at the same line.
func TestHAProxyCheckAgrees(t *testing.T) {
	bin := haproxyBinary(t)
	for _, name := range validConfigs(t) {
		cmd := exec.Command(bin, "-c", "-f", name)
		cmd.Dir, cmd.Env = "testdata/valid", testutil.Environ(testEnv)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Configuration file is valid") {
			t.Errorf("haproxy -c -f %s: %v\n%s", name, err, out)
		}
		if _, err := (haproxy.Options{Env: testEnv}).ParseFiles(os.DirFS("testdata/valid"), name); err != nil {
			t.Errorf("keeptune: %s: %v", name, err)
		}
	}
	invalid, _ := filepath.Glob("testdata/invalid/*.cfg")
	// "parsing [FILE:LINE]" for keywords, "config : [FILE:LINE]" for server parameters
	alert := regexp.MustCompile(`\[ALERT\].*?(?:parsing|config :) \[([^:\]]+):(\d+)\]`)
	for _, f := range invalid {
		want, haproxyLine := expectedLines(t, f)
		cmd := exec.Command(bin, "-c", "-f", filepath.Base(f))
		cmd.Dir, cmd.Env = "testdata/invalid", testutil.Environ(map[string]string{"HOME": "/root"})
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("haproxy -c accepts %s:\n%s", f, out)
			continue
		}
		m := alert.FindSubmatch(out)
		if m == nil || string(m[2]) != strconv.Itoa(haproxyLine) {
			t.Errorf("haproxy -c -f %s: want an alert at line %d:\n%s", f, haproxyLine, out)
		}
		_, perr := (haproxy.Options{Env: map[string]string{"HOME": "/root"}}).ParseFiles(os.DirFS("."), f)
		var pe *haproxy.ParseError
		if !errors.As(perr, &pe) || pe.Line != want {
			t.Errorf("keeptune: %s: %v, want an error at line %d", f, perr, want)
		}
	}
}

// expectedLines reads "# want: LINE: ..." and the optional "# haproxy-line: LINE" of a file.
func expectedLines(t *testing.T, path string) (keeptune, haproxyLine int) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "# want: "); ok {
			keeptune, _ = strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
		}
		if rest, ok := strings.CutPrefix(l, "# haproxy-line: "); ok {
			haproxyLine, _ = strconv.Atoi(strings.Fields(rest)[0])
		}
	}
	if haproxyLine == 0 {
		haproxyLine = keeptune
	}
	return keeptune, haproxyLine
}

// TestHAProxyMissingTimeoutsMatchesCheck compares KT820 with haproxy -c's "missing timeouts"
// warnings on the same file: the same proxies, no more, no fewer.
func TestHAProxyMissingTimeoutsMatchesCheck(t *testing.T) {
	bin := haproxyBinary(t)
	cmd := exec.Command(bin, "-c", "-f", "missing-timeouts.cfg")
	cmd.Dir = "testdata/valid"
	out, _ := cmd.CombinedOutput()
	var warned []string
	for _, m := range regexp.MustCompile(`missing timeouts for (?:frontend|backend|proxy) '([^']+)'`).FindAllSubmatch(out, -1) {
		warned = append(warned, string(m[1]))
	}
	c, err := haproxy.ParseFiles(os.DirFS("testdata/valid"), "missing-timeouts.cfg")
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := rules.Select(rules.Selection{Enable: []string{"KT820"}})
	var found []string
	for _, f := range rules.Run(&rules.Input{Configs: []*configs.Config{c.Configs()}}, sel) {
		found = append(found, f.Subject[strings.LastIndex(f.Subject, " ")+1:])
	}
	sort.Strings(warned)
	sort.Strings(found)
	if len(warned) == 0 || strings.Join(warned, ",") != strings.Join(found, ",") {
		t.Errorf("haproxy -c warns about %q, KT820 about %q\n%s", warned, found, out)
	}
}

// running is an HAProxy started by a test.
type running struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	cfg    string
}

func startHAProxy(t *testing.T, bin, cfg string, env map[string]string) *running {
	t.Helper()
	abs, err := filepath.Abs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: exec.Command(bin, "-f", abs, "-db"), stderr: &bytes.Buffer{}, cfg: abs}
	r.cmd.Env, r.cmd.Stderr, r.cmd.Stdout = testutil.Environ(env), r.stderr, r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := r.cmd.Process.Pid
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- r.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
		}
		// Nothing of ours is left: no process runs with this configuration file.
		if left := testutil.ProcessesWith(abs); len(left) > 0 {
			t.Errorf("haproxy processes left running after the test: %v", left)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !bytes.Contains(st, []byte(") Z")) {
				t.Errorf("haproxy pid %d still exists", pid)
			}
		}
	})
	return r
}

func waitListening(t *testing.T, addr string, r *running) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if r.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s; haproxy said:\n%s", addr, r.stderr)
}

// idleClose sends one keep-alive request on c, reads the response and returns how long the
// server then keeps the idle connection before closing it.
func idleClose(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: keeptune.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatalf("the server answered Connection: close; want keep-alive")
	}
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("unexpected data on an idle connection")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection stayed open longer than %v", limit)
	}
	return time.Since(start)
}

// TestHAProxyLive runs HAProxy with testdata/valid/live.cfg in front of a Go backend and checks
// what keeptune reads from the file against what HAProxy does: the keep-alive idle timeout of a
// client connection, the TCP keepalive options of the socket HAProxy accepted (root), and how
// long an idle server connection stays in HAProxy's pool.
func TestHAProxyLive(t *testing.T) {
	bin := haproxyBinary(t)
	if testing.Short() {
		t.Skip("starts haproxy and waits for its timeouts (-short)")
	}
	// The backend: a Go HTTP server that records when HAProxy closes its connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		at    time.Time
		state http.ConnState
		conn  net.Conn
	}
	events := make(chan event, 64)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateIdle || s == http.StateClosed {
				events <- event{time.Now(), s, c}
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	env := map[string]string{
		"KT_FE_PORT":  strconv.Itoa(testutil.FreePort(t)),
		"KT_FE2_PORT": strconv.Itoa(testutil.FreePort(t)),
		"KT_BE_PORT":  strconv.Itoa(ln.Addr().(*net.TCPAddr).Port),
	}
	c, err := haproxy.Options{Env: env}.ParseFiles(os.DirFS("testdata/valid"), "live.cfg")
	if err != nil {
		t.Fatal(err)
	}
	down, up := c.Downstream(), c.Upstream()
	if down.IdleTimeout.Value != 2*time.Second || !down.TCP.Enabled.Value || up.IdleTimeout.Value != 3*time.Second {
		t.Fatalf("keeptune read: idle %v, tcp %+v, pool idle %v", down.IdleTimeout, down.TCP, up.IdleTimeout)
	}
	r := startHAProxy(t, bin, "testdata/valid/live.cfg", env)
	fe := "127.0.0.1:" + env["KT_FE_PORT"]
	fe2 := "127.0.0.1:" + env["KT_FE2_PORT"]
	waitListening(t, fe, r)
	waitListening(t, fe2, r)

	t.Run("each frontend closes idle clients at its own timeout", func(t *testing.T) {
		cc := c.Configs()
		n := 0
		for _, l := range cc.Listeners {
			if l.Kind != "frontend" {
				continue
			}
			n++
			conn, err := net.Dial("tcp", l.Addresses[0])
			if err != nil {
				t.Fatal(err)
			}
			want := l.Downstream.IdleTimeout.Value
			got := idleClose(t, conn, want+3*time.Second)
			conn.Close()
			t.Logf("%s (%s): parsed %v, closed after %v", l.Name, l.Location, want, got.Round(time.Millisecond))
			if got < want-50*time.Millisecond || got > want+time.Second {
				t.Errorf("%s: idle close after %v, parsed %v", l.Name, got, want)
			}
		}
		if n != 2 {
			t.Errorf("%d frontends read, want 2", n)
		}
	})

	t.Run("tcp keepalive on the accepted socket", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("reading HAProxy's socket with pidfd_getfd needs root (CAP_SYS_PTRACE)")
		}
		for _, tc := range []struct {
			addr string
			want testutil.SocketKeepalive
		}{
			// option clitcpka + clitcpka-idle 30s, -intvl 5s, -cnt 4: what keeptune reads.
			{fe, testutil.SocketKeepalive{Keepalive: true, Idle: int(down.TCP.Idle.Value / time.Second), Interval: int(down.TCP.Interval.Value / time.Second), Count: down.TCP.Count.Value}},
			// clitcpka-idle without option clitcpka: no keepalive at all (rule KT822).
			{fe2, testutil.SocketKeepalive{Keepalive: false}},
		} {
			conn, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			local := conn.LocalAddr().(*net.TCPAddr)
			var got testutil.SocketKeepalive
			var found bool
			var read int
			same := func() bool {
				return got.Keepalive == tc.want.Keepalive && (!tc.want.Keepalive ||
					got.Idle == tc.want.Idle && got.Interval == tc.want.Interval && got.Count == tc.want.Count)
			}
			// Until HAProxy has accepted the connection and set up the socket: it sets the
			// keepalive options just after accept(), so a read in between sees the defaults.
			for i := 0; i < 50 && (!found || !same()); i++ {
				got, found, read = testutil.ServerSocket(t, []int{r.cmd.Process.Pid}, nil, local)
				if !found || !same() {
					time.Sleep(20 * time.Millisecond)
				}
			}
			conn.Close()
			if !found {
				t.Fatalf("%s: no socket of haproxy (pid %d, %d socket descriptors read) has peer %s", tc.addr, r.cmd.Process.Pid, read, local)
			}
			if got.Keepalive != tc.want.Keepalive || (tc.want.Keepalive && (got.Idle != tc.want.Idle || got.Interval != tc.want.Interval || got.Count != tc.want.Count)) {
				t.Errorf("%s: socket has %+v; keeptune says %+v", tc.addr, got, tc.want)
			}
			t.Logf("%s: accepted socket %+v", tc.addr, got)
		}
	})

	t.Run("keep-alive idle timeout and server pool", func(t *testing.T) {
		for len(events) > 0 {
			<-events
		}
		conn, err := net.Dial("tcp", fe)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		idle := down.IdleTimeout.Value
		got := idleClose(t, conn, idle+5*time.Second)
		// HAProxy starts its timer when it has sent the response, a moment before the client has
		// read it: allow 20 ms of that, never more.
		if got < idle-20*time.Millisecond || got > idle+time.Second {
			t.Errorf("HAProxy closed the idle client connection after %v; keeptune read timeout http-keep-alive %v (want within [%v, %v])", got, idle, idle, idle+time.Second)
		}
		t.Logf("client connection closed after %v idle (keeptune: %v from %s)", got.Round(time.Millisecond), idle, down.IdleTimeout.Source)
		// The server connection went idle after the response; HAProxy purges it from its pool
		// within 2 to 3 periods of pool-purge-delay (1s in live.cfg).
		// Connections of the earlier subtests may still be pooled and purged meanwhile: follow
		// the one this request used (the first to go idle now) and no other.
		var idleAt time.Time
		var pooledConn net.Conn
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.state == http.StateIdle {
					if pooledConn == nil || e.conn == pooledConn {
						idleAt, pooledConn = e.at, e.conn
					}
					continue
				}
				if pooledConn == nil || e.conn != pooledConn {
					continue // another connection's close
				}
				pooled := e.at.Sub(idleAt)
				if pooled < 2*time.Second || pooled > up.IdleTimeout.Value+time.Second {
					t.Errorf("HAProxy kept the idle server connection %v; keeptune reports %v (want within [2s, %v])", pooled, up.IdleTimeout.Value, up.IdleTimeout.Value+time.Second)
				}
				t.Logf("server connection purged after %v idle in the pool (keeptune: %v)", pooled.Round(time.Millisecond), up.IdleTimeout.Value)
				return
			case <-deadline:
				t.Fatal("HAProxy never closed the idle server connection")
			}
		}
	})
}

// debianConffile reports whether the installed file is the one the haproxy package shipped
// (dpkg records its md5): the defaults are only Debian's if nobody edited it.
func debianConffile(t *testing.T, pkg, path string) bool {
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
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == path {
			return f[1] == hex.EncodeToString(sum[:])
		}
	}
	return false
}

// TestDebianHAProxyConfig reads the haproxy.cfg Debian installed, through the registry (format
// detected) and through keeptune lint: no error, and the timeouts Debian documents.
func TestDebianHAProxyConfig(t *testing.T) {
	const path = "/etc/haproxy/haproxy.cfg"
	haproxyBinary(t)
	if !debianConffile(t, "haproxy", path) {
		t.Skip(path + " is not the file Debian's haproxy package installed (missing or edited)")
	}
	c, err := configs.ReadFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "haproxy" {
		t.Fatalf("detected %q", c.Format)
	}
	want := map[string]string{"timeout connect": "5000", "timeout client": "50000", "timeout server": "50000", "mode": "http"}
	for _, v := range c.Values {
		if w, ok := want[v.Key]; ok {
			if v.Value != w || v.Block != "defaults" {
				t.Errorf("%s = %q in %s, want %q in defaults", v.Key, v.Value, v.Block, w)
			}
			delete(want, v.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("values not read: %v", want)
	}
	if c.Downstream.IdleTimeout.Value != 50*time.Second || c.Upstream.ConnectTimeout.Value != 5*time.Second || c.Upstream.ReadTimeout.Value != 50*time.Second {
		t.Errorf("sides: idle %v connect %v server %v", c.Downstream.IdleTimeout.Value, c.Upstream.ConnectTimeout.Value, c.Upstream.ReadTimeout.Value)
	}
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), []string{"lint", "--color", "never", "--fail-on", "warning", path}, cli.IO{Out: &out, Err: &errb})
	if code != cli.ExitOK {
		t.Errorf("keeptune lint %s: exit %d\n%s%s", path, code, out.String(), errb.String())
	}
}
