package drill

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

func TestServerVars(t *testing.T) {
	for _, tc := range []struct {
		addr, cmd, want, listen string
	}{
		{"203.0.113.2", "srv --bind {listen} --pid {dir}/p --port {port} --addr {addr}", "srv --bind 203.0.113.2:4242 --pid /tmp/d/p --port 4242 --addr 203.0.113.2", "203.0.113.2:4242"},
		{"2001:db8:113::2", "srv {listen} {addr}", "srv [2001:db8:113::2]:4242 2001:db8:113::2", "[2001:db8:113::2]:4242"},
		{"203.0.113.2", "nginx -c ./nginx.conf", "nginx -c ./nginx.conf", "203.0.113.2:4242"},
	} {
		v := ServerVars{Addr: netip.MustParseAddr(tc.addr), Port: 4242, Dir: "/tmp/d"}
		if got := v.Expand(tc.cmd); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.cmd, got, tc.want)
		}
		env := strings.Join(v.Env(), " ")
		if want := "KEEPTUNE_ADDR=" + tc.addr + " KEEPTUNE_PORT=4242 KEEPTUNE_LISTEN=" + tc.listen + " KEEPTUNE_DIR=/tmp/d"; env != want {
			t.Errorf("Env = %q, want %q", env, want)
		}
	}
}

func TestParseServerSend(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		DefaultServerSend:      "GET / HTTP/1.1\r\nHost: keeptune-lab\r\n\r\n",
		`PING\n`:               "PING\n",
		`say "hi"\x00`:         "say \"hi\"\x00",
		`*1\r\n$4\r\nPING\r\n`: "*1\r\n$4\r\nPING\r\n",
	} {
		got, err := ParseServerSend(in)
		if err != nil || string(got) != want {
			t.Errorf("ParseServerSend(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseServerSend(`bad \q escape`); err == nil || !strings.Contains(err.Error(), "--server-send") {
		t.Errorf("a bad escape: err = %v, want one naming --server-send", err)
	}
}

func TestShortCommand(t *testing.T) {
	for in, want := range map[string]string{
		"nginx -p /tmp/x -c /etc/nginx.conf -g 'daemon off;'": "nginx",
		"/usr/bin/python3 -u /srv/app/server.py --port 4242":  "python3 server.py",
		"./bin/api --listen 0:4242":                           "api",
		"GOMAXPROCS=2 PORT=4242 ./bin/api":                    "api",
		"":                                                    "",
	} {
		if got := shortCommand(in); got != want {
			t.Errorf("shortCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJudgeServerGoal(t *testing.T) {
	goal := Goal{Profile: "api-gateway", MaxDetection: 2 * time.Minute}
	ka := Settings{Config: keepalive.Config{Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 3}}
	for _, tc := range []struct {
		name    string
		sr      ServerRun
		verdict Verdict
		met     bool
		bound   string
	}{
		{"keepalive within the goal", ServerRun{KeepaliveOn: true, Keepalive: ka, Clients: 5, Released: 5, ReleaseMax: 91 * time.Second}, Pass, true, ""},
		{"keepalive above the goal", ServerRun{KeepaliveOn: true, Keepalive: Settings{Config: keepalive.Config{Idle: 7200 * time.Second, Interval: 75 * time.Second, Count: 9}},
			Clients: 5, Released: 0, Watched: time.Minute}, Late, false, "alone is 11m15s; lower the probe count"},
		{"no keepalive, released by its own timeout", ServerRun{Keepalive: ka, Clients: 1, Released: 1, ReleaseMax: 3 * time.Second}, Pass, true, ""},
		{"no keepalive, still held", ServerRun{Keepalive: ka, Clients: 3, Released: 1, ReleaseMax: 3 * time.Second, Watched: time.Minute}, Pass, false, "turn TCP keepalive on"},
		{"keepalive in time, the server late", ServerRun{KeepaliveOn: true, Keepalive: ka, Clients: 1, Released: 1, ReleaseMax: 100 * time.Second}, Late, false, "does not close a connection"},
	} {
		r := Run{Verdict: tc.verdict, Server: &tc.sr, Measured: dur(tc.sr.ReleaseMax)}
		g := &GoalVerdict{}
		judgeServerGoal(&r, g, goal, "profile api-gateway")
		if g.Met != tc.met || !strings.Contains(g.Bound, tc.bound) || (tc.bound == "") != (g.Bound == "") {
			t.Errorf("%s: met %v bound %q; want met %v, bound containing %q", tc.name, g.Met, g.Bound, tc.met, tc.bound)
		}
		if r.MeasuredReal == nil || *r.MeasuredReal != tc.sr.ReleaseMax {
			t.Errorf("%s: measured_real %v, want the measured %v (the server's timers are real)", tc.name, r.MeasuredReal, tc.sr.ReleaseMax)
		}
	}
}

// How long a --server-cmd drill takes depends on the keepalive the server's sockets use, read
// once it runs: the estimate is unknown (0), not a made-up 15 s (said for a 4.5 s nginx run);
// --server-wait bounds it.
func TestEstimateServerCmd(t *testing.T) {
	o := Options{ServerCmd: "nginx -g 'daemon off;'", Clients: 200}
	if est := Estimate("zombie-flood", o); est != 0 {
		t.Errorf("without --server-wait: %v, want 0 (unknown before the server runs)", est)
	}
	o.ServerWait, o.Repeat = 20*time.Second, 2
	if est := Estimate("dead-peer", o); est != 40*time.Second {
		t.Errorf("--server-wait 20s --repeat 2: %v, want 40s", est)
	}
}
