package apache

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// logicalLine is one configuration line after "\" continuations were joined.
type logicalLine struct {
	text string
	line int // the first physical line
}

// logicalLines splits a file like ap_cfg_getline: a line whose last character (trailing
// blanks aside) is a backslash continues on the next one with the backslash removed, then runs
// of blanks shrink to one space (httpd does this to the whole line, quoted parts included) and
// leading and trailing blanks go. "#" starts a comment only as the first character of a line;
// blank lines and comments are skipped.
func logicalLines(data string) []logicalLine {
	var out []logicalLine
	phys := strings.Split(data, "\n")
	for i := 0; i < len(phys); i++ {
		start := i
		var b strings.Builder
		l := strings.TrimRight(phys[i], " \t\r\f\v")
		for strings.HasSuffix(l, "\\") && i+1 < len(phys) {
			b.WriteString(l[:len(l)-1])
			i++
			l = strings.TrimRight(phys[i], " \t\r\f\v")
		}
		b.WriteString(l)
		text := collapse(b.String())
		if text == "" || text[0] == '#' {
			continue
		}
		out = append(out, logicalLine{text: text, line: start + 1})
	}
	return out
}

// collapse shrinks runs of ASCII blanks (what apr_isspace matches) to one space and trims the
// ends.
func collapse(s string) string {
	var b strings.Builder
	blank := false
	for i := 0; i < len(s); i++ {
		if isBlank(s[i]) {
			blank = b.Len() > 0
			continue
		}
		if blank {
			b.WriteByte(' ')
			blank = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// words splits arguments like ap_getword_conf: blank-separated words, a word starting with a
// double or single quote runs to the matching quote (a backslash before that quote character
// escapes it) and the quotes are removed.
func words(s string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		if q := s[i]; q == '"' || q == '\'' {
			i++
			var b strings.Builder
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) && s[i+1] == q {
					b.WriteByte(q)
					i += 2
					continue
				}
				i++
				if c == q {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return nil, errors.New("unterminated quoted argument: expected a closing " + string(q))
			}
			out = append(out, b.String())
			continue
		}
		j := i
		for j < len(s) && !isBlank(s[j]) {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

// substitute replaces ${NAME} like ap_resolve_env: from Define'd variables first, then the
// environment. Unknown names stay as written and are returned.
func substitute(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var unknown []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), unknown
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), unknown
		}
		name := s[i+2 : i+j]
		b.WriteString(s[:i])
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
			unknown = append(unknown, name)
		}
		s = s[i+j+1:]
	}
}

// Atoi is C's atoi: leading blanks, an optional sign, then digits up to the first other
// character; no digits is 0. httpd 2.4 reads Timeout, ProxyTimeout, MaxKeepAliveRequests and
// the ttl= and timeout= worker parameters with it, so "500ms" is 500 and "2m" is 2.
func Atoi(s string) (n int, rest string) {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<40 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	if neg {
		n = -n
	}
	return n, s[i:]
}

// parseInterval reads an httpd time interval like ap_timeout_parameter_parse (KeepAliveTimeout,
// the connectiontimeout= and ping= worker parameters): an integer, then an optional unit of
// which only the first letters count: "s" seconds, "ms" milliseconds, "mi" minutes, "h" hours;
// no unit means def.
func parseInterval(s string, def time.Duration) (time.Duration, error) {
	bad := errors.New("expected a number with an optional unit s, ms, mi or h")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i && s != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil && s != "" {
		return 0, bad
	}
	if n < 0 {
		return 0, errors.New("expected a time of 0 or more")
	}
	unit := def
	switch rest := s[j:]; {
	case rest == "":
	case rest[0] == 's':
		unit = time.Second
	case rest[0] == 'h':
		unit = time.Hour
	case strings.HasPrefix(rest, "ms"):
		unit = time.Millisecond
	case strings.HasPrefix(rest, "mi"):
		unit = time.Minute
	default:
		return 0, bad
	}
	if n > int64(1<<62)/int64(unit) {
		return 0, errors.New("time value too large")
	}
	return time.Duration(n) * unit, nil
}
