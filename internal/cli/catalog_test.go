package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/catalog"
)

func TestCatalogListsEveryEntryAligned(t *testing.T) {
	out, stderr, code := run(t, "catalog")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1+len(catalog.Names()) {
		t.Fatalf("%d lines for %d entries:\n%s", len(lines), len(catalog.Names()), out)
	}
	header := lines[0]
	for _, col := range []string{"NAME", "KIND", "LAYER", "IDLE", "RANGE", "REFRESH", "EXPIRY", "VERIFIED"} {
		if !strings.Contains(header, col) {
			t.Errorf("header lacks %s: %q", col, header)
		}
	}
	// Aligned: every row's VERIFIED column starts where the header's does (counted in
	// characters: ranges use an en dash).
	col := len([]rune(header[:strings.Index(header, "VERIFIED")]))
	for _, l := range lines[1:] {
		r := []rune(l)
		if len(r) < col || (!strings.HasPrefix(string(r[col:]), "yes") && !strings.HasPrefix(string(r[col:]), "no")) {
			t.Errorf("row not aligned under VERIFIED: %q", l)
		}
	}
	for _, want := range []string{
		"aws-alb ", "middlebox", "60s, up 60s", "1s–4000s", "payload", "close",
		"aws-nat-gateway", "fixed", "any-segment", "rst",
		"azure-lb", "silent-drop",
		"go ", "software", "down none, up 90s",
		"heroku-router", " no",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q\n%s", want, out)
		}
	}
}

func TestCatalogExplainsOneEntry(t *testing.T) {
	out, stderr, code := run(t, "catalog", "ALB") // an alias, in capitals
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"aws-alb: AWS Application Load Balancer (middlebox)",
		"aliases:  alb, aws-application-load-balancer",
		"source:   AWS ELB User Guide for Application Load Balancers",
		"https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html",
		"verified: yes",
		"idle timeout",
		"60s (1s–4000s)",
		"payload only (TCP keepalive probes do not count)",
		"closes the connection (FIN)",
		"HTTP/2 PING refreshes idle timer",
		"upstream (connections it opens):",
		"reuses connections",
		"values not listed are not stated by the source",
		"notes:\n  The idle timeout",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q\n%s", want, out)
		}
	}

	out, _, _ = run(t, "catalog", "pgbouncer")
	for _, want := range []string{"downstream (connections it accepts):", "upstream (connections it opens):", "OS default", "none", "10m"} {
		if !strings.Contains(out, want) {
			t.Errorf("pgbouncer explain lacks %q\n%s", want, out)
		}
	}
}

func TestCatalogUnknownNameSuggests(t *testing.T) {
	out, stderr, code := run(t, "catalog", "aws-albb")
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if out != "" {
		t.Errorf("stdout not empty: %q", out)
	}
	if !strings.Contains(stderr, `error: unknown catalog entry "aws-albb": did you mean "aws-alb"?`) ||
		!strings.Contains(stderr, "hint: run keeptune catalog") {
		t.Errorf("stderr = %q", stderr)
	}
	_, stderr, code = run(t, "catalog", "zzzzzzzzzzzz")
	if code != ExitUsage || strings.Contains(stderr, "did you mean") || !strings.Contains(stderr, `unknown catalog entry "zzzzzzzzzzzz"`) {
		t.Errorf("far-off name: exit %d, stderr %q", code, stderr)
	}
}

func TestCatalogUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"catalog", "-o", "yaml"},
		{"catalog", "aws-alb", "aws-nlb"},
		{"catalog", "--bogus"},
	} {
		if _, _, code := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

func TestCatalogJSON(t *testing.T) {
	out, stderr, code := run(t, "catalog", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(list) != len(catalog.Names()) {
		t.Fatalf("%d entries, want %d", len(list), len(catalog.Names()))
	}
	for _, e := range list {
		if e["source"] == "" || e["name"] == "" {
			t.Errorf("entry without name or source: %v", e)
		}
	}

	out, _, code = run(t, "catalog", "natgw", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var one struct {
		Name        string `json:"name"`
		Layer       int    `json:"layer"`
		OnExpiry    string `json:"on_expiry"`
		IdleTimeout struct {
			DefaultS float64  `json:"default_s"`
			MinS     *float64 `json:"min_s"`
		} `json:"idle_timeout"`
		Verified bool `json:"verified"`
	}
	if err := json.Unmarshal([]byte(out), &one); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if one.Name != "aws-nat-gateway" || one.Layer != 4 || one.OnExpiry != "rst" || one.IdleTimeout.DefaultS != 350 ||
		one.IdleTimeout.MinS == nil || *one.IdleTimeout.MinS != 350 || !one.Verified {
		t.Errorf("aws-nat-gateway JSON = %+v\n%s", one, out)
	}
}
