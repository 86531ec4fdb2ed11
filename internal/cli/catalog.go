package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keeptune/keeptune/internal/textfmt"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/catalog"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// CatalogOptions are the flags of keeptune catalog.
type CatalogOptions struct {
	Output string // text or json
}

func newCatalogCmd(stdio IO) *cobra.Command {
	var opts CatalogOptions
	cmd := &cobra.Command{
		Use:   "catalog [NAME]",
		Short: "List the built-in middlebox and software defaults, or explain one entry",
		Long: "keeptune catalog lists what keeptune knows about the hops it cannot read from the host:\n" +
			"idle timeouts and expiry behaviour of NAT gateways, load balancers and firewalls, and the\n" +
			"keepalive defaults of servers, proxies and client libraries, each with its source.\n" +
			"keeptune catalog NAME (a name or alias) explains one entry: every value it states.\n" +
			"-o json writes an array of entries, or one entry when NAME is given (docs/catalog.md).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCatalog(stdio, opts, args)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runCatalog(stdio IO, opts CatalogOptions, args []string) error {
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return err
	}
	if len(args) == 1 {
		e, ok := catalog.Lookup(args[0])
		if !ok {
			return unknownEntryErr(args[0])
		}
		if opts.Output == "json" {
			return writeJSON(stdio.Out, e)
		}
		return explainEntry(stdio.Out, e)
	}
	all := catalog.All()
	if opts.Output == "json" {
		return writeJSON(stdio.Out, all)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
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

// unknownEntryErr is a usage error (exit 2) that suggests the nearest name, because the likely
// cause is a typo in a name copied from a chain file.
func unknownEntryErr(name string) error {
	err := fmt.Errorf("unknown catalog entry %q", name)
	if near := yamlx.Nearest(name, catalog.Keys()); near != "" {
		err = fmt.Errorf("unknown catalog entry %q: did you mean %q?", name, near)
	}
	return &exitError{code: ExitUsage, err: err, hint: "run keeptune catalog to list the entries"}
}

// explainEntry prints every value the entry states. All of them come from the entry's source,
// so the source is printed once, above them, with whether it was checked.
func explainEntry(w io.Writer, e catalog.Entry) error {
	fmt.Fprintf(w, "%s: %s (%s)\n", e.Name, e.Title, e.Kind)
	if len(e.Aliases) > 0 {
		fmt.Fprintf(w, "aliases:  %s\n", strings.Join(e.Aliases, ", "))
	}
	fmt.Fprintf(w, "source:   %s\n", strings.TrimLeft(wrap(e.Source, "          ", 96), " "))
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
		fmt.Fprintf(w, "\nnotes:\n%s\n", wrap(e.Notes, "  ", 96))
	}
	return nil
}

// wrap breaks text into lines of at most width characters (longer words, such as URLs, stay
// whole), each starting with indent: textfmt's wrapper, as everywhere.
func wrap(text, indent string, width int) string {
	return strings.Join(textfmt.Wrap(text, width, indent), "\n")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
