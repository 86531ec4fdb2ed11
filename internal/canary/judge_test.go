package canary

import (
	"math"
	"strings"
	"testing"
)

func perConn(counter string, before, after uint64, opensBefore, opensAfter float64) Test {
	return Test{Counter: counter, Before: before, After: after, ExposureBefore: opensBefore, ExposureAfter: opensAfter, PerConnection: true}
}

func TestJudge(t *testing.T) {
	for _, c := range []struct {
		name string
		test Test
		want string
	}{
		{"resets jump", perConn("EstabResets", 2, 40, 100, 100), Regression},
		{"resets from zero", perConn("EstabResets", 0, 12, 500, 500), Regression},
		{"small rise within chance", perConn("RetransSegs", 10, 13, 100, 100), OK},
		{"fewer after", perConn("OutRsts", 30, 10, 100, 100), OK},
		{"nothing either window", perConn("TCPAbortOnMemory", 0, 0, 400, 400), OK},
		{"rise on two events", perConn("TCPAbortOnData", 0, 2, 100, 100), Inconclusive},
		{"rise on one event in many connections", perConn("RetransSegs", 0, 1, 500, 500), OK},
		{"more traffic, same rate", perConn("RetransSegs", 100, 200, 1000, 2000), OK},
		{"significant but tiny rise", perConn("RetransSegs", 100000, 105000, 1000, 1000), OK},
		{"expected keepalive probes", Test{Counter: "TCPKeepAlive", Expected: true, Before: 0, After: 500, ExposureBefore: 100, ExposureAfter: 100, PerConnection: true}, Expected},
		{"too few opens", Test{Counter: "EstabResets", Before: 0, After: 0, ExposureBefore: 10, ExposureAfter: 10}, Inconclusive},
		{"too few opens but a flood of resets", Test{Counter: "EstabResets", Before: 0, After: 60, ExposureBefore: 10, ExposureAfter: 10}, Regression},
		{"no exposure", perConn("EstabResets", 0, 3, 0, 100), Inconclusive},
	} {
		r := Judge([]Test{c.test}, Config{})[0]
		if r.Judgement != c.want {
			t.Errorf("%s: %s (%s, p %.3g), want %s", c.name, r.Judgement, r.Why, r.PValue, c.want)
		}
	}
}

// An expected counter whose count stayed the same while fewer connections were opened rose per
// connection: the reason says so, with the ratio, instead of a bare "a rise" beside 4 -> 4 (a
// real canary run: 4 keepalive probes in each window, 452 connections opened before, 358 after).
func TestJudgeExpectedSaysWhichRateRose(t *testing.T) {
	same := perConn("TCPKeepAlive", 4, 4, 452, 358)
	same.Expected = true
	r := Judge([]Test{same}, Config{})[0]
	if want := "rate rose 1.26x per connection opened"; r.Judgement != Expected || !strings.Contains(r.Why, want) {
		t.Errorf("%s %q, want expected and a reason containing %q", r.Judgement, r.Why, want)
	}
	ka := perConn("TCPKeepAlive", 0, 30, 60, 60)
	ka.Expected = true
	ka.PerConnection = false
	if r := Judge([]Test{ka}, Config{})[0]; r.Judgement != Expected || !strings.Contains(r.Why, "rate rose from zero per second") {
		t.Errorf("from zero per second: %s %q", r.Judgement, r.Why)
	}
}

// Holm across counters: 0 -> 8 resets in 100 connections each has p = 0.5^8 = 0.0039; alone it
// is a regression, with 13 such tests the correction makes it 0.051 > 0.05.
func TestJudgeHolmAcrossCounters(t *testing.T) {
	one := perConn("EstabResets", 0, 8, 100, 100)
	if r := Judge([]Test{one}, Config{})[0]; r.Judgement != Regression || math.Abs(r.PValue-1.0/256) > 1e-12 {
		t.Fatalf("alone: %+v", r)
	}
	tests := []Test{one}
	for i := 0; i < 12; i++ {
		tests = append(tests, perConn("Other", 50, 50, 100, 100))
	}
	r := Judge(tests, Config{})[0]
	if math.Abs(r.PAdjusted-13.0/256) > 1e-12 || r.Judgement == Regression {
		t.Errorf("with 13 tests: adjusted %.4g (%s), want 13/256 and no regression", r.PAdjusted, r.Judgement)
	}
	// Expected counters are not part of the family.
	tests = []Test{one, {Counter: "TCPKeepAlive", Expected: true, Before: 1, After: 1, ExposureBefore: 100, ExposureAfter: 100, PerConnection: true}}
	if r := Judge(tests, Config{})[0]; r.PAdjusted != r.PValue {
		t.Errorf("an expected counter entered the Holm family: %+v", r)
	}
}

func TestOverall(t *testing.T) {
	ok := NamespaceVerdict{Namespace: Namespace{Name: "host"}, Counters: []Result{{Counter: "EstabResets", Judgement: OK}}}
	bad := NamespaceVerdict{Namespace: Namespace{Name: "app"}, Counters: []Result{{Counter: "EstabResets", Before: 1, After: 50, Judgement: Regression, Why: "rate rose"}, {Counter: "X", Judgement: Inconclusive}}}
	unsure := NamespaceVerdict{Namespace: Namespace{Name: "db"}, OpensBefore: 5, OpensAfter: 4, Counters: []Result{{Counter: "OutRsts", Judgement: Inconclusive, Why: "too few"}}}
	if v, _ := Overall([]NamespaceVerdict{ok}, nil); v != VerdictNoRegression {
		t.Errorf("all ok: %s", v)
	}
	if v, r := Overall([]NamespaceVerdict{ok, unsure, bad}, nil); v != VerdictRegression || len(r) != 1 || !strings.HasPrefix(r[0], "app EstabResets: 1 -> 50") {
		t.Errorf("one regression: %s %v", v, r)
	}
	if v, r := Overall([]NamespaceVerdict{ok, unsure}, nil); v != VerdictInconclusive || len(r) != 1 || r[0] != "db: too few (OutRsts)" {
		t.Errorf("inconclusive: %s %v", v, r)
	}
	// A namespace with no TCP activity at all cannot have regressed and does not make the
	// verdict inconclusive; one with a single connection does.
	idle := NamespaceVerdict{Namespace: Namespace{Name: "idle"}, Counters: []Result{{Counter: "EstabResets", Judgement: Inconclusive, Why: "too few"}}}
	if v, _ := Overall([]NamespaceVerdict{ok, idle}, nil); v != VerdictNoRegression {
		t.Errorf("an idle namespace made it %s", v)
	}
	idle.OpensAfter = 1
	if v, _ := Overall([]NamespaceVerdict{ok, idle}, nil); v != VerdictInconclusive {
		t.Errorf("a namespace with one connection made it %s", v)
	}
}
