package textfmt

import (
	"fmt"
	"strings"
	"time"
)

// Spoken writes a duration the way a sentence of a report says it, units spelled apart: "27 s",
// "2 min", "15 min 25 s", "1 h 5 min"; one decimal under ten seconds ("1.5 s"), milliseconds
// under a second ("150 ms"), hundredths of one under a millisecond ("0.18 ms": a reset that
// came at once is not "0.0 s"). drill's goals and bounds use it (real time, read by people).
func Spoken(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Spoken(-d)
	case d == 0:
		return "0 s"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d.Round(time.Millisecond) < time.Second:
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond)/time.Millisecond)
	case d < 10*time.Second && d%time.Second != 0:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	d = d.Round(time.Second)
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	var parts []string
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%d h", h))
	}
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%d min", m))
	}
	if s > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d s", s))
	}
	return strings.Join(parts, " ")
}

// Measured writes a measured duration with about three significant digits, the precision a
// measurement has: "350 s", "23.0 s", "3.05 s", "500 ms"; from an hour on, Spoken's form
// ("1 h 58 min"). probe's results use it.
func Measured(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Measured(-d)
	case d >= time.Hour:
		return Spoken(d)
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
