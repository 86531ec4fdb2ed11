package exporter

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/vishvananda/netlink"

	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/testutil"
)

// testServer serves e's metrics on a test server that is closed when the test ends.
func testServer(t *testing.T, e *Exporter) *httptest.Server {
	t.Helper()
	h, err := e.Handler("test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// scrape fetches url and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels include want.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// A namespace with known sockets and settings, scraped through the real handler: its listener,
// connections with and without keepalive, CLOSE_WAIT sockets, its own keepalive sysctl and its
// own kernel counters come out under its inode.
func TestExporterReadsANamespace(t *testing.T) {
	testutil.RequireRoot(t, "creates a network namespace and reads every namespace")
	var ln net.Listener
	var clients, servers []net.Conn
	t.Cleanup(func() {
		for _, c := range append(clients, servers...) {
			c.Close()
		}
		if ln != nil {
			ln.Close()
		}
	})
	const port = 4711
	path, _ := testutil.PinnedNetns(t, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		// The namespace's own sysctl: the host's is not touched.
		if err := os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("600"), 0o644); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
			return err
		}
		// Five connections: keepalive off on the client side (Go turns it on for accepted ones).
		d := net.Dialer{KeepAlive: -1}
		for range 5 {
			c, err := d.Dial("tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			s, err := ln.Accept()
			if err != nil {
				return err
			}
			clients, servers = append(clients, c), append(servers, s)
		}
		return nil
	})
	// Two clients hang up; their server sides stay in CLOSE_WAIT because nobody closes them.
	clients[0].Close()
	clients[1].Close()
	ino, err := netns.Inode(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the FINs arrive

	e, err := New(Options{AllNetns: true, AuditInterval: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, e)
	mfs := scrape(t, srv.URL+"/metrics")

	ns := strconv.FormatUint(ino, 10)
	comm := processName(t)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"keeptune_netns_info", map[string]string{"netns": ns}, 1},
		{"keeptune_sysctl", map[string]string{"netns": ns, "key": "net.ipv4.tcp_keepalive_time"}, 600},
		{"keeptune_sockets_by_port", map[string]string{"netns": ns, "port": strconv.Itoa(port), "state": "listen"}, 1},
		// Accepted sides: 3 established with Go's keepalive on, 2 in CLOSE_WAIT.
		{"keeptune_sockets_by_port", map[string]string{"netns": ns, "port": strconv.Itoa(port), "state": "established", "keepalive": "on"}, 3},
		{"keeptune_sockets_by_port", map[string]string{"netns": ns, "port": strconv.Itoa(port), "state": "close_wait"}, 2},
		// Client sides: ephemeral local ports, keepalive off.
		{"keeptune_sockets_by_port", map[string]string{"netns": ns, "port": "ephemeral", "state": "established", "keepalive": "off"}, 3},
		{"keeptune_sockets_by_process", map[string]string{"netns": ns, "process": comm, "state": "established", "keepalive": "off"}, 3},
		{"keeptune_close_wait_sockets", map[string]string{"netns": ns, "process": comm}, 2},
		{"keeptune_established_idle_seconds", map[string]string{"netns": ns, "keepalive": "off"}, 3},
		{"keeptune_tcp_passive_opens_total", map[string]string{"netns": ns}, 5},
		{"keeptune_tcp_active_opens_total", map[string]string{"netns": ns}, 5},
	}
	for _, c := range checks {
		got, ok := value(mfs, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for _, src := range errorSources {
		if _, ok := value(mfs, "keeptune_exporter_scrape_errors_total", map[string]string{"source": src}); !ok {
			t.Errorf("no keeptune_exporter_scrape_errors_total{source=%q}", src)
		}
	}
}

// processName is the test binary's name as the kernel keeps it (15 bytes at most).
func processName(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:len(b)-1])
}

// An unreadable /proc (here: a directory with nothing in it) is counted as scrape errors; the
// scrape still answers with the exporter's own metrics.
func TestUnreadableProcIsAScrapeError(t *testing.T) {
	e, err := New(Options{ProcRoot: t.TempDir(), AuditInterval: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, e)
	scrape(t, srv.URL+"/metrics")
	mfs := scrape(t, srv.URL+"/metrics")
	for _, src := range []string{"netns", "sockets"} {
		if v, _ := value(mfs, "keeptune_exporter_scrape_errors_total", map[string]string{"source": src}); v != 2 {
			t.Errorf("scrape errors from %s after two scrapes = %v, want 2", src, v)
		}
	}
	if _, ok := value(mfs, "keeptune_exporter_scrape_duration_seconds", nil); !ok {
		t.Error("no scrape duration")
	}
}

// A real scrape passes `promtool check metrics` (names, units, _total counters, help texts).
func TestScrapePassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
	}
	e, err := New(Options{AllNetns: os.Geteuid() == 0, AuditInterval: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.audit.run(context.Background()) // findings and defaults in the scrape too
	srv := testServer(t, e)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte("keeptune_audit_findings")) || !bytes.Contains(body, []byte("keeptune_sockets_by_port")) {
		t.Fatalf("scrape lacks findings or sockets:\n%s", body)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// A namespace that went away between listing and reading (its pin removed, its last process
// gone, its PID reused for another namespace) is left out without an error: containers come and
// go. One that is there and cannot be entered is a netns read error, never a crash.
func TestVanishedAndUnreachableNamespaces(t *testing.T) {
	for name, n := range map[string]namespace{
		"pin removed":   {Inode: 4026599999, Path: filepath.Join(t.TempDir(), "gone"), Name: "netns gone"},
		"inode changed": {Inode: 1, Path: "/proc/self/ns/net", PID: os.Getpid(), Name: "pid"},
	} {
		f := readNamespace("/proc", n, false)
		if !f.Gone || len(f.errors) != 0 || f.HasCounters || len(f.Sysctls) != 0 {
			t.Errorf("%s: gone %v, errors %v: want it left out without an error", name, f.Gone, f.errors)
		}
	}
	// A file that is not a namespace: setns refuses it (EINVAL).
	notNs := filepath.Join(t.TempDir(), "not-a-namespace")
	if err := os.WriteFile(notNs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ino, err := netns.Inode(notNs)
	if err != nil {
		t.Fatal(err)
	}
	f := readNamespace("/proc", namespace{Inode: ino, Path: notNs, Name: "bad"}, false)
	if f.Gone || len(f.errors) != 1 || f.errors[0].source != "netns" {
		t.Fatalf("gone %v, errors %v: want one netns error", f.Gone, f.errors)
	}
}
