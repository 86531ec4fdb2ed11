package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/report"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// ProfilesOptions are the flags of `keeptune profiles`.
type ProfilesOptions struct {
	Output string
}

func newProfilesCmd(stdio IO) *cobra.Command {
	opts := ProfilesOptions{}
	cmd := &cobra.Command{
		Use:   "profiles [NAME|FILE]",
		Short: "List the built-in workload profiles, or show one with the values fixes use",
		Long: "profiles lists the built-in workload profiles: the ranges keepalive values should fall in,\n" +
			"the longest a dead peer may go unnoticed, and the recommended values every fix proposes.\n" +
			"With a NAME (or a custom profile FILE) it shows that profile and the sysctl lines a fix\n" +
			"would write.",
		Example: "  keeptune profiles\n  keeptune profiles api-gateway\n  keeptune profiles -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(opts.Output, textOrJSON); err != nil {
				return err
			}
			if len(args) == 1 {
				p, err := profiles.Resolve(args[0])
				if err != nil {
					return usageErr(err)
				}
				if opts.Output == "json" {
					return writeJSON(stdio.Out, report.ProfileJSON(p))
				}
				writeProfile(stdio, p)
				return nil
			}
			all := profiles.Builtin()
			if opts.Output == "json" {
				out := make([]any, 0, len(all))
				for _, p := range all {
					out = append(out, report.ProfileJSON(p))
				}
				return writeJSON(stdio.Out, out)
			}
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tIDLE\tINTERVAL\tPROBES\tRECOMMENDED\tMAX DETECTION\tMAX UNACKED\tRETRIES2")
			for _, p := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d-%d\t%s\t%s\t%s\t%d\n", p.Name, durRange(p.Idle), durRange(p.Interval),
					p.Probes.Min, p.Probes.Max, recommended(p), textfmt.Duration(p.MaxDetection), textfmt.Duration(p.MaxUnackedTimeout), p.Retries2)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(stdio.Out, "\nRECOMMENDED is idle/interval/probes, the values every fix proposes; keeptune profiles NAME shows the lines.")
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func durRange(r model.DurationRange) string {
	return textfmt.Duration(r.Min) + "-" + textfmt.Duration(r.Max)
}

func recommended(p model.Profile) string {
	return fmt.Sprintf("%s/%s/%d", textfmt.Duration(p.Idle.Recommended), textfmt.Duration(p.Interval.Recommended), p.Probes.Recommended)
}

// writeProfile shows one profile with the sysctl lines a fix writes.
func writeProfile(stdio IO, p model.Profile) {
	w := stdio.Out
	fmt.Fprintf(w, "%s: %s\n", p.Name, p.Description)
	fmt.Fprintf(w, "source:          %s\n", strings.Join(textfmt.Wrap(p.Source, 96, "                 "), "\n")[17:])
	fmt.Fprintf(w, "idle:            %s (recommended %s)\n", durRange(p.Idle), textfmt.Duration(p.Idle.Recommended))
	fmt.Fprintf(w, "interval:        %s (recommended %s)\n", durRange(p.Interval), textfmt.Duration(p.Interval.Recommended))
	fmt.Fprintf(w, "probes:          %d-%d (recommended %d)\n", p.Probes.Min, p.Probes.Max, p.Probes.Recommended)
	fmt.Fprintf(w, "max detection:   %s (recommended values: %s)\n", textfmt.Duration(p.MaxDetection), textfmt.Duration(p.RecommendedDetection()))
	fmt.Fprintf(w, "max unacked:     %s (tcp_retries2 = %d when exceeded)\n", textfmt.Duration(p.MaxUnackedTimeout), p.Retries2)
	fmt.Fprintf(w, "\nA fix for the host's keepalive sysctls writes:\n")
	fmt.Fprintf(w, "  %s = %d\n  %s = %d\n  %s = %d\n", model.KeyKeepaliveTime, int64(p.Idle.Recommended.Seconds()),
		model.KeyKeepaliveIntvl, int64(p.Interval.Recommended.Seconds()), model.KeyKeepaliveProbes, p.Probes.Recommended)
	fmt.Fprintf(w, "and, for unacknowledged data beyond %s:\n  %s = %d\n", textfmt.Duration(p.MaxUnackedTimeout), model.KeyRetries2, p.Retries2)
}
