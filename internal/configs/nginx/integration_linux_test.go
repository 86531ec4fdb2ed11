//go:build linux

package nginx

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/testutil"
)

// These tests hold the parser to the real server: nginx -t agrees on what is valid and on the
// line of each error, and a running nginx closes idle connections, sets TCP keepalive on the
// sockets it accepts and opens, and pools upstream connections exactly as the parsed
// configuration says.

// nginxBinary returns the nginx executable or skips.
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("nginx is not installed (apt-get install nginx): the parser cannot be checked against it")
	return ""
}

// needRoot skips without root: nginx -t and a running nginx open /var/log/nginx and create the
// temp directories under /var/lib/nginx, and pidfd_getfd needs ptrace rights over nginx.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: nginx opens /var/log/nginx and /var/lib/nginx, and pidfd_getfd needs CAP_SYS_PTRACE")
	}
}

// streamModule returns the -g argument that loads the stream module where it is a dynamic
// module (Debian's libnginx-mod-stream), "" when nginx has it built in, and ok false when
// nginx has no stream module at all.
func streamModule(t *testing.T, bin string) (string, bool) {
	out, _ := exec.Command(bin, "-V").CombinedOutput()
	if bytes.Contains(out, []byte("--with-stream ")) || bytes.Contains(out, []byte("--with-stream\n")) {
		return "", true
	}
	for _, so := range []string{"/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/lib64/nginx/modules/ngx_stream_module.so"} {
		if _, err := os.Stat(so); err == nil {
			return "load_module " + so + ";", true
		}
	}
	return "", false
}

// nginxTest runs nginx -t on a configuration with its own prefix and returns its output.
func nginxTest(t *testing.T, bin, conf string) (string, error) {
	t.Helper()
	abs, _ := filepath.Abs(conf)
	args := []string{"-t", "-q", "-p", t.TempDir() + "/", "-c", abs, "-e", "stderr"}
	data, _ := os.ReadFile(abs)
	if regexp.MustCompile(`(?m)^\s*stream\s*\{`).Match(data) {
		g, ok := streamModule(t, bin)
		if !ok {
			t.Skipf("%s needs the stream module, which this nginx lacks (Debian: libnginx-mod-stream)", conf)
		}
		if g != "" {
			args = append(args, "-g", g)
		}
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func TestNginxAcceptsValidTestdata(t *testing.T) {
	bin := nginxBinary(t)
	needRoot(t)
	for _, f := range validConfigs(t) {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			if out, err := nginxTest(t, bin, f); err != nil {
				t.Errorf("nginx -t rejects %s, which keeptune reads: %v\n%s", f, err, out)
			}
		})
	}
}

// TestNginxRejectsInvalidTestdata checks that every invalid testdata file is invalid for nginx
// too, and that keeptune's error names the same file and line as nginx's.
func TestNginxRejectsInvalidTestdata(t *testing.T) {
	bin := nginxBinary(t)
	needRoot(t)
	files, _ := filepath.Glob("testdata/invalid/*.conf")
	at := regexp.MustCompile(` in (/\S+):(\d+)`)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := nginxTest(t, bin, f)
			if err == nil {
				t.Fatalf("nginx -t accepts %s", f)
			}
			_, kerr := parseFile(t, f)
			if kerr == nil {
				t.Fatalf("keeptune accepts %s; nginx says %s", f, out)
			}
			m := at.FindStringSubmatch(out)
			if m == nil {
				// nginx names no line for what it checks once a block or the whole file is
				// read (no "events" section, an unknown variable): keeptune names the same
				// file (and, for a variable, the line that reads it) and the same message.
				abs, _ := filepath.Abs(f)
				msg := regexp.MustCompile(`^`+regexp.QuoteMeta(abs)+`(:\d+)?: `).ReplaceAllString(kerr.Error(), "")
				if msg == kerr.Error() || !strings.Contains(out, strings.SplitN(msg, " (", 2)[0]) {
					t.Errorf("keeptune: %v\n   nginx: %s", kerr, strings.TrimSpace(out))
				}
				return
			}
			if want := m[1] + ":" + m[2] + ":"; !strings.HasPrefix(kerr.Error(), want) {
				t.Errorf("keeptune: %v\n   nginx: %s", kerr, strings.TrimSpace(out))
			}
		})
	}
}

// running is an nginx started by a test.
type running struct {
	cmd    *exec.Cmd
	prefix string
	stderr *bytes.Buffer
}

// startNginx copies a live testdata configuration into a fresh prefix with its placeholders
// replaced, parses that copy, and runs nginx on it in the foreground as a single process (the
// process that accepts, so pidfd_getfd finds the sockets in it). It is stopped at cleanup, and
// the cleanup checks that no process of this prefix is left.
func startNginx(t *testing.T, bin, name string, vars map[string]string) (*running, *Config, int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/live", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for k, v := range vars {
		text = strings.ReplaceAll(text, k, v)
	}
	prefix := t.TempDir()
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(os.DirFS("/"), conf)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{prefix: prefix, stderr: &bytes.Buffer{}}
	pid := filepath.Join(prefix, "nginx.pid")
	r.cmd = exec.Command(bin, "-p", prefix+"/", "-c", conf, "-e", "stderr",
		"-g", "daemon off; master_process off; pid "+pid+";")
	r.cmd.Stdout, r.cmd.Stderr = r.stderr, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { r.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			r.cmd.Process.Kill()
			<-exited
			t.Errorf("nginx did not stop on SIGTERM within 5 s")
		}
		if left := processesUnder(prefix); len(left) > 0 {
			t.Errorf("processes of %s still running: %v", prefix, left)
		}
		if _, err := os.Stat(pid); err == nil {
			t.Errorf("nginx left its pid file %s", pid)
		}
		if t.Failed() {
			t.Logf("nginx output:\n%s", r.stderr.String())
		}
	})
	port, _ := strconv.Atoi(vars["__PORT__"])
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not accept on port %d: %s", port, r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r, cfg, r.cmd.Process.Pid
}

// processesUnder lists the processes whose command line mentions dir.
func processesUnder(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir)) {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(p, "/proc/"), "/cmdline")+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// request sends one HTTP/1.1 request on c and reads the whole response (Content-Length only).
func request(t *testing.T, c net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestNginxClosesIdleKeepaliveAtParsedTimeout(t *testing.T) {
	bin := nginxBinary(t)
	needRoot(t)
	port, port2 := testutil.FreePort(t), testutil.FreePort(t)
	_, cfg, _ := startNginx(t, bin, "idle.conf", map[string]string{"__PORT__": strconv.Itoa(port), "__PORT2__": strconv.Itoa(port2)})
	side := cfg.Downstream()
	if !side.IdleTimeout.Known || side.IdleTimeout.Value != 2*time.Second {
		t.Fatalf("parsed idle timeout %+v, want 2s", side.IdleTimeout)
	}
	timeout := side.IdleTimeout.Value
	header, ok := Duration(cfg.HTTP.Get("keepalive_timeout"), 1, true)
	if !ok {
		t.Fatal("no Keep-Alive header argument parsed")
	}
	const tolerance = time.Second
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		sent := time.Now()
		resp := request(t, c, br, "/")
		answered := time.Now()
		if got, want := resp.Header.Get("Keep-Alive"), fmt.Sprintf("timeout=%d", int(header/time.Second)); got != want {
			t.Errorf("Keep-Alive header %q, parsed %q", got, want)
		}
		c.SetReadDeadline(time.Now().Add(timeout + 3*tolerance))
		n, err := br.Read(make([]byte, 1))
		closed := time.Now()
		c.Close()
		if n != 0 || err != io.EOF {
			t.Fatalf("expected the server's FIN, got %d bytes, %v", n, err)
		}
		// nginx starts its timer after reading the request, on a millisecond clock: the close
		// may not come earlier than the timeout after we sent (less 1 ms of clock rounding),
		// nor later than the timeout plus the tolerance after the answer.
		sinceSent, sinceAnswer := closed.Sub(sent), closed.Sub(answered)
		t.Logf("trial %d: parsed keepalive_timeout %v; closed %v after the request was sent, %v after the response", i+1, timeout, sinceSent.Round(time.Millisecond), sinceAnswer.Round(time.Millisecond))
		if sinceSent < timeout-time.Millisecond {
			t.Errorf("closed early: %v after the request, timeout %v", sinceSent, timeout)
		}
		if sinceAnswer > timeout+tolerance {
			t.Errorf("closed late: %v after the response, timeout %v + %v", sinceAnswer, timeout, tolerance)
		}
	}
}

// sockopts are the keepalive options of one socket.
type sockopts struct {
	keepalive, idle, intvl, cnt int
}

// socketOf finds, among the descriptors of process pid, the TCP socket whose local and peer
// addresses are the given ones, and reads its keepalive options through a duplicate obtained
// with pidfd_getfd. Every descriptor obtained is closed.
func socketOf(t *testing.T, pid int, local, peer *net.TCPAddr) sockopts {
	t.Helper()
	got, found, read := testutil.ServerSocket(t, []int{pid}, local, peer)
	if !found {
		t.Fatalf("no socket %v -> %v in process %d (%d socket descriptors read)", local, peer, pid, read)
	}
	ka := 0
	if got.Keepalive {
		ka = 1
	}
	return sockopts{keepalive: ka, idle: got.Idle, intvl: got.Interval, cnt: got.Count}
}

func TestNginxAcceptedSocketKeepaliveIsParsed(t *testing.T) {
	bin := nginxBinary(t)
	needRoot(t)
	port, port2 := testutil.FreePort(t), testutil.FreePort(t)
	_, cfg, pid := startNginx(t, bin, "idle.conf", map[string]string{"__PORT__": strconv.Itoa(port), "__PORT2__": strconv.Itoa(port2)})
	tcp := cfg.Downstream().TCP
	if !tcp.Enabled.Value || tcp.Idle.Value != 30*time.Second || tcp.Interval.Value != 5*time.Second || tcp.Count.Value != 4 {
		t.Fatalf("parsed %+v", tcp)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	request(t, c, bufio.NewReader(c), "/") // nginx has surely accepted it now
	got := socketOf(t, pid, c.RemoteAddr().(*net.TCPAddr), c.LocalAddr().(*net.TCPAddr))
	t.Logf("parsed so_keepalive: on, idle %v, interval %v, count %d; accepted socket: SO_KEEPALIVE=%d TCP_KEEPIDLE=%d TCP_KEEPINTVL=%d TCP_KEEPCNT=%d",
		tcp.Idle.Value, tcp.Interval.Value, tcp.Count.Value, got.keepalive, got.idle, got.intvl, got.cnt)
	if got.keepalive != 1 || got.idle != int(tcp.Idle.Value/time.Second) || got.intvl != int(tcp.Interval.Value/time.Second) || got.cnt != tcp.Count.Value {
		t.Errorf("accepted socket %+v differs from the parsed values", got)
	}

	// The second server's listen has no so_keepalive=: the parser says off, and it is.
	var other *Server
	for _, s := range cfg.Servers {
		if s.Listens[0].Address == fmt.Sprintf("127.0.0.1:%d", port2) {
			other = s
		}
	}
	if k := listenKeepalive(other); !k.Enabled.Known || k.Enabled.Value {
		t.Fatalf("second server parsed as %+v", k.Enabled)
	}
	c2, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port2))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	request(t, c2, bufio.NewReader(c2), "/")
	got2 := socketOf(t, pid, c2.RemoteAddr().(*net.TCPAddr), c2.LocalAddr().(*net.TCPAddr))
	t.Logf("listen without so_keepalive: accepted socket SO_KEEPALIVE=%d", got2.keepalive)
	if got2.keepalive != 0 {
		t.Errorf("SO_KEEPALIVE %d on a listen without so_keepalive", got2.keepalive)
	}
}

// backend is an HTTP server that records its connections.
type backend struct {
	srv    *http.Server
	addr   *net.TCPAddr
	mu     sync.Mutex
	opened []net.Conn
	closed map[string]time.Time // remote address → when the peer closed
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: l.Addr().(*net.TCPAddr), closed: map[string]time.Time{}}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "backend\n") }),
		ConnState: func(c net.Conn, s http.ConnState) {
			b.mu.Lock()
			defer b.mu.Unlock()
			switch s {
			case http.StateNew:
				b.opened = append(b.opened, c)
			case http.StateClosed:
				b.closed[c.RemoteAddr().String()] = time.Now()
			}
		},
		IdleTimeout: time.Minute, // longer than nginx's pool: nginx must be the one to close
	}
	go b.srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		b.srv.Shutdown(ctx)
	})
	return b
}

func (b *backend) connections() (opened int, last net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.opened) > 0 {
		last = b.opened[len(b.opened)-1]
	}
	return len(b.opened), last
}

func (b *backend) closedAt(c net.Conn) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	at, ok := b.closed[c.RemoteAddr().String()]
	return at, ok
}

func TestNginxUpstreamPoolIsParsed(t *testing.T) {
	bin := nginxBinary(t)
	needRoot(t)
	be := startBackend(t)
	port := testutil.FreePort(t)
	_, cfg, pid := startNginx(t, bin, "pool.conf", map[string]string{"__PORT__": strconv.Itoa(port), "__BACKEND__": strconv.Itoa(be.addr.Port)})
	up := cfg.Upstream()
	if !up.Pools.Value || up.IdleTimeout.Value != 2*time.Second || !up.TCP.Enabled.Value {
		t.Fatalf("parsed upstream side %+v", up)
	}
	uses := cfg.PoolUses(cfg.Upstreams[0])
	if len(uses) != 2 || !uses[0].OK || uses[1].OK {
		t.Fatalf("parsed pool uses %+v", uses)
	}

	get := func(path string) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if resp := request(t, c, bufio.NewReader(c), path); resp.StatusCode != 200 {
			t.Fatalf("%s: %s", path, resp.Status)
		}
	}

	// A location the parser judges able to reuse: two requests, one backend connection.
	get("/pooled/a")
	get("/pooled/b")
	answered := time.Now()
	n, conn := be.connections()
	t.Logf("/pooled/ (proxy_http_version 1.1, Connection \"\"): 2 requests, %d backend connection(s)", n)
	if n != 1 {
		t.Fatalf("pooled location opened %d backend connections for 2 requests", n)
	}
	// The pooled connection nginx keeps: SO_KEEPALIVE from proxy_socket_keepalive on, with the
	// host's values, as the parser says (unknown idle, sourced to the sysctl).
	opts := socketOf(t, pid, conn.RemoteAddr().(*net.TCPAddr), be.addr)
	hostIdle := testutil.SysctlInt(t, "net.ipv4.tcp_keepalive_time")
	t.Logf("pooled upstream socket: SO_KEEPALIVE=%d TCP_KEEPIDLE=%d (host tcp_keepalive_time %d)", opts.keepalive, opts.idle, hostIdle)
	if opts.keepalive != 1 || opts.idle != hostIdle || up.TCP.Idle.Known {
		t.Errorf("upstream socket %+v, parsed %+v", opts, up.TCP)
	}
	// nginx closes the idle pooled connection after the parsed keepalive_timeout.
	deadline := time.Now().Add(up.IdleTimeout.Value + 3*time.Second)
	var closed time.Time
	for time.Now().Before(deadline) {
		if at, ok := be.closedAt(conn); ok {
			closed = at
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if closed.IsZero() {
		t.Fatalf("pooled connection still open %v after the last response", time.Since(answered))
	}
	idle := closed.Sub(answered)
	t.Logf("pooled connection closed by nginx %v after the last response (parsed upstream keepalive_timeout %v)", idle.Round(time.Millisecond), up.IdleTimeout.Value)
	if idle < up.IdleTimeout.Value-10*time.Millisecond || idle > up.IdleTimeout.Value+time.Second {
		t.Errorf("pool idle close after %v, parsed %v", idle, up.IdleTimeout.Value)
	}

	// A location the parser judges unable to reuse (HTTP/1.0, Connection: close): every
	// request opens its own backend connection.
	before, _ := be.connections()
	get("/defeated/a")
	get("/defeated/b")
	after, _ := be.connections()
	t.Logf("/defeated/ (defaults): 2 requests, %d backend connection(s)", after-before)
	if after-before != 2 {
		t.Errorf("defeated location opened %d backend connections for 2 requests", after-before)
	}
}
