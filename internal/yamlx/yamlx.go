// Package yamlx decodes keeptune's YAML inputs (profiles, later chain files) with errors that
// point at file:line:column and say what was expected. yaml.v3 alone reports type errors
// without the file name and accepts durations without units; operators need both fixed.
package yamlx

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// PosError is an input error at a position in a file.
type PosError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *PosError) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			pos += ":" + strconv.Itoa(e.Column)
		}
	}
	return pos + ": " + e.Msg
}

// Errorf returns a PosError at the node's position.
func Errorf(file string, n *yaml.Node, format string, args ...any) error {
	e := &PosError{File: file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// Parse reads a YAML document into its root mapping node.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &PosError{File: file, Line: yamlErrorLine(err), Msg: "not valid YAML: " + trimYAMLError(err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &PosError{File: file, Line: 1, Msg: "empty document: expected a mapping"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, Errorf(file, root, "expected a mapping (key: value lines), found %s", kindName(root))
	}
	return root, nil
}

// Mapping walks a mapping node's keys, rejecting keys not in allowed with a did-you-mean hint.
// fn is called once per key in document order.
func Mapping(file string, n *yaml.Node, allowed []string, fn func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return Errorf(file, n, "expected a mapping, found %s", kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(allowed, k.Value) {
			msg := fmt.Sprintf("unknown key %q: expected one of %s", k.Value, strings.Join(allowed, ", "))
			if near := Nearest(k.Value, allowed); near != "" {
				msg = fmt.Sprintf("unknown key %q: did you mean %q? (expected one of %s)", k.Value, near, strings.Join(allowed, ", "))
			}
			return Errorf(file, k, "%s", msg)
		}
		if seen[k.Value] {
			return Errorf(file, k, "key %q appears twice", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// String reads a scalar string.
func String(file string, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", Errorf(file, n, "expected a string, found %s", kindName(n))
	}
	return n.Value, nil
}

// Int reads an integer within [min, max].
func Int(file string, n *yaml.Node, min, max int) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, Errorf(file, n, "expected a whole number from %d to %d, found %s", min, max, describe(n))
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < min || v > max {
		return 0, Errorf(file, n, "expected a whole number from %d to %d, found %s", min, max, n.Value)
	}
	return v, nil
}

// Duration reads a duration with a unit ("90s", "5m", "1h30m", "250ms"). A bare number is an
// error: "300" could mean seconds or milliseconds depending on whose documentation one reads.
func Duration(file string, n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, Errorf(file, n, "expected a duration with a unit (ms, s, m, h), found %s", kindName(n))
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		return 0, Errorf(file, n, "%v", err)
	}
	return d, nil
}

// ParseDuration parses a positive duration that carries a unit: ms, s, m, h and d (days), in
// Go's combined form ("1h30m") as well.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("expected a duration with a unit (ms, s, m, h), found an empty value")
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("expected a duration with a unit (ms, s, m, h), found the bare number %s: write %ss for seconds", s, s)
	}
	conv := s
	if strings.HasSuffix(s, "d") {
		days, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil {
			return 0, fmt.Errorf("expected a duration like 90s, 5m, 1h or 5d, found %q", s)
		}
		conv = strconv.Itoa(days*24) + "h"
	}
	d, err := time.ParseDuration(conv)
	if err != nil {
		return 0, fmt.Errorf("expected a duration like 90s, 5m, 1h30m or 250ms, found %q", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("expected a duration greater than zero, found %q", s)
	}
	return d, nil
}

// Nearest returns the candidate closest to s by edit distance, if it is close enough to be a
// plausible typo; "" otherwise.
func Nearest(s string, candidates []string) string {
	best, bestD := "", -1
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		d := levenshtein(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := len(s) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return kindName(n)
}

func yamlErrorLine(err error) int {
	// yaml.v3 syntax errors read "yaml: line N: ...".
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		if j := strings.IndexByte(rest, ':'); j > 0 {
			if n, err := strconv.Atoi(rest[:j]); err == nil {
				return n
			}
		}
	}
	return 0
}

func trimYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if j := strings.IndexByte(msg, ':'); j > 0 {
			msg = strings.TrimSpace(msg[j+1:])
		}
	}
	return msg
}
