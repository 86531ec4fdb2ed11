package drill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/keepalive"
)

// The privileged tests build real labs with short timers (1-5 s) and assert the accuracy
// window. They run in parallel: the kernel's timers do not care, and the suite stays short.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: drills create network namespaces, veths and nftables tables (CI runs as root)")
	}
}

// assertGone fails t if any lab of ids left something behind.
func assertGone(t testing.TB, ids []string) {
	t.Helper()
	for _, id := range ids {
		left, err := lab.Remaining(id)
		if err != nil {
			t.Errorf("list leftovers: %v", err)
		}
		for _, l := range left {
			t.Errorf("lab %s left %v", id, l)
		}
	}
}

// execute runs a drill, checks that its labs are gone, and logs its runs.
func execute(t *testing.T, name string, o Options) Report {
	t.Helper()
	rep, err := Execute(context.Background(), name, o)
	assertGone(t, rep.LabIDs)
	if len(rep.LabIDs) == 0 {
		t.Errorf("the drill reported no lab ids")
	}
	if err != nil {
		t.Fatalf("Execute(%s): %v", name, err)
	}
	for _, r := range rep.Runs {
		t.Logf("%s: %s: %s", r.Case, r.Settings, runLine(r))
	}
	return rep
}

func requirePass(t *testing.T, rep Report, wantRuns int) {
	t.Helper()
	if len(rep.Runs) != wantRuns {
		t.Errorf("%d runs, want %d", len(rep.Runs), wantRuns)
	}
	for _, r := range rep.Runs {
		if r.Verdict != Pass {
			t.Errorf("%s: %s, want PASS (notes: %q)", r.Case, runLine(r), r.Notes)
			for _, e := range r.Timeline {
				t.Logf("  %8.3fs %-9s %s", e.At.Seconds(), e.Side, e.What)
			}
		}
	}
}

var short = Settings{Label: "short", Config: keepalive.Config{Idle: 2 * time.Second, Interval: time.Second, Count: 2}}

func TestDeadPeer(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"ipv4-middlebox", Options{Settings: short}},
		{"ipv4-peer-input", Options{Settings: short, DropAt: lab.AtReceiver}},
		{"ipv6-middlebox", Options{Settings: short, Family: lab.IPv6}},
		{"ipv6-peer-input", Options{Settings: short, Family: lab.IPv6, DropAt: lab.AtReceiver}},
		// TCP_USER_TIMEOUT replaces the probe count: killed at the first firing >= 2.5s: 3s.
		{"user-timeout", Options{Settings: Settings{Label: "uto", Config: keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 9, UserTimeout: 2500 * time.Millisecond}}}},
		// The lab's sysctls, with sockets that only turn keepalive on (--from-host).
		{"via-sysctl", Options{Settings: Settings{Label: "host", Config: keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 2}, ViaSysctl: true}}},
		// --time-scale: 60s/10s/5 divided by 20 -> 3s/1s/5: 8s.
		{"time-scale", Options{Settings: Settings{Label: "scaled", Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 2}}, TimeScale: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := execute(t, "dead-peer", tc.o)
			requirePass(t, rep, 2)
			for _, r := range rep.Runs {
				if r.Outcome != "ETIMEDOUT" {
					t.Errorf("%s: outcome %s, want ETIMEDOUT", r.Case, r.Outcome)
				}
			}
			if tc.name == "time-scale" && len(rep.Notes) == 0 {
				t.Errorf("a scaled run must say so in its notes")
			}
		})
	}
}

func TestUnackedData(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	s := short
	s.UserTimeout = 1500 * time.Millisecond
	rep := execute(t, "unacked-data", Options{Settings: s, Retries2: 3})
	requirePass(t, rep, 2)
	if rep.Runs[0].Case != "tcp_retries2=3" || rep.Runs[1].Case != "TCP_USER_TIMEOUT=1.5s" {
		t.Errorf("cases = %q, %q", rep.Runs[0].Case, rep.Runs[1].Case)
	}
}

func TestNATExpiry(t *testing.T) {
	requireRoot(t)
	fast := Settings{Label: "fast", Config: keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 2}}
	slow := Settings{Label: "slow", Config: keepalive.Config{Idle: 3 * time.Second, Interval: time.Second, Count: 2}}
	for _, tc := range []struct {
		name   string
		o      Options
		expect []string // client, server outcomes per case (no keepalive, keepalive)
	}{
		{"ipv4-drop", Options{Settings: fast, OnExpiry: []lab.OnExpiry{lab.ExpiryDrop}},
			[]string{"ETIMEDOUT", "no error", "survives", "survives"}},
		{"ipv4-reset-idle-above-T", Options{Settings: slow, OnExpiry: []lab.OnExpiry{lab.ExpiryReset}},
			[]string{"ECONNRESET", "no error", "ECONNRESET", "ECONNRESET"}},
		{"ipv6-reset", Options{Settings: fast, Family: lab.IPv6, OnExpiry: []lab.OnExpiry{lab.ExpiryReset}},
			[]string{"ECONNRESET", "no error", "survives", "survives"}},
		{"ipv6-drop-idle-above-T", Options{Settings: slow, Family: lab.IPv6, OnExpiry: []lab.OnExpiry{lab.ExpiryDrop}},
			[]string{"ETIMEDOUT", "no error", "ETIMEDOUT", "ETIMEDOUT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.o.NATTimeout = 2 * time.Second
			tc.o.Retries2 = 2
			start := time.Now()
			rep := execute(t, "nat-expiry", tc.o)
			took := time.Since(start)
			requirePass(t, rep, 4)
			// The progress line's estimate counts the phases the run has: never more than the
			// run took (it said 1m38s for a 57 s run), and not far less (load may slow a run).
			if est := Estimate("nat-expiry", tc.o); est > took+time.Second/2 || took > est*3/2+2*time.Second {
				t.Errorf("Estimate says %v, the run took %v", est, took)
			}
			for i, r := range rep.Runs {
				if i < len(tc.expect) && r.Outcome != tc.expect[i] {
					t.Errorf("%s: outcome %q, want %q", r.Case, r.Outcome, tc.expect[i])
				}
			}
		})
	}
}

func TestZombieFlood(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	other := Settings{Label: "other", Config: keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 1}}
	o := Options{Settings: short, Compare: &other, Clients: 1000}
	start := time.Now()
	rep := execute(t, "zombie-flood", o)
	took := time.Since(start)
	requirePass(t, rep, 2)
	// The progress line's estimate, as for nat-expiry: never more than the run took (it said
	// 28s for a 19 s run), and not far less (load may slow a run).
	if est := Estimate("zombie-flood", o); est > took+time.Second/2 || took > est*3/2+2*time.Second {
		t.Errorf("Estimate says %v, the run took %v", est, took)
	}
	for _, r := range rep.Runs {
		rc := r.Reclaim
		if rc == nil || rc.Sockets != 1000 || rc.Reclaimed != 1000 {
			t.Fatalf("%s: reclaim %+v, want 1000 of 1000", r.Case, rc)
		}
		if rc.PeakInuse < 1000 {
			t.Errorf("%s: peak sockets %d, want the 1000 zombies counted in the server namespace", r.Case, rc.PeakInuse)
		}
		if rc.PeakMem < 1000*requestSize {
			t.Errorf("%s: peak memory %d, want at least the unread requests", r.Case, rc.PeakMem)
		}
		last := r.Series[len(r.Series)-1]
		if last.FDs != 0 || last.Inuse != 0 {
			t.Errorf("%s: at the end %d fds and %d sockets remain", r.Case, last.FDs, last.Inuse)
		}
	}
}

// TestInterruptByContext cancels a drill in the middle of its idle phase: Execute must return
// promptly with the context's error and leave nothing behind.
func TestInterruptByContext(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "waiting up to") {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
		}
	}()
	start := time.Now()
	rep, err := Execute(ctx, "dead-peer", Options{Settings: Settings{Label: "long", Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 5}}, Progress: pw})
	pw.Close()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Execute = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the interrupted drill took %v to return", d)
	}
	if len(rep.LabIDs) != 1 {
		t.Fatalf("lab ids %q, want one", rep.LabIDs)
	}
	assertGone(t, rep.LabIDs)
}

// The child half of the signal tests: runs a long drill under signal.NotifyContext, as
// keeptune's main does.
func TestHelperDrillChild(t *testing.T) {
	if os.Getenv("KEEPTUNE_DRILL_CHILD") != "1" {
		t.Skip("helper for TestInterruptBySignal and TestCleanupAfterKill")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := Execute(ctx, "dead-peer", Options{Settings: Settings{Label: "long", Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 5}}, Progress: os.Stderr})
	fmt.Fprintf(os.Stderr, "child: Execute returned: %v\n", err)
	if err == nil {
		os.Exit(1)
	}
	os.Exit(0)
}

var labLine = regexp.MustCompile(`lab ` + lab.Prefix + `([0-9a-f]{5}):`)

// startChild re-executes this test binary as a drill and waits until its lab exists and the
// idle phase has begun. It returns the lab's run id.
func startChild(t *testing.T) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDrillChild$", "-test.v")
	cmd.Env = append(os.Environ(), "KEEPTUNE_DRILL_CHILD=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	id := ""
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if m := labLine.FindStringSubmatch(line); m != nil {
				id = m[1]
			}
			if strings.Contains(line, "waiting up to") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the child drill did not start its idle phase:\n%s", log.String())
	}
	if id == "" {
		t.Fatalf("no lab id in the child's progress:\n%s", log.String())
	}
	if left, _ := lab.Remaining(id); len(left) == 0 {
		t.Fatalf("the child's lab %s does not exist while it runs", id)
	}
	return cmd, id, &log
}

// TestInterruptBySignal sends SIGINT to a process running a drill and finds nothing left.
func TestInterruptBySignal(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cmd, id, log := startChild(t)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("child exited with %v:\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the child did not exit within 15s of SIGINT")
	}
	assertGone(t, []string{id})
}

// TestCleanupAfterKill kills a drill with SIGKILL (no chance to clean up), then removes what
// it left with lab.Cleanup, as `keeptune drill --cleanup` does.
func TestCleanupAfterKill(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cmd, id, _ := startChild(t)
	cmd.Process.Kill()
	cmd.Wait()
	left, err := lab.Remaining(id)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, l := range left {
		if l.InUse {
			t.Errorf("%v of a killed run is reported in use", l)
		}
		kinds[l.Kind] = true
	}
	if !kinds["netns"] || !kinds["lock"] {
		t.Fatalf("a killed run should leave namespaces and its lock file, found %v", left)
	}
	removed, _, err := lab.Cleanup(id)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if len(removed) != len(left) {
		t.Errorf("Cleanup removed %v, want %v", removed, left)
	}
	assertGone(t, []string{id})
}

// TestHTTPKeepaliveRace runs real nginx and HAProxy pooling connections to a backend that
// closes idle ones first (300 ms against a pool idle of 1 s): requests fail. With the fix (the
// backend's idle above the longest the proxy keeps an idle connection) none fails.
func TestHTTPKeepaliveRace(t *testing.T) {
	requireRoot(t)
	for _, proxy := range Proxies {
		t.Run(proxy, func(t *testing.T) {
			if _, err := exec.LookPath(proxy); err != nil {
				t.Skipf("%s is not installed (.ci/run installs it): %v", proxy, err)
			}
			t.Parallel()
			o := Options{Settings: short, Proxy: proxy, BackendIdle: 300 * time.Millisecond, PoolIdle: time.Second, Requests: 80}
			start := time.Now()
			rep := execute(t, "http-keepalive-race", o)
			took := time.Since(start)
			// The progress line's estimate, as for nat-expiry: never more than the run took
			// (it said 40s for a 30 s run), and not far less.
			if est := Estimate("http-keepalive-race", o); est > took+time.Second/2 || took > est*3/2+2*time.Second {
				t.Errorf("Estimate says %v, the run took %v", est, took)
			}
			if len(rep.Runs) != 2 {
				t.Fatalf("%d runs, want the configured case and the fix", len(rep.Runs))
			}
			bug, fix := rep.Runs[0], rep.Runs[1]
			for _, r := range rep.Runs {
				t.Logf("%s: %+v", r.Case, *r.HTTP)
			}
			if bug.HTTP.Failures() == 0 || bug.HTTP.PerThousand() <= 0 || bug.Verdict != Pass || bug.Goal.Met {
				t.Errorf("backend idle below pool idle: %d of %d failed (verdict %s, goal met %v); want failures", bug.HTTP.Failures(), bug.HTTP.Requests, bug.Verdict, bug.Goal.Met)
			}
			if !strings.Contains(bug.Goal.Bound, "KT701") {
				t.Errorf("the goal's bound does not name KT701: %q", bug.Goal.Bound)
			}
			if fix.HTTP.Failures() != 0 || !fix.Reference || fix.Verdict != Pass {
				t.Errorf("the fix: %d of %d failed (reference %v, verdict %s); want none", fix.HTTP.Failures(), fix.HTTP.Requests, fix.Reference, fix.Verdict)
			}
			if rep.GoalMet() {
				t.Errorf("the configured case fails, but the report's goal is met")
			}
			if bug.HTTP.HeldFINs == 0 {
				t.Errorf("the lab held back no backend FIN: the race was not set up")
			}
		})
	}
}
