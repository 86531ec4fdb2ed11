package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/rules"
)

func newRulesCmd(stdio IO) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "rules [ID|NAME]",
		Short: "List the rules, or explain one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			all := rules.All()
			if len(args) == 1 {
				sel, err := rules.Select(rules.Selection{Enable: args})
				if err != nil {
					return usageErr(err)
				}
				all = sel
			}
			switch output {
			case "json":
				// snake_case like every other JSON output (docs/json.md, "Rules").
				type doc struct {
					ID       string `json:"id"`
					Name     string `json:"name"`
					Title    string `json:"title"`
					Severity string `json:"severity"`
					What     string `json:"what"`
					Why      string `json:"why"`
					Fix      string `json:"fix"`
					Source   string `json:"source"`
				}
				var docs []doc
				for _, r := range all {
					docs = append(docs, doc{r.ID, r.Name, r.Title, r.Severity.String(), r.What, r.Why, r.Fix, r.Source})
				}
				enc := jsonx.NewEncoder(stdio.Out)
				return enc.Encode(docs)
			case "text":
			default:
				return checkOutput(output, textOrJSON)
			}
			if len(args) == 1 {
				r := all[0]
				fmt.Fprintf(stdio.Out, "%s %s (%s, up to %s)\n%s\n\nWhat:   %s\nWhy:    %s\nFix:    %s\nSource: %s\n",
					r.ID, r.Name, r.Title, r.Severity, "", r.What, r.Why, r.Fix, r.Source)
				return nil
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSEVERITY\tTITLE")
			for _, r := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Severity, r.Title)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
