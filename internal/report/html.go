package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// HTMLOptions add what the report itself does not carry.
type HTMLOptions struct {
	// Planned are target values to draw beside today's, by the key findings' fixes use
	// ("app.downstream.idle_timeout", "c.upstream.tcp_keepalive.idle"). This is the hook for
	// `keeptune plan`: the findings' own proposals are drawn whether or not it is set.
	Planned map[string]time.Duration
}

// htmlCSP forbids the page every fetch: no scripts, fonts, images or styles from anywhere. The
// picture is inline SVG and CSS, so the page is whole offline and cannot leak where it is opened.
const htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

// HTML writes the report as one self-contained page: each chain drawn hop by hop, and for each
// TCP segment one time axis (logarithmic, from a second to days) with every timer that decides
// whether an idle connection survives: the ends' keep-alive and pool idle timeouts, their TCP
// keepalive schedule (first probe, each probe, the moment a dead peer is declared), each
// middlebox's idle timeout and the host's connection tracking. The findings about a segment
// sit beside it, and proposed values are drawn as dashed marks beside today's, so a keepalive
// that fires after a NAT's expiry or a backend that closes before the pool is seen at a glance.
func HTML(w io.Writer, r Report, opt HTMLOptions) error {
	var b strings.Builder
	title := fmt.Sprintf("keeptune %s", cmpOr(r.Command, "report"))
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n", htmlCSP)
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n", esc(title), htmlStyle)
	c := countFindings(r.Findings)
	fmt.Fprintf(&b, "<header><h1>%s</h1><p class=\"sub\">%s · %d %s · %d %s, %d %s, %d info</p></header>\n",
		esc(title), esc(r.Tool.Name+" "+r.Tool.Version), len(r.Chains), textfmt.Plural(len(r.Chains), "chain file", "chain files"),
		c.errors, textfmt.Plural(c.errors, "error", "errors"), c.warnings, textfmt.Plural(c.warnings, "warning", "warnings"), c.infos)
	findings := sortedFindings(r.Findings)
	used := make([]bool, len(findings))
	for _, ch := range r.Chains {
		if ch == nil {
			continue
		}
		writeChainHTML(&b, r, ch, findings, used, opt)
	}
	var rest []model.Finding
	for i, f := range findings {
		if !used[i] {
			rest = append(rest, f)
		}
	}
	if len(r.Chains) == 0 {
		b.WriteString("<p class=\"note\">No chain file: nothing to draw. Give one with --chain (audit) or as an argument (lint).</p>\n")
	}
	if len(rest) > 0 {
		b.WriteString("<section class=\"other\"><h2>Other findings</h2>\n")
		writeFindingsHTML(&b, rest)
		b.WriteString("</section>\n")
	}
	b.WriteString(htmlLegend)
	b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }

// writeChainHTML draws one chain: its hops in a row, then a timeline per segment.
func writeChainHTML(b *strings.Builder, r Report, ch *model.Chain, findings []model.Finding, used []bool, opt HTMLOptions) {
	fmt.Fprintf(b, "<section class=\"chain\"><h2>%s</h2>\n", esc(ch.File))
	b.WriteString(hopsSVG(ch))
	for _, seg := range chain.Segments(ch) {
		names := []string{seg.Opener.Name()}
		for _, mi := range seg.Middleboxes {
			names = append(names, ch.Hops[mi].Name)
		}
		names = append(names, seg.Acceptor.Name())
		fmt.Fprintf(b, "<div class=\"segment\"><h3>TCP segment %s</h3>\n<div class=\"row\">\n", esc(strings.Join(names, " → ")))
		lanes := segmentLanes(r, ch, seg, findings, opt)
		b.WriteString(timelineSVG(lanes))
		// Findings about this segment: those whose hops lie on it.
		var mine []model.Finding
		for i, f := range findings {
			if len(f.Hops) > 0 && onSegment(f.Hops, names) {
				mine = append(mine, f)
				used[i] = true
			}
		}
		b.WriteString("<div class=\"findings\">")
		if len(mine) == 0 {
			b.WriteString("<p class=\"ok\">No finding on this segment.</p>")
		} else {
			writeFindingsHTML(b, mine)
		}
		b.WriteString("</div>\n</div>\n</div>\n")
	}
	b.WriteString("</section>\n")
}

// onSegment reports whether a finding's hops are all on the segment (a finding about one hop
// of a proxy may appear beside both of its segments).
func onSegment(hops, segment []string) bool {
	for _, h := range hops {
		if !slices.Contains(segment, h) {
			return false
		}
	}
	return true
}

func writeFindingsHTML(b *strings.Builder, fs []model.Finding) {
	b.WriteString("<ul class=\"flist\">")
	for _, f := range fs {
		sev := f.Severity.String()
		fmt.Fprintf(b, "<li class=\"%s\"><span class=\"sev\">%s</span> <b>%s</b> %s<br><span class=\"msg\">%s</span>",
			esc(sev), esc(sev), esc(f.Rule), esc(f.Subject), esc(f.Message))
		if f.Fix != nil {
			lines, note := fixText(f.Fix)
			if len(lines) > 0 || note != "" {
				b.WriteString("<br><span class=\"fix\">fix: ")
				b.WriteString(esc(strings.Join(append(lines, note), " ")))
				b.WriteString("</span>")
			}
		}
		b.WriteString("</li>")
	}
	b.WriteString("</ul>")
}

// A lane is one row of a segment's time axis: a bar from 0 to End, marks along it, and the
// proposed value when a fix or the plan changes it.
type lane struct {
	Label    string
	Kind     string // "idle", "pool", "box", "ka", "ct"
	End      time.Duration
	EndLabel string
	Marks    []mark
	Proposed time.Duration
	Note     string
}

type mark struct {
	At    time.Duration
	Kind  string // "probe", "first", "death"
	Label string
}

// segmentLanes lists the timers on a segment, opener first, then the middleboxes, then the
// acceptor, then the host's connection tracking when a hop runs on the host.
func segmentLanes(r Report, ch *model.Chain, seg chain.Segment, findings []model.Finding, opt HTMLOptions) []lane {
	proposals := map[string]time.Duration{}
	for _, f := range findings {
		if f.Fix == nil || f.Fix.Key == "" || f.Fix.Proposed == "" {
			continue
		}
		if d, err := time.ParseDuration(f.Fix.Proposed); err == nil {
			proposals[f.Fix.Key] = d
		} else if d, err := parseShortDuration(f.Fix.Proposed); err == nil {
			proposals[f.Fix.Key] = d
		}
	}
	for k, v := range opt.Planned {
		proposals[k] = v
	}
	var out []lane
	end := func(e chain.Endpoint, sideName string) {
		s := e.Side
		if s == nil {
			return
		}
		idleKind, idleLabel := "idle", "keep-alive idle"
		if sideName == "upstream" {
			idleKind, idleLabel = "pool", "pool idle"
		}
		if s.IdleTimeout.Known && (sideName == "downstream" || (s.Pools.Known && s.Pools.Value)) {
			l := lane{Label: e.Name() + " " + idleLabel, Kind: idleKind}
			if s.IdleTimeout.Value > 0 {
				l.End, l.EndLabel = s.IdleTimeout.Value, textfmt.Duration(s.IdleTimeout.Value)
			} else {
				l.Note = "no idle limit"
			}
			l.Proposed = proposals[e.Name()+"."+sideName+".idle_timeout"]
			out = append(out, l)
		}
		if e.L7 != nil {
			return // an L7 balancer's own timer is its idle timeout above
		}
		k := s.TCP
		l := lane{Label: e.Name() + " TCP keepalive", Kind: "ka"}
		switch {
		case !k.Enabled.Known:
			l.Note = "keepalive unknown"
		case !k.Enabled.Value:
			l.Note = "keepalive off"
		case k.Idle.Known && k.Interval.Known && k.Count.Known:
			l.Marks = append(l.Marks, mark{At: k.Idle.Value, Kind: "first", Label: "first probe " + textfmt.Duration(k.Idle.Value)})
			for i := 1; i < k.Count.Value; i++ {
				l.Marks = append(l.Marks, mark{At: k.Idle.Value + time.Duration(i)*k.Interval.Value, Kind: "probe"})
			}
			var uto time.Duration
			if k.UserTimeout.Known {
				uto = k.UserTimeout.Value
			}
			death := kernel.DeadPeerDetection(k.Idle.Value, k.Interval.Value, k.Count.Value, uto)
			l.Marks = append(l.Marks, mark{At: death, Kind: "death", Label: "dead " + textfmt.Duration(death)})
			l.End = death
		default:
			l.Note = "keepalive on, timing unknown"
		}
		l.Proposed = proposals[e.Name()+"."+sideName+".tcp_keepalive.idle"]
		out = append(out, l)
	}
	end(seg.Opener, "upstream")
	for _, mi := range seg.Middleboxes {
		mh := &ch.Hops[mi]
		mb := mh.Middlebox
		if mb == nil {
			continue
		}
		l := lane{Label: mh.Name + " idle timeout", Kind: "box"}
		if mh.Catalog != "" {
			l.Label = fmt.Sprintf("%s (%s) idle timeout", mh.Name, mh.Catalog)
		}
		if mb.IdleTimeout.Known && mb.IdleTimeout.Value > 0 {
			l.End, l.EndLabel = mb.IdleTimeout.Value, textfmt.Duration(mb.IdleTimeout.Value)
		} else {
			l.Note = "idle timeout unknown"
		}
		if mb.OnExpiry.Known {
			l.EndLabel += " then " + string(mb.OnExpiry.Value)
		}
		if mb.RefreshedBy.Known && mb.RefreshedBy.Value == model.RefreshPayload {
			l.EndLabel += " (data only)"
		}
		l.Proposed = proposals[mh.Name+".idle_timeout"]
		out = append(out, l)
	}
	end(seg.Acceptor, "downstream")
	if local := seg.Opener.Hop.Local || seg.Acceptor.Hop.Local; local && r.Snapshot != nil {
		for _, ns := range r.Snapshot.Namespaces {
			if ns.Current && ns.Conntrack != nil && ns.Conntrack.EstablishedTimeout.Known {
				t := ns.Conntrack.EstablishedTimeout.Value
				out = append(out, lane{Label: "host conntrack (established)", Kind: "ct", End: t, EndLabel: textfmt.Duration(t)})
			}
		}
	}
	return out
}

// parseShortDuration reads the durations fixes propose ("5m", "1h", "5d").
func parseShortDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// Timeline geometry: a logarithmic axis from axisMin to the longest timer, so 5 s and 5 days
// both fit and each decade gets the same room.
const (
	svgWidth   = 760
	labelWidth = 230
	laneHeight = 34
	axisTop    = 22
)

func timelineSVG(lanes []lane) string {
	maxT := time.Hour
	for _, l := range lanes {
		maxT = max(maxT, l.End, l.Proposed)
		for _, m := range l.Marks {
			maxT = max(maxT, m.At)
		}
	}
	const axisMin = time.Second
	lo, hi := math.Log(float64(axisMin)), math.Log(float64(maxT)*1.3)
	plot := float64(svgWidth - labelWidth - 20)
	x := func(d time.Duration) float64 {
		if d < axisMin {
			d = axisMin
		}
		return float64(labelWidth) + (math.Log(float64(d))-lo)/(hi-lo)*plot
	}
	height := axisTop + laneHeight*len(lanes) + 12
	var b strings.Builder
	fmt.Fprintf(&b, "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
		svgWidth, height, svgWidth, height)
	// Ticks.
	for _, t := range []time.Duration{time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour,
		2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 5 * 24 * time.Hour} {
		if t > maxT*13/10 {
			break
		}
		tx := x(t)
		fmt.Fprintf(&b, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", tx, axisTop-4, tx, height-8)
		fmt.Fprintf(&b, "<text class=\"tickl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", tx, axisTop-8, esc(textfmt.Duration(t)))
	}
	for i, l := range lanes {
		y := axisTop + i*laneHeight + laneHeight/2
		fmt.Fprintf(&b, "<text class=\"lanel\" x=\"4\" y=\"%d\">%s</text>", y+4, esc(l.Label))
		if l.End > 0 {
			fmt.Fprintf(&b, "<rect class=\"bar %s\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"10\" rx=\"2\"/>", l.Kind, labelWidth, y-5, x(l.End)-float64(labelWidth))
			if l.Kind != "ka" {
				fmt.Fprintf(&b, "<line class=\"endl\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x(l.End), y-11, x(l.End), y+11)
				fmt.Fprintf(&b, "<text class=\"endt\" x=\"%.1f\" y=\"%d\">%s</text>", x(l.End)+4, y-7, esc(l.EndLabel))
			}
		}
		for _, m := range l.Marks {
			mx := x(m.At)
			switch m.Kind {
			case "death":
				fmt.Fprintf(&b, "<path class=\"death\" d=\"M%.1f %d l8 8 m0 -8 l-8 8\"/>", mx-4, y-4)
			default:
				fmt.Fprintf(&b, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%d\" r=\"3.5\"/>", m.Kind, mx, y)
			}
			if m.Label != "" {
				ty := y + 15
				if m.Kind == "first" {
					ty = y - 8
				}
				fmt.Fprintf(&b, "<text class=\"markt\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", mx, ty, esc(m.Label))
			}
		}
		if l.Proposed > 0 {
			px := x(l.Proposed)
			fmt.Fprintf(&b, "<line class=\"proposed\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", px, y-13, px, y+13)
			fmt.Fprintf(&b, "<text class=\"propt\" x=\"%.1f\" y=\"%d\">→ %s</text>", px+3, y+15, esc(textfmt.Duration(l.Proposed)))
		}
		if l.Note != "" {
			fmt.Fprintf(&b, "<text class=\"note\" x=\"%d\" y=\"%d\">%s</text>", labelWidth+4, y+4, esc(l.Note))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// hopsSVG draws the chain's hops left to right: clients, middleboxes and servers in boxes of
// their own colour, joined by arrows.
func hopsSVG(ch *model.Chain) string {
	const boxW, boxH, gap = 130, 46, 34
	n := len(ch.Hops)
	width := n*boxW + (n-1)*gap + 20
	var b strings.Builder
	fmt.Fprintf(&b, "<svg class=\"hops\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
		width, boxH+16, width, boxH+16)
	for i := range ch.Hops {
		h := &ch.Hops[i]
		x := 10 + i*(boxW+gap)
		kind := string(h.Type)
		sub := kind
		if h.Catalog != "" {
			sub = h.Catalog
		} else if h.Runtime != "" {
			sub = kind + " · " + h.Runtime
		}
		if h.Middlebox != nil && h.Middlebox.Layer.Known {
			sub += fmt.Sprintf(" · L%d", h.Middlebox.Layer.Value)
		}
		fmt.Fprintf(&b, "<rect class=\"hop %s\" x=\"%d\" y=\"8\" width=\"%d\" height=\"%d\" rx=\"6\"/>", esc(kind), x, boxW, boxH)
		fmt.Fprintf(&b, "<text class=\"hopn\" x=\"%d\" y=\"28\" text-anchor=\"middle\">%s</text>", x+boxW/2, esc(clip(h.Name, 16)))
		fmt.Fprintf(&b, "<text class=\"hops\" x=\"%d\" y=\"44\" text-anchor=\"middle\">%s</text>", x+boxW/2, esc(clip(sub, 22)))
		if i < n-1 {
			ax := x + boxW
			fmt.Fprintf(&b, "<path class=\"arrow\" d=\"M%d %d h%d m-6 -5 l6 5 l-6 5\"/>", ax+3, 8+boxH/2, gap-6)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

const htmlStyle = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px;color:#33415c}.sub{color:#5b6473;margin:4px 0 0}
.row{display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap}.findings{flex:1;min-width:320px;max-width:620px}
.flist{list-style:none;padding:0;margin:0}.flist li{border-left:4px solid #999;padding:6px 10px;margin:0 0 8px;background:#f6f7f9}
.flist li.error{border-color:#c62828}.flist li.warning{border-color:#ef8f00}.flist li.info{border-color:#1e88e5}
.sev{font-size:11px;text-transform:uppercase;font-weight:600}.msg{color:#2f3a4c}.fix{color:#1b5e20;font-family:ui-monospace,monospace;font-size:12px}
.ok{color:#2e7d32}.note{fill:#6b7280;font-style:italic;font-size:12px}p.note{color:#6b7280}
svg text{font-family:system-ui,sans-serif}.tick{stroke:#e3e7ee}.tickl{fill:#7a8496;font-size:11px}
.lanel{fill:#1d2430;font-size:12px}.bar{opacity:.85}.bar.idle{fill:#64b5f6}.bar.pool{fill:#9575cd}.bar.box{fill:#ffb74d}
.bar.ka{fill:#a5d6a7}.bar.ct{fill:#b0bec5}.endl{stroke:#37474f;stroke-width:2}.endt{fill:#37474f;font-size:11px}
.first{fill:#2e7d32}.probe{fill:#66bb6a}.death{stroke:#c62828;stroke-width:2.5;fill:none}.markt{fill:#2e4f31;font-size:10px}
.proposed{stroke:#00897b;stroke-width:2;stroke-dasharray:4 3}.propt{fill:#00796b;font-size:11px;font-weight:600}
.hop{stroke:#37474f;stroke-width:1.2}.hop.client{fill:#e3f2fd}.hop.server{fill:#e8f5e9}.hop.proxy{fill:#f3e5f5}.hop.middlebox{fill:#fff3e0}
.hopn{font-size:13px;font-weight:600;fill:#1d2430}.hops{font-size:11px;fill:#55606f}.arrow{stroke:#37474f;stroke-width:1.6;fill:none}
.legend{margin-top:28px;color:#5b6473;font-size:12px}.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:14px;height:9px;margin-right:4px;vertical-align:middle}
`

const htmlLegend = `<p class="legend"><span><i class="sw" style="background:#64b5f6"></i>keep-alive idle (closes idle connections)</span>` +
	`<span><i class="sw" style="background:#9575cd"></i>pool idle (reuses connections until)</span>` +
	`<span><i class="sw" style="background:#ffb74d"></i>middlebox idle timeout</span>` +
	`<span><i class="sw" style="background:#a5d6a7"></i>TCP keepalive: ● probes, ✕ dead peer declared</span>` +
	`<span><i class="sw" style="background:#b0bec5"></i>host conntrack</span>` +
	`<span><i class="sw" style="border-top:2px dashed #00897b;height:0"></i>proposed value</span>` +
	` Time axis: logarithmic, from 1 s.</p>
`
