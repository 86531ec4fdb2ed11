// Package chainfile writes values measured by `keeptune probe` into one hop of a chain file
// (keeptune.yaml), so that audit and lint use the measured idle timeout instead of a guess.
//
// Why edits are spliced into the original bytes: people keep comments, blank lines, key order
// and flow mappings ({name: edge, catalog: aws-nlb}) in their chain files, and re-encoding a
// YAML tree loses blank lines and reflows what it touches. yaml.v3 parses the file and says
// where the hop's nodes are; only the bytes of the values that change (or one inserted key)
// are rewritten. The result is parsed again and compared with the intended tree node by node,
// and must load with gather.Chain; if the splice cannot be verified, the hop is edited as a
// yaml.v3 node and the document re-encoded (comments and order stay, blank lines may not).
// Nothing is written unless all of that succeeds; the original is kept as FILE.bak.
package chainfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
)

// Update is what to write into a middlebox hop. Empty fields are left alone.
type Update struct {
	Hop         string
	IdleTimeout time.Duration
	OnExpiry    model.Expiry
	RefreshedBy model.Refresh
	// Comment, when set, is written on its own line above the hop ("# ..."): when and how
	// the values were measured. A comment of an earlier run (starting with CommentPrefix) is
	// replaced.
	Comment string
}

// CommentPrefix starts the comment Apply writes above a hop.
const CommentPrefix = "# keeptune probe:"

// Written says what Apply did.
type Written struct {
	Backup string
	// Rewritten is true when the file had to be re-encoded (blank lines may be gone).
	Rewritten bool
	// Set lists the keys written, as "key: value".
	Set []string
}

// Check reports, before anything is measured, whether path can take an update of hop: the
// file loads, and hop is a middlebox in it.
func Check(path, hop string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--write-chain: %w", err)
	}
	if _, err := gather.Chain(context.Background(), path, gather.ChainOptions{}); err != nil {
		return fmt.Errorf("--write-chain %s does not load as it is (fix it first): %w", path, err)
	}
	_, _, err = findHop(path, data, hop)
	return err
}

// FormatDuration writes a duration the way chain files do: whole seconds as "350s", else
// milliseconds.
func FormatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
}

// Roundest picks the value to write for a timeout measured between lo and hi: the multiple
// of the coarsest unit (1 h, 10 min, 5 min, 1 min, 30 s, 10 s, 5 s, 1 s, 100 ms, 10 ms, 1 ms)
// inside the bracket, nearest its middle. Middleboxes are configured in round numbers (AWS
// NLB 350 s, Azure 4 min), and any value in the bracket is as true as another.
func Roundest(lo, hi time.Duration) time.Duration {
	mid := lo + (hi-lo)/2
	for _, u := range []time.Duration{time.Hour, 10 * time.Minute, 5 * time.Minute, time.Minute, 30 * time.Second,
		10 * time.Second, 5 * time.Second, time.Second, 100 * time.Millisecond, 10 * time.Millisecond, time.Millisecond} {
		first := (lo + u - 1) / u * u
		if first > hi || first <= 0 {
			continue
		}
		best := first
		for v := first; v <= hi; v += u {
			if (v - mid).Abs() < (best - mid).Abs() {
				best = v
			}
		}
		return best
	}
	return mid.Round(time.Millisecond)
}

// RoundDown picks the value to write for a timeout measured between lo and hi: the lower end,
// rounded down (to whole seconds from 10 s, else to 100 ms). A chain file's idle timeout is
// what keepalive settings are checked against, so it must not be longer than the path's: the
// middle of the bracket (Roundest) can be.
func RoundDown(lo time.Duration) time.Duration {
	u := time.Second
	if lo < 10*time.Second {
		u = 100 * time.Millisecond
	}
	if lo < u {
		return max(lo.Truncate(time.Millisecond), time.Millisecond)
	}
	return lo.Truncate(u)
}

// Apply writes u into path and keeps the original as path.bak. On any error nothing is
// changed.
func Apply(path string, u Update) (Written, error) {
	var w Written
	orig, err := os.ReadFile(path)
	if err != nil {
		return w, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return w, err
	}
	sets := u.pairs()
	if len(sets) == 0 {
		return w, errors.New("nothing to write")
	}
	for _, kv := range sets {
		w.Set = append(w.Set, kv[0]+": "+kv[1])
	}
	want, hopNode, err := findHop(path, orig, u.Hop)
	if err != nil {
		return w, err
	}
	setInTree(hopNode, sets) // want is now the intended tree

	out, err := splice(orig, path, u.Hop, sets)
	if err == nil {
		err = sameTree(out, want)
	}
	if err != nil {
		// Re-encode the edited tree.
		out, err = encode(want, orig)
		if err != nil {
			return w, fmt.Errorf("edit %s: %w", path, err)
		}
		if err := sameTree(out, want); err != nil {
			return w, fmt.Errorf("edit %s: %w", path, err)
		}
		w.Rewritten = true
	}
	if u.Comment != "" {
		withComment, err := commentAbove(out, path, u.Hop, u.Comment)
		if err == nil {
			err = sameTree(withComment, want)
		}
		if err != nil {
			return w, fmt.Errorf("edit %s: add the comment: %w", path, err)
		}
		out = withComment
	}

	// The result must load as a chain, from a file beside the original (same directory:
	// the final rename is atomic).
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return w, fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return w, fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return w, err
	}
	tmp.Close()
	if err := os.Chmod(tmpName, st.Mode().Perm()); err != nil {
		return w, err
	}
	c, err := gather.Chain(context.Background(), tmpName, gather.ChainOptions{})
	if err != nil {
		return w, fmt.Errorf("the edited chain would not load, nothing written: %w", err)
	}
	if err := checkLoaded(c, u); err != nil {
		return w, err
	}

	// The backup, then the file.
	w.Backup = path + ".bak"
	bak, err := os.CreateTemp(dir, "."+filepath.Base(path)+".bak-*")
	if err != nil {
		return w, fmt.Errorf("write the backup: %w", err)
	}
	bakName := bak.Name()
	defer os.Remove(bakName)
	_, err = bak.Write(orig)
	if err == nil {
		err = bak.Sync()
	}
	bak.Close()
	if err == nil {
		err = os.Chmod(bakName, st.Mode().Perm())
	}
	if err == nil {
		err = os.Rename(bakName, w.Backup)
	}
	if err != nil {
		return w, fmt.Errorf("write the backup %s, nothing changed: %w", w.Backup, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return w, fmt.Errorf("replace %s (the original is unchanged): %w", path, err)
	}
	return w, nil
}

func (u Update) pairs() [][2]string {
	var out [][2]string
	if u.IdleTimeout > 0 {
		out = append(out, [2]string{"idle_timeout", FormatDuration(u.IdleTimeout)})
	}
	if u.OnExpiry != "" {
		out = append(out, [2]string{"on_expiry", string(u.OnExpiry)})
	}
	if u.RefreshedBy != "" {
		out = append(out, [2]string{"refreshed_by", string(u.RefreshedBy)})
	}
	return out
}

// checkLoaded confirms the loaded chain carries the new values.
func checkLoaded(c *model.Chain, u Update) error {
	for _, h := range c.Hops {
		if h.Name != u.Hop {
			continue
		}
		mb := h.Middlebox
		switch {
		case mb == nil:
			return fmt.Errorf("hop %q is not a middlebox after the edit, nothing written", u.Hop)
		case u.IdleTimeout > 0 && mb.IdleTimeout.Value != u.IdleTimeout:
			return fmt.Errorf("hop %q reads back idle_timeout %v, not %v, nothing written", u.Hop, mb.IdleTimeout.Value, u.IdleTimeout)
		case u.OnExpiry != "" && mb.OnExpiry.Value != u.OnExpiry:
			return fmt.Errorf("hop %q reads back on_expiry %v, nothing written", u.Hop, mb.OnExpiry.Value)
		}
		return nil
	}
	return fmt.Errorf("hop %q is gone after the edit, nothing written", u.Hop)
}

// findHop parses data and returns the document and the hop's mapping node. It fails unless
// the hop exists and is a middlebox (type: middlebox, or a catalog: entry).
func findHop(path string, data []byte, hop string) (*yaml.Node, *yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s: not a chain file (expected a mapping with chain:)", path)
	}
	seq := valueOf(doc.Content[0], "chain")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, nil, fmt.Errorf("%s: no chain: list of hops", path)
	}
	var names []string
	for _, h := range seq.Content {
		if h.Kind != yaml.MappingNode {
			continue
		}
		n := valueOf(h, "name")
		if n == nil {
			continue
		}
		names = append(names, n.Value)
		if n.Value != hop {
			continue
		}
		typ, cat := valueOf(h, "type"), valueOf(h, "catalog")
		if (typ == nil || typ.Value != string(model.HopMiddlebox)) && cat == nil {
			what := "a hop without type"
			if typ != nil {
				what = "a " + typ.Value
			}
			return nil, nil, fmt.Errorf("%s:%d: hop %q is %s: a measured idle timeout belongs to a middlebox hop (type: middlebox, or catalog: NAME)", path, h.Line, hop, what)
		}
		return &doc, h, nil
	}
	return nil, nil, fmt.Errorf("%s: no hop named %q (the hops are %s)", path, hop, strings.Join(names, ", "))
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setInTree sets the keys in the hop's mapping node (appending missing ones).
func setInTree(hop *yaml.Node, sets [][2]string) {
	for _, kv := range sets {
		if v := valueOf(hop, kv[0]); v != nil {
			v.Kind, v.Tag, v.Value, v.Style, v.Content = yaml.ScalarNode, "!!str", kv[1], 0, nil
			continue
		}
		hop.Content = append(hop.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[0]},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[1]})
	}
}

// edit is a replacement of the bytes [from, to) of the original.
type edit struct {
	from, to int
	text     string
}

// splice makes the edits in the original bytes.
func splice(orig []byte, path, hop string, sets [][2]string) ([]byte, error) {
	_, h, err := findHop(path, orig, hop)
	if err != nil {
		return nil, err
	}
	lines := lineStarts(orig)
	var edits []edit
	var missing []string
	for _, kv := range sets {
		v := valueOf(h, kv[0])
		if v == nil {
			missing = append(missing, kv[0]+": "+kv[1])
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s is not a scalar", kv[0])
		}
		from, ok := offset(orig, lines, v.Line, v.Column)
		if !ok {
			return nil, errors.New("position out of range")
		}
		to, ok := scalarEnd(orig, from, v)
		if !ok {
			return nil, fmt.Errorf("cannot find the end of %s's value", kv[0])
		}
		edits = append(edits, edit{from, to, kv[1]})
	}
	if len(missing) > 0 {
		e, err := insertion(orig, lines, h, missing)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.from - a.from }) // back to front
	out := append([]byte(nil), orig...)
	for _, e := range edits {
		out = append(out[:e.from], append([]byte(e.text), out[e.to:]...)...)
	}
	return out, nil
}

func lineStarts(b []byte) []int {
	starts := []int{0}
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offset turns yaml.v3's 1-based line and column (in characters) into a byte offset.
func offset(b []byte, lines []int, line, col int) (int, bool) {
	if line < 1 || line > len(lines) {
		return 0, false
	}
	i := lines[line-1]
	for c := 1; c < col; c++ {
		if i >= len(b) || b[i] == '\n' {
			return 0, false
		}
		_, n := utf8.DecodeRune(b[i:])
		i += n
	}
	return i, true
}

// scalarEnd finds where the scalar starting at from ends, for the styles a chain file uses
// for short values: plain, single- and double-quoted, on one line.
func scalarEnd(b []byte, from int, v *yaml.Node) (int, bool) {
	switch v.Style {
	case 0:
		end := from + len(v.Value)
		return end, end <= len(b) && string(b[from:end]) == v.Value
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := b[from]
		if q != '"' && q != '\'' {
			return 0, false
		}
		for i := from + 1; i < len(b) && b[i] != '\n'; i++ {
			if b[i] == '\\' && q == '"' {
				i++
				continue
			}
			if b[i] == q {
				if q == '\'' && i+1 < len(b) && b[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, true
			}
		}
	}
	return 0, false
}

// insertion adds key: value pairs to the hop: a line per pair after the hop's last line (a
// block mapping, at its keys' indentation), or ", key: value" before the closing brace (a
// flow mapping).
func insertion(b []byte, lines []int, h *yaml.Node, pairs []string) (edit, error) {
	if h.Style&yaml.FlowStyle != 0 {
		start, ok := offset(b, lines, h.Line, h.Column)
		if !ok || b[start] != '{' {
			return edit{}, errors.New("cannot find the hop's opening brace")
		}
		end, ok := closingBrace(b, start)
		if !ok {
			return edit{}, errors.New("cannot find the hop's closing brace")
		}
		at := end
		for at > start && (b[at-1] == ' ' || b[at-1] == '\t') {
			at--
		}
		return edit{at, at, ", " + strings.Join(pairs, ", ")}, nil
	}
	if len(h.Content) == 0 {
		return edit{}, errors.New("empty hop")
	}
	indent := h.Content[0].Column - 1
	last := lastLine(h)
	if last >= len(lines) {
		// The hop ends on the file's last line, which may lack a newline.
		text := ""
		if len(b) > 0 && b[len(b)-1] != '\n' {
			text = "\n"
		}
		for _, p := range pairs {
			text += strings.Repeat(" ", indent) + p + "\n"
		}
		return edit{len(b), len(b), text}, nil
	}
	at := lines[last] // the start of the line after the hop's last
	var text strings.Builder
	for _, p := range pairs {
		text.WriteString(strings.Repeat(" ", indent) + p + "\n")
	}
	return edit{at, at, text.String()}, nil
}

// lastLine is the last line any node of the subtree starts on.
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// closingBrace finds the brace that closes the flow mapping opening at start.
func closingBrace(b []byte, start int) (int, bool) {
	depth := 0
	var quote byte
	for i := start; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && i > 0 && (b[i-1] == ' ' || b[i-1] == '\t'):
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i, c == '}'
			}
		}
	}
	return 0, false
}

// encode re-encodes the edited document with the original's indentation.
func encode(doc *yaml.Node, orig []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(indentOf(orig))
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	enc.Close()
	return buf.Bytes(), nil
}

// indentOf guesses the file's indentation step from its first indented line.
func indentOf(b []byte) int {
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if n := len(line) - len(trimmed); n > 0 && trimmed != "" && !strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "- ") {
			return min(max(n, 2), 8)
		}
	}
	return 2
}

// sameTree checks that out parses to want: the same kinds, tags, keys and values everywhere.
func sameTree(out []byte, want *yaml.Node) error {
	var got yaml.Node
	if err := yaml.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("the edited file is not valid YAML: %w", err)
	}
	if p := diff(&got, want, "$"); p != "" {
		return fmt.Errorf("the edited file differs from the intended one at %s", p)
	}
	return nil
}

func diff(a, b *yaml.Node, at string) string {
	if a.Kind != b.Kind || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return at
	}
	if a.Kind == yaml.ScalarNode && a.ShortTag() != b.ShortTag() {
		return at
	}
	for i := range a.Content {
		if p := diff(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); p != "" {
			return p
		}
	}
	return ""
}

// commentAbove puts "# keeptune probe: comment" on its own line above the hop's first line,
// at that line's indentation, replacing such a line a previous run wrote there.
func commentAbove(b []byte, path, hop, comment string) ([]byte, error) {
	_, h, err := findHop(path, b, hop)
	if err != nil {
		return nil, err
	}
	lines := lineStarts(b)
	if h.Line < 1 || h.Line > len(lines) {
		return nil, errors.New("hop line out of range")
	}
	start := lines[h.Line-1]
	indent := 0
	for start+indent < len(b) && (b[start+indent] == ' ' || b[start+indent] == '\t') {
		indent++
	}
	text := string(b[start:start+indent]) + CommentPrefix + " " + strings.ReplaceAll(comment, "\n", " ") + "\n"
	from := start
	if h.Line >= 2 {
		prev := lines[h.Line-2]
		if strings.HasPrefix(strings.TrimLeft(string(b[prev:start]), " \t"), CommentPrefix) {
			from = prev
		}
	}
	out := append([]byte(nil), b[:from]...)
	out = append(out, text...)
	return append(out, b[start:]...), nil
}
