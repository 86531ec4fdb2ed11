package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/report"
	"github.com/spf13/cobra"
)

// SocketsOptions are the flags of `keeptune sockets`.
type SocketsOptions struct {
	Output      string
	Summary     bool
	Watch       time.Duration
	States      string
	Ports       []string
	LocalPorts  []string
	PeerPorts   []string
	PIDs        []int
	Processes   []string
	Idle        string
	NoKeepalive bool
	Netns       string
	Deep        bool
	NoInfo      bool
	NoProcesses bool
	NoHeader    bool
	Stats       bool
	Sort        string

	IdleThreshold      time.Duration
	CloseWaitThreshold time.Duration

	stamp []byte // --watch -o json: written into every line of one refresh
}

func newSocketsCmd(stdio IO) *cobra.Command {
	opts := SocketsOptions{}
	cmd := &cobra.Command{
		Use:   "sockets",
		Short: "List TCP sockets with their keepalive, idle time, timers and owning process",
		Long: "sockets is a keepalive-aware, process-aware ss: it streams every TCP socket from the kernel\n" +
			"(netlink sock_diag), with the pending timer, the time since data was last received and sent,\n" +
			"whether keepalive is on, off or probing a silent peer, and the process that holds it. Flags\n" +
			"point at trouble: idle-without-keepalive, close-wait-leak, silent-peer, orphan-fin-wait2.\n\n" +
			"Without --deep, keepalive is told from the kernel's timers: \"on\" when the keepalive timer is\n" +
			"pending, \"off\" when a connected socket has no timer at all (the kernel keeps the keepalive\n" +
			"timer armed on every SO_KEEPALIVE socket), \"unknown\" when a retransmission timer hides it.\n" +
			"With --deep (root) keeptune reads SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT and TCP_USER_TIMEOUT\n" +
			"from each socket through its process (pidfd_getfd) and stars values the program set itself.",
		Example: "  keeptune sockets\n" +
			"  keeptune sockets --state established --idle '>10m' --no-keepalive\n" +
			"  keeptune sockets --port 5432 --summary\n" +
			"  sudo keeptune sockets --deep --process nginx\n" +
			"  sudo keeptune sockets --netns all -o json > sockets.jsonl\n" +
			"  keeptune sockets --state close-wait --watch 2s",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSockets(cmd.Context(), opts, stdio) },
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text (a table, or tables with --summary) or json (JSON Lines, one socket per line; one document with --summary)")
	f.BoolVar(&opts.Summary, "summary", false, "aggregate per process and per listening port: counts by state, keepalive on/off, idle p50/p90/p99, leaks")
	f.DurationVar(&opts.Watch, "watch", 0, "refresh every DURATION (e.g. 2s) until Ctrl-C")
	f.StringVar(&opts.States, "state", "", "states to show, comma separated (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, close, close-wait, last-ack, listen, closing; groups all, connected, synchronized, bucket, big)")
	f.StringSliceVar(&opts.Ports, "port", nil, "show sockets whose local or peer port is one of these, numbers or service names as in /etc/services (http, postgresql); filtered in the kernel")
	f.StringSliceVar(&opts.LocalPorts, "sport", nil, "show sockets whose local port is one of these (filtered in the kernel)")
	f.StringSliceVar(&opts.PeerPorts, "dport", nil, "show sockets whose peer port is one of these (filtered in the kernel)")
	f.IntSliceVar(&opts.PIDs, "pid", nil, "show sockets held by these processes")
	f.StringSliceVar(&opts.Processes, "process", nil, "show sockets held by processes with these names (as in /proc/PID/comm)")
	f.StringVar(&opts.Idle, "idle", "", "show connections idle (no data either way) for longer or shorter than a duration: '>60s', '>=5m', '<1s'")
	f.BoolVar(&opts.NoKeepalive, "no-keepalive", false, "show only sockets whose keepalive is off")
	f.StringVar(&opts.Netns, "netns", "", "network namespace: a name under /run/netns, a PID, a path, or all (needs root); default: keeptune's own")
	f.BoolVar(&opts.Deep, "deep", false, "read each socket's keepalive options from its process (needs root or CAP_SYS_PTRACE, Linux 5.6+)")
	f.BoolVar(&opts.NoInfo, "no-info", false, "skip tcp_info (no idle times, rtt, backoff): headers only, like ss -tan")
	f.BoolVar(&opts.NoProcesses, "no-processes", false, "skip finding the process that holds each socket")
	f.BoolVar(&opts.NoHeader, "no-header", false, "omit the table header")
	f.StringVar(&opts.Sort, "sort", "", "order the sockets: idle (longest idle first), state, or process (name, then pid); default: as the kernel sends them")
	f.BoolVar(&opts.Stats, "stats", false, "print what the walk did (sockets, processes walked, time) on stderr")
	f.DurationVar(&opts.IdleThreshold, "idle-threshold", model.DefaultSocketThresholds.Idle, "idle time from which an established socket without keepalive is flagged idle-without-keepalive")
	f.DurationVar(&opts.CloseWaitThreshold, "close-wait-threshold", model.DefaultSocketThresholds.CloseWait, "CLOSE_WAIT age (time since the peer last sent anything) from which a socket is flagged close-wait-leak")
	return cmd
}

// socketsQuery checks the flags that are the verb's own and turns the rest into the gather
// stage's query (which checks those).
func socketsQuery(opts SocketsOptions) (gather.SocketsQuery, error) {
	q := gather.SocketsQuery{
		States: opts.States, Ports: opts.Ports, LocalPorts: opts.LocalPorts, PeerPorts: opts.PeerPorts,
		PIDs: opts.PIDs, Processes: opts.Processes, Idle: opts.Idle, NoKeepalive: opts.NoKeepalive,
		Netns: opts.Netns, Deep: opts.Deep, NoInfo: opts.NoInfo, NoProcesses: opts.NoProcesses, Sort: opts.Sort,
		IdleThreshold: opts.IdleThreshold, CloseWaitThreshold: opts.CloseWaitThreshold,
	}
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return q, err
	}
	if opts.Sort != "" && opts.Summary {
		return q, fmt.Errorf("--sort orders the socket list; --summary has its own order")
	}
	if opts.Watch < 0 || (opts.Watch > 0 && opts.Watch < 100*time.Millisecond) {
		return q, fmt.Errorf("invalid --watch %v: expected a refresh interval of at least 100ms, such as 2s", opts.Watch)
	}
	return q, q.Check()
}

func runSockets(ctx context.Context, opts SocketsOptions, stdio IO) error {
	q, err := socketsQuery(opts)
	if err != nil {
		return usageErr(err)
	}
	if opts.Netns == "all" && os.Geteuid() != 0 {
		return privilegeErr(fmt.Errorf("--netns all needs root"),
			"entering other network namespaces needs CAP_SYS_ADMIN, and finding them all CAP_SYS_PTRACE: run it with sudo, or drop --netns to see this namespace")
	}
	if opts.Deep && os.Geteuid() != 0 {
		fmt.Fprintln(stdio.Err, "keeptune: --deep without root reads only sockets of processes this user may ptrace; run it with sudo for all")
	}
	if opts.Watch == 0 {
		return socketsOnce(ctx, opts, q, stdio.Out, stdio)
	}
	for snapshot := 1; ; snapshot++ {
		// JSON lines of one refresh share a snapshot number and its time.
		opts.stamp = fmt.Appendf(nil, `"snapshot":%d,"time":%q,`, snapshot, time.Now().UTC().Format(time.RFC3339Nano))
		var frame []byte
		if opts.Output == "text" {
			if stdio.OutIsTerminal {
				frame = append(frame, "\x1b[H\x1b[2J"...)
			}
			frame = fmt.Appendf(frame, "keeptune sockets, every %v, %s (Ctrl-C to stop)\n", opts.Watch, time.Now().Format("15:04:05"))
		}
		if opts.Output == "json" && !opts.Summary {
			// JSON Lines stream as they come, frame after frame.
			if err := socketsOnce(ctx, opts, q, stdio.Out, stdio); err != nil || ctx.Err() != nil {
				return err
			}
		} else {
			// A text frame is gathered first, so the screen is redrawn at once.
			buf := &byteSink{b: frame}
			err := socketsOnce(ctx, opts, q, buf, stdio)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := stdio.Out.Write(buf.b); err != nil {
				return runtimeErr(fmt.Errorf("write output: %w", err))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Watch):
		}
	}
}

type byteSink struct{ b []byte }

func (s *byteSink) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

// socketsOnce runs one walk and writes its view to out.
func socketsOnce(ctx context.Context, opts SocketsOptions, q gather.SocketsQuery, out io.Writer, stdio IO) error {
	var view interface {
		gather.SocketSink
		Flush() error
	}
	if opts.Summary {
		view = report.NewSocketSummary(out, opts.Output == "json")
	} else {
		view = report.NewSocketList(out, report.SocketListOptions{JSON: opts.Output == "json",
			Header: opts.Output == "text" && !opts.NoHeader, Netns: opts.Netns != "", Stamp: opts.stamp})
	}
	stats, err := gather.Sockets(ctx, q, view)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return walkErr(err)
	}
	if err := view.Flush(); err != nil {
		return runtimeErr(err)
	}
	if stats.DeepFailed > 0 {
		fmt.Fprintf(stdio.Err, "keeptune: keepalive options of %d socket(s) could not be read (%v); they show what inet_diag tells\n", stats.DeepFailed, stats.DeepErr)
		if errors.Is(stats.DeepErr, gather.ErrPrivilege) {
			fmt.Fprintln(stdio.Err, "hint: run it as root (pidfd_getfd needs ptrace access to the process)")
		}
	}
	if o := stats.Owners; !q.NoProcesses && o.Denied > 0 && os.Geteuid() != 0 {
		fmt.Fprintf(stdio.Err, "keeptune: %d process(es) of other users could not be inspected; their sockets show no process (hint: run it as root)\n", o.Denied)
	}
	if opts.Stats {
		o := stats.Owners
		fmt.Fprintf(stdio.Err, "keeptune: %d socket(s) shown of %d sent by the kernel, %d namespace(s), %v\n",
			stats.Matched, stats.Received, stats.Namespaces, stats.Duration.Round(time.Millisecond))
		if !q.NoProcesses {
			found := fmt.Sprintf("%d socket descriptors recorded", o.Found)
			if o.Wanted > 0 {
				found = fmt.Sprintf("%d of %d wanted sockets found, stopped early: %v", o.Found, o.Wanted, o.StoppedEarly)
			}
			fmt.Fprintf(stdio.Err, "keeptune: processes: %d listed, %d walked by %d workers, %d skipped (kernel threads, zombies), %d denied; %d descriptors read; %s; %v\n",
				o.Processes, o.Walked, o.Workers, o.Skipped, o.Denied, o.Links, found, o.Duration.Round(time.Millisecond))
		}
		if stats.BytecodeRanges {
			fmt.Fprintln(stdio.Err, "keeptune: the kernel refused equality bytecode (before 4.16): ports were filtered with ranges")
		}
	}
	return nil
}

// walkErr sorts a walk error into bad input, privilege and runtime failures.
func walkErr(err error) error {
	switch {
	case errors.Is(err, gather.ErrPrivilege):
		return privilegeErr(err, "run it with sudo")
	case errors.Is(err, gather.ErrInput):
		return usageErr(err)
	}
	return runtimeErr(err)
}
