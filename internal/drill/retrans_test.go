package drill

import (
	"testing"
	"time"
)

func TestRetransGiveUp(t *testing.T) {
	ms := time.Millisecond
	lab := NewRetrans(204*ms, 80*time.Microsecond, true) // what the lab's sockets report
	if lab.PTO != 204*ms {
		t.Fatalf("PTO = %v, want min(2*srtt + 200ms, RTO) = 204ms", lab.PTO)
	}
	for _, tc := range []struct {
		m        Retrans
		retries2 int
		uto      time.Duration
		want     time.Duration
		alt      time.Duration
	}{
		// F1 = 408ms; budget 3.0s; firings after F1 at 0.408, 1.224, 2.856 (just short of the
		// budget, within reach of late timers: alt), 6.12.
		{lab, 3, 0, 408*ms + 6120*ms, 408*ms + 2856*ms},
		// budget 12.6s: 12.648s after F1 is the first firing past it.
		{lab, 5, 0, 408*ms + 12648*ms, 0},
		{lab, 5, 2500 * ms, 408*ms + 2500*ms, 0},
		// No TLP: F1 = RTO.
		{Retrans{RTO: 200 * ms}, 1, 0, 200*ms + 1200*ms, 0},
		// tcp_retries2=15: backoff capped at 120s. The sixth 120s firing after F1 is only
		// 0.2s short of the 924.6s budget: any lateness puts the kill there (alt).
		{Retrans{RTO: 200 * ms}, 15, 0, 200*ms + 204400*ms + 7*120*time.Second, 200*ms + 204400*ms + 6*120*time.Second},
	} {
		got, alt := tc.m.GiveUp(tc.retries2, tc.uto)
		if got != tc.want || alt != tc.alt {
			t.Errorf("%+v.GiveUp(%d, %v) = %v, %v; want %v, %v", tc.m, tc.retries2, tc.uto, got, alt, tc.want, tc.alt)
		}
	}
}
