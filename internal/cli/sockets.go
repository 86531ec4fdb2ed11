package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/sockets"
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
	f.DurationVar(&opts.IdleThreshold, "idle-threshold", sockets.DefaultThresholds.Idle, "idle time from which an established socket without keepalive is flagged idle-without-keepalive")
	f.DurationVar(&opts.CloseWaitThreshold, "close-wait-threshold", sockets.DefaultThresholds.CloseWait, "CLOSE_WAIT age (time since the peer last sent anything) from which a socket is flagged close-wait-leak")
	return cmd
}

// socketsQuery turns the flags into walk options, or a usage error saying what was expected.
func socketsQuery(opts SocketsOptions) (sockets.Options, error) {
	var q sockets.Options
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return q, err
	}
	switch opts.Sort {
	case "", "idle", "state", "process":
	default:
		return q, fmt.Errorf("invalid --sort %q: expected idle, state or process", opts.Sort)
	}
	if opts.Sort != "" && opts.Summary {
		return q, fmt.Errorf("--sort orders the socket list; --summary has its own order")
	}
	if opts.Watch < 0 || (opts.Watch > 0 && opts.Watch < 100*time.Millisecond) {
		return q, fmt.Errorf("invalid --watch %v: expected a refresh interval of at least 100ms, such as 2s", opts.Watch)
	}
	if opts.IdleThreshold <= 0 {
		return q, fmt.Errorf("invalid --idle-threshold %v: expected a positive duration such as 300s", opts.IdleThreshold)
	}
	if opts.CloseWaitThreshold <= 0 {
		return q, fmt.Errorf("invalid --close-wait-threshold %v: expected a positive duration such as 60s", opts.CloseWaitThreshold)
	}
	f := &q.Filter
	if opts.States != "" {
		st, err := sockets.ParseStates(opts.States)
		if err != nil {
			return q, fmt.Errorf("invalid --state: %w", err)
		}
		f.States = st
	}
	for _, p := range []struct {
		flag string
		in   []string
		out  *[]uint16
	}{{"--port", opts.Ports, &f.Ports}, {"--sport", opts.LocalPorts, &f.LocalPorts}, {"--dport", opts.PeerPorts, &f.PeerPorts}} {
		names, err := servicePorts(p.in)
		if err != nil {
			return q, fmt.Errorf("invalid %s: %w", p.flag, err)
		}
		ports, err := sockets.ParsePorts(strings.Join(names, ","))
		if err != nil {
			return q, fmt.Errorf("invalid %s: %w", p.flag, err)
		}
		*p.out = ports
	}
	for _, pid := range opts.PIDs {
		if pid <= 0 {
			return q, fmt.Errorf("invalid --pid %d: expected a positive process id", pid)
		}
	}
	f.PIDs = opts.PIDs
	for _, name := range opts.Processes {
		if name == "" || len(name) > 15 {
			return q, fmt.Errorf("invalid --process %q: expected a process name as in /proc/PID/comm (1 to 15 characters)", name)
		}
	}
	f.Processes = opts.Processes
	if opts.Idle != "" {
		c, err := sockets.ParseIdleCond(opts.Idle)
		if err != nil {
			return q, fmt.Errorf("invalid --idle: %w", err)
		}
		f.Idle = &c
	}
	f.NoKeepalive = opts.NoKeepalive
	if err := f.Validate(); err != nil {
		return q, err
	}
	if opts.NoInfo && (f.Idle != nil || opts.Deep) {
		return q, fmt.Errorf("--no-info cannot be combined with --idle or --deep: they need tcp_info")
	}
	if opts.NoProcesses && (opts.Deep || len(f.PIDs) > 0 || len(f.Processes) > 0) {
		return q, fmt.Errorf("--no-processes cannot be combined with --deep, --pid or --process: they need the owning processes")
	}
	q.Info = !opts.NoInfo
	q.Processes = !opts.NoProcesses
	q.Deep = opts.Deep
	q.Netns = opts.Netns
	q.Thresholds = sockets.Thresholds{Idle: opts.IdleThreshold, CloseWait: opts.CloseWaitThreshold}
	return q, nil
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
	if opts.Deep {
		q.Enforcement = enforcementLookup()
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

// flushAt is how much output is gathered before a write.
const flushAt = 64 << 10

// socketsOnce runs one walk and writes its view to out.
func socketsOnce(ctx context.Context, opts SocketsOptions, q sockets.Options, out io.Writer, stdio IO) error {
	var stats sockets.Stats
	q.Stats = &stats
	buf := make([]byte, 0, flushAt+4096)
	write := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := out.Write(buf)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	var err error
	if opts.Summary {
		sum := sockets.NewSummary()
		// Learn the listening ports first, so connections group under their port whatever the
		// state filter shows.
		lq := sockets.Options{Netns: q.Netns, Filter: sockets.Filter{States: 1 << sockets.StateListen}}
		if err := sockets.Walk(ctx, lq, func(s *sockets.Socket) error { sum.NoteListener(s); return nil }); err != nil {
			return walkErr(err)
		}
		err = sockets.Walk(ctx, q, func(s *sockets.Socket) error { sum.Add(s); return nil })
		if err == nil {
			if opts.Output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(sum.JSON())
			} else {
				buf = sum.AppendSummary(buf)
			}
		}
	} else {
		withNetns := opts.Netns != ""
		if opts.Output == "text" && !opts.NoHeader {
			buf = sockets.AppendTableHeader(buf, withNetns)
		}
		emit := func(s *sockets.Socket) error {
			if opts.Output == "json" {
				buf = sockets.AppendJSONStamped(buf, s, opts.stamp)
			} else {
				buf = sockets.AppendTableRow(buf, s, withNetns)
			}
			if len(buf) >= flushAt {
				return write()
			}
			return nil
		}
		if opts.Sort == "" {
			err = sockets.Walk(ctx, q, emit)
		} else {
			// Sorting needs them all first: copies, since the walk reuses its socket.
			var all []sockets.Socket
			err = sockets.Walk(ctx, q, func(s *sockets.Socket) error { all = append(all, *s); return nil })
			if err == nil {
				sortSockets(all, opts.Sort)
				for i := range all {
					if err = emit(&all[i]); err != nil {
						break
					}
				}
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return walkErr(err)
	}
	if err := write(); err != nil {
		return runtimeErr(err)
	}
	if stats.DeepFailed > 0 {
		fmt.Fprintf(stdio.Err, "keeptune: keepalive options of %d socket(s) could not be read (%v); they show what inet_diag tells\n", stats.DeepFailed, stats.DeepErr)
		if errors.Is(stats.DeepErr, sockets.ErrPrivilege) {
			fmt.Fprintln(stdio.Err, "hint: run it as root (pidfd_getfd needs ptrace access to the process)")
		}
	}
	if o := stats.Owners; q.Processes && o.Denied > 0 && os.Geteuid() != 0 {
		fmt.Fprintf(stdio.Err, "keeptune: %d process(es) of other users could not be inspected; their sockets show no process (hint: run it as root)\n", o.Denied)
	}
	if opts.Stats {
		o := stats.Owners
		fmt.Fprintf(stdio.Err, "keeptune: %d socket(s) shown of %d sent by the kernel, %d namespace(s), %v\n",
			stats.Matched, stats.Received, stats.Namespaces, stats.Duration.Round(time.Millisecond))
		if q.Processes {
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

// walkErr sorts a walk error into privilege and runtime failures.
func walkErr(err error) error {
	if errors.Is(err, sockets.ErrPrivilege) {
		return privilegeErr(err, "run it with sudo")
	}
	if errors.Is(err, sockets.ErrNoNamespace) {
		return usageErr(err)
	}
	if errors.Is(err, sockets.ErrUnsupported) {
		return runtimeErr(err)
	}
	return runtimeErr(err)
}

// servicePorts turns service names (http, postgresql), as ss accepts them, into port numbers
// through the services database (/etc/services); numbers pass through.
func servicePorts(in []string) ([]string, error) {
	var out []string
	for _, list := range in {
		for _, p := range strings.Split(list, ",") {
			p = strings.TrimSpace(p)
			name := strings.TrimPrefix(p, ":")
			if name == "" || strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
				out = append(out, p)
				continue
			}
			n, err := net.LookupPort("tcp", name)
			if err != nil {
				return nil, fmt.Errorf("unknown port or service %q: expected a number from 1 to 65535 or a TCP service name from /etc/services", name)
			}
			out = append(out, strconv.Itoa(n))
		}
	}
	return out, nil
}

// sortSockets orders sockets for --sort: idle (longest idle both ways first; sockets without
// tcp_info last), state (the kernel's state order, then local address), process (name, then
// pid; sockets without a process last).
func sortSockets(all []sockets.Socket, by string) {
	idle := func(s *sockets.Socket) int64 {
		if !s.HasInfo || s.State == sockets.StateListen {
			return -1
		}
		return int64(min(s.Info.LastDataRecv, s.Info.LastDataSent))
	}
	slices.SortStableFunc(all, func(a, b sockets.Socket) int {
		switch by {
		case "idle":
			return cmp.Compare(idle(&b), idle(&a))
		case "state":
			if c := cmp.Compare(a.State, b.State); c != 0 {
				return c
			}
			return cmp.Compare(string(a.Local.AppendTo(nil)), string(b.Local.AppendTo(nil)))
		default:
			an, bn := "\xff", "\xff"
			ap, bp := 0, 0
			if a.Owner != nil {
				an, ap = a.Owner.Comm, a.Owner.PID
			}
			if b.Owner != nil {
				bn, bp = b.Owner.Comm, b.Owner.PID
			}
			if c := cmp.Compare(an, bn); c != 0 {
				return c
			}
			return cmp.Compare(ap, bp)
		}
	})
}
