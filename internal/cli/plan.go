package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/profiles"
)

// PlanOptions are the flags of `keeptune plan`.
type PlanOptions struct {
	Output            string
	Profile           string
	AllNetns          bool
	ExpectConnections int
	Root              string
	Chain             string
	NoChain           bool
	NoConfigs         bool
}

// planFormats are the forms of -o.
var planFormats = []string{"text", "json", "sysctl", "diff"}

func newPlanCmd(stdio IO) *cobra.Command {
	opts := PlanOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "One consistent target for every keepalive and timeout setting, and how to get there",
		Long: "plan reads what audit reads (sysctls and the files that set them, every network namespace with\n" +
			"--all-netns, server configurations, the chain file) and picks one value per setting per scope:\n" +
			"the chain's hard constraints first (keepalive below every middlebox timeout it must refresh, ...),\n" +
			"then the profile. It prints where each setting is today, why the target, and how to apply it:\n" +
			"one sysctl.d file that wins under systemd-sysctl and procps sysctl --system, the lines to remove\n" +
			"elsewhere, commands per namespace. `keeptune apply` carries out `plan -o json`.",
		Example: "  keeptune plan\n  keeptune plan -o sysctl | sudo tee /etc/sysctl.d/99-zz-keeptune.conf\n" +
			"  keeptune plan -o json > plan.json && sudo keeptune apply plan.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(opts.Output, planFormats); err != nil {
				return err
			}
			p, err := makePlan(cmd.Context(), opts, cmd.Flags().Changed("profile"))
			if err != nil {
				return err
			}
			return renderPlan(stdio, opts.Output, p)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output: text, json (what apply reads), sysctl (the host's sysctl.d file) or diff (configuration diffs)")
	f.StringVar(&opts.Profile, "profile", profiles.Default, "workload profile: "+strings.Join(profiles.Names(), ", ")+", or a YAML file")
	f.BoolVar(&opts.AllNetns, "all-netns", false, "plan every network namespace in use (needs root)")
	f.IntVar(&opts.ExpectConnections, "expect-connections", 0, "concurrent connections the host must hold")
	f.StringVar(&opts.Root, "root", "/", "read facts from this directory instead of / (a copy of /proc and /etc)")
	f.StringVar(&opts.Chain, "chain", "", "chain file (default: ./keeptune.yaml or /etc/keeptune/keeptune.yaml if present)")
	f.BoolVar(&opts.NoChain, "no-chain", false, "do not look for a chain file")
	f.BoolVar(&opts.NoConfigs, "no-configs", false, "do not read server configurations")
	return cmd
}

func init() {
	// apply without a plan file plans this host with the defaults.
	planNow = func(ctx context.Context) (*plan.Plan, []byte, error) {
		p, err := makePlan(ctx, PlanOptions{Profile: profiles.Default, Root: "/"}, false)
		if err != nil {
			return nil, nil, err
		}
		raw, err := json.MarshalIndent(p, "", "  ")
		return p, append(raw, '\n'), err
	}
}

// makePlan gathers the facts the way audit does (internal/gather, without the socket table)
// and plans.
func makePlan(ctx context.Context, opts PlanOptions, profileSet bool) (*plan.Plan, error) {
	if opts.ExpectConnections < 0 {
		return nil, usageErr(fmt.Errorf("invalid --expect-connections %d: expected a positive number of connections", opts.ExpectConnections))
	}
	if opts.AllNetns && opts.Root == "/" && os.Geteuid() != 0 {
		return nil, privilegeErr(fmt.Errorf("--all-netns needs root"),
			"entering other network namespaces needs CAP_SYS_ADMIN: run it with sudo, or drop --all-netns to plan this namespace")
	}
	if st, err := os.Stat(opts.Root); err != nil || !st.IsDir() {
		return nil, usageErr(fmt.Errorf("invalid --root %q: expected a directory holding proc/ and etc/", opts.Root))
	}
	w, err := gather.Host(ctx, gather.Options{Root: opts.Root, AllNetns: opts.AllNetns, Chain: opts.Chain,
		FindChain: !opts.NoChain, NoConfigs: opts.NoConfigs, NoSockets: true})
	if err != nil {
		return nil, gatherErr(err)
	}
	c, snap, cfgs := w.Chain, w.Snapshot, w.Configs
	if c != nil {
		if !profileSet && c.Profile != "" {
			opts.Profile = c.Profile
		}
		if opts.ExpectConnections == 0 {
			opts.ExpectConnections = c.ExpectConnections
		}
	}
	profile, err := profiles.Resolve(opts.Profile)
	if err != nil {
		return nil, usageErr(err)
	}
	root := opts.Root
	read := func(path string) ([]byte, error) {
		// Discovered configurations are paths on the host under --root; a chain file's
		// config: paths are read as written.
		data, err := os.ReadFile(filepath.Join(root, path))
		if errors.Is(err, fs.ErrNotExist) && root != "/" {
			return os.ReadFile(path)
		}
		return data, err
	}
	return plan.Make(plan.Input{Snapshot: snap, Chain: c, Configs: cfgs, Profile: profile, ExpectConnections: opts.ExpectConnections, ReadFile: read}), nil
}

func renderPlan(stdio IO, format string, p *plan.Plan) error {
	var err error
	switch format {
	case "json":
		enc := jsonx.NewEncoder(stdio.Out)
		err = enc.Encode(p)
	case "sysctl":
		for _, f := range p.SysctlFiles {
			_, err = io.WriteString(stdio.Out, f.Content)
		}
		if len(p.SysctlFiles) == 0 {
			fmt.Fprintln(stdio.Err, "keeptune plan: no sysctl.d file to write: the host's sysctls are at their targets")
		}
	case "diff":
		for _, d := range p.ConfigDiffs {
			_, err = io.WriteString(stdio.Out, d.Diff)
		}
		if len(p.ConfigDiffs) == 0 {
			fmt.Fprintln(stdio.Err, "keeptune plan: no configuration file to change")
		}
	default:
		err = plan.WriteText(stdio.Out, p)
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("write plan: %w", err))
	}
	return nil
}
