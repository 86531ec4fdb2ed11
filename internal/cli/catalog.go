package cli

import (
	"io"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/report"
	"github.com/spf13/cobra"
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
		e, err := gather.CatalogEntry(args[0])
		if err != nil {
			// A usage error: the likely cause is a typo in a name copied from a chain file.
			return &exitError{code: ExitUsage, err: err, hint: "run keeptune catalog to list the entries"}
		}
		if opts.Output == "json" {
			return writeJSON(stdio.Out, e)
		}
		return report.CatalogEntry(stdio.Out, e)
	}
	all := gather.Catalog()
	if opts.Output == "json" {
		return writeJSON(stdio.Out, all)
	}
	return report.CatalogTable(stdio.Out, all)
}

func writeJSON(w io.Writer, v any) error {
	enc := jsonx.NewEncoder(w)
	return enc.Encode(v)
}
