package canary

import (
	"math"
	"testing"
)

// The reference values are exact: python3 with fractions.Fraction and math.comb summing
// C(n,i) p^i (1-p)^(n-i) for i = k..n (the same numbers as scipy.stats.binom.sf(k-1, n, p) and
// R's pbinom(k-1, n, p, lower.tail=FALSE)).
func TestBinomialUpperTailExact(t *testing.T) {
	for _, c := range []struct {
		k, n uint64
		p    float64
		want float64
	}{
		{7, 10, 0.5, 0.171875},
		{15, 20, 0.5, 0.020694732666015625},
		{3, 3, 0.5, 0.125},
		{0, 5, 0.5, 1},
		{30, 40, 1.0 / 3, 8.474878033113145e-08},
		{60, 100, 0.5, 0.028443966820490395},
		{520, 1000, 0.5, 0.10872414660207047},
		{12, 15, 0.4, 0.001927769227264},
		{1, 1, 0.5, 0.5},
		{5, 5, 0.5, 0.03125},
		{45, 50, 0.5, 2.104926011270436e-09},
		{6, 5, 0.5, 0},
	} {
		got := BinomialUpperTail(c.k, c.n, c.p)
		if math.Abs(got-c.want) > 1e-12*math.Max(1, c.want) && math.Abs(got-c.want)/c.want > 1e-9 {
			t.Errorf("P(X >= %d | n=%d, p=%g) = %.17g, want %.17g", c.k, c.n, c.p, got, c.want)
		}
	}
}

// Holm's adjusted p-values for the textbook example (0.01, 0.04, 0.03, 0.005 with m = 4):
// sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max-accumulated 0.06.
// R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02.
func TestHolm(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	if got := Holm([]float64{0.9, 0.8}); got[0] != 1 || got[1] != 1 {
		t.Errorf("Holm caps at 1: %v", got)
	}
}
