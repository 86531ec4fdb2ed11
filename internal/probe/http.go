package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/keeptune/keeptune/internal/textfmt"
)

// HTTP mode: the idle timeout of a layer-7 balancer (AWS ALB, GCP's external ALB, HAProxy or
// nginx in HTTP mode), which terminates TCP and keeps its own keep-alive timer per client
// connection. The probe's connections speak HTTP/1.1 to the balancer: a probe is a GET on the
// same keep-alive connection after an idle time, its answer the response (which carries the
// probe's sequence number back from the responder behind the balancer). A balancer that closes
// an idle connection closes it with a FIN (outcome "closed"); a silent one lets the request
// vanish (silent drop). The responder (`keeptune responder --http`) keeps idle keep-alive
// connections longer than any balancer and announces how long in every response: the search
// stops below that, so a timeout it finds is the balancer's, not the backend's.

// The responder's HTTP headers.
const (
	// HeaderResponder marks a keeptune responder's response ("1").
	HeaderResponder = "Keeptune-Responder"
	// HeaderIdle is the responder's keep-alive idle timeout toward the balancer, in seconds.
	HeaderIdle = "Keeptune-Idle-Timeout"
	// HeaderSeq echoes the probe's sequence number (query parameter keeptune-seq).
	HeaderSeq = "Keeptune-Seq"
	// seqParam is the query parameter that carries a probe's sequence number.
	seqParam = "keeptune-seq"
)

// HTTPTarget is where --http URL sends its requests: the balancer's address, the Host header
// and the path (the balancer routes them to a `keeptune responder --http`).
type HTTPTarget struct {
	Addr netip.AddrPort
	Host string
	Path string
}

// ParseHTTPTarget reads an http:// URL (https is not spoken: the probe measures idle timers,
// and TLS would only hide its bytes from the balancer's logs). The host is resolved to one
// address: every connection of the run goes to it.
func ParseHTTPTarget(ctx context.Context, raw string) (HTTPTarget, error) {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return HTTPTarget{}, err
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	addr, err := Resolve(ctx, hostport)
	if err != nil {
		return HTTPTarget{}, err
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return HTTPTarget{Addr: addr, Host: u.Host, Path: path}, nil
}

// CheckHTTPURL is ParseHTTPTarget's check of the URL alone, without resolving its host: for a
// usage error before anything runs.
func CheckHTTPURL(raw string) error {
	_, err := parseHTTPURL(raw)
	return err
}

func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("invalid --http %q: expected an http:// URL of a balancer in front of `keeptune responder --http` (https is not supported)", raw)
	}
	return u, nil
}

// URL is the target as a URL (what the report names).
func (t *HTTPTarget) URL() string { return "http://" + t.Host + t.Path }

// request is one probe's GET.
func (t *HTTPTarget) request(seq uint32) []byte {
	return fmt.Appendf(nil, "GET %s?%s=%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: keeptune-probe\r\nAccept: */*\r\n\r\n", t.Path, seqParam, seq, t.Host)
}

// dialHTTP connects to the balancer and makes the first request, which stands for the hello:
// its response must come from a keeptune responder, and says the responder's own keep-alive
// idle timeout (the search stays below it).
func dialHTTP(ctx context.Context, dial Dialer, t *HTTPTarget, connectTimeout, helloTimeout time.Duration) (*pconn, error) {
	dctx, cancel := context.WithTimeout(ctx, connectTimeout)
	c, err := dial(dctx, dialer(connectTimeout), t.Addr)
	cancel()
	if err != nil {
		return nil, classifyDial(ctx, t.Addr, connectTimeout, err)
	}
	pc := &pconn{c: c, br: bufio.NewReaderSize(c, 4096), http: t}
	setUserTimeout(pc.c, helloTimeout)
	stop := context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Now()) })
	defer stop()
	pc.c.SetDeadline(time.Now().Add(helloTimeout))
	defer pc.c.SetDeadline(time.Time{})
	fail := func(err error) (*pconn, error) {
		pc.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if _, err := pc.c.Write(t.request(0)); err != nil {
		return fail(fmt.Errorf("%w: %v closed the connection before the first request was sent (%v)", ErrNotResponder, t.Addr, err))
	}
	resp, err := http.ReadResponse(pc.br, nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v did not answer an HTTP/1.1 request within %v (%v)", ErrNotResponder, t.Addr, helloTimeout, errName(err)))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.Header.Get(HeaderResponder) == "" {
		return fail(fmt.Errorf("%w: http://%s%s answered %s without the %s header: the balancer does not route this URL to `keeptune responder --http`",
			ErrNotResponder, t.Host, t.Path, resp.Status, HeaderResponder))
	}
	if resp.Close {
		return fail(fmt.Errorf("%w: http://%s%s closes the connection after each response (Connection: close): it keeps no idle connection to measure", ErrNotResponder, t.Host, t.Path))
	}
	idle, err := strconv.Atoi(resp.Header.Get(HeaderIdle))
	if err != nil || idle <= 0 {
		return fail(fmt.Errorf("%w: the responder's %s header %q is not a number of seconds", ErrNotResponder, HeaderIdle, resp.Header.Get(HeaderIdle)))
	}
	// No hello frames in HTTP: the run sends no done or finished frames (version 0), the
	// balancer is the only source the responder sees, and the cap is the responder's own
	// keep-alive idle timeout.
	pc.ack = helloAck{MaxPerSource: MaxConnsLimit, IdleCap: time.Duration(idle) * time.Second}
	return pc, nil
}

// readHTTP reads the responses on an HTTP connection and reports each as the answer to the
// probe whose sequence number it carries; the connection's end (the balancer's FIN or reset)
// ends it.
func (pc *pconn) readHTTP(report func(connEvent) bool) {
	for {
		resp, err := http.ReadResponse(pc.br, nil)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF // closed between responses, as far as the search is concerned
			}
			report(connEvent{kind: evEnd, at: time.Now(), err: err})
			return
		}
		_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		at, _ := kernelTimes(pc.c)
		seq, perr := strconv.ParseUint(resp.Header.Get(HeaderSeq), 10, 32)
		switch {
		case rerr != nil:
			report(connEvent{kind: evEnd, at: at, err: rerr})
			return
		case perr != nil || resp.StatusCode != http.StatusOK:
			// The balancer answered itself (a 502, 503, 504): the connection to the client
			// still works, but this is no answer from the responder.
			report(connEvent{kind: evEnd, at: at, err: fmt.Errorf("the balancer answered %s instead of the responder", resp.Status)})
			return
		}
		if !report(connEvent{kind: evAnswer, seq: uint32(seq), at: at}) {
			return
		}
		if resp.Close {
			report(connEvent{kind: evEnd, at: at, err: io.EOF})
			return
		}
	}
}

// HTTPResponder is `keeptune responder --http`: an HTTP/1.1 server for probes behind a
// layer-7 balancer. It keeps idle keep-alive connections for Idle (longer than the balancer's
// timeout under test) and announces it in every response, answers every request with a small
// body, and echoes the probe's sequence number.
type HTTPResponder struct {
	Idle time.Duration
	// MaxConns caps the connections it holds at once (the balancer's pool); 0: DefaultMaxTotal.
	MaxConns int
}

// Handler answers probes.
func (h *HTTPResponder) Handler() http.Handler {
	idle := strconv.Itoa(int(h.Idle / time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set(HeaderResponder, "1")
		hd.Set(HeaderIdle, idle)
		hd.Set("Keep-Alive", "timeout="+idle)
		hd.Set("Cache-Control", "no-store")
		if s := r.URL.Query().Get(seqParam); s != "" {
			if _, err := strconv.ParseUint(s, 10, 32); err == nil {
				hd.Set(HeaderSeq, s)
			}
		}
		io.WriteString(w, "keeptune responder\n")
	})
}

// Serve serves HTTP on ln until ctx ends.
func (h *HTTPResponder) Serve(ctx context.Context, ln net.Listener) error {
	maxConns := h.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxTotal
	}
	srv := &http.Server{Handler: h.Handler(), IdleTimeout: h.Idle, ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes: 8 << 10}
	srv.SetKeepAlivesEnabled(true)
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve(&limitListener{Listener: ln, sem: make(chan struct{}, maxConns)})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// limitListener accepts at most cap(sem) connections at once; the next waits for one to close.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &releaseConn{Conn: c, release: func() { <-l.sem }}, nil
}

type releaseConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *releaseConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// httpNote is what a result through a layer-7 balancer adds.
func httpNote(t *HTTPTarget, idle time.Duration) string {
	return fmt.Sprintf("HTTP through %s (%s): the responder keeps idle keep-alive connections %s and says so, so a timeout below it is the balancer's; TCP keepalive and server traffic are not tested (a layer-7 balancer terminates TCP and times requests, not packets)",
		t.Addr, t.URL(), textfmt.Measured(idle))
}
