package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTextGolden(t *testing.T) {
	cases := []struct {
		file string
		r    Report
		opt  TextOptions
	}{
		{"text.golden", testReport(), TextOptions{}},
		{"text_verbose.golden", testReport(), TextOptions{Verbose: true}},
		{"text_color.golden", testReport(), TextOptions{Color: true}},
		{"text_lint.golden", lintReport(), TextOptions{}},
		{"text_busy.golden", busyReport(), TextOptions{}},
		{"text_lint_chains.golden", lintChainsReport(), TextOptions{}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			golden(t, c.file, render(t, "text", c.r, c.opt))
		})
	}
}

// TestTextColor: ANSI codes appear only when asked for, and colour changes nothing else: the
// coloured output with its codes removed is the plain output, so alignment holds either way.
func TestTextColor(t *testing.T) {
	for name, r := range map[string]Report{"audit": testReport(), "lint": lintReport(), "busy": busyReport(), "chains": lintChainsReport()} {
		for _, verbose := range []bool{false, true} {
			plain := render(t, "text", r, TextOptions{Verbose: verbose})
			if bytes.Contains(plain, []byte("\x1b")) {
				t.Errorf("%s: escape character in output without Color", name)
			}
			color := render(t, "text", r, TextOptions{Verbose: verbose, Color: true})
			if !ansi.Match(color) {
				t.Errorf("%s: no ANSI codes in output with Color", name)
			}
			if stripped := ansi.ReplaceAll(color, nil); !bytes.Equal(stripped, plain) {
				t.Errorf("%s: coloured output differs from plain beyond the colour codes:\n%s",
					name, firstDifference(string(plain), string(stripped)))
			}
		}
	}
	color := string(render(t, "text", testReport(), TextOptions{Color: true}))
	if !strings.Contains(color, "\x1b[1;31merror\x1b[0m") {
		t.Error("errors are not red")
	}
	if !strings.Contains(color, "\x1b[1;33mwarning\x1b[0m") {
		t.Error("warnings are not yellow")
	}
}

// TestTextWidth: every line fits in 100 columns (the fixture has no unbreakable word that
// would not).
func TestTextWidth(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		out := render(t, "text", testReport(), TextOptions{Verbose: verbose})
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

func TestTextContent(t *testing.T) {
	out := string(render(t, "text", testReport(), TextOptions{}))
	for _, want := range []string{
		"kernel 6.8.0-45-generic",
		"euid 1000",
		"profile edge-proxy: a dead peer must be detected within 36m",
		"not root: some facts could not be read",
		"7200 (2h)",
		"dead-peer detection: idle + intvl*probes = 2h + 1m15s*9 = 2h11m15s",
		"wins: /etc/sysctl.d/99-tune.conf:4 = 30",
		"fix:      write `net.ipv4.tcp_keepalive_time = 600` to /etc/sysctl.d/60-keeptune.conf\n" +
			"            apply now: sysctl -w net.ipv4.tcp_keepalive_time=600\n",
		"replace line 5 of /etc/sysctl.d/99-tune.conf with `net.ipv4.tcp_retries2 = 8`",
		"2 errors, 6 warnings, 2 info",
		"fix:      edit line 3 of /etc/sysctl.d/10-local.conf\n            note: Write it as",
		"PID   COMM   UNIT           NETNS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
	if strings.Contains(out, "could not read: /proc/2301/limits") {
		t.Error("the problem list repeats the findings outside verbose mode")
	}
	verbose := string(render(t, "text", testReport(), TextOptions{Verbose: true}))
	for _, want := range []string{
		"could not read: /proc/2301/limits (open /proc/2301/limits: permission denied) — needs root",
		"\") at /etc/sysctl.d/10-local.conf:3\n",
	} {
		if !strings.Contains(verbose, want) {
			t.Errorf("verbose text output lacks %q", want)
		}
	}
	// Errors come before warnings, warnings before info.
	e, w, i := strings.Index(out, "\nerror "), strings.Index(out, "\nwarning "), strings.Index(out, "\ninfo ")
	if !(e >= 0 && e < w && w < i) {
		t.Errorf("findings not grouped errors, warnings, info: at %d, %d, %d", e, w, i)
	}
	// A non-host namespace shows the keepalive triple and what differs, not what is the same.
	cni := out[strings.Index(out, "cni-3f2a9c (net:"):]
	cni = cni[:strings.Index(cni, "\n\n")]
	if !strings.Contains(cni, "net.ipv4.tcp_keepalive_intvl") || !strings.Contains(cni, "net.core.somaxconn") {
		t.Errorf("namespace block lacks the keepalive triple or a differing row:\n%s", cni)
	}
	if strings.Contains(cni, "net.ipv4.tcp_syn_retries") || !strings.Contains(cni, "2 more sysctls as in host") {
		t.Errorf("namespace block repeats rows equal to the host:\n%s", cni)
	}

	if lint := string(render(t, "text", lintReport(), TextOptions{})); !strings.Contains(lint, "\nno findings") {
		t.Errorf("lint output does not say no findings:\n%s", lint)
	}
}

func TestTextProcessLimit(t *testing.T) {
	short := string(render(t, "text", busyReport(), TextOptions{}))
	if !strings.Contains(short, "worker-19") || strings.Contains(short, "worker-20") {
		t.Error("without Verbose, not exactly 20 processes are listed")
	}
	if !strings.Contains(short, "... 5 more") {
		t.Error("without Verbose, the hidden processes are not counted")
	}
	long := string(render(t, "text", busyReport(), TextOptions{Verbose: true}))
	if !strings.Contains(long, "worker-24") || strings.Contains(long, "more (verbose") {
		t.Error("Verbose does not list every process")
	}
}

func TestFixText(t *testing.T) {
	cases := []struct {
		fix  model.Fix
		want []string
	}{
		{model.Fix{Line: "k = 1", File: "/etc/f.conf", FileLine: 3, Apply: "sysctl -w k=1"},
			[]string{"replace line 3 of /etc/f.conf with `k = 1`", "apply now: sysctl -w k=1"}},
		{model.Fix{Line: "k = 1", File: "/etc/f.conf"}, []string{"write `k = 1` to /etc/f.conf"}},
		{model.Fix{Line: "keepalive_timeout 60s;"}, []string{"set `keepalive_timeout 60s;`"}},
		{model.Fix{Key: "k", Proposed: "2", Current: "1"}, []string{"set k to 2 (now 1)"}},
		{model.Fix{Key: "k", Proposed: "2"}, []string{"set k to 2"}},
		{model.Fix{Apply: "systemctl reload nginx"}, []string{"apply now: systemctl reload nginx"}},
		{model.Fix{}, nil},
	}
	for _, c := range cases {
		got, _ := fixText(&c.fix)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("fixText(%+v) = %q, want %q", c.fix, got, c.want)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aaa bbb ccc ddd", 9, "  ", "> ")
	want := []string{"> aaa bbb", "  ccc ddd"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	// A word longer than the line stays whole.
	got = wrap("x /a/very/long/path/that/does/not/fit y", 10, "")
	if len(got) != 3 || got[1] != "/a/very/long/path/that/does/not/fit" {
		t.Errorf("long word: %q", got)
	}
	// Colour codes take no room.
	s := style{on: true}
	got = wrap(s.bold("aaa")+" bbb", 7, "")
	if len(got) != 1 {
		t.Errorf("colour codes counted as width: %q", got)
	}
}

func TestTableLongFirstCell(t *testing.T) {
	rows := [][]string{{"short", "1", "src"}, {"a-very-long-key", "2", "src"}}
	got := table("", rows, []int{6, 1, 3}, 80)
	want := []string{"short   1  src", "a-very-long-key", "        2  src"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("table = %q, want %q", got, want)
	}
}

// TestTextConfigWithoutUpstream: a format with one side only (redis) renders without it.
func TestTextConfigWithoutUpstream(t *testing.T) {
	r := lintReport()
	c := *r.Configs[0]
	c.Upstream = nil
	r.Configs = []*configs.Config{&c}
	out := string(render(t, "text", r, TextOptions{}))
	if !strings.Contains(out, "downstream: keep-alive idle 1m5s") || strings.Contains(out, "upstream:") {
		t.Errorf("output:\n%s", out)
	}
}

// TestTextNoLimit: a known zero timeout is "no limit", never "0s" (model.Side).
func TestTextNoLimit(t *testing.T) {
	r := lintReport()
	c := *r.Configs[0]
	down := *c.Downstream
	down.IdleTimeout = model.KnownSetting(time.Duration(0), model.Source{Kind: model.SourceConfig})
	c.Downstream = &down
	r.Configs = []*configs.Config{&c}
	out := string(render(t, "text", r, TextOptions{}))
	if !strings.Contains(out, "downstream: keep-alive idle: no limit") || strings.Contains(out, "idle 0s") {
		t.Errorf("output:\n%s", out)
	}
}

// TestTextNamespaceLabels: audit's text names namespaces as `keeptune sockets` does
// (netns.Label): the initial namespace is "host" even when the snapshot does not hold it (a
// process seen in it from an audit run elsewhere), another unknown one is net:[INODE] (never
// a bare number), and an unnamed namespace's title is its net:[INODE], not "unnamed".
func TestTextNamespaceLabels(t *testing.T) {
	r := testReport()
	s := r.Snapshot
	host := s.Namespaces[0]
	host.Name, host.Inode = "", netns.InitInode
	other := s.Namespaces[1]
	other.Name, other.Current = "", false
	s.Namespaces = []model.Namespace{other}
	s.Processes = s.Processes[:2]
	s.Processes[0].NetnsInode = host.Inode
	s.Processes[1].NetnsInode = 4026532999
	out := string(render(t, "text", r, TextOptions{}))
	for _, want := range []string{
		"\n  " + netns.Label("", other.Inode) + " (pids ",
		"  812   nginx  nginx.service  host ",
		"  1290  api    -              net:[4026532999] ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unnamed") || strings.Contains(out, "net:[4026532456], ") {
		t.Errorf("an unnamed namespace is titled unnamed or shows its inode twice:\n%s", out)
	}
}
