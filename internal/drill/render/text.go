// Package render writes drill reports for people (a text table with timelines, an HTML page
// with inline SVG charts) and for machines (JSON). It only formats: every number comes from
// the drill.Report.
package render

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keeptune/keeptune/internal/drill"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// TextOptions tune the text report.
type TextOptions struct {
	// Timelines prints each run's timeline (identical timelines once). Off for --repeat runs,
	// where the summary matters.
	Timelines bool
}

func secs(d *time.Duration) string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// Text writes the table of theory, measured and verdict, then notes and timelines.
func Text(w io.Writer, rep drill.Report, o TextOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "keeptune drill %s", rep.Scenario)
	if rep.TimeScale > 1 {
		fmt.Fprintf(&b, " (timers / %d)", rep.TimeScale)
	}
	b.WriteString("\n")
	for _, s := range rep.Requested {
		fmt.Fprintf(&b, "settings: %s: %v", s.Label, s)
		if s.Source != "" {
			fmt.Fprintf(&b, " [%s]", s.Source)
		}
		b.WriteString("\n")
	}
	labs := map[string]bool{}
	for _, r := range rep.Runs {
		if !labs[r.Lab] {
			labs[r.Lab] = true
			fmt.Fprintf(&b, "lab: %s\n", r.Lab)
		}
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	realCols := rep.TimeScale > 1 || slices.ContainsFunc(rep.Runs, func(r drill.Run) bool {
		return !sameDur(r.TheoryReal, r.Theory) || !sameDur(r.MeasuredReal, r.Measured)
	})
	if realCols {
		fmt.Fprintln(tw, "CASE\tSETTINGS\tTHEORY\tMEASURED\tRATIO\tVERDICT\tOUTCOME\tREAL THEORY\tREAL MEASURED\tGOAL")
	} else {
		fmt.Fprintln(tw, "CASE\tSETTINGS\tTHEORY\tMEASURED\tRATIO\tVERDICT\tOUTCOME\tGOAL")
	}
	for _, r := range rep.Runs {
		ratio := "-"
		if x := r.Ratio(); x > 0 {
			ratio = fmt.Sprintf("%.3f", x)
		}
		outcome := r.Outcome
		if r.Expected != "" && r.Outcome != r.Expected {
			outcome += " (expected " + r.Expected + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t", r.Case, r.Settings.String(), secs(r.Theory), secs(r.Measured), ratio, r.Verdict, outcome)
		if realCols {
			fmt.Fprintf(tw, "%s\t%s\t", humanPtr(r.TheoryReal), humanPtr(r.MeasuredReal))
		}
		fmt.Fprintf(tw, "%s\n", goalCell(r.Goal))
	}
	tw.Flush()
	writeGoal(&b, rep)

	sum := rep.Summary()
	if len(rep.Runs) > 1 {
		var parts []string
		for _, v := range []drill.Verdict{drill.Pass, drill.Early, drill.Late, drill.Fail} {
			if n := sum.Verdicts[v]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, v))
			}
		}
		fmt.Fprintf(&b, "\n%d runs: %s\n", len(rep.Runs), strings.Join(parts, ", "))
	}
	if slices.ContainsFunc(sum.Ratios, func(r drill.RatioStat) bool { return r.Runs > 1 }) {
		b.WriteString("\nmeasured/theory per case:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CASE\tRUNS\tMEDIAN\tWORST\tMIN\tMAX")
		for _, r := range sum.Ratios {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\n", r.Case, r.Runs, r.Median, r.Worst, r.Min, r.Max)
		}
		tw.Flush()
	}

	w0 := drill.AcceptWindow(0)
	fmt.Fprintf(&b, "\nPASS: measured within [theory - %v, theory x %.3f + %v] (timers fire late by up to 12.5%% plus a jiffy; see docs/PERFORMANCE.md)\n",
		-w0.Low, 1+drill.Lateness, w0.High)

	rules := map[string]bool{}
	var notes []string
	for _, r := range rep.Runs {
		if r.TheoryRule != "" && !rules[r.TheoryRule] {
			rules[r.TheoryRule] = true
			fmt.Fprintf(&b, "theory (%s): %s\n", r.Case, r.TheoryRule)
		}
		for _, n := range r.Notes {
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
	}
	for _, n := range append(slices.Clone(rep.Notes), notes...) {
		fmt.Fprintf(&b, "note: %s\n", n)
	}

	for _, r := range rep.Runs {
		if r.Reclaim != nil {
			writeReclaim(&b, r)
		}
	}
	for _, r := range rep.Runs {
		if r.Server != nil {
			writeServer(&b, r)
		}
	}
	writeHTTP(&b, rep)
	if o.Timelines {
		var prev []drill.Event
		for _, r := range rep.Runs {
			if len(r.Timeline) == 0 || slices.Equal(r.Timeline, prev) {
				continue
			}
			prev = r.Timeline
			fmt.Fprintf(&b, "\ntimeline: %s\n", r.Case)
			for _, e := range r.Timeline {
				fmt.Fprintf(&b, "  %9.3fs  %-9s  %s\n", e.At.Seconds(), e.Side, e.What)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeReclaim(b *strings.Builder, r drill.Run) {
	c := r.Reclaim
	fmt.Fprintf(b, "\n%s: %d of %d zombie sockets reclaimed; per socket after its last segment: min %.3fs, median %.3fs, max %.3fs; peak %d sockets, %s\n",
		r.Case, c.Reclaimed, c.Sockets, c.Min.Seconds(), c.Median.Seconds(), c.Max.Seconds(), c.PeakInuse, humanBytes(c.PeakMem))
	writeSeries(b, r.Series, true)
}

// writeServer says what the lab saw of the user's server (--server-cmd): the keepalive its
// sockets use, when it released the descriptors, and what the socket table kept.
func writeServer(b *strings.Builder, r drill.Run) {
	s := r.Server
	ka := "off"
	if s.KeepaliveOn {
		ka = s.Keepalive.String()
	}
	fmt.Fprintf(b, "\nserver %s (pids %v), clients connected to %s\n", s.Command, s.PIDs, s.Listen)
	fmt.Fprintf(b, "  keepalive of its accepted sockets (read from them): %s\n", ka)
	fmt.Fprintf(b, "  descriptors held by its processes: %d when the clients vanished, %d after %s\n", s.FDsBefore, s.FDsAfter, textfmt.Duration(s.Watched))
	fmt.Fprintf(b, "  %d of %d connections' descriptors released; after each one's last segment: min %.3fs, median %.3fs, max %.3fs (sampled every %v)\n",
		s.Released, s.Clients, s.ReleaseMin.Seconds(), s.ReleaseMedian.Seconds(), s.ReleaseMax.Seconds(), s.Every)
	fmt.Fprintf(b, "  %d of %d sockets gone from the table", s.Gone, s.Clients)
	if s.Gone > 0 {
		fmt.Fprintf(b, " (slowest %.3fs after its last segment)", s.GoneMax.Seconds())
	}
	if len(s.Left) > 0 {
		var left []string
		for st, n := range s.Left {
			left = append(left, fmt.Sprintf("%d %s", n, st))
		}
		slices.Sort(left)
		fmt.Fprintf(b, "; left: %s", strings.Join(left, ", "))
	}
	b.WriteString("\n")
	if len(r.Series) > 2 {
		writeSeries(b, r.Series, false)
	}
}

// writeSeries prints about a dozen samples; memory only where the drill's own server measured it
// (the user's server, --server-cmd, is seen from outside: sockets and descriptors).
func writeSeries(b *strings.Builder, series []drill.Sample, mem bool) {
	if len(series) == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	if mem {
		fmt.Fprintln(tw, "AFTER BLACKHOLE\tSOCKETS\tFDS\tMEMORY\tTHEORY SOCKETS\t")
	} else {
		fmt.Fprintln(tw, "AFTER BLACKHOLE\tSOCKETS\tFDS\tTHEORY SOCKETS\t")
	}
	step := max(1, len(series)/12)
	for i, s := range series {
		if i%step != 0 && i != len(series)-1 {
			continue
		}
		if mem {
			fmt.Fprintf(tw, "%.2fs\t%d\t%d\t%s\t%d\t\n", s.At.Seconds(), s.Inuse, s.FDs, humanBytes(s.MemBytes), s.Theory)
		} else {
			fmt.Fprintf(tw, "%.2fs\t%d\t%d\t%d\t\n", s.At.Seconds(), s.Inuse, s.FDs, s.Theory)
		}
	}
	tw.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 10<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func sameDur(a, b *time.Duration) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func humanPtr(d *time.Duration) string {
	if d == nil {
		return "-"
	}
	return textfmt.Duration(*d)
}

func goalCell(g *drill.GoalVerdict) string {
	switch {
	case g == nil:
		return "-"
	case g.Reference && g.Met:
		return "met (reference)"
	case g.Reference:
		return "not met (reference)"
	case g.Met:
		return "MET"
	}
	return "NOT MET"
}

// writeGoal states the second verdict: the settings against the profile's limits, in real time,
// with the bound that would make each failing case pass.
func writeGoal(b *strings.Builder, rep drill.Report) {
	verdict := "NOT MET"
	if rep.GoalMet() {
		verdict = "MET"
	}
	fmt.Fprintf(b, "\ngoal (profile %s, real time): %s\n", rep.Goal.Profile, verdict)
	seen := map[string]bool{}
	for _, r := range rep.Runs {
		g := r.Goal
		if g == nil {
			continue
		}
		key := g.Want + g.Got + g.Bound + fmt.Sprint(g.Met, g.Reference)
		if seen[key] {
			continue
		}
		seen[key] = true
		fmt.Fprintf(b, "  %s: %s: %s", goalCell(g), r.Case, g.Want)
		if g.Got != "" {
			fmt.Fprintf(b, "; %s", g.Got)
		}
		b.WriteString("\n")
		if g.Bound != "" && !g.Reference {
			fmt.Fprintf(b, "    fix: %s\n", g.Bound)
		}
	}
	if slices.ContainsFunc(rep.Runs, func(r drill.Run) bool { return r.Goal != nil && r.Goal.Reference }) {
		b.WriteString("  (reference cases run other settings than those under test: they show what the settings save you from and do not decide the goal)\n")
	}
}

// writeHTTP lists http-keepalive-race's counts per case, and which rule the drill proves.
func writeHTTP(b *strings.Builder, rep drill.Report) {
	first := true
	for _, r := range rep.Runs {
		h := r.HTTP
		if h == nil {
			continue
		}
		if first {
			b.WriteString("\nrequests through the proxy (idle gaps swept around the backend's idle timeout):\n")
			first = false
		}
		fmt.Fprintf(b, "  %s: %d of %d failed = %.1f per 1000 (%d 5xx, %d without an answer), gaps %v-%v\n",
			r.Case, h.Failures(), h.Requests, h.PerThousand(), h.Status5xx, h.NoAnswer, h.GapMin.Round(time.Millisecond), h.GapMax.Round(time.Millisecond))
	}
	if !first {
		b.WriteString("A backend that closes idle keep-alive connections before the proxy's pool gives them up makes requests fail; " +
			"a backend idle timeout above the pool's makes none fail. keeptune lint and audit flag the first as KT701 (docs/rules.md#kt701).\n")
	}
}
