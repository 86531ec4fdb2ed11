package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/configs"
	_ "github.com/keeptune/keeptune/internal/configs/all" // every configuration format
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/report"
	"github.com/keeptune/keeptune/internal/rules"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// LintOptions are the flags of `keeptune lint`.
type LintOptions struct {
	Output          string
	Format          string
	Env             []string
	Defines         []string
	Profile         string
	FailOn          string
	Color           string
	Enable, Disable []string
	Verbose         bool
}

func newLintCmd(stdio IO) *cobra.Command {
	opts := LintOptions{}
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check chain files and server configurations without touching the host (for CI)",
		Long: "lint reads chain files (keeptune.yaml) and server configuration files (the formats built in are\n" +
			"listed by --format) and checks them: every hop of a chain against the ones around it (backend\n" +
			"keep-alive against the pool in front of it, keepalive probes against NAT and balancer idle\n" +
			"timeouts, gRPC ping policy, user timeouts), every configuration against what its server does.\n" +
			"It reads no host facts: use it in CI. The format of each file is detected unless --format says.",
		Example: "  keeptune lint keeptune.yaml\n  keeptune lint /etc/nginx/nginx.conf\n" +
			"  keeptune lint -o sarif --fail-on warning deploy/*.yaml > keeptune.sarif",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(args, opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text, json or sarif")
	f.StringArrayVar(&opts.Env, "env", nil, "KEY=VALUE of the server's environment, for ${KEY} in HAProxy and Apache files (repeatable; given at all, it is taken as the whole environment)")
	f.StringArrayVar(&opts.Defines, "define", nil, "a name Apache httpd gets with -D, for <IfDefine> (repeatable)")
	f.StringVar(&opts.Format, "format", "", "format of the files: chain or "+strings.Join(configs.Formats(), ", ")+" (default: detect)")
	f.StringVar(&opts.Profile, "profile", "", "workload profile (default: the chain file's profile:, else general)")
	f.StringVar(&opts.FailOn, "fail-on", "error", "exit 1 when a finding has this severity or higher: info, warning, error or none")
	f.StringVar(&opts.Color, "color", "auto", "colour: auto, always or never (auto honours NO_COLOR)")
	f.StringSliceVar(&opts.Enable, "enable", nil, "run only these rules (IDs or names, comma separated)")
	f.StringSliceVar(&opts.Disable, "disable", nil, "skip these rules (IDs or names)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "more detail")
	return cmd
}

func runLint(files []string, opts LintOptions, stdio IO) error {
	if !slices.Contains(report.Formats(), opts.Output) {
		return usageErr(fmt.Errorf("invalid --output %q: expected one of %s", opts.Output, strings.Join(report.Formats(), ", ")))
	}
	failOn, err := parseFailOn(opts.FailOn)
	if err != nil {
		return usageErr(err)
	}
	color, err := colorFor(opts.Color, stdio)
	if err != nil {
		return err
	}
	selected, err := rules.Select(rules.Selection{Enable: opts.Enable, Disable: opts.Disable})
	if err != nil {
		return usageErr(err)
	}
	var vars configs.Vars
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageErr(fmt.Errorf("invalid --env %q: expected KEY=VALUE", kv))
		}
		if vars.Env == nil {
			vars.Env = map[string]string{}
		}
		vars.Env[k] = v
	}
	vars.Defines = opts.Defines
	// Read everything first: a bad file stops the run before anything is printed.
	var chains []*model.Chain
	var cfgs []*configs.Config
	for _, f := range files {
		isChain, err := looksLikeChain(f, opts.Format)
		if err != nil {
			return usageErr(err)
		}
		if isChain {
			c, err := chain.Load(f)
			if err != nil {
				return inputErr(err)
			}
			chains = append(chains, c)
			continue
		}
		c, err := configs.ReadFileVars(f, opts.Format, vars)
		if err != nil {
			return usageErr(err)
		}
		cfgs = append(cfgs, c)
	}
	var all []model.Finding
	profile, err := profiles.Resolve(opts.Profile)
	if err != nil {
		return usageErr(err)
	}
	if len(cfgs) > 0 {
		all = append(all, rules.Run(&rules.Input{Configs: cfgs, Profile: profile}, selected)...)
	}
	for _, c := range chains {
		name := opts.Profile
		if name == "" {
			name = c.Profile
		}
		p, err := profiles.Resolve(name)
		if err != nil {
			return usageErr(fmt.Errorf("%s: %w", c.File, err))
		}
		profile = p
		all = append(all, rules.Run(&rules.Input{Chain: c, Profile: p, ExpectConnections: c.ExpectConnections}, selected)...)
	}
	rules.Sort(all)
	r := report.Report{
		Tool: toolInfo(), Command: "lint", Profile: profile, Findings: all, Rules: ruleInfos(selected),
		Chains:  chains,
		Configs: cfgs,
		Options: map[string]string{"fail_on": opts.FailOn, "files": strings.Join(files, " ")},
	}
	if err := report.Render(stdio.Out, opts.Output, r, report.TextOptions{Color: color, Verbose: opts.Verbose}); err != nil {
		return runtimeErr(fmt.Errorf("write report: %w", err))
	}
	return failIfFindings(all, failOn)
}

// looksLikeChain decides whether a file is a chain file: --format chain, or a YAML file with a
// top-level chain: key.
func looksLikeChain(path, format string) (bool, error) {
	switch format {
	case "chain":
		return true, nil
	case "":
	default:
		if _, ok := configs.Lookup(format); !ok {
			return false, fmt.Errorf("unknown --format %q: expected chain or one of %s", format, strings.Join(configs.Formats(), ", "))
		}
		return false, nil
	}
	if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
		return false, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "chain:") {
			return true, nil
		}
	}
	return false, nil
}

// inputErr turns an input error into exit code 2, keeping its file:line:column.
func inputErr(err error) error {
	var pe *yamlx.PosError
	if errors.As(err, &pe) {
		return usageErr(pe)
	}
	return usageErr(err)
}

// failIfFindings returns errFindings when a finding reaches the --fail-on severity.
func failIfFindings(fs []model.Finding, failOn model.Severity) error {
	if failOn == 0 {
		return nil
	}
	for _, f := range fs {
		if f.Severity >= failOn {
			return errFindings
		}
	}
	return nil
}
