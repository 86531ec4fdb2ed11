package probe

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/textfmt"
)

// bracketStep is the search's bracket after one test: the longest idle length that survived
// so far (Lo) and the shortest that died (Hi, 0 while none has).
type bracketStep struct {
	At, Lo, Hi time.Duration
	Test       Test
}

// bracket replays the search tests (ladder connections only: the side tests do not move the
// bracket) in the order their outcomes were known.
func (r *Result) bracket() []bracketStep {
	tests := make([]Test, 0, len(r.Tests))
	for _, t := range r.Tests {
		if t.Role == roleLadder.String() {
			tests = append(tests, t)
		}
	}
	sort.SliceStable(tests, func(i, j int) bool { return tests[i].At < tests[j].At })
	var out []bracketStep
	var lo, hi time.Duration
	for _, t := range tests {
		if t.Outcome == Alive {
			lo = max(lo, t.Idle)
		} else if hi == 0 || t.Idle < hi {
			hi = t.Idle
		}
		out = append(out, bracketStep{At: t.At, Lo: lo, Hi: hi, Test: t})
	}
	return out
}

// WriteHTML writes a self-contained page (no scripts, no external assets) with the bracket
// narrowing over the run: every test as a dot (green: the idle connection survived; red: it
// died), the longest survived and the shortest died as steps, and the result.
func (r *Result) WriteHTML(w io.Writer) error {
	steps := r.bracket()
	const width, height, left, right, top, bottom = 920.0, 420.0, 80.0, 20.0, 40.0, 60.0
	var maxT, maxY time.Duration
	for _, s := range steps {
		maxT = max(maxT, s.At)
		maxY = max(maxY, s.Test.Idle)
	}
	maxT, maxY = max(maxT, r.Wall, time.Second), max(maxY, r.Hi, time.Second)
	maxY += maxY / 20
	x := func(d time.Duration) float64 { return left + (width-left-right)*float64(d)/float64(maxT) }
	y := func(d time.Duration) float64 { return top + (height-top-bottom)*(1-float64(d)/float64(maxY)) }
	title := fmt.Sprintf("keeptune probe %v: the bracket narrowing over the run", r.Target)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`,
		width, height, width, height, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="22" class="title">%s</text>`, left, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/>`,
		left, top, left, height-bottom, left, height-bottom, width-right, height-bottom)
	for i := 0; i <= 5; i++ {
		d := maxY * time.Duration(i) / 5
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" class="grid"/><text x="%.0f" y="%.1f" class="ytick">%s</text>`,
			left, y(d), width-right, y(d), left-6, y(d)+4, textfmt.Measured(d))
		t := maxT * time.Duration(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="tick">%s</text>`, x(t), height-bottom+16, textfmt.Measured(t))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick">time into the run</text><text x="14" y="%.0f" class="ytick" transform="rotate(-90 14 %.0f)">idle length tested</text>`,
		width/2, height-bottom+34, height/2, height/2)
	// The bracket as two step lines.
	var loPts, hiPts []string
	var prevLo, prevHi time.Duration
	for _, s := range steps {
		loPts = append(loPts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(s.At), y(prevLo), x(s.At), y(s.Lo)))
		prevLo = s.Lo
		if s.Hi > 0 {
			if prevHi == 0 {
				prevHi = s.Hi
			}
			hiPts = append(hiPts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(s.At), y(prevHi), x(s.At), y(s.Hi)))
			prevHi = s.Hi
		}
	}
	loPts = append(loPts, fmt.Sprintf("%.1f,%.1f", x(maxT), y(prevLo)))
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#2e7d32" stroke-width="2"><title>longest idle that survived</title></polyline>`, strings.Join(loPts, " "))
	if len(hiPts) > 0 {
		hiPts = append(hiPts, fmt.Sprintf("%.1f,%.1f", x(maxT), y(prevHi)))
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#c62828" stroke-width="2"><title>shortest idle that died</title></polyline>`, strings.Join(hiPts, " "))
	}
	for _, s := range steps {
		c := "#2e7d32"
		if s.Test.Outcome != Alive {
			c = "#c62828"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: connection %d idle %s: %s</title></circle>`,
			x(s.At), y(s.Test.Idle), c, textfmt.Measured(s.At), s.Test.Conn, textfmt.Measured(s.Test.Idle), s.Test.Outcome)
	}
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="14" height="4" fill="#2e7d32"/><text x="%.0f" y="%.0f" class="legend">longest idle that survived (dots: connections that answered)</text>`,
		left, height-14-4, left+20, height-14)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="14" height="4" fill="#c62828"/><text x="%.0f" y="%.0f" class="legend">shortest idle that died</text>`,
		left+460, height-14-4, left+480, height-14)
	b.WriteString(`</svg>`)

	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return err
	}
	return probePage.Execute(w, struct {
		Title string
		Chart template.HTML
		Text  string
	}{title, template.HTML(b.String()), text.String()})
}

var probePage = template.Must(template.New("probe").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#212121;max-width:1000px}
h1{font-size:1.4em}svg{display:block;margin:.5em 0 1.5em;background:#fafafa;border:1px solid #eee}
.axis{stroke:#757575}.grid{stroke:#eee}.tick{font-size:11px;fill:#616161;text-anchor:middle}
.ytick{font-size:11px;fill:#616161;text-anchor:end}.title{font-size:13px;font-weight:600}.legend{font-size:12px}
pre{background:#f5f5f5;padding:1em;overflow:auto;font-size:12px}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Each dot is one idle connection probed after the idle length on the vertical axis, at the time on the horizontal one.
The green step is the longest idle that has survived, the red the shortest that has died: the timeout lies between them.</p>
{{.Chart}}
<pre>{{.Text}}</pre>
</body></html>
`))
