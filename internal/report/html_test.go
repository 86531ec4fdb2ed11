package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTMLSelfContained: the --html page fetches nothing (a CSP that forbids every fetch, no
// src/href/url()/import/script/link), and draws each segment's timers (issue 17).
func TestHTMLSelfContained(t *testing.T) {
	r := lintChainsReport()
	var b bytes.Buffer
	if err := HTML(&b, r, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, `http-equiv="Content-Security-Policy" content="default-src 'none';`) {
		t.Error("no CSP forbidding fetches")
	}
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`(?i)\ssrc=`), regexp.MustCompile(`(?i)\shref=`), regexp.MustCompile(`(?i)url\(`),
		regexp.MustCompile(`(?i)@import`), regexp.MustCompile(`(?i)<script`), regexp.MustCompile(`(?i)<link`), regexp.MustCompile(`(?i)<img`)} {
		if loc := bad.FindStringIndex(page); loc != nil {
			t.Errorf("page has %q: %s", bad, page[max(loc[0]-40, 0):min(loc[1]+40, len(page))])
		}
	}
	// The only http(s) strings are the SVG namespace, which names, not fetches.
	rest := strings.ReplaceAll(page, "http://www.w3.org/2000/svg", "")
	if m := regexp.MustCompile(`https?://`).FindStringIndex(rest); m != nil {
		t.Errorf("page names a URL: %s", rest[max(m[0]-40, 0):min(m[1]+60, len(rest))])
	}
	if strings.Contains(page, "(s)") {
		t.Error(`page writes "error(s)": plurals are spelled out (textfmt.Plural)`)
	}
	for _, want := range []string{"TCP segment", "<svg class=\"timeline\"", "<svg class=\"hops\"", "class=\"bar box\"", "class=\"death\"", "first probe"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLPlannedValues: a value the plan sets on a hop side is drawn beside today's.
func TestHTMLPlannedValues(t *testing.T) {
	r := lintChainsReport()
	var hop string
	for _, c := range r.Chains {
		for _, h := range c.Hops {
			if h.Downstream != nil && h.Downstream.IdleTimeout.Known {
				hop = h.Name
			}
		}
	}
	if hop == "" {
		t.Fatal("fixture has no hop with a keep-alive idle timeout")
	}
	var without, with bytes.Buffer
	if err := HTML(&without, r, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&with, r, HTMLOptions{Planned: map[string]time.Duration{hop + ".downstream.idle_timeout": 4321 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(without.String(), "→ 1h12m1s") || !strings.Contains(with.String(), "→ 1h12m1s") {
		t.Errorf("planned 4321s for %s not drawn (or drawn without a plan)", hop)
	}
}
