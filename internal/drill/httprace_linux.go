package drill

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
)

// runHTTPRace runs the configured pair (backend idle vs pool idle) and the fix (backend idle
// above the pool's), each through a real proxy in the middlebox, a backend in the server and
// the load generator in the client.
func runHTTPRace(ctx context.Context, e *env) ([]Run, error) {
	var runs []Run
	for _, c := range raceCases(e.opts) {
		r, err := raceOnce(ctx, e, c.name, c.backend, c.pool, c.gaps)
		if r != nil {
			r.Reference = c.ref
			runs = append(runs, *r)
		}
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

func raceOnce(ctx context.Context, e *env, name string, backendIdle, poolIdle time.Duration, gaps []time.Duration) (*Run, error) {
	spec := lab.Spec{Topology: lab.Routed, Family: e.opts.Family}
	l, err := e.newLab(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := l.LateFIN(); err != nil {
		return nil, err
	}

	// The backend: an HTTP/1.1 server with keep-alive idle timeout backendIdle.
	ln, err := l.Server.Listen(ctx, &net.ListenConfig{KeepAlive: -1}, netip.AddrPortFrom(l.ServerAddr(), backendPort))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{IdleTimeout: backendIdle, ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte("ok\n"))
		})}
	go srv.Serve(ln)
	defer srv.Close()

	stop, err := startProxy(ctx, e, l, poolIdle)
	if err != nil {
		return nil, err
	}
	defer stop()

	e.logf("http-keepalive-race: %s: %d requests on %d lanes, idle gaps %v to %v", name, len(gaps), raceLanes,
		slices.Min(gaps).Round(time.Millisecond), slices.Max(gaps).Round(time.Millisecond))
	h := HTTPRace{Proxy: e.opts.Proxy, BackendIdle: backendIdle, PoolIdle: poolIdle, Requests: len(gaps), GapMin: slices.Min(gaps), GapMax: slices.Max(gaps)}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for lane := range raceLanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("http://%s/", netip.AddrPortFrom(l.MiddleboxAddr(), uint16(racePort+lane)))
			client := laneClient(l)
			// The lane's first request opens the pooled connection; it is not counted.
			if _, err := post(ctx, client, url); err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, fmt.Errorf("lane %d: the first request through %s failed: %w", lane, e.opts.Proxy, err))
				mu.Unlock()
				return
			}
			for i := lane; i < len(gaps); i += raceLanes {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gaps[i]):
				}
				status, err := post(ctx, client, url)
				mu.Lock()
				switch {
				case err != nil:
					h.NoAnswer++
				case status >= 500:
					h.Status5xx++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	h.HeldFINs, _ = l.LateFINs()

	r := &Run{Scenario: "http-keepalive-race", Case: name, Lab: fmt.Sprintf("%v client - %s - backend, the backend's FIN arrives one RTO late", spec.Family, e.opts.Proxy),
		Settings: Settings{Label: fmt.Sprintf("backend idle %v, pool idle %v", backendIdle, poolIdle),
			Source: "HTTP keep-alive idle timeouts (lab time); the connections have no TCP keepalive"}, HTTP: &h}
	if backendIdle < poolIdle {
		r.Expected = "failures"
		r.TheoryRule = fmt.Sprintf("backend idle %v < pool idle %v: a request the proxy sends on a connection the backend has just closed fails (KT701)", backendIdle, poolIdle)
	} else {
		r.Expected = "no failures"
		r.TheoryRule = fmt.Sprintf("backend idle %v >= pool idle %v: the proxy gives every idle connection up before the backend closes it (KT701's fix)", backendIdle, poolIdle)
	}
	r.Outcome = "no failures"
	if h.Failures() > 0 {
		r.Outcome = "failures"
	}
	r.Verdict = Pass
	if r.Outcome != r.Expected {
		r.Verdict = Fail
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%s: %d of %d requests failed (%.1f per 1000: %d 5xx answers, %d without an answer); the lab held back %d backend FINs",
		name, h.Failures(), h.Requests, h.PerThousand(), h.Status5xx, h.NoAnswer, h.HeldFINs))
	e.logf("http-keepalive-race: %s: %d of %d requests failed", name, h.Failures(), h.Requests)
	return r, nil
}

// laneClient makes an HTTP client in the lab's client namespace that opens a new connection
// per request: the race under test is between the proxy and the backend only.
func laneClient(l *lab.Lab) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return nil, err
			}
			return l.Client.Dial(ctx, &net.Dialer{Timeout: 2 * time.Second, KeepAlive: -1}, ap)
		}}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// post sends one small POST (not retried by a proxy on a failed pooled connection, as an
// idempotent GET may be) and returns the status.
func post(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte("keeptune http-keepalive-race\n")))
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// startProxy writes the proxy's configuration, starts it in the middlebox's namespace and
// waits until every lane accepts connections. stop kills it and removes its files.
func startProxy(ctx context.Context, e *env, l *lab.Lab, pool time.Duration) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "keeptune-race-")
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	conf := filepath.Join(dir, e.opts.Proxy+".conf")
	switch e.opts.Proxy {
	case "haproxy":
		err = os.WriteFile(conf, []byte(haproxyConfig(l.MiddleboxAddr(), l.ServerAddr(), raceLanes, pool)), 0o600)
		cmd = exec.Command("haproxy", "-db", "-f", conf)
	default:
		err = os.WriteFile(conf, []byte(nginxConfig(dir, l.MiddleboxAddr(), l.ServerAddr(), raceLanes, pool)), 0o600)
		cmd = exec.Command("nginx", "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf, "-g", "daemon off;")
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Output goes to a file (no pipe an orphaned worker could hold open); the proxy and its
	// workers form a process group that stop kills as one, and die with this process.
	logf, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	output := func() string {
		b, _ := os.ReadFile(logf.Name())
		return string(bytes.TrimSpace(b))
	}
	// The child inherits the namespace of the thread that starts it.
	if err := l.Middlebox.Do(cmd.Start); err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("http-keepalive-race needs %s installed (apt-get install %s): %w", e.opts.Proxy, e.opts.Proxy, err)
		}
		return nil, fmt.Errorf("start %s: %w", e.opts.Proxy, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lane := range raceLanes {
		a := netip.AddrPortFrom(l.MiddleboxAddr(), uint16(racePort+lane))
		for {
			c, err := l.Client.Dial(ctx, &net.Dialer{Timeout: time.Second}, a)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				stop()
				msg := output()
				stop()
				return nil, fmt.Errorf("%s exited at start: %s", e.opts.Proxy, msg)
			default:
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				msg := output()
				stop()
				return nil, fmt.Errorf("%s does not accept connections on %v: %v (%s)", e.opts.Proxy, a, err, msg)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return stop, nil
}
