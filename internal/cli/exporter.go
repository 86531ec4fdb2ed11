package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/exporter"
	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
)

// ExporterOptions are the flags of `keeptune exporter`.
type ExporterOptions struct {
	Listen        string
	WebConfigFile string
	AllNetns      bool
	ProcRoot      string
	Ports         []string
	Processes     []string
	TopPorts      int
	TopProcesses  int
	MaxSeries     int
	AuditInterval time.Duration
	Profile       string
	CloseWait     time.Duration
	Idle          time.Duration
	Root          string
	StateDir      string
	Chain         string
}

func newExporterCmd(stdio IO) *cobra.Command {
	opts := ExporterOptions{}
	cmd := &cobra.Command{
		Use:   "exporter [--listen ADDR]",
		Short: "Serve connection liveness as Prometheus metrics (per namespace, port and process)",
		Long: "exporter serves Prometheus metrics at /metrics: per network namespace the keepalive and timeout\n" +
			"sysctls, conntrack's count and limit, the kernel's TCP counters (keepalive probes, aborts, resets,\n" +
			"retransmissions, opens), sockets by state and keepalive state per listening port and per process,\n" +
			"idle-time histograms of established connections, CLOSE_WAIT sockets and their oldest age, and the\n" +
			"findings of an audit that runs every --audit-interval. Series per scrape are capped (--max-series)\n" +
			"whatever the number of sockets. --web.config.file takes exporter-toolkit's web configuration (TLS,\n" +
			"basic auth); a bad one stops the exporter before it listens. It runs until interrupted and then\n" +
			"lets in-flight scrapes finish.",
		Example: "  keeptune exporter\n  sudo keeptune exporter --all-netns --listen :19877 --web.config.file web.yml\n" +
			"  keeptune exporter --ports 443,5432 --processes nginx,postgres --top-ports 10",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExporter(cmd.Context(), opts, stdio)
		},
	}
	d := exporter.Defaults
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", exporter.DefaultListen, "address to serve on (19877: the Prometheus port list's 9100-9999 range is full)")
	f.StringVar(&opts.WebConfigFile, "web.config.file", "", "exporter-toolkit web configuration file (TLS, basic auth)")
	f.BoolVar(&opts.AllNetns, "all-netns", false, "export every network namespace in use (needs root)")
	f.StringVar(&opts.ProcRoot, "proc", d.ProcRoot, "the proc file system (the host's, mounted elsewhere in a container)")
	f.StringSliceVar(&opts.Ports, "ports", nil, "listening ports that always keep their own label (comma separated)")
	f.StringSliceVar(&opts.Processes, "processes", nil, "process names that always keep their own label (comma separated)")
	f.IntVar(&opts.TopPorts, "top-ports", d.TopPorts, "listening ports with the most sockets that keep their own label (the rest: other)")
	f.IntVar(&opts.TopProcesses, "top-processes", d.TopProcesses, "process names with the most sockets that keep their own label (the rest: other)")
	f.IntVar(&opts.MaxSeries, "max-series", d.MaxSeries, "hard cap on keeptune_ series per scrape")
	f.DurationVar(&opts.AuditInterval, "audit-interval", d.AuditInterval, "how often the audit runs (0 never)")
	f.StringVar(&opts.Profile, "profile", profiles.Default, "the audit's workload profile: "+joinNames(profiles.Names())+", or a YAML file")
	f.StringVar(&opts.Chain, "chain", "", "the audit's chain file (default: ./keeptune.yaml or /etc/keeptune/keeptune.yaml if present)")
	f.DurationVar(&opts.CloseWait, "close-wait", model.DefaultSocketThresholds.CloseWait, "CLOSE_WAIT age that makes a socket a leak")
	f.StringVar(&opts.Root, "root", "/", "where the host's file system is (its mount point in a container): files keeptune apply wrote are checked there for drift")
	f.StringVar(&opts.StateDir, "state-dir", "", "keeptune apply's state directory, read for drift (default ROOT/var/lib/keeptune)")
	f.DurationVar(&opts.Idle, "idle", model.DefaultSocketThresholds.Idle, "idle time that flags a connection without keepalive")
	return cmd
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func runExporter(ctx context.Context, opts ExporterOptions, stdio IO) error {
	if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
		return usageErr(fmt.Errorf("invalid --listen %q: expected HOST:PORT or :PORT", opts.Listen))
	}
	ports := make([]uint16, 0, len(opts.Ports))
	for _, p := range opts.Ports {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return usageErr(fmt.Errorf("invalid --ports value %q: expected a port 1 to 65535", p))
		}
		ports = append(ports, uint16(n))
	}
	if opts.AllNetns && os.Geteuid() != 0 {
		return privilegeErr(errors.New("--all-netns needs root"),
			"entering other network namespaces needs CAP_SYS_ADMIN and reading other users' processes CAP_SYS_PTRACE: run it as root (the DaemonSet in deploy/kubernetes does), or drop --all-netns")
	}
	if _, err := profiles.Resolve(opts.Profile); err != nil {
		return usageErr(err)
	}
	if opts.Chain != "" {
		// The audit loop would fail on it every interval: say so now.
		if _, err := gather.Chain(ctx, opts.Chain, gather.ChainOptions{}); err != nil {
			return usageErr(err)
		}
	}
	interval := opts.AuditInterval
	if interval == 0 {
		interval = -1 // the library's zero means "default"; here it means never
	}
	if err := exporter.CheckWebConfig(opts.WebConfigFile); err != nil {
		return usageErr(fmt.Errorf("%w\nhint: the exporter does not start with a web configuration it cannot honour (it would serve without the TLS or authentication you asked for); check the bcrypt hashes (htpasswd -nBC 10 USER) and that cert_file and key_file exist", err))
	}
	log := slog.New(slog.NewTextHandler(stdio.Err, nil))
	e, err := exporter.New(exporter.Options{
		ProcRoot: opts.ProcRoot, AllNetns: opts.AllNetns,
		Ports: ports, Processes: opts.Processes, TopPorts: opts.TopPorts, TopProcesses: opts.TopProcesses,
		MaxSeries: opts.MaxSeries, AuditInterval: interval, Profile: opts.Profile,
		Root: opts.Root, JournalDir: opts.StateDir, Chain: opts.Chain,
		Thresholds: model.SocketThresholds{CloseWait: opts.CloseWait, Idle: opts.Idle},
	}, log)
	if err != nil {
		return usageErr(err)
	}
	err = e.Serve(ctx, exporter.ServeOptions{Listen: opts.Listen, WebConfigFile: opts.WebConfigFile, Version: version()})
	if err != nil {
		return runtimeErr(fmt.Errorf("exporter: %w", err))
	}
	return nil
}
