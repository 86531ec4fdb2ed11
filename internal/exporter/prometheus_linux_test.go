package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/testutil"
)

// testRules is deploy/prometheus/keeptune-rules.yml with the CLOSE_WAIT leak's threshold cut
// from 300 s for 10 minutes to 2 s for 3 s. The replaced text must be there: a change to the
// rule fails this test instead of testing something else.
func testRules(t *testing.T) []byte {
	b, err := os.ReadFile("../../deploy/prometheus/keeptune-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, repl := range map[string]string{
		"expr: keeptune_close_wait_oldest_seconds > 300 and keeptune_close_wait_sockets > 0\n        for: 10m": "expr: keeptune_close_wait_oldest_seconds > 2 and keeptune_close_wait_sockets > 0\n        for: 3s",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("keeptune-rules.yml no longer holds %q: update this test with the rule", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return []byte(s)
}

// The real Prometheus server scrapes the exporter, and a process (this test) that holds
// CLOSE_WAIT sockets longer than the alert's threshold makes KeeptuneCloseWaitLeak fire, seen
// through Prometheus's HTTP API with the process and namespace labels.
func TestPrometheusFiresCloseWaitLeak(t *testing.T) {
	testutil.RequireRoot(t, "creates a network namespace and reads every namespace")
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
	}

	// The leak: three connections whose clients hang up while the server side (this process)
	// never closes, in a namespace of its own.
	var conns []net.Conn
	var ln net.Listener
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		if ln != nil {
			ln.Close()
		}
	})
	path, _ := testutil.PinnedNetns(t, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		for range 3 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			s, err := ln.Accept()
			if err != nil {
				return err
			}
			c.Close()
			conns = append(conns, s)
		}
		return nil
	})
	ino, err := netns.Inode(path)
	if err != nil {
		t.Fatal(err)
	}

	// The exporter, on a free loopback port.
	e, err := New(Options{AllNetns: true, AuditInterval: -1, JournalDir: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- e.Serve(ctx, ServeOptions{Listen: "127.0.0.1:0", Ready: func(a net.Addr) { addrc <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("exporter: %v", err)
		}
	})
	var exporterAddr net.Addr
	select {
	case exporterAddr = <-addrc:
	case err := <-served:
		t.Fatalf("exporter: %v", err)
	}

	// Prometheus with a temporary configuration and data directory, scraping every second.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), testRules(t), 0o644); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: keeptune
    static_configs:
      - targets: [%q]
`, exporterAddr.String())
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	var plog strings.Builder
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	cmd.Stdout, cmd.Stderr = &plog, &plog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", plog.String())
		}
	})

	api := func(path string, query url.Values, out any) error {
		resp, err := http.Get("http://" + promAddr + path + "?" + query.Encode())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s: %s %s", path, resp.Status, b)
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	type alert struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	}
	var alerts struct {
		Data struct {
			Alerts []alert `json:"alerts"`
		} `json:"data"`
	}
	wantLabels := map[string]string{"alertname": "KeeptuneCloseWaitLeak", "netns": strconv.FormatUint(ino, 10), "process": processName(t), "severity": "warning"}
	deadline := time.Now().Add(90 * time.Second)
	var last []alert
	for {
		if err := api("/api/v1/alerts", nil, &alerts); err == nil {
			last = alerts.Data.Alerts
			for _, a := range last {
				match := a.State == "firing"
				for k, v := range wantLabels {
					match = match && a.Labels[k] == v
				}
				if match {
					t.Logf("firing: %v", a.Labels)
					goto fired
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("KeeptuneCloseWaitLeak %v never fired; alerts seen: %+v", wantLabels, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
fired:
	// Prometheus stored what the exporter said: three CLOSE_WAIT sockets for this process.
	var q struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	expr := fmt.Sprintf(`keeptune_close_wait_sockets{netns="%d",process=%q}`, ino, processName(t))
	if err := api("/api/v1/query", url.Values{"query": {expr}}, &q); err != nil {
		t.Fatal(err)
	}
	if len(q.Data.Result) != 1 || q.Data.Result[0].Value[1] != "3" {
		t.Errorf("%s = %+v, want 3", expr, q.Data.Result)
	}
}
