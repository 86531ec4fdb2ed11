package probe

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
)

// TestProbeHTTPBalancer measures real layer-7 balancers in the lab's middlebox (Debian's
// HAProxy and nginx in HTTP mode) in front of `keeptune responder --http` in the server
// namespace, with the probe in the client namespace: the result must be within max(1 s, 1 %)
// of the balancer's keep-alive idle timeout T, and the failure mode a close (the balancer's
// FIN). HAProxy's `timeout http-keep-alive` is the timer; without it HAProxy falls back to
// `timeout http-request`, then to `timeout client`, which the third case shows.
func TestProbeHTTPBalancer(t *testing.T) {
	requireRoot(t)
	const T = 5 * time.Second
	cases := []struct {
		name, program string
		config        func(dir string, front, back netip.AddrPort) (string, []string)
	}{
		{"haproxy http-keep-alive", "haproxy", func(dir string, front, back netip.AddrPort) (string, []string) {
			return haproxyHTTP(front, back, "timeout client 60s\n  timeout http-keep-alive 5s"), []string{"-db", "-f"}
		}},
		{"haproxy client only", "haproxy", func(dir string, front, back netip.AddrPort) (string, []string) {
			return haproxyHTTP(front, back, "timeout client 5s"), []string{"-db", "-f"}
		}},
		{"nginx keepalive_timeout", "nginx", func(dir string, front, back netip.AddrPort) (string, []string) {
			return fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 512; }
http {
  access_log off;
  keepalive_timeout 5s;
  upstream responder { server %[3]s; keepalive 16; }
  server {
    listen %[2]s;
    location / { proxy_pass http://responder; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, dir, front, back), []string{"-e", filepath.Join(dir, "error.log"), "-p", dir, "-g", "daemon off;", "-c"}
		}},
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, tc := range cases {
		wg.Add(1)
		go t.Run(tc.name, func(t *testing.T) {
			defer wg.Done()
			if _, err := exec.LookPath(tc.program); err != nil {
				t.Skipf("needs %s (.ci/run installs it): %v", tc.program, err)
			}
			ctx := context.Background()
			l, err := lab.New(ctx, lab.Spec{Topology: lab.Routed, Family: lab.IPv4})
			if err != nil {
				t.Fatalf("lab: %v", err)
			}
			defer func() {
				if err := l.Close(); err != nil {
					t.Errorf("lab close: %v", err)
				}
				left, _ := lab.Remaining(l.ID)
				for _, x := range left {
					t.Errorf("lab %s left %v", l.ID, x)
				}
			}()
			back := netip.AddrPortFrom(l.ServerAddr(), 8080)
			front := netip.AddrPortFrom(l.MiddleboxAddr(), 8080)
			ln, err := l.Server.Listen(ctx, ListenConfig(), back)
			if err != nil {
				t.Fatal(err)
			}
			sctx, cancel := context.WithCancel(ctx)
			served := make(chan struct{})
			go func() {
				defer close(served)
				(&HTTPResponder{Idle: time.Hour}).Serve(sctx, ln)
			}()
			defer func() { cancel(); <-served }()

			dir := t.TempDir()
			conf, args := tc.config(dir, front, back)
			path := filepath.Join(dir, tc.program+".conf")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			cmd := exec.Command(tc.program, append(args, path)...)
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			if err := l.Middlebox.Do(cmd.Start); err != nil {
				t.Fatal(err)
			}
			defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }()

			target := &HTTPTarget{Addr: front, Host: front.String(), Path: "/keeptune/"}
			dial := func(ctx context.Context, d *net.Dialer, a netip.AddrPort) (*net.TCPConn, error) {
				return l.Client.Dial(ctx, d, a)
			}
			var res *Result
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				res, err = Run(ctx, front, Options{HTTP: target, Dial: dial, MaxConns: 16})
				if err == nil || time.Now().After(deadline) {
					break // (the balancer may take a moment to listen)
				}
			}
			if err != nil {
				t.Fatalf("Run: %v (%s output: %s)", err, tc.program, out.String())
			}
			tol := max(time.Second, T/100)
			t.Logf("T=%v: found %v in [%v, %v], %v, wall %v, %d connections, notes %q", T, res.IdleTimeout, res.Lo, res.Hi, res.FailureMode, res.Wall, res.Connections, res.Notes)
			if !res.Found || (res.IdleTimeout-T).Abs() > tol {
				t.Errorf("found %v (found=%v), want within %v of %v", res.IdleTimeout, res.Found, tol, T)
			}
			if res.FailureMode != Closed {
				t.Errorf("failure mode %q, want %q (the balancer closes idle connections with a FIN)", res.FailureMode, Closed)
			}
			if res.HTTP == "" || res.ServerRefresh != nil || res.KeepaliveRefresh != nil {
				t.Errorf("http %q, server refresh %v, keepalive refresh %v: want the URL and no side tests", res.HTTP, res.ServerRefresh, res.KeepaliveRefresh)
			}
			if res.Connections > 2*16 {
				t.Errorf("%d connections, more than the bound of 2 x --max-conns", res.Connections)
			}
		})
	}
}

func haproxyHTTP(front, back netip.AddrPort, timeouts string) string {
	return fmt.Sprintf(`global
  maxconn 512
defaults
  mode http
  timeout connect 5s
  timeout server 60s
  %s
frontend fe
  bind %s
  default_backend be
backend be
  http-reuse always
  server responder %s
`, timeouts, front, back)
}
