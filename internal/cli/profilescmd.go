package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/profiles"
)

func newProfilesCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "profiles",
		Short: "List the built-in workload profiles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tIDLE\tINTERVAL\tPROBES\tMAX DETECTION\tMAX UNACKED\tSOURCE")
			for _, p := range profiles.Builtin() {
				fmt.Fprintf(tw, "%s\t%v-%v\t%v-%v\t%d-%d\t%v\t%v\t%s\n", p.Name, p.Idle.Min, p.Idle.Max, p.Interval.Min, p.Interval.Max,
					p.Probes.Min, p.Probes.Max, p.MaxDetection, p.MaxUnackedTimeout, p.Source)
			}
			return tw.Flush()
		},
	}
}
