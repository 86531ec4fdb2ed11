package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/lint"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/report"
	"github.com/keeptune/keeptune/internal/rules"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// LintOptions are the flags of `keeptune lint`.
type LintOptions struct {
	Output          string
	HTML            string
	Format          string
	Env             []string
	Defines         []string
	Profile         string
	FailOn          string
	Color           string
	Enable, Disable []string
	Verbose         bool
	// Root is a configuration repository standing for the server's / (absolute includes
	// resolve inside it; the host's files are never read); Prefix the server's configuration
	// directory for fragments (nginx's conf prefix, Apache's ServerRoot).
	Root, Prefix string
	// ServerVersions are [FORMAT=]VERSION: the servers' versions version-dependent keywords
	// are judged against (default: the installed server's, unknown without one or with --root).
	ServerVersions []string
	// Baseline is a file of accepted findings: compared when it exists, written when it does
	// not (or with WriteBaseline).
	Baseline      string
	WriteBaseline bool
}

func newLintCmd(stdio IO) *cobra.Command {
	opts := LintOptions{}
	cmd := &cobra.Command{
		Use:   "lint [FILE|DIR]...",
		Short: "Check chain files and server configurations without touching the host (for CI)",
		Long: "lint reads chain files (keeptune.yaml) and server configuration files (the formats built in are\n" +
			"listed by --format) and checks them: every hop of a chain against the ones around it (backend\n" +
			"keep-alive against the pool in front of it, keepalive probes against NAT and balancer idle\n" +
			"timeouts, gRPC ping policy, user timeouts), every configuration against what its server does.\n" +
			"It reads no host facts: use it in CI. The format of each file is detected unless --format says;\n" +
			"a directory stands for the files in it whose format is detected (-v lists the others); with no\n" +
			"argument, ./keeptune.yaml. A file its server would refuse is an error finding (KT891) at the\n" +
			"line the server names, the other files are still linted, and the exit code is 2.\n" +
			"A finding is suppressed by a comment on its line or the line above: keeptune:ignore KTnnn reason.",
		Example: "  keeptune lint keeptune.yaml\n  keeptune lint /etc/nginx/nginx.conf\n" +
			"  keeptune lint --root ./infra ./infra/etc/nginx/nginx.conf\n" +
			"  keeptune lint --prefix /etc/nginx conf.d/\n" +
			"  keeptune lint --baseline .keeptune-baseline.json configs/\n" +
			"  keeptune lint -o sarif --fail-on warning deploy/*.yaml > keeptune.sarif",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(args, opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text, json or sarif")
	f.StringVar(&opts.HTML, "html", "", "also write the chains as a self-contained HTML picture to FILE (timers of each segment on one time axis)")
	f.StringArrayVar(&opts.Env, "env", nil, "KEY=VALUE of the server's environment, for ${KEY} in HAProxy and Apache files (repeatable; given at all, it is taken as the whole environment)")
	f.StringArrayVar(&opts.Defines, "define", nil, "a name Apache httpd gets with -D, for <IfDefine> (repeatable)")
	f.StringVar(&opts.Format, "format", "", "format of the files: chain or "+strings.Join(gather.ConfigFormats(), ", ")+" (default: detect)")
	f.StringVar(&opts.Profile, "profile", "", "workload profile (default: the chain file's profile:, else general)")
	f.StringVar(&opts.FailOn, "fail-on", "error", "exit 1 when a finding has this severity or higher: info, warning, error or none")
	f.StringVar(&opts.Color, "color", "auto", "colour: auto, always or never (auto honours NO_COLOR)")
	f.StringSliceVar(&opts.Enable, "enable", nil, "run only these rules (IDs or names, comma separated)")
	f.StringSliceVar(&opts.Disable, "disable", nil, "skip these rules (IDs or names)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "more detail (and the files of a directory argument that were not linted)")
	f.StringVar(&opts.Root, "root", "", "configuration repository standing for the server's /: absolute includes resolve under it, nothing outside it is read")
	f.StringVar(&opts.Prefix, "prefix", "", "the server's configuration directory for fragments (nginx's conf prefix, Apache's ServerRoot): relative includes resolve against it")
	f.StringArrayVar(&opts.ServerVersions, "server-version", nil, "[FORMAT=]VERSION of the server (nginx=1.25.3, haproxy=2.8): keywords added or removed in a version are judged against it (default: the installed server's; repeatable)")
	f.StringVar(&opts.Baseline, "baseline", "", "file of accepted findings: findings in it are not reported; written (with the current findings) when it does not exist")
	f.BoolVar(&opts.WriteBaseline, "write-baseline", false, "rewrite the --baseline file with the current findings")
	return cmd
}

func runLint(files []string, opts LintOptions, stdio IO) error {
	if err := checkOutput(opts.Output, report.Formats()); err != nil {
		return err
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
	var env map[string]string
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageErr(fmt.Errorf("invalid --env %q: expected KEY=VALUE", kv))
		}
		if env == nil {
			env = map[string]string{}
		}
		env[k] = v
	}
	if len(files) == 0 {
		if _, err := os.Stat("keeptune.yaml"); err != nil {
			return usageErr(errors.New("no file given and no ./keeptune.yaml: name the chain files, configuration files or directories to lint"))
		}
		files = []string{"keeptune.yaml"}
	}
	// Every file is read; one that cannot be, or that its server would refuse, becomes a KT891
	// finding and the others are still linted.
	set, err := gather.Files(context.Background(), files, gather.FilesOptions{
		Format: opts.Format, Root: opts.Root, Prefix: opts.Prefix,
		Env: env, Defines: opts.Defines, ServerVersions: opts.ServerVersions,
	})
	if err != nil {
		return usageErr(err)
	}
	if opts.Verbose {
		for _, ig := range set.Ignored {
			fmt.Fprintf(stdio.Err, "not linted: %s\n", ig)
		}
	}
	chains, cfgs, bad := set.Chains, set.Configs, set.Errors
	var all []model.Finding
	profile, err := profiles.Resolve(opts.Profile)
	if err != nil {
		return usageErr(err)
	}
	if len(cfgs) > 0 || len(bad) > 0 {
		all = append(all, rules.Run(&rules.Input{Configs: cfgs, ConfigErrors: bad, Profile: profile}, selected)...)
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
	src := lint.NewSources(opts.Root)
	all, hidden := lint.Suppress(all, src)
	if opts.Verbose {
		for _, f := range hidden {
			fmt.Fprintf(stdio.Err, "suppressed: %s %s (keeptune:ignore)\n", f.Rule, f.Location)
		}
	}
	if opts.Baseline != "" {
		b, err := lint.ApplyBaseline(opts.Baseline, opts.WriteBaseline, all, src)
		if err != nil {
			return usageErr(err)
		}
		all = b.Findings
		if b.Wrote {
			fmt.Fprintf(stdio.Err, "wrote baseline %s: %d findings accepted\n", opts.Baseline, b.Accepted)
		} else if b.Hidden > 0 {
			fmt.Fprintf(stdio.Err, "%d findings in the baseline %s not shown\n", b.Hidden, opts.Baseline)
		}
	}
	rules.Sort(all)
	r := report.Report{
		Tool: toolInfo(), Command: "lint", Profile: profile, Findings: all, Rules: ruleInfos(selected),
		Chains:  chains,
		Configs: cfgs,
		Options: map[string]string{"fail_on": opts.FailOn, "files": strings.Join(files, " ")},
	}
	if err := writeReportHTML(opts.HTML, r); err != nil {
		return err
	}
	if err := report.Render(stdio.Out, opts.Output, r, report.TextOptions{Color: color, Verbose: opts.Verbose}); err != nil {
		return runtimeErr(fmt.Errorf("write report: %w", err))
	}
	if len(bad) > 0 {
		// Each on a line of its own, file:line first; exit 2 as for any bad input.
		for _, e := range bad[:len(bad)-1] {
			fmt.Fprintf(stdio.Err, "error: %v\n", e)
		}
		return usageErr(bad[len(bad)-1])
	}
	return failIfFindings(all, failOn)
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
