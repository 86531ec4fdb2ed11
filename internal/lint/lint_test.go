package lint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/model"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func at(rule, file string, line int) model.Finding {
	return model.Finding{Rule: rule, Subject: "keepalive_timeout", Message: rule + " message",
		Location: &model.Location{File: file, Line: line}}
}

func rulesOf(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestSuppress(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "nginx.conf", strings.Join([]string{
		"events {}",
		"http {",
		"    keepalive_timeout 0; # keeptune:ignore KT803, KT801 clients are one-shot",
		"    # keeptune:ignore KT805",
		"    keepalive_requests 10;",
		"    proxy_read_timeout 1h; # keeptune:ignore KT891 the server refuses this file",
		"}",
	}, "\n"))
	all := []model.Finding{
		at("KT803", conf, 3),                       // on its line
		at("KT801", conf, 3),                       // second ID of the list
		at("KT802", conf, 3),                       // not named
		at("KT805", conf, 5),                       // on the line above
		at("KT806", conf, 6),                       // the line above names another rule
		at("KT891", conf, 6),                       // never suppressed
		at("KT803", filepath.Join(dir, "gone"), 3), // no such file
		{Rule: "KT101", Subject: "host"},           // no file line
	}
	shown, hidden := Suppress(all, NewSources(""))
	if got, want := rulesOf(hidden), []string{"KT803", "KT801", "KT805"}; !slices.Equal(got, want) {
		t.Errorf("suppressed %v, want %v", got, want)
	}
	if got, want := rulesOf(shown), []string{"KT802", "KT806", "KT891", "KT803", "KT101"}; !slices.Equal(got, want) {
		t.Errorf("shown %v, want %v", got, want)
	}
}

// Sources reads files under --root: the finding names the path on the audited system.
func TestSourcesUnderRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/nginx"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "etc/nginx/nginx.conf", "events {}\nkeepalive_timeout 0; # keeptune:ignore KT803\n")
	shown, hidden := Suppress([]model.Finding{at("KT803", "/etc/nginx/nginx.conf", 2)}, NewSources(root))
	if len(shown) != 0 || len(hidden) != 1 {
		t.Errorf("under --root: shown %v, suppressed %v", rulesOf(shown), rulesOf(hidden))
	}
	if _, ok := NewSources(root).Line("/etc/nginx/nginx.conf", 3); ok {
		t.Error("a line past the end of the file was found")
	}
}

func TestBaseline(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "nginx.conf", "events {}\nhttp {\n    keepalive_timeout 0;\n}\n")
	path := filepath.Join(dir, "baseline.json")
	first := []model.Finding{at("KT803", conf, 3), at("KT891", conf, 3)}

	// No file yet: it is written with every finding but KT891, which stays shown.
	b, err := ApplyBaseline(path, false, first, NewSources(""))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Wrote || b.Accepted != 1 || b.Hidden != 0 || !slices.Equal(rulesOf(b.Findings), []string{"KT891"}) {
		t.Errorf("first run: %+v", b)
	}

	// Lines added above move the finding; its fingerprint (the line's text) does not change.
	writeFile(t, dir, "nginx.conf", "events {}\n# a comment\nhttp {\n    keepalive_timeout 0;\n    keepalive_requests 10;\n}\n")
	next := []model.Finding{at("KT803", conf, 4), at("KT801", conf, 5)}
	b, err = ApplyBaseline(path, false, next, NewSources(""))
	if err != nil {
		t.Fatal(err)
	}
	if b.Wrote || b.Hidden != 1 || !slices.Equal(rulesOf(b.Findings), []string{"KT801"}) {
		t.Errorf("second run: %+v", b)
	}

	// A changed line is a new finding.
	writeFile(t, dir, "nginx.conf", "events {}\n# a comment\nhttp {\n    keepalive_timeout 0s;\n}\n")
	b, err = ApplyBaseline(path, false, []model.Finding{at("KT803", conf, 4)}, NewSources(""))
	if err != nil || b.Hidden != 0 || len(b.Findings) != 1 {
		t.Errorf("edited line: %+v, %v", b, err)
	}

	// write rewrites the file with what is there now.
	if b, err = ApplyBaseline(path, true, next, NewSources("")); err != nil || !b.Wrote || b.Accepted != 2 || len(b.Findings) != 0 {
		t.Errorf("rewrite: %+v, %v", b, err)
	}

	bad := writeFile(t, dir, "bad.json", `{"version": 2, "findings": []}`)
	if _, err := ApplyBaseline(bad, false, next, NewSources("")); err == nil || !strings.Contains(err.Error(), "not a keeptune baseline") {
		t.Errorf("version 2: %v", err)
	}
}
