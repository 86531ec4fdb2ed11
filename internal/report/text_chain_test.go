package report

import (
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// chainSection returns the lines of the text section that draws the named chain file.
func chainSection(t *testing.T, out, file string) []string {
	t.Helper()
	i := strings.Index(out, "\nChain "+file+" ")
	if i < 0 {
		i = strings.Index(out, "\nChain "+file+"\n")
	}
	if i < 0 {
		t.Fatalf("no section for chain %s in:\n%s", file, out)
	}
	sec := out[i+1:]
	if j := strings.Index(sec, "\n\n"); j >= 0 {
		sec = sec[:j]
	}
	return strings.Split(sec, "\n")
}

// lineIndex is the index of the first line that starts with prefix and contains substr, or -1.
func lineIndex(lines []string, prefix, substr string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, substr) {
			return i
		}
	}
	return -1
}

// TestTextChainPlacement: a finding about several hops is drawn right above the last of them, a
// finding about one hop right under it, and findings without hops not at all.
func TestTextChainPlacement(t *testing.T) {
	out := string(render(t, "text", testReport(), TextOptions{}))
	sec := chainSection(t, out, chainFile)
	if sec[0] != "Chain keeptune.yaml (profile edge-proxy, 50000 connections expected)" {
		t.Errorf("title = %q", sec[0])
	}
	hop := func(name string) int {
		t.Helper()
		i := lineIndex(sec, "  "+name+" ", "")
		if i < 0 {
			t.Fatalf("no line for hop %s:\n%s", name, strings.Join(sec, "\n"))
		}
		return i
	}
	finding := func(rule, subject string) int {
		t.Helper()
		i := lineIndex(sec, "", rule+"  "+subject+": ")
		if i < 0 {
			t.Fatalf("%s about %s not drawn:\n%s", rule, subject, strings.Join(sec, "\n"))
		}
		return i
	}
	clients, nat, edge, envoy, app := hop("clients"), hop("nat"), hop("edge"), hop("envoy"), hop("app")
	if !(clients < nat && nat < edge && edge < envoy && envoy < app) {
		t.Fatalf("hops out of chain order: %d %d %d %d %d", clients, nat, edge, envoy, app)
	}
	if got := finding("KT707", "clients -> edge"); got != edge-1 {
		t.Errorf("KT707 (clients -> nat -> edge) on line %d, want %d, right above edge", got, edge-1)
	}
	if got := finding("KT706", "envoy -> app"); got != app-1 {
		t.Errorf("KT706 (envoy -> app) on line %d, want %d, right above app", got, app-1)
	}
	if got := finding("KT705", "envoy upstream"); got <= envoy || got >= app {
		t.Errorf("KT705 about envoy on line %d, not between envoy (%d) and app (%d)", got, envoy, app)
	}
	last := finding("KT705", "app downstream")
	if last != len(sec)-1 || last <= app {
		t.Errorf("KT705 about app on line %d, want the section's last (%d), under app (%d)", last, len(sec)-1, app)
	}
	if strings.Contains(sec[last], "│") {
		t.Errorf("the connector goes on below the last hop: %q", sec[last])
	}
	for _, l := range sec[:app] {
		if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "     ") && !strings.HasPrefix(l, "    │") {
			continue
		}
		if strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "    │") {
			t.Errorf("line between hops without the connector: %q", l)
		}
	}
	if got := sec[edge-1]; !strings.HasPrefix(got, "    │  ! warning  KT707  clients -> edge: clients (go) sends pings every 30s") {
		t.Errorf("finding summary = %q", got)
	}
	for _, rule := range []string{"KT101", "KT201", "KT601"} {
		if lineIndex(sec, "", rule) >= 0 {
			t.Errorf("%s, a finding without hops, is drawn in the chain", rule)
		}
	}
	// The full findings are still in the findings section.
	if !strings.Contains(out, "error    KT706  envoy -> app\n") {
		t.Error("KT706 missing from the findings section")
	}
}

// TestTextChainHops: what each kind of hop shows.
func TestTextChainHops(t *testing.T) {
	sec := strings.Join(chainSection(t, string(render(t, "text", testReport(), TextOptions{})), chainFile), "\n")
	lint := string(render(t, "text", lintChainsReport(), TextOptions{}))
	db := strings.Join(chainSection(t, lint, "deploy/db-chain.yaml"), "\n")
	for _, want := range []string{
		"  clients  client (go)                pool idle 1m30s · tcp keepalive on 15s+15s×9 · h2 ping 30s\n",
		"  nat      middlebox aws-nat-gateway  L4  idle 5m50s  refresh: any segment   on expiry: rst\n",
		"  edge     middlebox aws-alb          L7  idle 1m     refresh: payload only  on expiry: rst\n",
		"h2 ping ignored",
		"downstream: keep-alive idle 1h · tcp keepalive off",
		"upstream:   pool idle 1h · tcp keepalive on 10m+1m15s×9",
		"user timeout 30s · max lifetime 1h",
		"grpc time 30s timeout 20s",
		"  app      server (grpc-go)           keep-alive idle 15m · tcp keepalive on 15s+15s×9\n",
		"read timeout 1m · grpc time 2h timeout 20s\n",
		"min_time 5m · permit_without_stream false\n",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("chain drawing lacks %q:\n%s", want, sec)
		}
	}
	for _, want := range []string{
		"Chain deploy/db-chain.yaml\n",
		"  browsers  client\n", // nothing known: nothing shown
		"on expiry: silent drop",
		"  pgbouncer-primary-pool\n    │       proxy (pgbouncer)   downstream: keep-alive idle ? · tcp keepalive on, values unknown\n",
		"upstream:   no pooling · tcp keepalive on 1m+?×? · no read timeout",
		"  db        server (postgres)",
	} {
		if !strings.Contains(db, want) {
			t.Errorf("chain drawing lacks %q:\n%s", want, db)
		}
	}
	if strings.Contains(lint, "cache -> redis: ") {
		t.Error("a finding about hops of no chain is drawn")
	}
	verbose := string(render(t, "text", testReport(), TextOptions{Verbose: true}))
	if !strings.Contains(verbose, "declared at keeptune.yaml:7:5 · config /etc/envoy/envoy.yaml") {
		t.Error("verbose output does not say where a hop is declared and configured")
	}
}

// TestTextChainWidth: the chain drawings fit the line width even with long names and messages.
func TestTextChainWidth(t *testing.T) {
	r := lintChainsReport()
	r.Findings = append(r.Findings, model.Finding{
		Rule: "KT799", Severity: model.SeverityInfo, Subject: strings.Repeat("very-long-subject ", 8), Hops: []string{"db"},
		Message: strings.Repeat("word ", 50),
	})
	for _, verbose := range []bool{false, true} {
		out := render(t, "text", r, TextOptions{Verbose: verbose})
		for i, l := range strings.Split(string(out), "\n") {
			if n := visibleLen(l); n > lineWidth {
				t.Errorf("line %d is %d columns: %q", i+1, n, l)
			}
			if strings.HasSuffix(l, " ") {
				t.Errorf("line %d has trailing space: %q", i+1, l)
			}
		}
	}
}

func TestFindingChain(t *testing.T) {
	a := &model.Chain{File: "a.yaml", Hops: []model.Hop{{Name: "lb"}, {Name: "envoy"}, {Name: "app"}}}
	b := &model.Chain{File: "b.yaml", Hops: []model.Hop{{Name: "app", Config: "/etc/app.conf"}, {Name: "db", Declared: model.Location{File: "b.yaml"}}}}
	chains := []*model.Chain{nil, a, b}
	cases := []struct {
		name        string
		f           model.Finding
		want        *model.Chain
		first, last int
	}{
		{"no hops", model.Finding{}, nil, 0, 0},
		{"one chain has them", model.Finding{Hops: []string{"envoy", "app"}}, a, 1, 2},
		{"chain order, not list order", model.Finding{Hops: []string{"app", "lb"}}, a, 0, 2},
		{"both have it, no location", model.Finding{Hops: []string{"app"}}, nil, 0, 0},
		{"both have it, located in a chain file", model.Finding{Hops: []string{"app"}, Location: &model.Location{File: "a.yaml", Line: 3}}, a, 2, 2},
		{"both have it, located in a hop's config", model.Finding{Hops: []string{"app"}, Location: &model.Location{File: "/etc/app.conf"}}, b, 0, 0},
		{"both have it, located elsewhere", model.Finding{Hops: []string{"app"}, Location: &model.Location{File: "/etc/other"}}, nil, 0, 0},
		{"a hop of no chain", model.Finding{Hops: []string{"app", "cache"}}, nil, 0, 0},
	}
	for _, c := range cases {
		got, first, last := findingChain(chains, c.f)
		if got != c.want || first != c.first || last != c.last {
			name := func(c *model.Chain) string {
				if c == nil {
					return "nil"
				}
				return c.File
			}
			t.Errorf("%s: %s %d..%d, want %s %d..%d", c.name, name(got), first, last, name(c.want), c.first, c.last)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	cases := map[string]string{
		"One. Two.":                       "One",
		"Ends here.":                      "Ends here",
		"No period":                       "No period",
		"Keeps 1.5s and e.g.x. Then more": "Keeps 1.5s and e.g.x",
		"Line one\nline two":              "Line one",
		"":                                "",
	}
	for in, want := range cases {
		if got := firstSentence(in); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		s     string
		width int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"cut between words here", 15, "cut between…"},
		{"averyveryverylongword", 10, "averyvery…"},
		{"ünïcödé wörds", 8, "ünïcödé…"},
		{"x", 0, ""},
	}
	for _, c := range cases {
		got := truncate(c.s, c.width)
		if got != c.want || visibleLen(got) > max(c.width, 0) {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.s, c.width, got, c.want)
		}
	}
}

func TestKeepaliveShort(t *testing.T) {
	src := model.Source{Kind: model.SourceConfig}
	cases := []struct {
		k    model.KeepaliveSettings
		want string
	}{
		{model.KeepaliveSettings{}, "?"},
		{model.KeepaliveSettings{Enabled: model.KnownSetting(false, src)}, "off"},
		{model.KeepaliveSettings{Enabled: model.KnownSetting(true, src)}, "on, values unknown"},
		{model.KeepaliveSettings{Enabled: model.KnownSetting(true, src), Idle: model.KnownSetting(2*time.Hour, src),
			Interval: model.KnownSetting(75*time.Second, src), Count: model.KnownSetting(9, src)}, "on 2h+1m15s×9"},
		{model.KeepaliveSettings{Enabled: model.KnownSetting(true, src), Count: model.KnownSetting(5, src)}, "on ?+?×5"},
	}
	for _, c := range cases {
		if got := keepaliveShort(c.k); got != c.want {
			t.Errorf("keepaliveShort(%+v) = %q, want %q", c.k, got, c.want)
		}
	}
}
