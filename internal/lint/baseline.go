package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

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
func fingerprint(f model.Finding, src *Sources) baselineEntry {
	e := baselineEntry{Rule: f.Rule, Subject: f.Subject}
	text := f.Message
	if f.Location != nil {
		e.File = f.Location.File
		if line, ok := src.Line(f.Location.File, f.Location.Line); ok {
			text = strings.TrimSpace(line)
		}
	}
	sum := sha256.Sum256([]byte(e.Rule + "\x00" + e.Subject + "\x00" + e.File + "\x00" + text))
	e.Fingerprint = hex.EncodeToString(sum[:16])
	return e
}

// Baselined is what ApplyBaseline did.
type Baselined struct {
	// Findings are those still shown: the ones the baseline does not hold, and KT891.
	Findings []model.Finding
	// Wrote is set when the baseline file was written; Accepted is how many findings it holds.
	Wrote    bool
	Accepted int
	// Hidden counts the findings the existing baseline holds (not shown).
	Hidden int
}

// ApplyBaseline hides the findings the baseline file at path holds, or writes it when it does
// not exist (or write is set): then every current finding is accepted. KT891 is never
// baselined. An error is bad input: a file that is not a keeptune baseline, or one that cannot
// be read or written.
func ApplyBaseline(path string, write bool, all []model.Finding, src *Sources) (Baselined, error) {
	var res Baselined
	var base []model.Finding
	for _, f := range all {
		if f.Rule == unsuppressible {
			res.Findings = append(res.Findings, f)
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
			return Baselined{}, fmt.Errorf("write baseline: %w", err)
		}
		res.Wrote, res.Accepted = true, len(b.Findings)
		return res, nil
	}
	if err != nil {
		return Baselined{}, fmt.Errorf("read baseline: %w", err)
	}
	var b baselineFile
	if err := json.Unmarshal(data, &b); err != nil || b.Version != 1 {
		return Baselined{}, fmt.Errorf("%s: not a keeptune baseline (version 1 JSON): %v", path, err)
	}
	known := map[string]bool{}
	for _, e := range b.Findings {
		known[e.Fingerprint] = true
	}
	for _, f := range base {
		if known[fingerprint(f, src).Fingerprint] {
			res.Hidden++
			continue
		}
		res.Findings = append(res.Findings, f)
	}
	return res, nil
}
