package nginx

import (
	"fmt"
	"time"
)

// ParseTime reads an nginx time value the way ngx_parse_time does (src/core/ngx_parse.c):
// numbers each followed by a unit, largest unit first, each unit at most once ("1h30m", "90s",
// "500ms"); a bare number at the end is seconds. Units: ms, s, m, h, d, w, M (30 days),
// y (365 days). sec selects nginx's seconds-valued parsing (listen so_keepalive, the
// keepalive_timeout header argument): there "ms" is invalid. Without sec (every *_timeout
// directive is stored in milliseconds) "y" and "M" are invalid.
func ParseTime(s string, sec bool) (time.Duration, error) {
	const (
		stStart = iota
		stYear
		stMonth
		stWeek
		stDay
		stHour
		stMin
		stSec
		stMsec
		stLast
	)
	step := stMonth
	if sec {
		step = stStart
	}
	bad := func() (time.Duration, error) {
		units := "ms, s, m, h, d, w"
		if sec {
			units = "s, m, h, d, w, M, y"
		}
		return 0, fmt.Errorf("invalid time %q: expected a number with optional units %s, largest first (\"75s\", \"1h30m\")", s, units)
	}
	const maxMs = int64(1<<63-1) / int64(time.Millisecond) // what fits a time.Duration
	var total, value int64                                 // milliseconds, digits so far
	valid := false
	for i := 0; i < len(s); {
		c := s[i]
		i++
		if c >= '0' && c <= '9' {
			if value > (maxMs-int64(c-'0'))/10 {
				return bad()
			}
			value = value*10 + int64(c-'0')
			valid = true
			continue
		}
		var scale int64 // seconds, or 1 ms for "ms"
		ms := false
		switch c {
		case 'y':
			if step > stStart {
				return bad()
			}
			step, scale = stYear, 365*24*3600
		case 'M':
			if step >= stMonth {
				return bad()
			}
			step, scale = stMonth, 30*24*3600
		case 'w':
			if step >= stWeek {
				return bad()
			}
			step, scale = stWeek, 7*24*3600
		case 'd':
			if step >= stDay {
				return bad()
			}
			step, scale = stDay, 24*3600
		case 'h':
			if step >= stHour {
				return bad()
			}
			step, scale = stHour, 3600
		case 'm':
			if i < len(s) && s[i] == 's' {
				if sec || step >= stMsec {
					return bad()
				}
				i++
				step, scale, ms = stMsec, 1, true
				break
			}
			if step >= stMin {
				return bad()
			}
			step, scale = stMin, 60
		case 's':
			if step >= stSec {
				return bad()
			}
			step, scale = stSec, 1
		case ' ':
			if step >= stSec {
				return bad()
			}
			step, scale = stLast, 1
		default:
			return bad()
		}
		if !ms {
			scale *= 1000
		}
		if value > maxMs/scale {
			return bad()
		}
		value *= scale
		if total > maxMs-value {
			return bad()
		}
		total += value
		value = 0
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if !valid {
		return bad()
	}
	if value > maxMs/1000 || total > maxMs-value*1000 {
		return bad()
	}
	total += value * 1000
	return time.Duration(total) * time.Millisecond, nil
}
