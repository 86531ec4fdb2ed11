package render

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/drill"
)

// HTML writes a self-contained page: the results table, one SVG timeline per distinct
// timeline, and for zombie-flood the sockets and memory curves of every setting side by side.
// No scripts, fonts or other external assets.
func HTML(w io.Writer, rep drill.Report) error {
	var charts []template.HTML
	var prev []drill.Event
	for _, r := range rep.Runs {
		if len(r.Timeline) == 0 || slices.Equal(r.Timeline, prev) {
			continue
		}
		prev = r.Timeline
		charts = append(charts, timelineSVG(r, theoryMarks(rep.Runs, r.Timeline), chartTitle(rep, r)))
	}
	var zombies []drill.Run
	for _, r := range rep.Runs {
		if len(r.Series) > 0 {
			zombies = append(zombies, r)
		}
	}
	var text strings.Builder
	if err := Text(&text, rep, TextOptions{}); err != nil {
		return err
	}
	data := struct {
		Rep       drill.Report
		Runs      []row
		Timelines []template.HTML
		Sockets   template.HTML
		Memory    template.HTML
		Text      string
		Window    string
	}{Rep: rep, Timelines: charts, Text: text.String()}
	for _, r := range rep.Runs {
		data.Runs = append(data.Runs, newRow(r))
	}
	if len(zombies) > 0 {
		data.Sockets = seriesSVG(zombies, "open sockets on the server", func(s drill.Sample) float64 { return float64(s.Inuse) }, true, "")
		if slices.ContainsFunc(zombies, func(r drill.Run) bool { return r.Server == nil }) {
			data.Memory = seriesSVG(zombies, "memory held (buffers + socket objects)", func(s drill.Sample) float64 { return float64(s.MemBytes) / 1024 }, false, " KiB")
		} else {
			// --server-cmd: the lab sees the server's descriptors, not its sockets' memory.
			data.Memory = seriesSVG(zombies, "descriptors held by the server's processes", func(s drill.Sample) float64 { return float64(s.FDs) }, false, "")
		}
	}
	w0 := drill.AcceptWindow(0)
	data.Window = fmt.Sprintf("[theory − %v, theory × %.3f + %v]", -w0.Low, 1+drill.Lateness, w0.High)
	return page.Execute(w, data)
}

type row struct {
	Case, Settings, Theory, Measured, Ratio, Outcome, Expected, Rule string
	RealTheory, RealMeasured, Goal, Bound                            string
	Verdict                                                          drill.Verdict
	Notes                                                            []string
}

func newRow(r drill.Run) row {
	ratio := "–"
	if x := r.Ratio(); x > 0 {
		ratio = fmt.Sprintf("%.3f", x)
	}
	rw := row{Case: r.Case, Settings: r.Settings.String(), Theory: secs(r.Theory), Measured: secs(r.Measured), Ratio: ratio,
		Outcome: r.Outcome, Expected: r.Expected, Rule: r.TheoryRule, Verdict: r.Verdict, Notes: r.Notes,
		RealTheory: humanPtr(r.TheoryReal), RealMeasured: humanPtr(r.MeasuredReal), Goal: goalCell(r.Goal)}
	if r.Goal != nil && !r.Goal.Reference {
		rw.Bound = r.Goal.Bound
	}
	return rw
}

// mark is a theory point drawn on a timeline: where theory says an error comes, with the
// accepted window around it.
type mark struct {
	side     string
	at       time.Duration
	low, hig time.Duration
}

func theoryMarks(runs []drill.Run, tl []drill.Event) []mark {
	var out []mark
	for _, r := range runs {
		if r.TheoryAt == nil || r.Theory == nil || !slices.Equal(r.Timeline, tl) {
			continue
		}
		w := drill.AcceptWindow(*r.Theory)
		side := strings.SplitN(r.Case, " ", 2)[0]
		side = strings.TrimSuffix(side, ":")
		out = append(out, mark{side: side, at: *r.TheoryAt, low: *r.TheoryAt - *r.Theory + w.Low, hig: *r.TheoryAt - *r.Theory + w.High})
	}
	return out
}

var lanes = []string{"client", "middlebox", "server", "lab"}

func eventColor(what string) string {
	switch {
	case strings.Contains(what, "fails"), strings.Contains(what, "reclaimed"):
		return "#c62828"
	case strings.Contains(what, "probe answered"):
		return "#2e7d32"
	case strings.Contains(what, "probe"), strings.Contains(what, "retransmission"):
		return "#ef6c00"
	case strings.Contains(what, "blackhole"), strings.Contains(what, "vanish"), strings.Contains(what, "forgets"):
		return "#212121"
	case strings.Contains(what, "survived"), strings.Contains(what, "receives"):
		return "#2e7d32"
	}
	return "#1565c0"
}

// chartTitle names what a timeline shows: the case, the settings, the outcome, and the scale.
func chartTitle(rep drill.Report, r drill.Run) string {
	t := fmt.Sprintf("%s: %s, %s", r.Case, r.Settings.String(), r.Outcome)
	if rep.TimeScale > 1 {
		t += fmt.Sprintf(" (timers / %d: 1 s here is %d s in real time)", rep.TimeScale, rep.TimeScale)
	}
	return t
}

// timelineSVG draws one lane per side with a dot per event, the theory windows, and a
// vertical line where a middlebox forgets the flow (the NAT's expiry), titled.
func timelineSVG(r drill.Run, marks []mark, title string) template.HTML {
	const width, left, right, laneH, top = 920.0, 90.0, 20.0, 38.0, 40.0
	end := time.Duration(0)
	for _, e := range r.Timeline {
		end = max(end, e.At)
	}
	for _, m := range marks {
		end = max(end, m.hig)
	}
	end = end + end/20 + time.Millisecond
	x := func(d time.Duration) float64 { return left + (width-left-right)*float64(d)/float64(end) }
	used := map[string]bool{}
	for _, e := range r.Timeline {
		used[e.Side] = true
	}
	var ls []string
	for _, l := range lanes {
		if used[l] {
			ls = append(ls, l)
		}
	}
	laneY := map[string]float64{}
	for i, l := range ls {
		laneY[l] = top + laneH*float64(i) + laneH/2
	}
	height := top + laneH*float64(len(ls)) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, width, height, width, height, esc(title))
	fmt.Fprintf(&b, `<text x="8" y="20" class="title">%s</text>`, esc(title))
	for _, e := range r.Timeline {
		if e.Side == "middlebox" && strings.Contains(e.What, "forgets") {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="expiry"><title>%.3fs %s</title></line><text x="%.1f" y="%.1f" class="tick">NAT expiry</text>`,
				x(e.At), top, x(e.At), top+laneH*float64(len(ls)), e.At.Seconds(), esc(e.What), x(e.At), top+4)
		}
	}
	for _, l := range ls {
		y := laneY[l]
		fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lane">%s</text><line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" class="lane-line"/>`,
			y+4, esc(l), left, y, width-right, y)
	}
	for _, m := range marks {
		y, ok := laneY[m.side]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="window"><title>accepted window %.3fs–%.3fs</title></rect>`,
			x(m.low), y-laneH/2+4, math.Max(1, x(m.hig)-x(m.low)), laneH-8, m.low.Seconds(), m.hig.Seconds())
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="theory"><title>theory: %.3fs</title></line>`,
			x(m.at), y-laneH/2+2, x(m.at), y+laneH/2-2, m.at.Seconds())
	}
	for _, e := range r.Timeline {
		y, ok := laneY[e.Side]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" fill="%s"><title>%.3fs %s: %s</title></circle>`,
			x(e.At), y, eventColor(e.What), e.At.Seconds(), esc(e.Side), esc(e.What))
	}
	axisY := top + laneH*float64(len(ls)) + 8
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" class="axis"/>`, left, axisY, width-right, axisY)
	for _, t := range ticks(end.Seconds(), 8) {
		xx := x(time.Duration(t * float64(time.Second)))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/><text x="%.1f" y="%.1f" class="tick">%ss</text>`,
			xx, axisY, xx, axisY+5, xx, axisY+18, trimFloat(t))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var palette = []string{"#1565c0", "#c62828", "#2e7d32", "#6a1b9a"}

// seriesSVG draws one line per run (and, if withTheory, its theory as a dashed line).
func seriesSVG(runs []drill.Run, title string, y func(drill.Sample) float64, withTheory bool, unit string) template.HTML {
	const width, height, left, right, top, bottom = 920.0, 320.0, 70.0, 20.0, 30.0, 60.0
	var maxT, maxY float64
	for _, r := range runs {
		for _, s := range r.Series {
			maxT = math.Max(maxT, s.At.Seconds())
			maxY = math.Max(maxY, y(s))
			if withTheory {
				maxY = math.Max(maxY, float64(s.Theory))
			}
		}
	}
	if maxT == 0 {
		maxT = 1
	}
	if maxY == 0 {
		maxY = 1
	}
	maxY *= 1.05
	px := func(t float64) float64 { return left + (width-left-right)*t/maxT }
	py := func(v float64) float64 { return top + (height-top-bottom)*(1-v/maxY) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`,
		width, height, width, height, esc(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="18" class="title">%s</text>`, left, esc(title))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/>`,
		left, top, left, height-bottom, left, height-bottom, width-right, height-bottom)
	for _, t := range ticks(maxT, 10) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="tick">%ss</text>`, px(t), height-bottom+16, trimFloat(t))
	}
	for _, v := range ticks(maxY, 5) {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" class="grid"/><text x="%.0f" y="%.1f" class="ytick">%s%s</text>`,
			left, py(v), width-right, py(v), left-6, py(v)+4, trimFloat(v), unit)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick">seconds after the clients vanished</text>`, width/2, height-bottom+34)
	for i, r := range runs {
		c := palette[i%len(palette)]
		var pts, th []string
		for _, s := range r.Series {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.At.Seconds()), py(y(s))))
			th = append(th, fmt.Sprintf("%.1f,%.1f", px(s.At.Seconds()), py(float64(s.Theory))))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"><title>%s</title></polyline>`, strings.Join(pts, " "), c, esc(r.Settings.String()))
		if withTheory {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 4"><title>theory: %s</title></polyline>`,
				strings.Join(th, " "), c, esc(r.Settings.String()))
		}
		ly := height - 14.0
		lx := left + float64(i)*420
		label := r.Settings.Label + ": " + r.Settings.String()
		if withTheory {
			label += " (dashed: theory)"
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="14" height="4" fill="%s"/><text x="%.0f" y="%.0f" class="legend">%s</text>`, lx, ly-4, c, lx+20, ly, esc(label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// ticks returns about n round values from 0 to max.
func ticks(maxV float64, n int) []float64 {
	if maxV <= 0 {
		return []float64{0}
	}
	raw := maxV / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := 0.0; v <= maxV+step/1e6; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func esc(s string) string { return template.HTMLEscapeString(s) }

var page = template.Must(template.New("drill").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>keeptune drill {{.Rep.Scenario}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#212121;max-width:1000px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0}th,td{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#2e7d32;font-weight:600}.EARLY,.LATE,.FAIL{color:#c62828;font-weight:600}
.note{color:#555;font-size:.92em}
svg{display:block;margin:.5em 0 1.5em;background:#fafafa;border:1px solid #eee}
.lane{font-size:12px;fill:#424242}.lane-line{stroke:#bdbdbd}.axis{stroke:#757575}.grid{stroke:#eee}
.tick{font-size:11px;fill:#616161;text-anchor:middle}.ytick{font-size:11px;fill:#616161;text-anchor:end}
.title{font-size:13px;font-weight:600}.legend{font-size:12px}
.theory{stroke:#c62828;stroke-width:2;stroke-dasharray:3 2}.expiry{stroke:#212121;stroke-width:1.5;stroke-dasharray:6 3}.window{fill:#c62828;fill-opacity:.12}
pre{background:#f5f5f5;padding:1em;overflow:auto;font-size:12px}
</style></head><body>
<h1>keeptune drill {{.Rep.Scenario}}: goal {{if .Rep.GoalMet}}met{{else}}NOT met{{end}} (profile {{.Rep.Goal.Profile}}, real time)</h1>
<p>Started {{.Rep.Started.Format "2006-01-02 15:04:05 MST"}}, took {{printf "%.1f" .Rep.Elapsed.Seconds}}s{{if gt .Rep.TimeScale 1}}, timers divided by {{.Rep.TimeScale}}{{end}}.
A run passes when the measurement lies within {{.Window}}: kernel timers fire late, never early, by up to 12.5% plus a jiffy.</p>
<ul>{{range .Rep.Requested}}<li>{{.Label}}: {{.String}}{{if .Source}} <span class="note">({{.Source}})</span>{{end}}</li>{{end}}</ul>
{{range .Rep.Notes}}<p class="note">{{.}}</p>{{end}}
<table><thead><tr><th>case</th><th>settings</th><th>theory</th><th>measured</th><th>ratio</th><th>verdict</th><th>outcome</th><th>real theory</th><th>real measured</th><th>goal</th></tr></thead><tbody>
{{range .Runs}}<tr><td>{{.Case}}</td><td>{{.Settings}}</td><td class="num">{{.Theory}}</td><td class="num">{{.Measured}}</td><td class="num">{{.Ratio}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{.Outcome}}{{if and .Expected (ne .Expected .Outcome)}} (expected {{.Expected}}){{end}}
{{if .Rule}}<div class="note">theory: {{.Rule}}</div>{{end}}{{range .Notes}}<div class="note">{{.}}</div>{{end}}</td><td class="num">{{.RealTheory}}</td><td class="num">{{.RealMeasured}}</td><td>{{.Goal}}{{if .Bound}}<div class="note">{{.Bound}}</div>{{end}}</td></tr>
{{end}}</tbody></table>
{{if .Sockets}}<h2>Zombie sockets until reclaimed</h2>{{.Sockets}}{{.Memory}}{{end}}
{{if .Timelines}}<h2>Timelines</h2><p class="note">Dots are events (hover for details): blue connection steps, green answered keepalive probes (each one refreshes the NAT's entry), orange unanswered probes and retransmissions, black faults, red errors; the black dashed line is where the NAT forgets the flow. The dashed red line is where theory puts the error, the shaded band the accepted window.</p>{{range .Timelines}}{{.}}{{end}}{{end}}
<h2>Text report</h2><pre>{{.Text}}</pre>
</body></html>
`))
