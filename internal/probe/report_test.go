package probe

import (
	"strings"
	"testing"
	"time"
)

// The "next:" advice exists for every timeout and never goes negative: under about 11 s the
// chain rules' 10 s margin would leave nothing.
func TestKeepBelow(t *testing.T) {
	for lo, want := range map[time.Duration]time.Duration{
		350 * time.Second: 315 * time.Second, 60 * time.Second: 50 * time.Second, 12 * time.Second: 2 * time.Second,
		8 * time.Second: 7 * time.Second, 3 * time.Second: 2 * time.Second, 1500 * time.Millisecond: 700 * time.Millisecond,
	} {
		if got := keepBelow(lo); got != want {
			t.Errorf("keepBelow(%v) = %v, want %v", lo, got, want)
		}
	}
	for lo := Base; lo < 30*time.Second; lo += 100 * time.Millisecond {
		if got := keepBelow(lo); got <= 0 || got >= lo {
			t.Errorf("keepBelow(%v) = %v: not a positive interval below the timeout", lo, got)
		}
	}
	var b strings.Builder
	r := &Result{Found: true, Lo: 7860 * time.Millisecond, Hi: 8130 * time.Millisecond, IdleTimeout: 8 * time.Second, FailureMode: Silent}
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "next: idle connections through this path need") || !strings.Contains(b.String(), "--write-chain FILE") {
		t.Errorf("no next: advice for an 8 s timeout:\n%s", b.String())
	}
	// Once --write-chain has written the result, the text above "wrote ... into hop" must not
	// advise writing it.
	b.Reset()
	r.ChainWritten = true
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "next: idle connections through this path need") || strings.Contains(b.String(), "--write-chain") {
		t.Errorf("after --write-chain wrote it:\n%s", b.String())
	}
}

func TestLearnedSoFar(t *testing.T) {
	r := &Result{Lo: 4 * time.Second, Wall: 6 * time.Second}
	if got := r.LearnedSoFar(); !strings.Contains(got, "flows idle 4.00 s survived") {
		t.Errorf("LearnedSoFar = %q", got)
	}
	r.Found, r.Hi, r.FailureMode = true, 9200*time.Millisecond, Silent
	if got := r.LearnedSoFar(); !strings.Contains(got, "died") {
		t.Errorf("LearnedSoFar = %q", got)
	}
}
