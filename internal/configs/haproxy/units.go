package haproxy

import (
	"fmt"
	"time"
)

// maxTimer is the largest timer HAProxy accepts: timers are signed 32-bit milliseconds
// (parse_time_err returns PARSE_TIME_OVER above it).
const maxTimer = 2147483647 * time.Millisecond

// parseTime reads an HAProxy time value (configuration manual 2.5): digits followed by an
// optional unit us, ms, s, m, h or d; without a unit the keyword's default unit applies
// (milliseconds for timeouts, seconds for clitcpka-idle/-intvl and srvtcpka-idle/-intvl).
func parseTime(s string, def time.Duration) (time.Duration, error) {
	i := 0
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint64(s[i]-'0')
		if v > 1<<40 {
			return 0, fmt.Errorf("time value %q is too large: the maximum is 2147483647 ms (about 24.8 days)", s)
		}
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid time value %q: expected a number with an optional unit (us, ms, s, m, h, d)", s)
	}
	unit := def
	switch s[i:] {
	case "":
	case "us":
		unit = time.Microsecond
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid time value %q: unexpected %q after the number, expected a unit us, ms, s, m, h or d", s, s[i:])
	}
	d := time.Duration(v) * unit
	if d/unit != time.Duration(v) || d > maxTimer {
		return 0, fmt.Errorf("time value %q is too large: the maximum is 2147483647 ms (about 24.8 days)", s)
	}
	return d, nil
}
