package cli

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// ignoreComment is an inline suppression: "keeptune:ignore KT800[,KT801] reason" in a comment.
var ignoreComment = regexp.MustCompile(`keeptune:ignore\s+((?:KT\d{3}[,\s]*)+)(.*)`)

// suppressed drops the findings whose line, or the line above it, carries a keeptune:ignore
// comment naming their rule. KT891 (a file the server refuses) cannot be suppressed.
func suppressed(all []model.Finding, root string, stdio IO, verbose bool) []model.Finding {
	src := newSourceLines(root)
	var out []model.Finding
	for _, f := range all {
		if f.Location == nil || f.Location.Line <= 0 || f.Rule == "KT891" {
			out = append(out, f)
			continue
		}
		hit := false
		for _, n := range []int{f.Location.Line, f.Location.Line - 1} {
			line, ok := src.line(f.Location.File, n)
			if !ok {
				continue
			}
			m := ignoreComment.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			for _, id := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				if id == f.Rule {
					hit = true
				}
			}
		}
		if hit {
			if verbose {
				fmt.Fprintf(stdio.Err, "suppressed: %s %s (keeptune:ignore)\n", f.Rule, f.Location)
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// sourceLines reads the configuration files findings point at, each file once.
type sourceLines struct {
	root  string
	files map[string][]string
}

func newSourceLines(root string) *sourceLines {
	return &sourceLines{root: root, files: map[string][]string{}}
}

// line returns line n (from 1) of file (under root); ok is false when there is no such line
// or the file cannot be read.
func (s *sourceLines) line(file string, n int) (string, bool) {
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

// baselineFile is what --baseline reads and writes.
type baselineFile struct {
	Version  int             `json:"version"`
	Findings []baselineEntry `json:"findings"`
}

type baselineEntry struct {
	Rule        string `json:"rule"`
	Subject     string `json:"subject"`
	File        string `json:"file,omitempty"`
	Fingerprint string `json:"fingerprint"`
}

// fingerprint identifies a finding across runs: its rule, subject, file and the text of the
// line at fault (not the line number, which moves when lines are added above).
func fingerprint(f model.Finding, src *sourceLines) baselineEntry {
	e := baselineEntry{Rule: f.Rule, Subject: f.Subject}
	text := f.Message
	if f.Location != nil {
		e.File = f.Location.File
		if line, ok := src.line(f.Location.File, f.Location.Line); ok {
			text = strings.TrimSpace(line)
		}
	}
	sum := sha256.Sum256([]byte(e.Rule + "\x00" + e.Subject + "\x00" + e.File + "\x00" + text))
	e.Fingerprint = hex.EncodeToString(sum[:16])
	return e
}

// applyBaseline drops the findings the baseline holds, or writes it when it does not exist (or
// write is set): then every current finding is accepted. KT891 is never baselined.
func applyBaseline(path, root string, write bool, all []model.Finding, stdio IO) ([]model.Finding, error) {
	src := newSourceLines(root)
	var keep, base []model.Finding
	for _, f := range all {
		if f.Rule == "KT891" {
			keep = append(keep, f)
		} else {
			base = append(base, f)
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || write {
		b := baselineFile{Version: 1, Findings: []baselineEntry{}}
		for _, f := range base {
			b.Findings = append(b.Findings, fingerprint(f, src))
		}
		sort.Slice(b.Findings, func(i, j int) bool { return b.Findings[i].Fingerprint < b.Findings[j].Fingerprint })
		out, _ := json.MarshalIndent(b, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("write baseline: %w", err)
		}
		fmt.Fprintf(stdio.Err, "wrote baseline %s: %d findings accepted\n", path, len(b.Findings))
		return keep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var b baselineFile
	if err := json.Unmarshal(data, &b); err != nil || b.Version != 1 {
		return nil, fmt.Errorf("%s: not a keeptune baseline (version 1 JSON): %v", path, err)
	}
	known := map[string]bool{}
	for _, e := range b.Findings {
		known[e.Fingerprint] = true
	}
	hidden := 0
	for _, f := range base {
		if known[fingerprint(f, src).Fingerprint] {
			hidden++
			continue
		}
		keep = append(keep, f)
	}
	if hidden > 0 {
		fmt.Fprintf(stdio.Err, "%d findings in the baseline %s not shown\n", hidden, path)
	}
	return keep, nil
}
