package drill

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The --server-cmd tests run real servers (a Python service, nginx) in the lab's server
// namespace and check the release times the lab measures against the keepalive the servers'
// sockets really use, with short timers (idle 2 s, intvl 1 s, 2 probes: 4 s).

func requireProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("needs %s (.ci/run installs it): %v", name, err)
	}
}

func pythonServer(t *testing.T, args string) string {
	t.Helper()
	requireProgram(t, "python3")
	script, err := filepath.Abs("testdata/servercmd/ka_server.py")
	if err != nil {
		t.Fatal(err)
	}
	return "python3 " + script + " " + args
}

// nginxServer writes an nginx configuration that listens on port 8080 (not the lab's {port}:
// the lab finds the one port the server listens on) and returns its command line.
func nginxServer(t *testing.T, listenOpts, keepaliveTimeout string) string {
	t.Helper()
	requireProgram(t, "nginx")
	conf := filepath.Join(t.TempDir(), "nginx.conf")
	body := "worker_processes 1;\nerror_log stderr;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n" +
		"  keepalive_timeout " + keepaliveTimeout + ";\n  server {\n    listen 8080" + listenOpts + ";\n    location / { return 200 \"ok\\n\"; }\n  }\n}\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return "nginx -p {dir} -c " + conf + " -g 'daemon off; pid {dir}/nginx.pid;'"
}

func requireServerRelease(t *testing.T, r Run, clients int, ka bool) {
	t.Helper()
	sr := r.Server
	if sr == nil {
		t.Fatalf("%s: no server report", r.Case)
	}
	if sr.Clients != clients || sr.Released != clients {
		t.Errorf("%s: %d of %d connections released, want all %d", r.Case, sr.Released, sr.Clients, clients)
	}
	if sr.KeepaliveOn != ka {
		t.Errorf("%s: keepalive read from the server's socket: on=%v, want %v", r.Case, sr.KeepaliveOn, ka)
	}
	if sr.FDsAfter > sr.FDsBefore-clients {
		t.Errorf("%s: the server's processes hold %d descriptors after, %d before: want %d fewer", r.Case, sr.FDsAfter, sr.FDsBefore, clients)
	}
}

func TestServerCmdPythonDeadPeer(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	rep := execute(t, "dead-peer", Options{ServerCmd: pythonServer(t, "2 1 2"), ServerSend: DefaultServerSend})
	requirePass(t, rep, 1)
	r := rep.Runs[0]
	requireServerRelease(t, r, 1, true)
	if k := r.Server.Keepalive; k.Idle != 2*time.Second || k.Interval != time.Second || k.Count != 2 {
		t.Errorf("keepalive read from the Python server's socket: %v, want idle 2s intvl 1s probes 2", k)
	}
	if r.Theory == nil || *r.Theory != 4*time.Second || r.Measured == nil {
		t.Fatalf("theory %v measured %v, want theory 4s and a measurement", r.Theory, r.Measured)
	}
	// The sampling adds up to one period after the release: still within the accept window.
	if got := Judge(*r.Theory, *r.Measured); got != Pass {
		t.Errorf("released %v after the last segment, theory 4s: %s", *r.Measured, got)
	}
	if !rep.GoalMet() || r.Server.Gone != 1 {
		t.Errorf("goal met %v, sockets gone %d: want the goal met and the socket gone", rep.GoalMet(), r.Server.Gone)
	}
}

func TestServerCmdNginxZombieFlood(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	rep := execute(t, "zombie-flood", Options{ServerCmd: nginxServer(t, " so_keepalive=2s:1s:2", "60s"), ServerSend: DefaultServerSend, Clients: 40})
	requirePass(t, rep, 1)
	r := rep.Runs[0]
	requireServerRelease(t, r, 40, true)
	if !strings.HasSuffix(r.Server.Listen, ":8080") {
		t.Errorf("listen %s: want the port nginx's configuration names (8080)", r.Server.Listen)
	}
	if len(r.Server.PIDs) < 2 {
		t.Errorf("pids %v: want nginx's master and worker", r.Server.PIDs)
	}
}

// Without so_keepalive, nginx's sockets have no keepalive: its keepalive_timeout (3 s) closes
// the idle connections, and the sockets it closed towards the vanished clients stay in the
// table as orphans retransmitting their FIN.
func TestServerCmdNginxNoKeepalive(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	rep := execute(t, "dead-peer", Options{ServerCmd: nginxServer(t, "", "3s"), ServerSend: DefaultServerSend, ServerWait: 10 * time.Second})
	r := rep.Runs[0]
	requireServerRelease(t, r, 1, false)
	if r.Theory != nil || r.Measured == nil || *r.Measured < 2900*time.Millisecond || *r.Measured > 4*time.Second {
		t.Errorf("theory %v, released after %v: want no theory and about 3 s (keepalive_timeout)", r.Theory, r.Measured)
	}
	if r.Server.Left["FIN_WAIT1"] != 1 {
		t.Errorf("sockets left %v: want the closed one in FIN_WAIT1 (its FIN goes nowhere)", r.Server.Left)
	}
}

func TestServerCmdNeverListens(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	start := time.Now()
	rep, err := Execute(context.Background(), "dead-peer", Options{ServerCmd: "echo cannot bind >&2; exit 3", ServerSend: DefaultServerSend})
	assertGone(t, rep.LabIDs)
	if err == nil || !strings.Contains(err.Error(), "before it listened") || !strings.Contains(err.Error(), "cannot bind") {
		t.Errorf("err = %v, want one saying the command exited before it listened, with its output", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v to notice", time.Since(start))
	}
}

// Interrupted mid-watch, the drill kills the whole server (the shell and the Python process it
// started) and removes the lab.
func TestServerCmdInterrupt(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	pidfile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if b, err := os.ReadFile(pidfile); err == nil && len(b) > 0 {
				time.Sleep(2 * time.Second) // the clients have vanished; the watch runs
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	rep, err := Execute(ctx, "dead-peer", Options{ServerCmd: "KEEPTUNE_TEST_PIDFILE=" + pidfile + " " + pythonServer(t, "0 0 0"), ServerSend: DefaultServerSend})
	assertGone(t, rep.LabIDs)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the context's", err)
	}
	b, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(string(b))
	if pid <= 0 {
		t.Fatalf("the server wrote no pid")
	}
	for deadline := time.Now().Add(3 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server (pid %d) still runs after the interrupted drill", pid)
		}
	}
}
