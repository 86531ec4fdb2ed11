package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/canary"
)

// VerifyOptions are the flags of `keeptune verify`.
type VerifyOptions struct {
	Output     string
	StateDir   string
	Window     time.Duration
	NoRollback bool
	Prometheus string
	Query      string
}

func newVerifyCmd(stdio IO) *cobra.Command {
	opts := VerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify ID --window DURATION",
		Short: "Judge an apply later: a window now against the window its canary measured before the change",
		Long: "verify measures the kernel's TCP counters for --window in the namespaces apply ID changed, and\n" +
			"compares them with the window `apply --canary` measured before the change (kept in the journal),\n" +
			"with the canary's test. On a regression it rolls the apply back unless --no-rollback; exit 1.",
		Example: "  keeptune verify 20261205T063012Z-3f2a --window 10m",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, args[0], opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&opts.StateDir, "state-dir", apply.DefaultStateDir, "where the journal lives")
	f.DurationVar(&opts.Window, "window", 0, "how long to measure (required)")
	f.BoolVar(&opts.NoRollback, "no-rollback", false, "on a regression, report it but keep the change")
	f.StringVar(&opts.Prometheus, "prometheus", "", "Prometheus base URL for the application signal the canary measured")
	f.StringVar(&opts.Query, "query", "", "PromQL of the application signal (as given to apply)")
	return cmd
}

func runVerify(cmd *cobra.Command, id string, opts VerifyOptions, stdio IO) error {
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return err
	}
	if opts.Window <= 0 {
		return usageErr(errors.New("verify needs --window DURATION"))
	}
	if err := checkCanaryFlags(opts.Window, opts.Prometheus, opts.Query, false); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return privilegeErr(errors.New("verify reads other namespaces' counters and may roll back"), "run it as root")
	}
	j, err := apply.OpenJournal(opts.StateDir)
	if err != nil {
		return runtimeErr(err)
	}
	defer j.Close()
	e, err := j.Load(id)
	if err != nil {
		return usageErr(err)
	}
	if e.State != apply.StateApplied {
		return usageErr(fmt.Errorf("apply %s is %s: nothing to verify", id, e.State))
	}
	raw, err := j.Blob(id, "canary-before.json")
	if err != nil {
		return usageErr(fmt.Errorf("apply %s has no window measured before the change: apply with --canary DURATION to measure one", id))
	}
	var base canary.Baseline
	if err := json.Unmarshal(raw, &base); err != nil {
		return runtimeErr(fmt.Errorf("journal %s: canary-before.json: %w", id, err))
	}
	r := canaryRequest{Window: opts.Window, NoRollback: opts.NoRollback, Prometheus: opts.Prometheus, Query: opts.Query}
	v, err := judgeAfter(cmd.Context(), j, id, &base, r, stdio)
	if v != nil {
		if rerr := renderVerdict(stdio.Out, opts.Output, v); rerr != nil {
			return rerr
		}
	}
	return err
}
