package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/enforce"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// EnforceOptions are the flags of `keeptune enforce apply|status|detach`.
type EnforceOptions struct {
	Scope enforce.Scope
	// Values as typed: a Go duration ("90s", "2m") or a number of seconds.
	Idle, Interval, UserTimeout string
	Probes                      int
	Profile, Plan               string
	Side, Mode                  string
	BPFFS                       string
	Output                      string
}

func newEnforceCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enforce",
		Short: "Give a cgroup's TCP connections keepalive and TCP_USER_TIMEOUT with an eBPF program, without changing the program",
		Long: "enforce attaches a BPF sock_ops program to a cgroup (a systemd unit, a pod, a container): every TCP\n" +
			"connection its processes open or accept gets the policy's SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,\n" +
			"TCP_KEEPCNT and TCP_USER_TIMEOUT when the handshake completes, before the program sees it. It is the\n" +
			"fix for programs that cannot be changed in a hurry: legacy daemons, scripts, database clients, and\n" +
			"static binaries (Go) that LD_PRELOAD cannot reach.\n\n" +
			"--mode default sets only the values the program left unset; whatever the program sets afterwards\n" +
			"wins (Go's net package sets 15s/15s/9 right after connect). --mode force also replaces values looser\n" +
			"than the policy and installs a cgroup/setsockopt guard: a program that turns keepalive off or asks\n" +
			"for a longer idle, interval, count or user timeout gets the policy's value instead, and its call\n" +
			"succeeds (reading the option back shows the policy's value). Tighter values are left alone.\n\n" +
			"Connections that exist before apply keep their settings. The policy is pinned under\n" +
			"/sys/fs/bpf/keeptune and outlives this command (not a reboot); one program serves every enforced\n" +
			"cgroup, each with its own policy and counters. Needs Linux 5.9+ with BTF, cgroup v2, and root.",
		Example: "  sudo keeptune enforce apply --unit legacy-billing.service --idle 60s --intvl 10s --probes 6 --user-timeout 2m\n" +
			"  sudo keeptune enforce apply --pod shop/cart-7d9f --profile api-gateway --mode force\n" +
			"  sudo keeptune enforce status\n" +
			"  sudo keeptune enforce detach --unit legacy-billing.service\n" +
			"  sudo keeptune enforce detach",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newEnforceApplyCmd(stdio), newEnforceStatusCmd(stdio), newEnforceDetachCmd(stdio))
	return cmd
}

func scopeFlags(cmd *cobra.Command, opts *EnforceOptions) {
	f := cmd.Flags()
	f.StringVar(&opts.Scope.Cgroup, "cgroup", "", "the cgroup: a path in the v2 hierarchy (/system.slice/x.service) or its directory")
	f.StringVar(&opts.Scope.Unit, "unit", "", "a systemd unit (NAME.service)")
	f.StringVar(&opts.Scope.Pod, "pod", "", "a Kubernetes pod on this node, NAMESPACE/NAME")
	f.StringVar(&opts.Scope.Container, "container", "", "a container id (docker, containerd, CRI-O, podman; 12 hex digits or more)")
	f.StringVar(&opts.BPFFS, "bpffs", "/sys/fs/bpf", "where the bpf file system is mounted (mounted there when it is not)")
}

func newEnforceApplyCmd(stdio IO) *cobra.Command {
	opts := EnforceOptions{}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Enforce a keepalive and user-timeout policy on a cgroup",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runEnforceApply(cmd, opts, stdio) },
	}
	scopeFlags(cmd, &opts)
	f := cmd.Flags()
	f.StringVar(&opts.Idle, "idle", "", "TCP_KEEPIDLE: idle time before the first probe (e.g. 60s; a bare number is seconds)")
	f.StringVar(&opts.Interval, "intvl", "", "TCP_KEEPINTVL: time between probes")
	f.IntVar(&opts.Probes, "probes", 0, "TCP_KEEPCNT: unanswered probes before the connection is dropped")
	f.StringVar(&opts.UserTimeout, "user-timeout", "", "TCP_USER_TIMEOUT: how long sent data may stay unacknowledged (e.g. 2m)")
	f.StringVar(&opts.Profile, "profile", "", "take the values from a workload profile (keeptune profiles): its recommended idle, interval and probes, and its longest unacknowledged time as the user timeout; flags given override")
	f.StringVar(&opts.Plan, "plan", "", "take the values from a plan file (keeptune plan -o json): the keepalive targets of the network namespace the cgroup's processes live in; flags given override")
	f.StringVar(&opts.Side, "side", "both", "connections to act on: connect (opened by the cgroup), accept (accepted by it) or both")
	f.StringVar(&opts.Mode, "mode", "default", "default (fill in what the program left unset) or force (also stop it from turning keepalive off or loosening the values)")
	f.StringVarP(&opts.Output, "output", "o", "text", "output format after applying: text or json (the status)")
	return cmd
}

func newEnforceStatusCmd(stdio IO) *cobra.Command {
	opts := EnforceOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List what is enforced where, with counters of sockets touched",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEnforcer(opts, false)
			if err != nil {
				return err
			}
			return renderEnforceStatus(e, opts.Output, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.BPFFS, "bpffs", "/sys/fs/bpf", "where the bpf file system is mounted")
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newEnforceDetachCmd(stdio IO) *cobra.Command {
	opts := EnforceOptions{}
	cmd := &cobra.Command{
		Use:   "detach",
		Short: "Remove one cgroup's policy, or (without a cgroup) everything enforce pinned",
		Long: "detach with --cgroup/--unit/--pod/--container removes that cgroup's policy; when it was the last,\n" +
			"or without any of them, it removes the programs, links and maps and the pin directory: nothing of\n" +
			"keeptune stays in the kernel. Connections keep the values they were given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runEnforceDetach(opts, stdio) },
	}
	scopeFlags(cmd, &opts)
	return cmd
}

// openEnforcer runs the system checks and maps what is missing to exit codes.
func openEnforcer(opts EnforceOptions, write bool) (*enforce.Enforcer, error) {
	e, err := enforce.Open(enforce.Options{BPFFS: opts.BPFFS}, write)
	return e, enforceErr(err)
}

func enforceErr(err error) error {
	if err == nil {
		return nil
	}
	var me *enforce.MissingError
	if errors.As(err, &me) {
		if me.Privilege {
			return privilegeErr(err, me.Hint)
		}
		return &exitError{code: ExitRuntime, err: err, hint: me.Hint}
	}
	return runtimeErr(err)
}

func runEnforceApply(cmd *cobra.Command, opts EnforceOptions, stdio IO) error {
	if err := opts.Scope.Validate(); err != nil {
		return usageErr(err)
	}
	pol, err := enforcePolicy(cmd, opts)
	if err != nil {
		return usageErr(err)
	}
	if opts.Output != "text" && opts.Output != "json" {
		return usageErr(fmt.Errorf("--output %q: want text or json", opts.Output))
	}
	e, err := openEnforcer(opts, true)
	if err != nil {
		return err
	}
	t, err := e.Resolve(opts.Scope)
	if err != nil {
		return usageErr(err)
	}
	if opts.Plan != "" {
		if err := fillFromPlan(cmd, &pol, opts.Plan, e, t); err != nil {
			return usageErr(err)
		}
		if err := pol.Validate(); err != nil {
			return usageErr(err)
		}
	}
	if err := e.Apply(t, pol); err != nil {
		return enforceErr(err)
	}
	if opts.Output == "text" {
		fmt.Fprintf(stdio.Err, "enforced %s on %s (%s, mode %s, side %s): connections from now on get it; existing ones keep their settings\n",
			pol, t.Path, opts.Scope, pol.Mode, pol.Side)
	}
	return renderEnforceStatus(e, opts.Output, stdio)
}

// enforcePolicy builds the policy from the profile and the flags (flags win).
func enforcePolicy(cmd *cobra.Command, opts EnforceOptions) (enforce.Policy, error) {
	var p enforce.Policy
	var err error
	if p.Side, err = enforce.ParseSide(opts.Side); err != nil {
		return p, err
	}
	if p.Mode, err = enforce.ParseMode(opts.Mode); err != nil {
		return p, err
	}
	if opts.Profile != "" {
		prof, err := profiles.Resolve(opts.Profile)
		if err != nil {
			return p, err
		}
		p.Idle, p.Interval, p.Probes = prof.Idle.Recommended, prof.Interval.Recommended, prof.Probes.Recommended
		p.UserTimeout = prof.MaxUnackedTimeout
	}
	for _, d := range []struct {
		flag string
		dst  *time.Duration
	}{{"idle", &p.Idle}, {"intvl", &p.Interval}, {"user-timeout", &p.UserTimeout}} {
		if !cmd.Flags().Changed(d.flag) {
			continue
		}
		v, _ := cmd.Flags().GetString(d.flag)
		if *d.dst, err = parseSeconds(v); err != nil {
			return p, fmt.Errorf("--%s: %w", d.flag, err)
		}
	}
	if cmd.Flags().Changed("probes") {
		p.Probes = opts.Probes
	}
	if opts.Plan == "" {
		return p, p.Validate()
	}
	return p, nil
}

// parseSeconds reads a Go duration or a bare number of seconds.
func parseSeconds(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (60s, 2m) or a number of seconds", s)
	}
	return d, nil
}

func runEnforceDetach(opts EnforceOptions, stdio IO) error {
	scoped := opts.Scope != (enforce.Scope{})
	if scoped {
		if err := opts.Scope.Validate(); err != nil {
			return usageErr(err)
		}
	}
	e, err := openEnforcer(opts, false)
	if err != nil {
		return err
	}
	var t *enforce.Target
	if scoped {
		tt, err := e.Resolve(opts.Scope)
		if err != nil {
			return usageErr(err)
		}
		t = &tt
	}
	had, err := e.Detach(t)
	if err != nil {
		return enforceErr(err)
	}
	switch {
	case t != nil && !had:
		fmt.Fprintf(stdio.Err, "nothing was enforced on %s\n", t.Path)
	case t != nil:
		fmt.Fprintf(stdio.Err, "removed the policy of %s\n", t.Path)
		if _, err := os.Stat(e.PinDir()); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdio.Err, "it was the last: the programs, links, maps and %s are gone\n", e.PinDir())
		}
	case had:
		fmt.Fprintf(stdio.Err, "removed every policy, program, link and map of keeptune (%s)\n", e.PinDir())
	default:
		fmt.Fprintln(stdio.Err, "nothing was enforced")
	}
	return nil
}

func renderEnforceStatus(e *enforce.Enforcer, output string, stdio IO) error {
	st, err := e.Status()
	if err != nil {
		return enforceErr(err)
	}
	switch output {
	case "json":
		return writeJSON(stdio.Out, enforceStatusJSONOf(st))
	case "text":
	default:
		return usageErr(fmt.Errorf("--output %q: want text or json", output))
	}
	writeEnforceStatus(stdio.Out, st)
	return nil
}

func writeEnforceStatus(w io.Writer, st enforce.Status) {
	if len(st.Entries) == 0 {
		fmt.Fprintf(w, "nothing enforced (no pins under %s)\n", st.PinDir)
		return
	}
	var progs []string
	for _, p := range st.Programs {
		progs = append(progs, fmt.Sprintf("%s id %d", p.Name, p.ID))
	}
	fmt.Fprintf(w, "enforced on %d cgroup(s); pinned under %s; programs: %s\n\n", len(st.Entries), st.PinDir, strings.Join(progs, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CGROUP\tMODE\tSIDE\tIDLE\tINTVL\tPROBES\tUSER-TIMEOUT\tCONNECT\tACCEPT\tALREADY-SET\tGUARDED\tERRORS\tATTACHED")
	dur := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return textfmt.Setting(d)
	}
	for _, en := range st.Entries {
		p, c := en.Policy, en.Counters
		probes := "-"
		if p.Probes > 0 {
			probes = strconv.Itoa(p.Probes)
		}
		attached := "here"
		switch {
		case !en.Exists:
			attached = "cgroup removed"
		case en.Link == "":
			attached = "NOT ATTACHED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", en.Path, p.Mode, p.Side,
			dur(p.Idle), dur(p.Interval), probes, dur(p.UserTimeout), c.Connect, c.Accept, c.AlreadySet, c.GuardRewrites, c.Errors, attached)
	}
	tw.Flush()
}

// enforceStatusJSON is the JSON form of the status (docs/json.md, "enforce status").
type enforcePolicyJSON struct {
	Cgroup            string           `json:"cgroup"`
	CgroupID          uint64           `json:"cgroup_id"`
	Exists            bool             `json:"exists"`
	Mode              string           `json:"mode"`
	Side              string           `json:"side"`
	Keepalive         bool             `json:"keepalive"`
	IdleSeconds       int              `json:"idle_seconds"`
	IntervalSeconds   int              `json:"interval_seconds"`
	Probes            int              `json:"probes"`
	UserTimeoutMillis int64            `json:"user_timeout_ms"`
	Link              string           `json:"link"`
	Guard             string           `json:"guard"`
	Counters          enforce.Counters `json:"counters"`
}

type enforceStatusJSON struct {
	PinDir   string               `json:"pin_dir"`
	Kernel   string               `json:"kernel"`
	Programs []enforce.ProgramRef `json:"programs"`
	Policies []enforcePolicyJSON  `json:"policies"`
}

func enforceStatusJSONOf(st enforce.Status) enforceStatusJSON {
	out := enforceStatusJSON{PinDir: st.PinDir, Kernel: st.Kernel, Programs: st.Programs, Policies: []enforcePolicyJSON{}}
	for _, en := range st.Entries {
		p := en.Policy
		out.Policies = append(out.Policies, enforcePolicyJSON{
			Cgroup: en.Path, CgroupID: en.ID, Exists: en.Exists, Mode: string(p.Mode), Side: string(p.Side),
			Keepalive: p.Keepalive(), IdleSeconds: int(p.Idle / time.Second), IntervalSeconds: int(p.Interval / time.Second),
			Probes: p.Probes, UserTimeoutMillis: p.UserTimeout.Milliseconds(), Link: en.Link, Guard: en.Guard, Counters: en.Counters,
		})
	}
	return out
}

// fillFromPlan takes the plan's keepalive targets for the network namespace the cgroup's
// processes live in, for the values no flag gave.
func fillFromPlan(cmd *cobra.Command, pol *enforce.Policy, file string, e *enforce.Enforcer, t enforce.Target) error {
	p, err := enforce.ReadPlan(file)
	if err != nil {
		return err
	}
	netns, own, err := e.Netns(t)
	if err != nil {
		return err
	}
	v, err := enforce.FromPlan(p, netns, own)
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("idle") && v.Idle > 0 {
		pol.Idle = v.Idle
	}
	if !cmd.Flags().Changed("intvl") && v.Interval > 0 {
		pol.Interval = v.Interval
	}
	if !cmd.Flags().Changed("probes") && v.Probes > 0 {
		pol.Probes = v.Probes
	}
	return nil
}
