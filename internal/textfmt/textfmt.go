// Package textfmt holds the few ways keeptune writes things for people, so that every command
// says them alike: one duration style, one line wrapper, one rule for plurals and possessives.
// Before it there were six duration styles ("0.3333333333333333s", "2ms s", "5m50s", "350 s")
// and two wrap functions; a reader comparing two outputs should never have to translate.
package textfmt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Duration writes d the way operators read timeouts, in every report (audit, lint, plan, drill's
// goals and measurements): the largest units first, no zero units, no float noise: "75s",
// "5m50s", "2h11m15s", "2h", "5d", "1.5s", "333ms", "180µs", "-2s". From a second on it keeps at
// most one decimal (the kernel's 924.6 s retransmission budget stays 15m24.6s, so "at least"
// stays true); under a millisecond whole microseconds (a reset measured 180 µs after the write
// is not "0s"); whole days from two days on are written in days ("5d", conntrack's default).
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Duration(-d)
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		if d >= time.Microsecond {
			d = d.Round(time.Microsecond)
		}
		return d.String() // µs and ns: only ever measured latencies
	case d.Round(time.Millisecond) < time.Second:
		return strconv.FormatInt(int64(d.Round(time.Millisecond)/time.Millisecond), 10) + "ms"
	case d.Round(100*time.Millisecond) < time.Minute:
		tenths := int64(d.Round(100*time.Millisecond) / (100 * time.Millisecond))
		if tenths%10 == 0 {
			return strconv.FormatInt(tenths/10, 10) + "s"
		}
		return fmt.Sprintf("%d.%ds", tenths/10, tenths%10)
	}
	d = d.Round(100 * time.Millisecond)
	const day = 24 * time.Hour
	if d >= 2*day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Setting writes a duration the way operators write settings and vendors state timeouts: in
// the largest unit that divides it exactly ("350s", "4m", "24h", "5d"), keeping seconds below
// four minutes (60 s, 120 s, 350 s), so catalog entries and chain files read like their
// sources and a value written back parses to the same duration.
func Setting(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0s"
	case d%day == 0 && d >= 2*day:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d >= 4*time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}

// Seconds writes a whole number of seconds with its unit and, when that is hard to read, the
// Duration form: "75 s", "7200 s (2h)". Sysctls and most server directives take seconds.
func Seconds(d time.Duration) string {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		return Duration(d)
	}
	if d < 2*time.Minute {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d s (%s)", s, Duration(d))
}

// Plural picks the word that agrees with n: Plural(1, "frontend runs", "frontends run").
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Possessive writes "envoy's", "clients'".
func Possessive(name string) string {
	if strings.HasSuffix(name, "s") {
		return name + "'"
	}
	return name + "'s"
}

// Wrap breaks s into lines of at most width visible characters at spaces. Continuation lines
// start with indent; the first line starts with first (default: indent). Words longer than a
// line are kept whole: a path or a command cut in two is worse than a long line. Newlines in s
// start new lines. ANSI colour sequences take no width.
func Wrap(s string, width int, indent string, first ...string) []string {
	lead := indent
	if len(first) > 0 {
		lead = first[0]
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		cur := lead
		n := 0 // words on cur
		for _, w := range words {
			if n > 0 && VisibleLen(cur)+1+VisibleLen(w) > width {
				out = append(out, cur)
				cur, n = indent, 0
			}
			if n > 0 {
				cur += " "
			}
			cur += w
			n++
		}
		out = append(out, cur)
		lead = indent
	}
	return out
}

// VisibleLen counts what a terminal shows: runes, minus ANSI colour sequences.
func VisibleLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j + 1
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}
