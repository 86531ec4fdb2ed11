package configs

import (
	"cmp"
	"strconv"
	"strings"
)

// Nearest returns the known name closest to name when it is close enough to be a typo of it
// (one edit for names under 8 bytes, two for longer ones; names under 4 bytes are never
// guessed), else "". fold compares without case (Apache's directives, HAProxy's are not).
func Nearest(name string, known []string, fold bool) string {
	if len(name) < 4 {
		return ""
	}
	limit := 1
	if len(name) >= 8 {
		limit = 2
	}
	if fold {
		name = strings.ToLower(name)
	}
	best, bestD := "", limit+1
	for _, k := range known {
		if d := len(k) - len(name); d > limit || d < -limit {
			continue
		}
		kk := k
		if fold {
			kk = strings.ToLower(k)
		}
		if d := editDistance(name, kk); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (an adjacent transposition counts as one).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := 0; j <= len(b); j++ {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// VersionAtLeast compares dotted versions numerically ("1.25.1" >= "1.25.0", "2.10" > "2.9");
// a suffix after the numbers ("2.6.12-1", "15.4 (Debian)") is ignored.
func VersionAtLeast(have, want string) bool {
	return compareVersions(have, want, -1) >= 0
}

// SeriesAtMost reports whether a server's version is known and belongs to the series of table
// (the version a generated keyword table was read from) or an older one, comparing the first
// parts numbers: SeriesAtMost("7.0.2", "7.0.15", 2) and SeriesAtMost("6.2", "7.0.15", 2) hold,
// SeriesAtMost("7.2.0", "7.0.15", 2) and SeriesAtMost("", "7.0.15", 2) do not. A name such a
// server's table lacks is one the server refuses; a later server may know it.
func SeriesAtMost(have, table string, parts int) bool {
	return have != "" && compareVersions(have, table, parts) <= 0
}

// compareVersions compares the first n numbers of two dotted versions (all of them when n < 0),
// a missing number counting as 0: -1, 0 or +1.
func compareVersions(a, b string, n int) int {
	x, y := versionParts(a), versionParts(b)
	if n < 0 {
		n = max(len(x), len(y))
	}
	at := func(v []int, i int) int {
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	for i := 0; i < n; i++ {
		if c := cmp.Compare(at(x, i), at(y, i)); c != 0 {
			return c
		}
	}
	return 0
}

func versionParts(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, _ := strconv.Atoi(p[:end])
		out = append(out, n)
		if end < len(p) {
			break
		}
	}
	return out
}
