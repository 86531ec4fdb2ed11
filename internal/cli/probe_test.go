package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/probe"
)

func TestProbeBadInput(t *testing.T) {
	chainFile := filepath.Join(t.TempDir(), "keeptune.yaml")
	os.WriteFile(chainFile, []byte("chain:\n  - {name: clients, type: client}\n  - {name: edge, catalog: aws-nlb}\n  - {name: app, type: server}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "expected a measurement: keeptune probe idle-timeout HOST:PORT"},
		{[]string{"probe", "idle-timeot"}, `unknown measurement "idle-timeot"`},
		{[]string{"probe", "idle-timeout"}, "expected one target"},
		{[]string{"probe", "idle-timeout", "example.net"}, "expected HOST:PORT"},
		{[]string{"probe", "idle-timeout", "example.net:0"}, "expected 1 to 65535"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--max-conns", "513"}, "above the hard cap of 512"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--max-conns", "2"}, "expected at least 4"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--precision", "fast"}, "invalid --precision"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--precision", "80%"}, "at most 50%"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "-o", "sarif"}, "expected text or json"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--html", "/nonexistent/dir/x.html"}, "expected a file in an existing directory"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--html", filepath.Dir(chainFile)}, "is a directory; expected a file"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--write-chain", chainFile}, "--write-chain FILE and --hop NAME go together"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--write-chain", chainFile, "--hop", "app"}, `hop "app" is a server`},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--write-chain", chainFile, "--hop", "lb"}, `no hop named "lb"`},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--write-chain", "/nonexistent.yaml", "--hop", "lb"}, "no such file"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242", "--http", "http://192.0.2.1/"}, "--http URL is the target: no HOST:PORT with it"},
		{[]string{"probe", "idle-timeout", "--http", "https://192.0.2.1/"}, "https is not supported"},
		{[]string{"probe", "idle-timeout", "--http", "192.0.2.1:80"}, "expected an http:// URL"},
		{[]string{"probe", "idle-timeout", "--http", "http://192.0.2.1/", "--check-keepalive-refresh"}, "--check-keepalive-refresh does not go with --http"},
		{[]string{"responder"}, "--listen ADDR is required"},
		{[]string{"responder", "--listen", "4242"}, "expected HOST:PORT or :PORT"},
		{[]string{"responder", "--listen", ":4242", "--idle-cap", "100ms"}, "expected 1s to 48h"},
		{[]string{"responder", "--listen", ":4242", "--max-per-source", "0"}, "expected 1 to 65535"},
	} {
		start := time.Now()
		out, stderr, code := run(t, tc.args...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %s)", tc.args, code, ExitUsage, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr %q lacks %q", tc.args, stderr, tc.want)
		}
		if out != "" {
			t.Errorf("%q: wrote to stdout: %q", tc.args, out)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%q: took %v: bad input must fail before contacting anything", tc.args, d)
		}
	}
}

// TestProbeErrors: the ways the far end can be wrong, each with its own message and exit 3.
func TestProbeErrors(t *testing.T) {
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		target, want, hint string
	}{
		{plain.Addr().String(), "the far end is not a keeptune responder", "start `keeptune responder --listen :"},
		{closedAddr, "connection refused: nothing listens on " + closedAddr, "start `keeptune responder --listen :"},
	} {
		out, stderr, code := run(t, "probe", "idle-timeout", tc.target, "--connect-timeout", "1s", "-q")
		if code != ExitRuntime || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "hint: "+tc.hint) {
			t.Errorf("%s: exit %d, stderr %q; want exit 3 with %q and a hint", tc.target, code, stderr, tc.want)
		}
		if out != "" {
			t.Errorf("%s: stdout %q", tc.target, out)
		}
	}
}

// TestProbeAgainstResponder runs `keeptune responder` and `keeptune probe` on loopback: no
// middlebox, so no timeout up to --max-idle.
func TestProbeAgainstResponder(t *testing.T) {
	addr, stop := startResponder(t)
	out, stderr, code := run(t, "probe", "idle-timeout", addr, "--max-idle", "2s", "-o", "json", "--max-conns", "8")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"idle_timeout_s", "bracket_s", "failure_mode", "keepalive_refresh", "server_refresh", "wall_s", "connections", "found", "tests", "notes"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if j["found"] != false || j["idle_timeout_s"] != nil || j["connections"] != float64(8) {
		t.Errorf("found %v, idle_timeout_s %v, connections %v: want no timeout with 8 connections", j["found"], j["idle_timeout_s"], j["connections"])
	}
	if !strings.Contains(stderr, "keeptune probe: probing") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	if code, rerr := stop(); code != ExitOK {
		t.Errorf("responder exit %d: %s", code, rerr)
	} else if !strings.Contains(rerr, "served 8 connections") {
		t.Errorf("responder stderr %q", rerr)
	}
}

// startResponder runs `keeptune responder --listen 127.0.0.1:PORT [extra...]` until stop, which
// returns its exit code and stderr.
func startResponder(t *testing.T, extra ...string) (addr string, stop func() (int, string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var rerr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"responder", "--listen", addr}, extra...), IO{Out: io.Discard, Err: &rerr})
	}()
	stop = func() (int, string) {
		cancel()
		code := <-done
		return code, rerr.String()
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("the responder does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, stop
}

// probe -o json writes "&" and "->" of an --http URL as they are, like every other verb's -o
// json (probe had its own encoder, which wrote "\u0026" and "-\u003e").
func TestProbeJSONDoesNotEscapeHTML(t *testing.T) {
	addr, stop := startResponder(t, "--http")
	defer stop()
	out, stderr, code := run(t, "probe", "idle-timeout", "--http", "http://"+addr+"/a&b", "--max-idle", "2s", "-o", "json", "--max-conns", "4")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var j struct {
		HTTP string `json:"http"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if j.HTTP != "http://"+addr+"/a&b" {
		t.Errorf("http %q, want the URL's host and path", j.HTTP)
	}
	for _, esc := range []string{`\u003e`, `\u003c`, `\u0026`} {
		if strings.Contains(out, esc) {
			t.Errorf("probe -o json writes %s:\n%s", esc, out)
		}
	}
}

// An --http result written into a chain file says the balancer is refreshed by payload only: a
// layer-7 balancer's keep-alive timer counts requests, and TCP keepalive never refreshes it.
func TestWriteProbeChainHTTP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keeptune.yaml")
	if err := os.WriteFile(file, []byte("chain:\n  - {name: clients, type: client}\n  - {name: edge, catalog: aws-alb}\n  - {name: app, type: server}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := &probe.Result{Found: true, Lo: 59800 * time.Millisecond, Hi: 60200 * time.Millisecond, FailureMode: probe.Closed,
		HTTP: "http://lb.example.net/keeptune/", Connections: 64}
	w, err := writeProbeChain(file, "edge", res.HTTP, res)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	for _, want := range []string{"refreshed_by: payload", "idle_timeout: 59s", "on_expiry: close"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the chain file lacks %q:\n%s", want, b)
		}
	}
	if !slices.Contains(w.Set, "refreshed_by: payload") {
		t.Errorf("written keys %v lack refreshed_by", w.Set)
	}
}
