package rules

import (
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
)

func lintChain(t *testing.T, doc string, ids ...string) []model.Finding {
	t.Helper()
	c, err := chain.Resolved("k.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profiles.Resolve("general")
	rs, err := Select(Selection{Enable: ids})
	if err != nil {
		t.Fatal(err)
	}
	return Run(&Input{Chain: c, Profile: p}, rs)
}

func TestPoolRaceMargin(t *testing.T) {
	base := "chain:\n  - {name: c, type: client}\n  - {name: lb, catalog: aws-alb}\n  - {name: s, type: server, http_keepalive_timeout: %s}\n"
	for _, c := range []struct {
		backend string
		want    int
	}{{"5s", 1}, {"60s", 1}, {"60500ms", 1}, {"61s", 0}, {"65s", 0}} {
		fs := lintChain(t, strings.Replace(base, "%s", c.backend, 1), "KT701")
		if len(fs) != c.want {
			t.Errorf("backend %s behind a 60 s ALB: %d findings, want %d: %+v", c.backend, len(fs), c.want, fs)
		}
	}
	fs := lintChain(t, strings.Replace(base, "%s", "5s", 1), "KT701")
	if fs[0].Location == nil || fs[0].Location.Line != 4 || fs[0].Fix.Proposed != "1m5s" || strings.Join(fs[0].Hops, ",") != "lb,s" {
		t.Errorf("finding = %+v fix %+v", fs[0], fs[0].Fix)
	}
	// A pool without an idle limit races any backend limit; the fix shortens the pool.
	fs = lintChain(t, "chain:\n  - {name: c, type: client, runtime: go, pools: true, pool_idle_timeout: none}\n  - {name: s, type: server, http_keepalive_timeout: 30s}\n", "KT701")
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "for ever (no idle timeout)") || fs[0].Fix.Key != "c.upstream.idle_timeout" ||
		!strings.Contains(fs[0].Fix.Line, "IdleConnTimeout: 26 * time.Second") {
		t.Errorf("unlimited pool: %+v %+v", fs, fs[0].Fix)
	}
	// A backend that closes every connection after its response (gunicorn's sync worker) leaves
	// nothing to reuse.
	if fs := lintChain(t, "chain:\n  - {name: c, type: client}\n  - {name: lb, catalog: aws-alb}\n  - {name: s, type: server, runtime: gunicorn}\n", "KT701"); len(fs) != 0 {
		t.Errorf("no keep-alive backend: %+v", fs)
	}
	if fs := lintChain(t, "chain:\n  - {name: c, type: client}\n  - {name: lb, catalog: aws-alb}\n  - {name: s, type: server, runtime: gunicorn, pools: true}\n", "KT701"); len(fs) != 1 {
		t.Errorf("gthread gunicorn behind an ALB: %+v", fs)
	}
	// A backend without an idle limit never closes first.
	if fs := lintChain(t, strings.Replace(base, "%s", "none", 1), "KT701"); len(fs) != 0 {
		t.Errorf("unlimited backend: %+v", fs)
	}
}

func TestUserTimeoutRule(t *testing.T) {
	doc := `chain:
  - name: c
    type: client
    tcp_keepalive: {idle: 60s, interval: 10s, count: 5}
    user_timeout: 30s
    read_timeout: 20s
  - {name: s, type: server}
`
	fs := lintChain(t, doc, "KT705")
	if len(fs) != 2 {
		t.Fatalf("findings = %+v", fs)
	}
	var short, read bool
	for _, f := range fs {
		short = short || strings.Contains(f.Message, "shorter than its keepalive cycle (1m + 5 × 10s = 1m50s)") && strings.Contains(f.Message, "1m10s")
		read = read || strings.Contains(f.Message, "not below its read timeout of 20s")
	}
	if !short || !read {
		t.Errorf("findings = %+v", fs)
	}
	ok := strings.Replace(strings.Replace(doc, "user_timeout: 30s", "user_timeout: 115s", 1), "read_timeout: 20s", "read_timeout: 2m", 1)
	if fs := lintChain(t, ok, "KT705"); len(fs) != 0 {
		t.Errorf("consistent values flagged: %+v", fs)
	}
}

func TestHTTP2PingThroughALB(t *testing.T) {
	doc := `chain:
  - name: c
    type: client
    runtime: grpc-go
    grpc: {time: 30s}
    pools: true
    pool_idle_timeout: 10m
  - {name: alb, catalog: aws-alb}
  - {name: s, type: server, runtime: grpc-go}
`
	fs := lintChain(t, doc, "KT707")
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "counts only data") {
		t.Fatalf("findings = %+v", fs)
	}
	// Through an L4 balancer pings are segments like any other: nothing to say.
	if fs := lintChain(t, strings.Replace(doc, "aws-alb", "aws-nlb", 1), "KT707"); len(fs) != 0 {
		t.Errorf("NLB: %+v", fs)
	}
}

func TestKeepalivePerSegment(t *testing.T) {
	// The client's keepalive (60 s) keeps the NAT in front of the proxy alive; it does not reach
	// the NLB behind the proxy, where the proxy's upstream has none and pools for 10 min.
	doc := `chain:
  - {name: c, type: client, tcp_keepalive: {idle: 60s, interval: 10s, count: 3}}
  - {name: nat, catalog: aws-nat-gateway}
  - name: p
    type: proxy
    downstream: {http_keepalive_timeout: 1h}
    upstream: {pools: true, idle_timeout: 10m, tcp_keepalive: off}
  - {name: nlb, catalog: aws-nlb}
  - {name: s, type: server, http_keepalive_timeout: 20m}
`
	fs := lintChain(t, doc, "KT702", "KT703", "KT708")
	if len(fs) != 1 || strings.Join(fs[0].Hops, ",") != "p,nlb,s" || fs[0].Rule != "KT702" {
		t.Fatalf("findings = %+v", fs)
	}
	// With probes after 400 s the client end is too late for the NAT's 350 s.
	late := strings.Replace(doc, "idle: 60s", "idle: 400s", 1)
	fs = lintChain(t, late, "KT703")
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "probes must leave by 5m15s") {
		t.Fatalf("late probe: %+v", fs)
	}
}

// TestALBIdleOverrideReachesTargets: the case: an ALB whose idle timeout was raised to
// 120 s (for slow downloads) in front of nginx's 75 s keep-alive. AWS applies the one timeout to
// client and target connections alike, so the ALB's pool to nginx now idles 120 s: KT701, and
// the fix (from the plan) raises nginx above it.
func TestALBIdleOverrideReachesTargets(t *testing.T) {
	doc := "chain:\n  - {name: clients, type: client}\n  - {name: alb, catalog: aws-alb, idle_timeout: 120s}\n" +
		"  - {name: nginx, type: proxy, runtime: nginx, downstream: {http_keepalive_timeout: 75s}}\n  - {name: app, type: server, http_keepalive_timeout: 120s}\n"
	fs := lintChain(t, doc, "KT701")
	if len(fs) != 1 || strings.Join(fs[0].Hops, ",") != "alb,nginx" {
		t.Fatalf("findings = %+v", fs)
	}
	if f := fs[0].Fix; f == nil || f.Key != "nginx.downstream.idle_timeout" || f.Proposed != "2m5s" || !strings.Contains(f.Line, "keepalive_timeout 125s;") {
		t.Errorf("fix = %+v", fs[0].Fix)
	}
}
