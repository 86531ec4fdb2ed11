package cli

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/pflag"

	"github.com/keeptune/keeptune/internal/apply"
)

type canaryRequest struct {
	Window            time.Duration
	NoRollback        bool
	Prometheus, Query string
}

func addCanaryFlags(f *pflag.FlagSet, window *time.Duration, noRollback *bool, prom, query *string) {
	f.DurationVar(window, "canary", 0, "measure DURATION before and after the change and roll back on a regression")
	f.BoolVar(noRollback, "no-rollback", false, "report a regression but keep the change")
	f.StringVar(prom, "prometheus", "", "Prometheus base URL for an application signal judged with the kernel's counters")
	f.StringVar(query, "query", "", "PromQL giving a count of bad events (errors) over the window, with --prometheus")
}

func checkCanaryFlags(window time.Duration, prom, query string, dryRun bool) error {
	if (prom == "") != (query == "") {
		return usageErr(errors.New("--prometheus and --query go together"))
	}
	if window < 0 {
		return usageErr(errors.New("--canary needs a positive duration"))
	}
	return nil
}

type canaryRun struct{}

func startCanary(ctx context.Context, r canaryRequest, req *apply.Request, stdio IO) (*canaryRun, error) {
	return nil, runtimeErr(errors.New("--canary is not implemented yet"))
}

func (c *canaryRun) finish(ctx context.Context, j *apply.Journal, id, output string, stdio IO) error {
	return nil
}
