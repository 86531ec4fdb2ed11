package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keeptune/keeptune/internal/catalog"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// CatalogTable lists catalog entries (`keeptune catalog`): one line each with the values a
// chain hop takes from it.
func CatalogTable(w io.Writer, all []catalog.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tLAYER\tIDLE\tRANGE\tREFRESH\tEXPIRY\tVERIFIED")
	for _, e := range all {
		layer, rng, refresh, expiry := "-", "-", "-", "-"
		if e.Kind == catalog.KindMiddlebox {
			layer = fmt.Sprint(e.Layer)
			rng = orDash(e.RangeText())
			refresh = orUnknown(string(e.RefreshedBy))
			expiry = orUnknown(string(e.OnExpiry))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, layer, e.IdleSummary(), rng, refresh, expiry, yesNo(e.Verified))
	}
	return tw.Flush()
}

// CatalogEntry explains one entry (`keeptune catalog NAME`): every value it states. All of
// them come from the entry's source, so the source is printed once, above them, with whether it
// was checked.
func CatalogEntry(w io.Writer, e catalog.Entry) error {
	fmt.Fprintf(w, "%s: %s (%s)\n", e.Name, e.Title, e.Kind)
	if len(e.Aliases) > 0 {
		fmt.Fprintf(w, "aliases:  %s\n", strings.Join(e.Aliases, ", "))
	}
	fmt.Fprintf(w, "source:   %s\n", strings.TrimLeft(wrapText(e.Source, "          ", 96), " "))
	if e.Verified {
		fmt.Fprintln(w, "verified: yes (every value below was checked against the source)")
	} else {
		fmt.Fprintln(w, "verified: no (secondary material: confirm before relying on it)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := "-"
	for _, v := range e.Values() {
		if v.Side != section {
			if section != "-" {
				fmt.Fprintln(tw)
			}
			section = v.Side
			switch section {
			case "downstream":
				fmt.Fprintln(tw, "downstream (connections it accepts):")
			case "upstream":
				fmt.Fprintln(tw, "upstream (connections it opens):")
			}
		}
		indent := ""
		if v.Side != "" {
			indent = "  "
		}
		fmt.Fprintf(tw, "%s%s\t%s\n", indent, v.Label, v.Text)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nvalues not listed are not stated by the source: keeptune treats them as unknown")
	if e.Notes != "" {
		fmt.Fprintf(w, "\nnotes:\n%s\n", wrapText(e.Notes, "  ", 96))
	}
	return nil
}

// wrapText breaks text into lines of at most width characters, each starting with indent.
func wrapText(text, indent string, width int) string {
	return strings.Join(textfmt.Wrap(text, width, indent), "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
