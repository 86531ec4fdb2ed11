package kernel

import (
	"testing"
	"time"
)

func TestUnackedTimeout(t *testing.T) {
	cases := []struct {
		retries2 int
		want     time.Duration
	}{
		{15, 924600 * time.Millisecond}, // the often quoted ~924.6 s (ip-sysctl.rst)
		{8, 102200 * time.Millisecond},  // ~100 s, RFC 1122's lower bound for R2
		{9, 204600 * time.Millisecond},
		{10, 324600 * time.Millisecond},
		{3, 3 * time.Second},
		{0, 0},
	}
	for _, c := range cases {
		if got := UnackedTimeout(c.retries2); got != c.want {
			t.Errorf("UnackedTimeout(%d) = %v, want %v", c.retries2, got, c.want)
		}
	}
}

func TestDeadPeerDetection(t *testing.T) {
	cases := []struct {
		idle, intvl time.Duration
		count       int
		uto         time.Duration
		want        time.Duration
	}{
		{DefaultKeepIdle, DefaultKeepIntvl, DefaultKeepCnt, 0, 2*time.Hour + 11*time.Minute + 15*time.Second},
		{600 * time.Second, 30 * time.Second, 5, 0, 750 * time.Second},
		// Cloudflare's "When TCP sockets refuse to die": UTO 5 s, idle 1 s, intvl 11 s: killed at 12 s.
		{1 * time.Second, 11 * time.Second, 9, 5 * time.Second, 12 * time.Second},
		// UTO longer than idle+intvl*count: the count is ignored, the kill waits for the UTO.
		{10 * time.Second, 10 * time.Second, 3, 65 * time.Second, 70 * time.Second},
		// UTO exactly on a firing.
		{10 * time.Second, 10 * time.Second, 3, 40 * time.Second, 40 * time.Second},
		// UTO shorter than the first probe: the first check after one probe decides.
		{10 * time.Second, 10 * time.Second, 3, 1 * time.Second, 20 * time.Second},
	}
	for _, c := range cases {
		if got := DeadPeerDetection(c.idle, c.intvl, c.count, c.uto); got != c.want {
			t.Errorf("DeadPeerDetection(%v, %v, %d, %v) = %v, want %v", c.idle, c.intvl, c.count, c.uto, got, c.want)
		}
	}
}

func TestRetransGiveUp(t *testing.T) {
	ms := time.Millisecond
	lab := NewRetrans(204*ms, 80*time.Microsecond, true) // what the lab's sockets report
	if lab.PTO != 204*ms {
		t.Fatalf("PTO = %v, want min(2*srtt + 200ms, RTO) = 204ms", lab.PTO)
	}
	if LowLatency() != lab {
		t.Errorf("LowLatency() = %+v, want the lab's %+v", LowLatency(), lab)
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
