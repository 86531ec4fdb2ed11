package textfmt

import (
	"fmt"
	"time"
)

// Measured writes a measured duration with about three significant digits, the precision a
// measurement has: "350 s", "23.0 s", "3.05 s", "500 ms"; from an hour on to the minute
// ("1 h 58 min"). probe's results use it: unlike Duration, the digits it shows say how
// precise the number is ("23.0 s" is known to a tenth of a second, "350 s" to a second).
func Measured(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Measured(-d)
	case d >= time.Hour:
		d = d.Round(time.Minute)
		if m := d % time.Hour / time.Minute; m != 0 {
			return fmt.Sprintf("%d h %d min", d/time.Hour, m)
		}
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
