package plan

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Every command step works as printed and every line step is only the line: what is not to be
// pasted (units, the block it goes in, the runtime's name) is in the step's note. Before, the
// plan's JSON had `sysctl -w net.inet.tcp.keepidle=80000  (milliseconds; ...)` (a shell syntax
// error) and `option clitcpka + clitcpka-idle 300s (HAProxy frontend)` (no HAProxy keyword).
func TestStepTextsArePasteable(t *testing.T) {
	p := Make(lvsInput(t, disagreeingHost()))
	commands := map[string]*regexp.Regexp{
		"now":     regexp.MustCompile(`^sysctl -w net\.ipv4\.[a-z_0-9]+=\d+$`),
		"windows": regexp.MustCompile(`^reg add HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters /v KeepAlive(Time|Interval) /t REG_DWORD /d \d+ /f$`),
		"macos":   regexp.MustCompile(`^sysctl -w net\.inet\.tcp\.keep(idle|intvl|cnt)=\d+$`),
		"freebsd": regexp.MustCompile(`^sysctl net\.inet\.tcp\.keep(idle|intvl|cnt)=\d+$`),
	}
	n := 0
	for _, c := range p.Changes {
		for _, st := range c.Apply {
			if st.Kind != StepCommand {
				continue
			}
			re, ok := commands[st.Where]
			if !ok {
				continue
			}
			n++
			if !re.MatchString(st.Text) {
				t.Errorf("%s command %q does not work as printed (want %s)", st.Where, st.Text, re)
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d commands checked", n)
	}
	if c, _ := p.Find(Scope{Kind: ScopeHost}, model.KeyKeepaliveTime); !hasStep(c, "macos", "milliseconds") {
		t.Errorf("macos step lost its note on units: %+v", c.Apply)
	}

	hop := func(runtime string) *model.Hop { return &model.Hop{Name: "x", Runtime: runtime} }
	for _, tt := range []struct {
		runtime, side, key string
		d                  time.Duration
		text, where        string
	}{
		{"haproxy", "downstream", "keepalive", 300 * time.Second, "option clitcpka\nclitcpka-idle 300s", "HAProxy: in the frontend or defaults section"},
		{"haproxy", "upstream", "keepalive", 300 * time.Second, "option srvtcpka\nsrvtcpka-idle 300s", "HAProxy: in the backend or defaults section"},
		{"node", "downstream", "idle", 65 * time.Second, "server.keepAliveTimeout = 65000; server.headersTimeout = 66000", "Node.js: on the http.Server"},
		{"nginx", "upstream", "idle", 50 * time.Second, "keepalive_timeout 50s;", "nginx: in the upstream block"},
		{"nginx", "downstream", "keepalive", 80 * time.Second, "so_keepalive=80s::", "nginx: a parameter of each listen directive"},
		{"pgbouncer", "downstream", "keepalive", 1080 * time.Second, "tcp_keepidle = 1080", "pgbouncer.ini: in the [pgbouncer] section"},
		{"", "downstream", "idle", 65 * time.Second, "downstream: {idle_timeout: 65s}", ""},
	} {
		text, where := Directive(hop(tt.runtime), tt.side, tt.key, tt.d)
		if text != tt.text || (tt.where != "" && where != tt.where) || where == "" {
			t.Errorf("Directive(%s %s %s) = %q, %q; want %q, %q", tt.runtime, tt.side, tt.key, text, where, tt.text, tt.where)
		}
	}
}

func hasStep(c *Change, where, note string) bool {
	for _, st := range c.Apply {
		if st.Where == where && strings.Contains(st.Note, note) {
			return true
		}
	}
	return false
}

// The margin text adds up: 350 s minus 35 s is 315 s, which the plan rounds down to 300 s; the
// text said "must leave by 300 s (timeout minus keeptune's margin of 35 s)".
func TestMarginTextAddsUp(t *testing.T) {
	if got := marginText(350 * time.Second); !strings.Contains(got, "margin of 35 s is 5m15s, rounded down to 5m") {
		t.Errorf("marginText(350 s) = %q", got)
	}
	if got := marginText(90 * time.Second); strings.Contains(got, "rounded") || !strings.Contains(got, "margin of 10 s") {
		t.Errorf("marginText(90 s) = %q: 90 - 10 = 80 needs no rounding", got)
	}
}

// The plan's tcp_retries2 reason uses audit's KT201 numbers: the moment the kernel gives up after
// the write and the budget (before, the plan called the budget the give-up time).
func TestRetries2ReasonMatchesAudit(t *testing.T) {
	p := Make(lvsInput(t, disagreeingHost()))
	c, ok := p.Find(Scope{Kind: ScopeHost}, model.KeyRetries2)
	if !ok {
		t.Fatal("no tcp_retries2 change")
	}
	hang, _ := kernel.LowLatency().GiveUp(8, 0)
	want := "tcp_retries2 = 8 gives up on unacknowledged data " + textfmt.Duration(hang) + " after the write on a low-latency path (budget 1m42.2s)"
	if !strings.Contains(c.Why[0].Text, want) || !strings.Contains(c.Why[0].Text, "with 15 now: 15m28.9s after the write (budget 15m24.6s)") {
		t.Errorf("why = %q, want it to contain %q and the current 15m28.9s/15m24.6s", c.Why[0].Text, want)
	}
}

// A backend with a 2 s keep-alive behind Envoy's 1 h pool: the pool is shortened to 1 s, and
// the reason says why that is all it can do (it said "earlier (by 1 s, minus a margin for
// timer skew)", which is 0 s, for a proposed 1 s).
func TestPoolShortenedReasonAddsUp(t *testing.T) {
	src, err := os.ReadFile("../../examples/azure-envoy-gunicorn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := chain.Resolved("azure-envoy-gunicorn.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.Resolve("web-frontend")
	if err != nil {
		t.Fatal(err)
	}
	p := Make(Input{Snapshot: disagreeingHost(), Chain: c, Profile: prof})
	ch, ok := p.FindHop("envoy", "upstream", KeyIdleTimeout)
	if !ok || ch.To != "1s" {
		t.Fatalf("envoy upstream idle: %+v, want a change to 1s", ch)
	}
	why := ch.Why[0].Text
	if strings.Contains(why, "minus a margin") || !strings.Contains(why, "1 s is the shortest pool idle timeout and leaves no room for timer skew") {
		t.Errorf("why = %q", why)
	}
}

// A reason's bound is in the setting's syntax (docs/json.md): a sysctl's is a whole number or a
// MIN-MAX range. tcp_retries2's reason bounds the give-up time, not the count, so it carries no
// bound (it said "<= 5 m (5m)", which no tool reading the plan could compare with 8).
func TestSysctlBoundsAreInTheSettingsSyntax(t *testing.T) {
	p := Make(lvsInput(t, disagreeingHost()))
	syntax := regexp.MustCompile(`^\d+(-\d+)?$`)
	n := 0
	for _, c := range p.Changes {
		if !strings.HasPrefix(c.Key, "net.") && !strings.HasPrefix(c.Key, "fs.") {
			continue // a configuration's setting: its own syntax ("80s")
		}
		for _, why := range c.Why {
			if why.Bound == "" {
				continue
			}
			n++
			if !syntax.MatchString(why.Bound) {
				t.Errorf("%s: bound %q is not in the sysctl's syntax", c.Key, why.Bound)
			}
		}
		if c.Key == model.KeyRetries2 && len(c.Why) > 0 && (c.Why[0].Bound != "" || c.Why[0].Op != "") {
			t.Errorf("tcp_retries2 reason: op %q bound %q, want none", c.Why[0].Op, c.Why[0].Bound)
		}
	}
	if n == 0 {
		t.Fatal("no sysctl reason with a bound: the check proves nothing")
	}
}
