package textfmt

import (
	"testing"
	"time"
)

func TestMeasured(t *testing.T) {
	for d, want := range map[time.Duration]string{
		350 * time.Second: "350 s", 23 * time.Second: "23.0 s", 3050 * time.Millisecond: "3.05 s",
		500 * time.Millisecond: "500 ms", 12900 * time.Millisecond: "12.9 s",
		// From an hour on, to the minute with the units spelled apart (it was Go's "1h58m0s").
		118 * time.Minute: "1 h 58 min", 118*time.Minute + 20*time.Second: "1 h 58 min", 2 * time.Hour: "2 h",
	} {
		if got := Measured(d); got != want {
			t.Errorf("Measured(%v) = %q, want %q", d, got, want)
		}
	}
}
