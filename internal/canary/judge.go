package canary

import (
	"fmt"
	"math"
)

// Judgements of one counter, and verdicts of a whole canary.
const (
	Regression   = "regression"
	OK           = "ok"
	Inconclusive = "inconclusive"
	Expected     = "expected"

	VerdictRegression   = "regression"
	VerdictNoRegression = "no_regression"
	VerdictInconclusive = "inconclusive"
)

// Config tunes the judgement.
type Config struct {
	// Alpha is the family-wise error rate across the counters (Holm). Default 0.05.
	Alpha float64
	// MinRatio is the smallest rise of a rate (after/before) called a regression even when it is
	// significant: kernel counters are burstier than Poisson, and a 3% rise in retransmissions on
	// a busy host is significant but not a regression. Default 1.2.
	MinRatio float64
	// MinOpens is how many connections each window must open for rates per connection; with
	// fewer, counters are compared per second and nothing can be called "no regression".
	// Default 20.
	MinOpens uint64
	// Negligible is the rate per connection below which a rise too small to test is called ok
	// rather than inconclusive: one retransmission in 500 connections can neither be tested
	// nor matter. Default 0.01.
	Negligible float64
}

func (c Config) withDefaults() Config {
	if c.Alpha == 0 {
		c.Alpha = 0.05
	}
	if c.MinRatio == 0 {
		c.MinRatio = 1.2
	}
	if c.MinOpens == 0 {
		c.MinOpens = 20
	}
	if c.Negligible == 0 {
		c.Negligible = 0.01
	}
	return c
}

// Test is one counter of one namespace to judge: events in each window and each window's
// exposure (connections opened, or seconds when too few were opened).
type Test struct {
	Counter string
	// Expected marks a counter whose rise is the point of the change (keepalive probes,
	// aborts of dead peers): reported, never a regression.
	Expected                      bool
	Before, After                 uint64
	ExposureBefore, ExposureAfter float64
	PerConnection                 bool
}

// Result is the judgement of one Test.
type Result struct {
	Counter string `json:"counter"`
	Before  uint64 `json:"before"`
	After   uint64 `json:"after"`
	// RateBefore and RateAfter are events per connection opened (per second when Unit says so).
	RateBefore float64 `json:"rate_before"`
	RateAfter  float64 `json:"rate_after"`
	Unit       string  `json:"unit"`
	// PValue is the one-sided exact conditional test's p-value for "the rate rose";
	// PAdjusted is Holm's across the namespace's counters (and the application signal).
	PValue    float64 `json:"p_value"`
	PAdjusted float64 `json:"p_adjusted"`
	Judgement string  `json:"judgement"`
	Why       string  `json:"why"`
}

// Judge tests every counter for a rise after the change, Holm-corrected across the tests that
// are not Expected.
func Judge(tests []Test, cfg Config) []Result {
	cfg = cfg.withDefaults()
	out := make([]Result, len(tests))
	var family []int
	var ps []float64
	for i, t := range tests {
		r := Result{Counter: t.Counter, Before: t.Before, After: t.After, PValue: 1, PAdjusted: 1, Unit: "per connection opened"}
		if !t.PerConnection {
			r.Unit = "per second"
		}
		if t.ExposureBefore > 0 && t.ExposureAfter > 0 {
			r.RateBefore = float64(t.Before) / t.ExposureBefore
			r.RateAfter = float64(t.After) / t.ExposureAfter
			n := t.Before + t.After
			p0 := t.ExposureAfter / (t.ExposureBefore + t.ExposureAfter)
			r.PValue = BinomialUpperTail(t.After, n, p0)
			if !t.Expected {
				family = append(family, i)
				ps = append(ps, r.PValue)
			}
		}
		out[i] = r
	}
	adj := Holm(ps)
	for k, i := range family {
		out[i].PAdjusted = adj[k]
	}
	for i, t := range tests {
		r := &out[i]
		rose := r.RateAfter > r.RateBefore
		switch {
		case t.ExposureBefore <= 0 || t.ExposureAfter <= 0:
			r.Judgement, r.Why = Inconclusive, "a window had no exposure to compare"
		case t.Expected && rose:
			// Say which rate rose: with fewer connections opened after the change the same
			// count is a rise per connection, and "4 -> 4, a rise" must not read as a mistake.
			r.Judgement = Expected
			r.Why = fmt.Sprintf("rate rose %s %s: a rise is what the change is for", ratioText(r.RateAfter, r.RateBefore), r.Unit)
		case t.Expected:
			r.Judgement, r.Why = OK, "no rise"
		case r.PAdjusted <= cfg.Alpha && rose && ratio(r.RateAfter, r.RateBefore) >= cfg.MinRatio:
			r.Judgement = Regression
			r.Why = fmt.Sprintf("rate rose %s (p = %.3g after Holm, alpha %.3g)", ratioText(r.RateAfter, r.RateBefore), r.PAdjusted, cfg.Alpha)
		case !t.PerConnection:
			// Too few connections: a rise could not be told from a change in traffic, and no
			// rise does not show there would have been none.
			r.Judgement, r.Why = Inconclusive, fmt.Sprintf("too few connections opened (fewer than %d per window) to compare rates", cfg.MinOpens)
		case !rose:
			r.Judgement, r.Why = OK, "no rise per connection"
		case minP(t) > cfg.Alpha && r.RateAfter < cfg.Negligible:
			r.Judgement, r.Why = OK, fmt.Sprintf("a rise on %d event(s), %.2g per connection: negligible", t.Before+t.After, r.RateAfter)
		case minP(t) > cfg.Alpha:
			r.Judgement, r.Why = Inconclusive, fmt.Sprintf("a rise on only %d event(s): too few to tell", t.Before+t.After)
		default:
			r.Judgement = OK
			r.Why = fmt.Sprintf("rise %s is within chance (p = %.3g after Holm)", ratioText(r.RateAfter, r.RateBefore), r.PAdjusted)
			if r.PAdjusted <= cfg.Alpha {
				r.Why = fmt.Sprintf("rise %s is below the %.2gx that counts (p = %.3g after Holm)", ratioText(r.RateAfter, r.RateBefore), cfg.MinRatio, r.PAdjusted)
			}
		}
	}
	return out
}

func p(t Test) float64 { return t.ExposureAfter / (t.ExposureBefore + t.ExposureAfter) }

// minP is the smallest p-value the test could give with these events: all of them after.
func minP(t Test) float64 { return math.Pow(p(t), float64(t.Before+t.After)) }

func ratio(after, before float64) float64 {
	if before == 0 {
		if after == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return after / before
}

func ratioText(after, before float64) string {
	r := ratio(after, before)
	if math.IsInf(r, 1) {
		return "from zero"
	}
	return fmt.Sprintf("%.2fx", r)
}
