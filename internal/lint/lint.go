// Package lint is what `keeptune lint` does with findings once the rules have run over the files
// (gather.Files reads them, internal/rules judges them): inline suppressions (keeptune:ignore
// comments in the files) and the baseline of accepted findings (--baseline). The verb parses
// flags, calls these and renders.
package lint

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// unsuppressible is the rule neither a comment nor the baseline hides: a file its server
// refuses (KT891) is broken whatever anyone accepted.
const unsuppressible = "KT891"

// ignoreComment is an inline suppression: "keeptune:ignore KT800[,KT801] reason" in a comment.
var ignoreComment = regexp.MustCompile(`keeptune:ignore\s+((?:KT\d{3}[,\s]*)+)(.*)`)

// Sources reads the files findings point at, each file once, for both the keeptune:ignore check
// and the baseline's fingerprints.
type Sources struct {
	root  string
	files map[string][]string
}

// NewSources reads files under root ("" or "/" for the live system), as --root says.
func NewSources(root string) *Sources {
	return &Sources{root: root, files: map[string][]string{}}
}

// Line returns line n (from 1) of file (under root); ok is false when there is no such line
// or the file cannot be read.
func (s *Sources) Line(file string, n int) (string, bool) {
	ls, ok := s.files[file]
	if !ok {
		p := file
		if s.root != "" {
			p = filepath.Join(s.root, file)
		}
		if f, err := os.Open(p); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				ls = append(ls, sc.Text())
			}
			f.Close()
		}
		s.files[file] = ls
	}
	if n < 1 || n > len(ls) {
		return "", false
	}
	return ls[n-1], true
}

// Suppress splits findings into those shown and those a keeptune:ignore comment naming their
// rule hides, on the finding's line or the line above it. Findings without a file line, and
// KT891, are always shown.
func Suppress(all []model.Finding, src *Sources) (shown, suppressed []model.Finding) {
	for _, f := range all {
		if ignored(f, src) {
			suppressed = append(suppressed, f)
		} else {
			shown = append(shown, f)
		}
	}
	return shown, suppressed
}

func ignored(f model.Finding, src *Sources) bool {
	if f.Location == nil || f.Location.Line <= 0 || f.Rule == unsuppressible {
		return false
	}
	for _, n := range []int{f.Location.Line, f.Location.Line - 1} {
		line, ok := src.Line(f.Location.File, n)
		if !ok {
			continue
		}
		m := ignoreComment.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, id := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if id == f.Rule {
				return true
			}
		}
	}
	return false
}
