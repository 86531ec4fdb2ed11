package textfmt

import (
	"testing"
	"time"
)

func TestSpoken(t *testing.T) {
	for d, want := range map[time.Duration]string{
		27 * time.Second: "27 s", 2 * time.Minute: "2 min", 925 * time.Second: "15 min 25 s",
		3900 * time.Second: "1 h 5 min", 1500 * time.Millisecond: "1.5 s", 0: "0 s",
		7200 * time.Second: "2 h", 9 * time.Second: "9 s", 59*time.Second + 600*time.Millisecond: "1 min",
		// Under a second: milliseconds, not "0.0 s" (a reset measured 180 µs after the write).
		150 * time.Millisecond: "150 ms", 999600 * time.Microsecond: "1.0 s", 180 * time.Microsecond: "0.18 ms",
		-3 * time.Second: "-3 s",
	} {
		if got := Spoken(d); got != want {
			t.Errorf("Spoken(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMeasured(t *testing.T) {
	for d, want := range map[time.Duration]string{
		350 * time.Second: "350 s", 23 * time.Second: "23.0 s", 3050 * time.Millisecond: "3.05 s",
		500 * time.Millisecond: "500 ms", 12900 * time.Millisecond: "12.9 s",
		// From an hour on the units are spelled apart, as Spoken does (it was Go's "1h58m0s").
		118 * time.Minute: "1 h 58 min",
	} {
		if got := Measured(d); got != want {
			t.Errorf("Measured(%v) = %q, want %q", d, got, want)
		}
	}
}
