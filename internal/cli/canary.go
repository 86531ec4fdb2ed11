package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/canary"
	"github.com/keeptune/keeptune/internal/jsonx"
)

// canaryRequest is what --canary and its companions ask for.
type canaryRequest struct {
	Window            time.Duration
	NoRollback        bool
	Prometheus, Query string
}

func addCanaryFlags(f *pflag.FlagSet, window *time.Duration, noRollback *bool, prom, query *string) {
	f.DurationVar(window, "canary", 0, "measure the kernel's TCP counters for DURATION before and after the change; roll back on a regression")
	f.BoolVar(noRollback, "no-rollback", false, "on a regression, report it but keep the change")
	f.StringVar(prom, "prometheus", "", "Prometheus base URL for an application signal, judged with the kernel's counters")
	f.StringVar(query, "query", "", "PromQL giving a count of bad events over the window ($window is replaced by its length), with --prometheus")
}

func checkCanaryFlags(window time.Duration, prom, query string, dryRun bool) error {
	if (prom == "") != (query == "") {
		return usageErr(errors.New("--prometheus and --query go together"))
	}
	if window < 0 {
		return usageErr(errors.New("--canary needs a positive duration"))
	}
	if prom != "" && window == 0 {
		return usageErr(errors.New("--prometheus is judged by the canary: add --canary DURATION"))
	}
	if window > 0 && dryRun {
		return usageErr(errors.New("--canary measures a real change: it does not go with --dry-run"))
	}
	return nil
}

// canaryNamespaces are the namespaces a request changes: this one when it touches files,
// configurations or its own sysctls, and every other namespace it sets values in.
func canaryNamespaces(req *apply.Request) []canary.Namespace {
	var out []canary.Namespace
	seen := map[string]bool{}
	add := func(name, path string) {
		if !seen[path] {
			seen[path] = true
			out = append(out, canary.Namespace{Name: name, Path: path})
		}
	}
	if len(req.Files)+len(req.Removes)+len(req.Configs) > 0 {
		add("host", "")
	}
	for _, s := range req.Sysctls {
		name := s.Scope
		if s.Netns.Path == "" {
			name = "host"
		}
		add(name, s.Netns.Path)
	}
	if len(out) == 0 {
		add("host", "")
	}
	return out
}

// canaryRun holds the window measured before the change.
type canaryRun struct {
	req  canaryRequest
	base *canary.Baseline
}

// startCanary measures the window before the change. Interrupted, it has changed nothing.
func startCanary(ctx context.Context, r canaryRequest, req *apply.Request, stdio IO) (*canaryRun, error) {
	nss := canaryNamespaces(req)
	fmt.Fprintf(stdio.Err, "canary: measuring %s before the change in %s\n", r.Window, nsNames(nss))
	ws, err := canary.Measure(ctx, nss, r.Window)
	if err != nil {
		if ctx.Err() != nil {
			return nil, runtimeErr(errors.New("interrupted while measuring before the change: nothing was changed"))
		}
		return nil, runtimeErr(err)
	}
	base := &canary.Baseline{Namespaces: nss, Windows: ws}
	if r.Prometheus != "" {
		v, err := canary.QueryPrometheus(ctx, r.Prometheus, r.Query, ws[0].End.Time, r.Window)
		if err != nil {
			return nil, runtimeErr(fmt.Errorf("%w (nothing was changed)", err))
		}
		base.Application = &canary.AppSample{Query: r.Query, Value: v, Seconds: ws[0].Seconds()}
	}
	return &canaryRun{req: r, base: base}, nil
}

func nsNames(nss []canary.Namespace) string {
	var names []string
	for _, n := range nss {
		names = append(names, n.Name)
	}
	return strings.Join(names, ", ")
}

// finish stores the baseline with the apply, measures the window after it and acts on the
// verdict.
func (c *canaryRun) finish(ctx context.Context, j *apply.Journal, id string, stdio IO) (*canary.Verdict, error) {
	b, err := json.Marshal(c.base)
	if err != nil {
		return nil, runtimeErr(err)
	}
	if err := j.SaveBlob(id, "canary-before.json", b); err != nil {
		return nil, runtimeErr(err)
	}
	return judgeAfter(ctx, j, id, c.base, c.req, stdio)
}

// judgeAfter measures a window now, compares it with base, and rolls back on a regression
// unless told not to. An interrupt leaves the change in place. The error decides the exit code
// (errRegression for a regression) and comes with a verdict to render whenever there is one.
func judgeAfter(ctx context.Context, j *apply.Journal, id string, base *canary.Baseline, r canaryRequest, stdio IO) (*canary.Verdict, error) {
	fmt.Fprintf(stdio.Err, "canary: measuring %s after the change in %s\n", r.Window, nsNames(base.Namespaces))
	after, err := canary.Measure(ctx, base.Namespaces, r.Window)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &exitError{code: ExitRuntime, err: fmt.Errorf("interrupted while measuring after the change: apply %s stays in place", id),
				hint: fmt.Sprintf("judge it later with `keeptune verify %s --window %s`, or undo it with `keeptune rollback %s`", id, r.Window, id)}
		}
		return nil, runtimeErr(err)
	}
	var app *canary.AppSample
	if r.Prometheus != "" && base.Application != nil {
		v, err := canary.QueryPrometheus(ctx, r.Prometheus, r.Query, after[0].End.Time, r.Window)
		if err != nil {
			return nil, runtimeErr(fmt.Errorf("%w (apply %s stays in place)", err, id))
		}
		app = &canary.AppSample{Query: r.Query, Value: v, Seconds: after[0].Seconds()}
	}
	v := canary.Decide(id, base, after, app, canary.Config{})
	v.Action = "kept"
	var rollbackErr error
	if v.Verdict == canary.VerdictRegression {
		if r.NoRollback {
			v.Action = "kept_no_rollback"
		} else {
			fmt.Fprintf(stdio.Err, "canary: regression: rolling back %s\n", id)
			if _, err := apply.Rollback(j, id, apply.Options{}); err != nil {
				rollbackErr = err
				v.Action = "rollback_failed"
			} else {
				v.Action = "rolled_back"
			}
		}
	}
	if b, err := json.MarshalIndent(v, "", "  "); err == nil {
		_ = j.SaveBlob(id, "verdict-"+v.AfterEnd.Format("20060102T150405Z")+".json", append(b, '\n'))
	}
	if rollbackErr != nil {
		return v, applyErr(fmt.Errorf("the canary found a regression, and the rollback failed: %w", rollbackErr))
	}
	if v.Verdict == canary.VerdictRegression {
		return v, errRegression
	}
	return v, nil
}

// errRegression makes a regression verdict exit 1, as findings do: scripts and Ansible stop.
var errRegression = &exitError{code: ExitFindings, err: errors.New("the canary judged the change a regression")}

func renderVerdict(w io.Writer, output string, v *canary.Verdict) error {
	if output == "json" {
		enc := jsonx.NewEncoder(w)
		return enc.Encode(v)
	}
	fmt.Fprintf(w, "canary verdict for %s: %s (windows of %s; alpha %.2g with Holm, a rise counts from %.2gx)\n",
		v.ApplyID, strings.ReplaceAll(v.Verdict, "_", " "), v.AfterEnd.Sub(v.AfterStart).Round(time.Second), v.Alpha, v.MinRatio)
	for _, r := range v.Reasons {
		fmt.Fprintf(w, "  %s\n", r)
	}
	for _, ns := range v.Namespaces {
		if ns.Idle() {
			fmt.Fprintf(w, "%s: no TCP activity in either window (no connection opened, no counter moved): nothing to judge\n", ns.Name)
			continue
		}
		fmt.Fprintf(w, "%s: %d connections opened before, %d after; established %d -> %d\n", ns.Name, ns.OpensBefore, ns.OpensAfter, ns.CurrEstabBefore, ns.CurrEstabAfter)
		fmt.Fprintf(w, "  %-18s %8s %8s  %-12s %s\n", "COUNTER", "BEFORE", "AFTER", "JUDGEMENT", "WHY")
		for _, r := range ns.Counters {
			fmt.Fprintf(w, "  %-18s %8d %8d  %-12s %s\n", r.Counter, r.Before, r.After, r.Judgement, r.Why)
		}
		if ns.SocketsAfter != nil && len(ns.SocketsAfter.CloseWaitByProcess) > 0 {
			fmt.Fprintf(w, "  CLOSE_WAIT after: %v\n", ns.SocketsAfter.CloseWaitByProcess)
		}
	}
	if a := v.Application; a != nil {
		fmt.Fprintf(w, "application %s: %d -> %d, %s (%s)\n", a.Counter, a.Before, a.After, a.Judgement, a.Why)
	}
	switch v.Action {
	case "rolled_back":
		fmt.Fprintf(w, "rolled back %s\n", v.ApplyID)
	case "kept_no_rollback":
		fmt.Fprintf(w, "kept %s (--no-rollback); undo with keeptune rollback %s\n", v.ApplyID, v.ApplyID)
	}
	return nil
}
