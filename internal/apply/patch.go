package apply

import (
	"fmt"
	"strconv"
	"strings"
)

// hunk is one @@ block of a unified diff: the lines it expects (context and removed) and the
// lines it leaves (context and added), from oldStart (1-based).
type hunk struct {
	oldStart int
	old, new []string
}

// parseUnified reads the hunks of a unified diff of one file (headers are skipped).
func parseUnified(diff string) ([]hunk, error) {
	var hs []hunk
	var cur *hunk
	lines := strings.SplitAfter(diff, "\n")
	for i, l := range lines {
		if l == "" {
			continue
		}
		switch {
		case strings.HasPrefix(l, "@@ "):
			rest := strings.TrimPrefix(l, "@@ -")
			numbers, _, ok := strings.Cut(rest, " ")
			if !ok {
				return nil, fmt.Errorf("diff line %d: malformed hunk header %q", i+1, strings.TrimSpace(l))
			}
			startText, _, _ := strings.Cut(numbers, ",")
			start, err := strconv.Atoi(startText)
			if err != nil {
				return nil, fmt.Errorf("diff line %d: malformed hunk header %q", i+1, strings.TrimSpace(l))
			}
			hs = append(hs, hunk{oldStart: start})
			cur = &hs[len(hs)-1]
		case cur == nil, strings.HasPrefix(l, "--- "), strings.HasPrefix(l, "+++ "):
			// headers
		case strings.HasPrefix(l, `\ No newline`):
			// Strip the newline of the line before, on the side it belongs to.
			prev := lines[i-1]
			switch prev[0] {
			case '-':
				cur.old[len(cur.old)-1] = strings.TrimSuffix(cur.old[len(cur.old)-1], "\n")
			case '+':
				cur.new[len(cur.new)-1] = strings.TrimSuffix(cur.new[len(cur.new)-1], "\n")
			default:
				cur.old[len(cur.old)-1] = strings.TrimSuffix(cur.old[len(cur.old)-1], "\n")
				cur.new[len(cur.new)-1] = strings.TrimSuffix(cur.new[len(cur.new)-1], "\n")
			}
		case l[0] == ' ' || l == "\n":
			text := strings.TrimPrefix(l, " ")
			if l == "\n" {
				text = "\n"
			}
			cur.old = append(cur.old, text)
			cur.new = append(cur.new, text)
		case l[0] == '-':
			cur.old = append(cur.old, l[1:])
		case l[0] == '+':
			cur.new = append(cur.new, l[1:])
		default:
			return nil, fmt.Errorf("diff line %d: unexpected %q", i+1, strings.TrimSpace(l))
		}
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("the diff has no hunks")
	}
	return hs, nil
}

// applyUnified applies diff to data. Every hunk must match exactly at its line (no fuzz: a
// plan's diff applies to the file the plan read, or the file changed since).
func applyUnified(data []byte, diff string) ([]byte, error) {
	hs, err := parseUnified(diff)
	if err != nil {
		return nil, err
	}
	return applyHunks(data, hs, false)
}

// reverseApplies reports whether diff is already applied to data (its reverse applies).
func reverseApplies(data []byte, diff string) bool {
	hs, err := parseUnified(diff)
	if err != nil {
		return false
	}
	_, err = applyHunks(data, hs, true)
	return err == nil
}

func applyHunks(data []byte, hs []hunk, reverse bool) ([]byte, error) {
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []string
	pos, shift := 0, 0 // pos: next unconsumed line; shift: new minus old line numbers so far
	for n, h := range hs {
		want, put := h.old, h.new
		start := h.oldStart - 1
		if reverse {
			want, put = h.new, h.old
			start = h.oldStart - 1 + shift
		}
		if len(h.old) == 0 && !reverse {
			start = h.oldStart // a pure insertion after line oldStart
		}
		if start < pos || start+len(want) > len(lines) {
			return nil, fmt.Errorf("hunk %d expects line %d, the file has %d lines", n+1, start+1, len(lines))
		}
		for k, w := range want {
			if lines[start+k] != w {
				return nil, fmt.Errorf("hunk %d: line %d is %q, the diff expects %q", n+1, start+k+1, strings.TrimRight(lines[start+k], "\n"), strings.TrimRight(w, "\n"))
			}
		}
		out = append(out, lines[pos:start]...)
		out = append(out, put...)
		pos = start + len(want)
		shift += len(h.new) - len(h.old)
	}
	out = append(out, lines[pos:]...)
	return []byte(strings.Join(out, "")), nil
}
