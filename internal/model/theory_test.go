package model

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
		{7200 * time.Second, 75 * time.Second, 9, 0, 2*time.Hour + 11*time.Minute + 15*time.Second},
		{600 * time.Second, 30 * time.Second, 5, 0, 750 * time.Second},
		// Cloudflare's "When TCP sockets refuse to die": UTO 5 s, idle 1 s, intvl 11 s: killed at 12 s.
		{1 * time.Second, 11 * time.Second, 9, 5 * time.Second, 12 * time.Second},
		// UTO longer than idle+intvl*count: the count is ignored, the kill waits for the UTO.
		{10 * time.Second, 10 * time.Second, 3, 65 * time.Second, 70 * time.Second},
	}
	for _, c := range cases {
		if got := DeadPeerDetection(c.idle, c.intvl, c.count, c.uto); got != c.want {
			t.Errorf("DeadPeerDetection(%v, %v, %d, %v) = %v, want %v", c.idle, c.intvl, c.count, c.uto, got, c.want)
		}
	}
}
