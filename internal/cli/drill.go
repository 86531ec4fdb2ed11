package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/drill"
	"github.com/keeptune/keeptune/internal/drill/render"
	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/yamlx"
	"github.com/keeptune/keeptune/keepalive"
)

// DrillOptions are the flags of `keeptune drill`.
type DrillOptions struct {
	Idle, Interval, UserTimeout time.Duration
	Probes                      int
	Profile                     string
	FromHost                    bool
	Compare                     string
	TimeScale                   int
	IPv6                        bool
	DropAt                      string
	Clients                     int
	NATTimeout                  time.Duration
	OnExpiry                    string
	Retries2                    int
	Repeat                      int
	Output                      string
	HTML                        string
	Cleanup                     bool
	DryRun                      bool
	// Proxy, BackendIdle, PoolIdle, Requests: http-keepalive-race.
	Proxy                 string
	BackendIdle, PoolIdle time.Duration
	Requests              int
	// Goal names the profile whose limits the settings must meet (default: --profile's, else the default profile).
	Goal string
	// Chain and Hop take the settings from a chain file hop (Side: downstream or upstream).
	Chain, Hop, Side string
	// Enforce (dead-peer) runs the server as a program that never sets keepalive in a cgroup
	// under keeptune enforce.
	Enforce bool
	// ServerCmd, ServerSend, ServerWait: the user's own server in the lab (dead-peer, zombie-flood).
	ServerCmd, ServerSend string
	ServerWait            time.Duration

	// hostRoot is the root under which --from-host, --compare host and the goal's tcp_retries2
	// read this host's sysctls ("/"; tests point it at a tree of their own).
	hostRoot string
	// loaded keeps the chain file once read: the settings and the NAT timeout both need it.
	loaded *loadedChain
}

// loadedChain is the --chain file, read once per run.
type loadedChain struct {
	c   *model.Chain
	err error
}

// drillChain reads --chain through the gather stage, once per run.
func drillChain(opts DrillOptions) (*model.Chain, error) {
	if opts.loaded != nil && (opts.loaded.c != nil || opts.loaded.err != nil) {
		return opts.loaded.c, opts.loaded.err
	}
	c, err := gather.Chain(context.Background(), opts.Chain, gather.ChainOptions{})
	if err != nil {
		err = inputErr(err)
	}
	if opts.loaded != nil {
		opts.loaded.c, opts.loaded.err = c, err
	}
	return c, err
}

func newDrillCmd(stdio IO) *cobra.Command {
	opts := DrillOptions{hostRoot: "/", loaded: &loadedChain{}}
	cmd := &cobra.Command{
		Use:   "drill SCENARIO",
		Short: "Prove keepalive settings in an isolated lab of network namespaces, measured against theory",
		Long: "drill builds a throw-away lab of network namespaces (client, server and, for most scenarios, a\n" +
			"forwarding middlebox), runs real TCP connections with the settings under test, breaks the path,\n" +
			"and measures when the kernel gives up, against theory. Lab traffic never leaves the lab: it uses\n" +
			"documentation address ranges inside namespaces the drill creates and removes (also on Ctrl-C).\n\n" +
			"Scenarios:\n" + scenarioHelp() + "\n" +
			"Settings under test: --idle/--intvl/--probes (and --user-timeout), --profile NAME (its recommended\n" +
			"values), or --from-host (this host's tcp_keepalive_* sysctls). Without any, the " + profiles.Default + " profile.\n" +
			"--time-scale N divides every timer for a quick run (keepalive values are whole seconds: scaled\n" +
			"values are rounded up to at least 1s, and the report says so).\n\n" +
			"Two verdicts per case: the kernel against theory (PASS, EARLY, LATE, FAIL), and the settings against\n" +
			"the goal in real (unscaled) time: the limits of --goal PROFILE (default: --profile's, else " + profiles.Default + "):\n" +
			"survive the NAT, detect a dead peer and fail unacknowledged data within the profile's limits. A failing\n" +
			"case prints the bound that would make it pass. Reference cases (nat-expiry without keepalive,\n" +
			"zombie-flood --compare, the end a chain hop leaves without keepalive) keep their own verdicts but do\n" +
			"not decide the goal.\n\n" +
			"Exit status follows the goal: 0 when every deciding case met it (which needs its kernel verdict to be\n" +
			"PASS too), 1 when one did not, 2 for bad input, 3 when the drill itself failed or was interrupted,\n" +
			"4 without root.",
		Example: "  sudo keeptune drill dead-peer --idle 60s --intvl 10s --probes 5 --user-timeout 45s --time-scale 10\n" +
			"  sudo keeptune drill nat-expiry --profile api-gateway --nat-timeout 350s --time-scale 50\n" +
			"  sudo keeptune drill zombie-flood --profile api-gateway --compare kernel --clients 5000 --time-scale 60 --html flood.html\n" +
			"  sudo keeptune drill unacked-data --from-host --retries2 5 --user-timeout 5s -o json\n" +
			"  sudo keeptune drill http-keepalive-race --proxy haproxy --backend-idle 5s --pool-idle 60s --time-scale 20\n" +
			"  sudo keeptune drill --cleanup --dry-run",
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.Cleanup {
				if len(args) > 0 {
					return usageErr(fmt.Errorf("--cleanup takes no scenario"))
				}
				return nil
			}
			if len(args) != 1 {
				return usageErr(fmt.Errorf("expected one scenario: %s", strings.Join(drill.ScenarioNames(), ", ")))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Cleanup {
				return runDrillCleanup(stdio, opts.DryRun)
			}
			if opts.DryRun {
				return usageErr(errors.New("--dry-run goes with --cleanup"))
			}
			return runDrill(cmd, args[0], opts, stdio)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Idle, "idle", 0, "TCP_KEEPIDLE under test (whole seconds, 1s to 32767s)")
	f.DurationVar(&opts.Interval, "intvl", 0, "TCP_KEEPINTVL under test (whole seconds, 1s to 32767s)")
	f.IntVar(&opts.Probes, "probes", 0, "TCP_KEEPCNT under test (1 to 127)")
	f.DurationVar(&opts.UserTimeout, "user-timeout", 0, "TCP_USER_TIMEOUT under test (0 = unset); combines with any settings source")
	f.StringVar(&opts.Profile, "profile", "", "test a profile's recommended values: "+strings.Join(profiles.Names(), ", ")+", or a YAML file")
	f.BoolVar(&opts.FromHost, "from-host", false, "test this host's net.ipv4.tcp_keepalive_time/intvl/probes (applied as the lab's sysctls)")
	f.StringVar(&opts.Compare, "compare", "", "zombie-flood: also run these settings side by side: kernel (defaults 7200s/75s/9), host, or a profile")
	f.IntVar(&opts.TimeScale, "time-scale", 1, "divide every timer by N for a quick run")
	f.BoolVar(&opts.IPv6, "ipv6", false, "run the lab on IPv6 (2001:db8::/32) instead of IPv4")
	f.StringVar(&opts.DropAt, "drop-at", "middlebox", "where the peer vanishes: middlebox (its forward path) or peer (the receiver's input)")
	f.IntVar(&opts.Clients, "clients", drill.DefaultClients, fmt.Sprintf("zombie-flood: vanishing clients (%d to %d)", drill.MinClients, drill.MaxClients))
	f.DurationVar(&opts.NATTimeout, "nat-timeout", drill.DefaultNATTimeout, "nat-expiry: the NAT forgets flows idle this long (before --time-scale)")
	f.StringVar(&opts.OnExpiry, "on-expiry", "both", "nat-expiry: what the NAT does with a forgotten flow's packets: drop, reset or both")
	f.IntVar(&opts.Retries2, "retries2", drill.DefaultRetries2, "tcp_retries2 inside the lab (bounds retransmission of unacknowledged data)")
	f.IntVar(&opts.Repeat, "repeat", 1, "run the scenario N times and report median and worst measured/theory")
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&opts.HTML, "html", "", "also write an HTML report with inline SVG charts to this file")
	f.StringVar(&opts.Chain, "chain", "", "take the settings from a hop of this chain file (with --hop)")
	f.StringVar(&opts.Hop, "hop", "", "the chain hop whose TCP keepalive to test (with --chain)")
	f.StringVar(&opts.Side, "side", "", "the hop's side: downstream (connections it accepts) or upstream (connections it opens); default: the hop's only side, or downstream")
	f.BoolVar(&opts.Enforce, "enforce", false, "dead-peer: the server is a program that never sets keepalive, in a cgroup on which keeptune enforce puts the settings (Linux 5.9+, BTF, cgroup v2)")
	f.BoolVar(&opts.Cleanup, "cleanup", false, "remove namespaces, veths and nftables tables left by killed drills, then exit")
	f.StringVar(&opts.Proxy, "proxy", "nginx", "http-keepalive-race: the proxy that pools connections to the backend: nginx or haproxy (Debian's packages)")
	f.DurationVar(&opts.BackendIdle, "backend-idle", drill.DefaultBackendIdle, "http-keepalive-race: the backend's keep-alive idle timeout (before --time-scale)")
	f.DurationVar(&opts.PoolIdle, "pool-idle", drill.DefaultPoolIdle, "http-keepalive-race: the proxy's pool idle timeout (nginx upstream keepalive_timeout, HAProxy pool-purge-delay; before --time-scale)")
	f.IntVar(&opts.Requests, "requests", drill.DefaultRequests, "http-keepalive-race: requests per case (10 to 10000)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "with --cleanup: list what would be removed and remove nothing")
	f.StringVar(&opts.ServerCmd, "server-cmd", "", "dead-peer, zombie-flood: run this server (sh -c) in the lab's server namespace and measure when it releases the vanished clients' descriptors and sockets; placeholders {addr} {port} {listen} {dir}, env KEEPTUNE_ADDR/PORT/LISTEN/DIR")
	f.StringVar(&opts.ServerSend, "server-send", drill.DefaultServerSend, "with --server-cmd: what each client sends before it vanishes (Go escapes; \"\" sends nothing)")
	f.DurationVar(&opts.ServerWait, "server-wait", 0, "with --server-cmd: how long to watch after the clients vanish (default: the keepalive its sockets use, plus the accept window; 60s without keepalive)")
	f.StringVar(&opts.Goal, "goal", "", "profile whose limits the settings must meet in real time (default: --profile's, else "+profiles.Default+")")
	return cmd
}

func scenarioHelp() string {
	var b strings.Builder
	for _, s := range drill.Scenarios() {
		fmt.Fprintf(&b, "  %-13s %s\n", s.Name, s.Summary)
	}
	return b.String()
}

// drillSettings resolves the settings under test and the comparison from the flags.
func drillSettings(cmd *cobra.Command, opts DrillOptions) (drill.Settings, *drill.Settings, error) {
	s, cmp, _, err := drillSettingsEnds(cmd, opts)
	return s, cmp, err
}

// drillSettingsEnds is drillSettings with the lab ends the settings go on: a chain hop's side
// is one end of its connections (downstream: it accepts, the lab's server; upstream: it opens,
// the lab's client); every other source puts them on both.
func drillSettingsEnds(cmd *cobra.Command, opts DrillOptions) (drill.Settings, *drill.Settings, drill.Ends, error) {
	s, cmp, err := drillSettingsOnly(cmd, opts)
	if err != nil || opts.Chain == "" {
		return s, cmp, drill.BothEnds, err
	}
	if strings.HasSuffix(s.Label, " upstream") {
		return s, cmp, drill.ClientEnd, nil
	}
	return s, cmp, drill.ServerEnd, nil
}

func drillSettingsOnly(cmd *cobra.Command, opts DrillOptions) (drill.Settings, *drill.Settings, error) {
	changed := func(names ...string) bool {
		for _, n := range names {
			if cmd.Flags().Changed(n) {
				return true
			}
		}
		return false
	}
	explicit := changed("idle", "intvl", "probes")
	sources := 0
	for _, b := range []bool{explicit, opts.Profile != "", opts.FromHost, opts.Chain != ""} {
		if b {
			sources++
		}
	}
	if sources > 1 {
		return drill.Settings{}, nil, usageErr(errors.New("choose one source of settings: --idle/--intvl/--probes, --profile, --from-host or --chain/--hop (--user-timeout combines with any)"))
	}
	var s drill.Settings
	switch {
	case opts.Chain != "":
		h, err := chainHopSettings(opts)
		if err != nil {
			return s, nil, err
		}
		s = h
	case explicit:
		if !changed("idle") || !changed("intvl") || !changed("probes") {
			return s, nil, usageErr(errors.New("explicit settings need --idle, --intvl and --probes together"))
		}
		s = drill.Settings{Label: "explicit", Source: "command line", Config: keepalive.Config{Idle: opts.Idle, Interval: opts.Interval, Count: opts.Probes}}
	case opts.FromHost:
		h, err := hostKeepalive(opts.hostRoot)
		if err != nil {
			return s, nil, runtimeErr(err)
		}
		s = h
	default:
		name := opts.Profile
		if name == "" {
			name = profiles.Default
		}
		p, err := profiles.Resolve(name)
		if err != nil {
			return s, nil, usageErr(err)
		}
		s = drill.FromProfile(p)
	}
	if changed("user-timeout") {
		s.UserTimeout = opts.UserTimeout
	}
	var cmp *drill.Settings
	if opts.Compare != "" {
		var c drill.Settings
		switch opts.Compare {
		case "kernel":
			c = drill.KernelDefaults
		case "host":
			h, err := hostKeepalive(opts.hostRoot)
			if err != nil {
				return s, nil, runtimeErr(err)
			}
			c = h
		default:
			p, err := profiles.Resolve(opts.Compare)
			if err != nil {
				return s, nil, usageErr(fmt.Errorf("--compare: %w (or kernel, host)", err))
			}
			c = drill.FromProfile(p)
		}
		cmp = &c
	}
	return s, cmp, nil
}

// chainHopSettings takes the TCP keepalive of one side of a chain file hop. Values the hop leaves
// to the operating system come from this host's sysctls, as they would for a program that turns
// keepalive on without setting them.
func chainHopSettings(opts DrillOptions) (drill.Settings, error) {
	if opts.Hop == "" {
		return drill.Settings{}, usageErr(errors.New("--chain needs --hop NAME: the hop whose keepalive to test"))
	}
	c, err := drillChain(opts)
	if err != nil {
		return drill.Settings{}, err
	}
	var hop *model.Hop
	var names []string
	for i := range c.Hops {
		names = append(names, c.Hops[i].Name)
		if c.Hops[i].Name == opts.Hop {
			hop = &c.Hops[i]
		}
	}
	if hop == nil {
		msg := fmt.Sprintf("%s has no hop %q: expected one of %s", opts.Chain, opts.Hop, strings.Join(names, ", "))
		if near := yamlx.Nearest(opts.Hop, names); near != "" {
			msg = fmt.Sprintf("%s has no hop %q: did you mean %q?", opts.Chain, opts.Hop, near)
		}
		return drill.Settings{}, usageErr(errors.New(msg))
	}
	side, sideName := hop.Downstream, "downstream"
	switch {
	case opts.Side == "upstream" || (opts.Side == "" && side == nil):
		side, sideName = hop.Upstream, "upstream"
	case opts.Side != "" && opts.Side != "downstream":
		return drill.Settings{}, usageErr(fmt.Errorf("invalid --side %q: expected downstream or upstream", opts.Side))
	}
	if side == nil {
		return drill.Settings{}, usageErr(fmt.Errorf("hop %s (%s) has no %s side to test", hop.Name, hop.Type, sideName))
	}
	k := side.TCP
	if !k.Enabled.Known || !k.Enabled.Value {
		return drill.Settings{}, usageErr(fmt.Errorf("hop %s's %s sockets have no TCP keepalive (%s): there is nothing to drill, and that is the finding (keeptune lint %s)",
			hop.Name, sideName, k.Enabled.Source, opts.Chain))
	}
	s := drill.Settings{Label: "hop " + hop.Name + " " + sideName, Source: fmt.Sprintf("%s:%d", hop.Declared.File, hop.Declared.Line)}
	if !k.Idle.Known || !k.Interval.Known || !k.Count.Known {
		h, err := hostKeepalive(opts.hostRoot)
		if err != nil {
			return s, runtimeErr(err)
		}
		s.Source += " (values it leaves to the OS: this host's sysctls)"
		s.Idle, s.Interval, s.Count = h.Idle, h.Interval, h.Count
	}
	if k.Idle.Known {
		s.Idle = k.Idle.Value
	}
	if k.Interval.Known {
		s.Interval = k.Interval.Value
	}
	if k.Count.Known {
		s.Count = k.Count.Value
	}
	if k.UserTimeout.Known {
		s.UserTimeout = k.UserTimeout.Value
	}
	return s, nil
}

// segmentNATTimeout returns the smallest idle timeout of the layer-4 middleboxes on the segment
// the chain hop's tested side belongs to (rounded up to whole seconds, the lab's unit).
func segmentNATTimeout(opts DrillOptions) (time.Duration, bool) {
	c, err := drillChain(opts)
	if err != nil {
		return 0, false // reported already: the settings come from the same file
	}
	var best time.Duration
	for _, seg := range chain.Segments(c) {
		if seg.Opener.Name() != opts.Hop && seg.Acceptor.Name() != opts.Hop {
			continue
		}
		if opts.Side == "upstream" && seg.Opener.Name() != opts.Hop || opts.Side == "downstream" && seg.Acceptor.Name() != opts.Hop {
			continue
		}
		for _, mi := range seg.Middleboxes {
			if t := c.Hops[mi].Middlebox.IdleTimeout.Value; best == 0 || t < best {
				best = t
			}
		}
	}
	best = (best + time.Second - 1) / time.Second * time.Second
	return best, best > 0
}

// hostKeepalive takes this host's keepalive sysctls, read by the gather stage, as the settings
// to drill: the lab applies them as its own sysctls (ViaSysctl).
func hostKeepalive(root string) (drill.Settings, error) {
	ns, probs := gather.Sysctls(root)
	for _, key := range []string{model.KeyKeepaliveTime, model.KeyKeepaliveIntvl, model.KeyKeepaliveProbes} {
		if err := unreadSysctl(ns, probs, key); err != nil {
			return drill.Settings{}, fmt.Errorf("--from-host: %w", err)
		}
	}
	k := ns.Keepalive
	return drill.Settings{Label: "host sysctls", Source: "/proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes}",
		Config: keepalive.Config{Idle: k.Idle.Value, Interval: k.Interval.Value, Count: k.Count.Value}, ViaSysctl: true}, nil
}

// unreadSysctl says why key has no number in ns: the Problem reading it, or its content.
func unreadSysctl(ns model.Namespace, probs []model.Problem, key string) error {
	s, ok := model.Lookup(ns.Sysctls, key)
	if ok && s.Readable {
		if _, err := strconv.Atoi(s.Value); err != nil {
			return fmt.Errorf("read %s: %q is not a number", key, s.Value)
		}
		return nil
	}
	for _, p := range probs {
		if p.Sysctl == key {
			return fmt.Errorf("read %s: %s", key, p.Err)
		}
	}
	return fmt.Errorf("read %s: not readable", key)
}

// drillOptions turns the flags into drill.Options, checking everything that needs no lab.
func drillOptions(cmd *cobra.Command, name string, opts DrillOptions, stdio IO) (drill.Options, error) {
	if _, err := drill.Lookup(name); err != nil {
		return drill.Options{}, usageErr(err)
	}
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return drill.Options{}, err
	}
	if opts.TimeScale < 1 {
		return drill.Options{}, usageErr(fmt.Errorf("invalid --time-scale %d: expected a whole number of at least 1", opts.TimeScale))
	}
	if opts.Repeat < 1 {
		return drill.Options{}, usageErr(fmt.Errorf("invalid --repeat %d: expected at least 1", opts.Repeat))
	}
	s, cmp, ends, err := drillSettingsEnds(cmd, opts)
	if err != nil {
		return drill.Options{}, err
	}
	if opts.ServerCmd != "" {
		if s, err = serverCmdSettings(cmd, name, opts); err != nil {
			return drill.Options{}, err
		}
		cmp, ends = nil, drill.BothEnds
	}
	goal, err := drillGoal(opts)
	if err != nil {
		return drill.Options{}, err
	}
	if cmp != nil && name != "zombie-flood" {
		return drill.Options{}, usageErr(errors.New("--compare applies to zombie-flood only"))
	}
	natTimeout := opts.NATTimeout
	if opts.Chain != "" && name == "nat-expiry" && !cmd.Flags().Changed("nat-timeout") {
		// The NAT of the lab takes the idle timeout of the hop's own segment: the smallest of
		// the layer-4 middleboxes between the hop and its peer.
		if t, ok := segmentNATTimeout(opts); ok {
			natTimeout = t
		}
	}
	o := drill.Options{Settings: s, Compare: cmp, TimeScale: opts.TimeScale, Family: lab.IPv4, Clients: opts.Clients,
		NATTimeout: natTimeout, Retries2: opts.Retries2, Repeat: opts.Repeat, Progress: stdio.Err,
		Ends: ends, Goal: goal, HostRetries2: hostRetries2(opts.hostRoot), Enforce: opts.Enforce,
		Proxy: opts.Proxy, BackendIdle: opts.BackendIdle, PoolIdle: opts.PoolIdle, Requests: opts.Requests,
		ServerCmd: opts.ServerCmd, ServerSend: opts.ServerSend, ServerWait: opts.ServerWait}
	if opts.IPv6 {
		o.Family = lab.IPv6
	}
	switch opts.DropAt {
	case "middlebox":
		o.DropAt = lab.AtMiddlebox
	case "peer":
		o.DropAt = lab.AtReceiver
	default:
		return o, usageErr(fmt.Errorf("invalid --drop-at %q: expected middlebox or peer", opts.DropAt))
	}
	switch opts.OnExpiry {
	case "drop":
		o.OnExpiry = []lab.OnExpiry{lab.ExpiryDrop}
	case "reset":
		o.OnExpiry = []lab.OnExpiry{lab.ExpiryReset}
	case "both":
		o.OnExpiry = []lab.OnExpiry{lab.ExpiryDrop, lab.ExpiryReset}
	default:
		return o, usageErr(fmt.Errorf("invalid --on-expiry %q: expected drop, reset or both", opts.OnExpiry))
	}
	if err := o.ValidateFor(name); err != nil {
		return o, usageErr(err)
	}
	return o, nil
}

// serverCmdSettings checks --server-cmd against the other flags and gives what the lab's server
// namespace carries: this host's keepalive sysctls, which a server that turns SO_KEEPALIVE on
// without values gets. The server's own values are read from its sockets during the drill.
func serverCmdSettings(cmd *cobra.Command, name string, opts DrillOptions) (drill.Settings, error) {
	if name != "dead-peer" && name != "zombie-flood" {
		return drill.Settings{}, usageErr(errors.New("--server-cmd applies to dead-peer and zombie-flood only"))
	}
	for _, f := range []string{"idle", "intvl", "probes", "user-timeout", "from-host", "chain", "hop", "compare", "enforce"} {
		if cmd.Flags().Changed(f) {
			return drill.Settings{}, usageErr(fmt.Errorf("--%s does not go with --server-cmd: the server's own keepalive is measured, read from its sockets (the lab's server namespace carries this host's tcp_keepalive_* sysctls)", f))
		}
	}
	if opts.TimeScale > 1 {
		return drill.Settings{}, usageErr(errors.New("--time-scale does not go with --server-cmd: the server's timers are its own and cannot be divided (configure it with short timeouts for a quick drill)"))
	}
	h, err := hostKeepalive(opts.hostRoot)
	if err != nil {
		return drill.Settings{}, runtimeErr(err)
	}
	h.Label = "server namespace sysctls"
	h.Source = "this host's net.ipv4.tcp_keepalive_*; the server's own values are read from its sockets"
	return h, nil
}

// geteuid is os.Geteuid; tests replace it to see the unprivileged path as root.
var geteuid = os.Geteuid

func needRoot(what string) error {
	if geteuid() == 0 {
		return nil
	}
	return privilegeErr(fmt.Errorf("%s needs root: it creates network namespaces, veth pairs and nftables tables", what),
		"run it with sudo (it needs CAP_SYS_ADMIN for namespaces and the mounts under /run/netns, and CAP_NET_ADMIN for links and nftables); nothing was created")
}

func runDrill(cmd *cobra.Command, name string, opts DrillOptions, stdio IO) error {
	o, err := drillOptions(cmd, name, opts, stdio)
	if err != nil {
		return err
	}
	if err := needRoot("keeptune drill"); err != nil {
		return err
	}
	// Fail before the drill, not after minutes of it; create nothing yet.
	if err := checkHTMLFile(opts.HTML); err != nil {
		return err
	}
	est := drill.Estimate(name, o)
	with := o.Settings.Label
	switch {
	case name == "http-keepalive-race":
		with = fmt.Sprintf("%s, backend idle %v, pool idle %v", o.Proxy, o.BackendIdle, o.PoolIdle)
	case o.ServerCmd != "":
		with = "the server's own settings (--server-cmd)"
	}
	msg := fmt.Sprintf("keeptune drill: %s with %v; this takes about %v", name, with, est.Round(time.Second))
	switch {
	case o.ServerCmd != "" && est == 0:
		msg = fmt.Sprintf("keeptune drill: %s with %v; how long it takes depends on the keepalive its sockets use, read once it runs", name, with)
	case o.ServerCmd != "":
		msg = fmt.Sprintf("keeptune drill: %s with %v; this takes at most about %v (--server-wait)", name, with, est.Round(time.Second))
	}
	if est > 10*time.Minute && o.TimeScale == 1 && o.ServerCmd == "" {
		msg += " (use --time-scale N to divide every timer)"
	}
	fmt.Fprintln(stdio.Err, msg)

	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	rep, err := drill.Execute(ctx, name, o)
	if err != nil {
		if ctx.Err() != nil {
			return runtimeErr(fmt.Errorf("drill interrupted: the lab was removed (%d runs finished)", len(rep.Runs)))
		}
		return runtimeErr(fmt.Errorf("drill %s: %w", name, err))
	}
	if opts.Output == "json" {
		err = jsonx.NewEncoder(stdio.Out).Encode(rep)
	} else {
		err = render.Text(stdio.Out, rep, render.TextOptions{Timelines: o.Repeat == 1})
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("write report: %w", err))
	}
	if opts.HTML != "" {
		if err := writeHTML(opts.HTML, rep); err != nil {
			return runtimeErr(err)
		}
		fmt.Fprintf(stdio.Err, "keeptune drill: wrote %s\n", opts.HTML)
	}
	if !rep.GoalMet() {
		return errFindings
	}
	return nil
}

// drillGoal resolves the profile whose limits the settings are judged against.
func drillGoal(opts DrillOptions) (drill.Goal, error) {
	name := opts.Goal
	if name == "" {
		name = opts.Profile
	}
	if name == "" {
		name = profiles.Default
	}
	p, err := profiles.Resolve(name)
	if err != nil {
		return drill.Goal{}, usageErr(fmt.Errorf("--goal: %w", err))
	}
	return drill.GoalFromProfile(p), nil
}

// hostRetries2 is this host's net.ipv4.tcp_retries2, read by the gather stage; 0 when it
// cannot be read.
func hostRetries2(root string) int {
	ns, probs := gather.Sysctls(root)
	if unreadSysctl(ns, probs, model.KeyRetries2) != nil {
		return 0
	}
	s, _ := model.Lookup(ns.Sysctls, model.KeyRetries2)
	n, _ := strconv.Atoi(s.Value)
	return n
}

func writeHTML(path string, rep drill.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := render.HTML(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func runDrillCleanup(stdio IO, dryRun bool) error {
	if err := needRoot("keeptune drill --cleanup"); err != nil {
		return err
	}
	if dryRun {
		left, err := lab.Leftovers()
		for _, l := range left {
			if l.InUse {
				fmt.Fprintf(stdio.Out, "would keep %s\n", l)
			} else {
				fmt.Fprintf(stdio.Out, "would remove %s\n", l)
			}
		}
		if len(left) == 0 && err == nil {
			fmt.Fprintln(stdio.Err, "keeptune drill: nothing to clean up")
		}
		if err != nil {
			return runtimeErr(fmt.Errorf("cleanup --dry-run: %w", err))
		}
		return nil
	}
	removed, inUse, err := lab.Cleanup()
	for _, r := range removed {
		fmt.Fprintf(stdio.Out, "removed %s\n", r)
	}
	for _, r := range inUse {
		fmt.Fprintf(stdio.Out, "kept %s\n", r)
	}
	if len(removed) == 0 && len(inUse) == 0 && err == nil {
		fmt.Fprintln(stdio.Err, "keeptune drill: nothing to clean up")
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("cleanup: %w", err))
	}
	return nil
}
