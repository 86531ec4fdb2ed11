package drill

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSockstatInuse returns the "inuse" count of the TCP (or TCP6) line of /proc/net/sockstat
// or sockstat6.
func ParseSockstatInuse(b []byte) int {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "TCP:" || f[0] == "TCP6:") && f[1] == "inuse" {
			n, _ := strconv.Atoi(f[2])
			return n
		}
	}
	return 0
}

// ParseSlabObjSize returns the objsize column of cache name in /proc/slabinfo, or 0.
func ParseSlabObjSize(b []byte, name string) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// name active_objs num_objs objsize objperslab pagesperslab : ...
		if len(f) >= 4 && f[0] == name {
			n, err := strconv.ParseInt(f[3], 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}

func fmtBytes(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 10<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
