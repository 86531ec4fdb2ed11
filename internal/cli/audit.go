package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/report"
	"github.com/keeptune/keeptune/internal/rules"
)

// AuditOptions are the flags of `keeptune audit`.
type AuditOptions struct {
	Output            string
	HTML              string
	Profile           string
	FailOn            string
	AllNetns          bool
	ExpectConnections int
	Root              string
	Color             string
	Enable, Disable   []string
	Verbose           bool
	Chain             string
	NoChain           bool
	NoConfigs         bool
	NoSockets         bool
}

func newAuditCmd(stdio IO) *cobra.Command {
	opts := AuditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Audit this host's keepalive, timeout and capacity settings against a workload profile",
		Long: "audit reads the host's keepalive-related settings (sysctls and the sysctl.d line that sets each,\n" +
			"connection tracking, descriptor limits of listening processes, Go programs that ignore the\n" +
			"sysctls; with --all-netns every network namespace in use), checks them against a profile and\n" +
			"prints findings with the exact lines that fix them. Works without root; says what root would add.",
		Example: "  keeptune audit\n  keeptune audit --profile api-gateway --expect-connections 50000\n" +
			"  sudo keeptune audit --all-netns -o json\n  keeptune audit -o sarif --fail-on warning > keeptune.sarif",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runAudit(cmd, opts, stdio) },
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text, json or sarif")
	f.StringVar(&opts.HTML, "html", "", "also write the chains as a self-contained HTML picture to FILE (timers of each segment on one time axis)")
	f.StringVar(&opts.Profile, "profile", profiles.Default, "workload profile: "+strings.Join(profiles.Names(), ", ")+", or a YAML file")
	f.StringVar(&opts.FailOn, "fail-on", "error", "exit 1 when a finding has this severity or higher: info, warning, error or none")
	f.BoolVar(&opts.AllNetns, "all-netns", false, "audit every network namespace in use (needs root)")
	f.IntVar(&opts.ExpectConnections, "expect-connections", 0, "concurrent connections the host must hold (enables capacity checks)")
	f.StringVar(&opts.Root, "root", "/", "read facts from this directory instead of / (a copy of /proc and /etc, for offline analysis)")
	f.StringVar(&opts.Color, "color", "auto", "colour: auto, always or never (auto honours NO_COLOR)")
	f.StringSliceVar(&opts.Enable, "enable", nil, "run only these rules (IDs or names, comma separated)")
	f.StringSliceVar(&opts.Disable, "disable", nil, "skip these rules (IDs or names)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "show every process and namespace row")
	f.StringVar(&opts.Chain, "chain", "", "chain file to audit with the host (default: ./keeptune.yaml or /etc/keeptune/keeptune.yaml if present)")
	f.BoolVar(&opts.NoChain, "no-chain", false, "do not look for a chain file")
	f.BoolVar(&opts.NoSockets, "no-sockets", false, "do not read the live socket table (CLOSE_WAIT leaks, idle connections without keepalive)")
	f.BoolVar(&opts.NoConfigs, "no-configs", false, "do not read server configurations (found at their usual paths and on running servers' command lines)")
	return cmd
}

func runAudit(cmd *cobra.Command, opts AuditOptions, stdio IO) error {
	if err := checkOutput(opts.Output, report.Formats()); err != nil {
		return err
	}
	failOn, err := parseFailOn(opts.FailOn)
	if err != nil {
		return usageErr(err)
	}
	if opts.ExpectConnections < 0 {
		return usageErr(fmt.Errorf("invalid --expect-connections %d: expected a positive number of connections", opts.ExpectConnections))
	}
	color, err := colorFor(opts.Color, stdio)
	if err != nil {
		return err
	}
	if opts.AllNetns && opts.Root == "/" && os.Geteuid() != 0 {
		return privilegeErr(fmt.Errorf("--all-netns needs root"),
			"entering other network namespaces needs CAP_SYS_ADMIN, and seeing other users' processes CAP_SYS_PTRACE: run it with sudo, or drop --all-netns to audit this namespace")
	}
	if st, err := os.Stat(opts.Root); err != nil || !st.IsDir() {
		return usageErr(fmt.Errorf("invalid --root %q: expected a directory holding proc/ and etc/", opts.Root))
	}
	selected, err := rules.Select(rules.Selection{Enable: opts.Enable, Disable: opts.Disable})
	if err != nil {
		return usageErr(err)
	}
	w, err := gather.Host(cmd.Context(), gather.Options{
		Root: opts.Root, AllNetns: opts.AllNetns, Chain: opts.Chain, FindChain: !opts.NoChain,
		NoConfigs: opts.NoConfigs, NoSockets: opts.NoSockets,
	})
	if err != nil {
		return gatherErr(err)
	}
	c, chainFile, snap, cfgs := w.Chain, w.ChainFile, w.Snapshot, w.Configs
	if c != nil {
		if !cmd.Flags().Changed("profile") && c.Profile != "" {
			opts.Profile = c.Profile
		}
		if opts.ExpectConnections == 0 {
			opts.ExpectConnections = c.ExpectConnections
		}
	}
	profile, err := profiles.Resolve(opts.Profile)
	if err != nil {
		return usageErr(err)
	}
	findings := rules.Run(&rules.Input{Snapshot: snap, Chain: c, Configs: cfgs, Profile: profile, ExpectConnections: opts.ExpectConnections}, selected)

	r := report.Report{
		Tool:     toolInfo(),
		Command:  "audit",
		Profile:  profile,
		Snapshot: snap,
		Findings: findings,
		Chains:   chainsOf(c),
		Configs:  cfgs,
		Rules:    ruleInfos(selected),
		Options: map[string]string{
			"chain":              chainFile,
			"profile":            profile.Name,
			"fail_on":            opts.FailOn,
			"all_netns":          strconv.FormatBool(opts.AllNetns),
			"expect_connections": strconv.Itoa(opts.ExpectConnections),
		},
	}
	if err := writeReportHTML(opts.HTML, r); err != nil {
		return err
	}
	if err := report.Render(stdio.Out, opts.Output, r, report.TextOptions{Color: color, Verbose: opts.Verbose}); err != nil {
		return runtimeErr(fmt.Errorf("write report: %w", err))
	}
	return failIfFindings(findings, failOn)
}

// gatherErr maps a gather failure to its exit code: input the user named is a usage error.
func gatherErr(err error) error {
	if errors.Is(err, gather.ErrInput) {
		return inputErr(err)
	}
	return runtimeErr(fmt.Errorf("read host facts: %w", err))
}

func chainsOf(c *model.Chain) []*model.Chain {
	if c == nil {
		return nil
	}
	return []*model.Chain{c}
}

// parseFailOn reads --fail-on; "none" gives 0 (never fail).
func parseFailOn(s string) (model.Severity, error) {
	if strings.EqualFold(s, "none") {
		return 0, nil
	}
	sev, err := model.ParseSeverity(s)
	if err != nil {
		return 0, fmt.Errorf("invalid --fail-on %q: expected info, warning, error or none", s)
	}
	return sev, nil
}

func toolInfo() report.ToolInfo {
	return report.ToolInfo{Name: "keeptune", Version: version(), InformationURI: "https://github.com/keeptune/keeptune"}
}

func ruleInfos(rs []rules.Rule) []report.RuleInfo {
	var out []report.RuleInfo
	for _, r := range rs {
		out = append(out, report.RuleInfo{ID: r.ID, Name: r.Name, Title: r.Title, Severity: r.Severity, Description: r.What,
			HelpURI: "https://github.com/keeptune/keeptune/blob/main/docs/rules.md#" + strings.ToLower(r.ID)})
	}
	return out
}
