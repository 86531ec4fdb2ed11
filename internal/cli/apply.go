package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/canary"
	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/plan"
)

// ApplyOptions are the flags of `keeptune apply`.
type ApplyOptions struct {
	Output     string
	Yes        bool
	DryRun     bool
	Only       []string
	StateDir   string
	Canary     time.Duration
	NoRollback bool
	Prometheus string
	Query      string
}

func newApplyCmd(stdio IO) *cobra.Command {
	opts := ApplyOptions{}
	cmd := &cobra.Command{
		Use:   "apply [PLAN.json]",
		Short: "Apply a plan: the sysctl.d file, live values per namespace, server configurations; journaled",
		Long: "apply carries out a plan. With PLAN.json (from `keeptune plan -o json`) it applies exactly that\n" +
			"reviewed plan, and refuses, changing nothing, when the host drifted since the plan was made (a\n" +
			"planned \"from\" no longer holds). Without it, it plans now and applies that.\n\n" +
			"It writes the plan's sysctl.d file, deletes the lines the plan removes (nothing else under /etc),\n" +
			"sets live sysctls in every namespace, and edits nginx, HAProxy and Apache configurations (checked\n" +
			"with the server's own check first, swapped in atomically, the server reloaded). Kubernetes and\n" +
			"code changes are printed, not applied. Every apply is journaled under --state-dir first, with the\n" +
			"previous bytes of every file and the previous live values: `keeptune rollback` undoes it exactly.\n\n" +
			"--canary DURATION measures the kernel's TCP counters for DURATION before and after the change and\n" +
			"rolls back on a regression (unless --no-rollback). It never rolls back because it was interrupted.",
		Example: "  keeptune plan -o json > plan.json && keeptune apply plan.json\n" +
			"  keeptune apply --dry-run\n  keeptune apply --yes --only host plan.json\n" +
			"  keeptune apply --yes --canary 10m plan.json",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			return runApply(cmd.Context(), file, opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	f.BoolVarP(&opts.Yes, "yes", "y", false, "apply without asking (needed when not on a terminal)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would change and change nothing")
	f.StringSliceVar(&opts.Only, "only", nil, "limit to these scopes: "+strings.Join(apply.OnlyScopes, ", ")+" (comma separated)")
	f.StringVar(&opts.StateDir, "state-dir", apply.DefaultStateDir, "where the journal lives")
	addCanaryFlags(f, &opts.Canary, &opts.NoRollback, &opts.Prometheus, &opts.Query)
	return cmd
}

// planNow makes a plan of this host for apply without a file; nil until the planner is wired.
var planNow func(ctx context.Context) (*plan.Plan, []byte, error)

func readPlan(ctx context.Context, file string) (*plan.Plan, []byte, string, error) {
	if file == "" {
		if planNow == nil {
			return nil, nil, "", usageErr(errors.New("apply needs a plan file: this build cannot plan on its own yet; run `keeptune plan -o json > plan.json` and `keeptune apply plan.json`"))
		}
		p, raw, err := planNow(ctx)
		if err != nil {
			return nil, nil, "", runtimeErr(fmt.Errorf("plan: %w", err))
		}
		return p, raw, "planned at apply", nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, "", usageErr(err)
	}
	var p plan.Plan
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, nil, "", usageErr(fmt.Errorf("%s is not a keeptune plan (keeptune plan -o json): %w", file, err))
	}
	return &p, raw, file, nil
}

func runApply(ctx context.Context, file string, opts ApplyOptions, stdio IO) error {
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return err
	}
	if err := checkCanaryFlags(opts.Canary, opts.Prometheus, opts.Query, opts.DryRun); err != nil {
		return err
	}
	p, raw, source, err := readPlan(ctx, file)
	if err != nil {
		return err
	}
	if file == "" {
		// Say which plan this is: apply has no --profile, so a reader who planned with another
		// profile would otherwise take these values for that plan's.
		fmt.Fprintf(stdio.Err, "keeptune apply: no plan file: planned now with profile %s (to review or choose: keeptune plan --profile NAME -o json > plan.json; keeptune apply plan.json)\n", p.Profile)
	}
	req, printed, err := apply.FromPlan(p, raw, source, opts.Only)
	if err != nil {
		return usageErr(err)
	}
	if os.Geteuid() != 0 && !opts.DryRun {
		return privilegeErr(errors.New("apply changes /etc and live sysctls"), "run it as root, or look first with --dry-run")
	}
	// The steps are printed once, in the summary; the journal has them too.
	ao := apply.Options{}
	// Look first: what would change (and whether the plan still fits the host).
	dry := ao
	dry.DryRun = true
	dry.Log = nil
	j, err := apply.OpenJournal(opts.StateDir)
	if err != nil {
		if opts.DryRun {
			j = nil
		} else {
			return runtimeErr(err)
		}
	}
	if j != nil {
		defer j.Close()
	}
	if !opts.DryRun {
		// An apply or rollback a crash interrupted is dealt with before looking at the host.
		if _, err := apply.Recover(j, ao); err != nil {
			return applyErr(err)
		}
	}
	preview, err := apply.Apply(j, req, dry)
	if err != nil {
		return applyErr(err)
	}
	if opts.DryRun || preview.NothingToDo {
		return renderApply(stdio.Out, opts.Output, preview, printed, "", nil)
	}
	if !opts.Yes {
		interactive := stdio.OutIsTerminal && isTerminal(os.Stdin)
		renderSteps(stdio.Err, preview.Steps)
		if !interactive {
			return usageErr(errors.New("not on a terminal: add --yes to apply these changes (or --dry-run to only look)"))
		}
		if !confirm(os.Stdin, stdio.Err, "Apply these changes? [y/N] ") {
			fmt.Fprintln(stdio.Err, "nothing was changed")
			return nil
		}
	}
	var watch *canaryRun
	if opts.Canary > 0 {
		// The window before the change: the same length as the one after.
		watch, err = startCanary(ctx, canaryRequest{Window: opts.Canary, NoRollback: opts.NoRollback, Prometheus: opts.Prometheus, Query: opts.Query}, req, stdio)
		if err != nil {
			return err
		}
	}
	res, err := apply.Apply(j, req, ao)
	if err != nil {
		return applyErr(err)
	}
	if watch == nil || res.ID == "" {
		return renderApply(stdio.Out, opts.Output, res, printed, j.Dir(), nil)
	}
	if opts.Output == "text" {
		// The apply is done: say so before the window after it.
		if err := renderApply(stdio.Out, opts.Output, res, printed, j.Dir(), nil); err != nil {
			return err
		}
	}
	v, err := watch.finish(ctx, j, res.ID, stdio)
	if v != nil {
		var rerr error
		if opts.Output == "json" {
			rerr = renderApply(stdio.Out, opts.Output, res, printed, j.Dir(), v)
		} else {
			rerr = renderVerdict(stdio.Out, opts.Output, v)
		}
		if rerr != nil {
			return rerr
		}
	}
	return err
}

type canaryVerdict = canary.Verdict

// applyJSON is what `apply -o json` writes (docs/json.md, ApplyResult).
type applyJSON struct {
	*apply.Result
	NotApplied []string       `json:"not_applied,omitempty"`
	Canary     *canaryVerdict `json:"canary,omitempty"`
}

// applyErr gives drift and conflicts their exit code and a hint.
func applyErr(err error) error {
	var de *apply.DriftError
	if errors.As(err, &de) {
		return &exitError{code: ExitRuntime, err: err, hint: "make a new plan (keeptune plan -o json) and review it"}
	}
	var ce *apply.ConflictError
	if errors.As(err, &ce) {
		return &exitError{code: ExitRuntime, err: err, hint: "look at the changes; `keeptune rollback --force " + ce.ID + "` restores the files as they were before the apply anyway"}
	}
	return runtimeErr(err)
}

func confirm(in io.Reader, out io.Writer, prompt string) bool {
	fmt.Fprint(out, prompt)
	line, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func renderSteps(w io.Writer, steps []apply.Step) {
	for _, s := range steps {
		verb := map[string]string{"file": "write", "remove": "remove", "sysctl": "set", "config": "edit", "reload": "reload"}[s.Kind]
		switch s.Status {
		case "done":
			verb = map[string]string{"file": "wrote", "remove": "removed", "sysctl": "set", "config": "edited", "reload": "reloaded"}[s.Kind]
		case "already":
			verb = "ok"
		}
		line := fmt.Sprintf("  %-8s %s", verb, s.Target)
		switch {
		case s.Kind == "file" && (s.To == "restored" || s.To == "removed"):
			line = fmt.Sprintf("  %-8s %s", s.To, s.Target)
		case s.Kind == "remove":
			line += "  " + s.From
		case s.From != "" || s.To != "":
			if s.From != "" {
				line += fmt.Sprintf(": %s -> %s", s.From, s.To)
			} else {
				line += ": " + s.To
			}
		}
		if s.Status == "already" {
			line += " (already)"
		}
		fmt.Fprintln(w, line)
	}
}

func renderApply(w io.Writer, output string, res *apply.Result, printed []string, stateDir string, v *canaryVerdict) error {
	if output == "json" {
		enc := jsonx.NewEncoder(w)
		if res.Steps == nil {
			res.Steps = []apply.Step{}
		}
		return enc.Encode(applyJSON{res, printed, v})
	}
	for _, r := range res.Recovered {
		fmt.Fprintf(w, "recovered: %s\n", r)
	}
	switch {
	case res.NothingToDo:
		fmt.Fprintln(w, "nothing to do: the host already matches the plan")
	case res.ID == "":
		fmt.Fprintln(w, "would change (dry run, nothing changed):")
	default:
		fmt.Fprintf(w, "applied %s:\n", res.ID)
	}
	if !res.NothingToDo {
		renderSteps(w, res.Steps)
	}
	if res.ID != "" {
		fmt.Fprintf(w, "journal: %s/journal/%s (undo: keeptune rollback %s)\n", stateDir, res.ID, res.ID)
	}
	if len(printed) > 0 {
		fmt.Fprintln(w, "not applied by keeptune (do these where they belong):")
		for _, p := range printed {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(p, "\n", "\n    "))
		}
	}
	return nil
}
