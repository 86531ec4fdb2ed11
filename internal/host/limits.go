package host

import (
	"bytes"
	"strconv"
)

// parseNofile reads the "Max open files" row of a /proc/PID/limits file (fs/proc/base.c
// proc_pid_limits): soft and hard RLIMIT_NOFILE, -1 for "unlimited". ok is false when the row
// is missing or garbled.
func parseNofile(data []byte) (soft, hard int64, ok bool) {
	const row = "Max open files"
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		rest, found := bytes.CutPrefix(line, []byte(row))
		if !found {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 2 {
			return 0, 0, false
		}
		s, ok1 := parseLimit(f[0])
		h, ok2 := parseLimit(f[1])
		return s, h, ok1 && ok2
	}
	return 0, 0, false
}

func parseLimit(b []byte) (int64, bool) {
	if string(b) == "unlimited" {
		return -1, true
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil && n >= 0
}
