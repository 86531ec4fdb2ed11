package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/probe"
	"github.com/keeptune/keeptune/internal/probe/chainfile"
)

// ProbeOptions are the flags of `keeptune probe idle-timeout`.
type ProbeOptions struct {
	Precision      string
	MaxConns       int
	MaxIdle        time.Duration
	ConnectTimeout time.Duration
	ReplyTimeout   time.Duration
	CheckKeepalive bool
	Output         string
	WriteChain     string
	Hop            string
	Quiet          bool
	// HTML is where --html writes the bracket chart.
	HTML string
	// HTTP is --http URL: measure a layer-7 balancer in front of `keeptune responder --http`.
	HTTP string
}

// probeDial is how probe connections are made; tests dial from inside a lab namespace.
var probeDial probe.Dialer

func newProbeCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Measure the real idle timeout of the middleboxes on a path (with a keeptune responder at the far end)",
		Long: "probe measures what the NAT gateways, firewalls and load balancers between this host and a keeptune\n" +
			"responder really do to idle connections. Start `keeptune responder --listen :PORT` on the far end\n" +
			"first: probe contacts that address and nothing else.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("expected a measurement: keeptune probe idle-timeout HOST:PORT"))
			}
			return usageErr(fmt.Errorf("unknown measurement %q: expected idle-timeout", args[0]))
		},
		RunE: func(cmd *cobra.Command, args []string) error { return nil },
	}
	cmd.AddCommand(newProbeIdleTimeoutCmd(stdio))
	return cmd
}

func newProbeIdleTimeoutCmd(stdio IO) *cobra.Command {
	opts := ProbeOptions{}
	cmd := &cobra.Command{
		Use:   "idle-timeout HOST:PORT | --http URL",
		Short: "Find how long the path keeps an idle TCP connection, and what happens after",
		Long: "idle-timeout opens connections to the keeptune responder at HOST:PORT, lets them idle for different\n" +
			"lengths in parallel and probes each: an answer proves the path kept the flow, silence, a reset or a\n" +
			"close proves it forgot it. Connections that answer start a new idle period for the next round, and\n" +
			"the search narrows as soon as one dies: it ends about 1.1 × the timeout after it starts (docs/probe.md).\n" +
			"A control connection busy every second tells a path failure from an idle timeout.\n\n" +
			"It reports the timeout and its bracket (the longest idle that survived, the shortest that died), how\n" +
			"the middlebox treats a forgotten flow (silent drop, RST or FIN), whether the responder's traffic alone\n" +
			"keeps a flow, and with --check-keepalive-refresh whether TCP keepalive probes alone do.\n\n" +
			"A run is bounded: at most 2 x --max-conns connection attempts (the control connection's included),\n" +
			"with exponential backoff after each refusal; it tells the responder which connections it is done with\n" +
			"(docs/probe.md). A run that hits a bound says so and reports no figure. Ctrl-C prints what was learned.\n" +
			"--write-chain writes the lower end of the bracket rounded down, with a comment saying when and how.\n\n" +
			"--http URL measures a layer-7 balancer (an HTTP load balancer, HAProxy or nginx in HTTP mode): the\n" +
			"connections are HTTP/1.1 keep-alive connections to it, each probe a GET after an idle time, answered by\n" +
			"`keeptune responder --http` behind it, which keeps idle connections longer than the balancer and says\n" +
			"how long: a timeout below that is the balancer's (docs/probe.md).\n\n" +
			"Exit status: 0 measured, 2 bad input, 3 when the target is unreachable, refuses the connection, is not\n" +
			"a keeptune responder, the path failed, the run hit a bound or was interrupted, or --write-chain could not write.",
		Example: "  keeptune probe idle-timeout probe.example.net:4242\n" +
			"  keeptune probe idle-timeout 203.0.113.9:4242 --check-keepalive-refresh -o json\n" +
			"  keeptune probe idle-timeout 203.0.113.9:4242 --precision 2% --write-chain keeptune.yaml --hop edge\n" +
			"  keeptune probe idle-timeout --http http://lb.example.net/keeptune/",
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.HTTP != "" {
				if len(args) != 0 {
					return usageErr(errors.New("--http URL is the target: no HOST:PORT with it"))
				}
				return nil
			}
			if len(args) != 1 {
				return usageErr(errors.New("expected one target: HOST:PORT of a keeptune responder (or --http URL)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target := opts.HTTP
			if len(args) == 1 {
				target = args[0]
			}
			return runProbe(cmd.Context(), target, opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Precision, "precision", "auto", "how narrow the bracket must get: a duration (500ms), a percentage of the timeout (2%), or auto: the larger of 1s and 1%")
	f.IntVar(&opts.MaxConns, "max-conns", probe.DefaultMaxConns, fmt.Sprintf("connections open at once, the control connection included (at most %d)", probe.MaxConnsLimit))
	f.DurationVar(&opts.MaxIdle, "max-idle", 0, "the longest idle length tested; a path that keeps flows this long has no timeout worth measuring (default 2h, or just below the responder's idle cap)")
	f.DurationVar(&opts.ConnectTimeout, "connect-timeout", probe.DefaultConnTimeout, "how long a connection attempt may take before the target counts as unreachable")
	f.DurationVar(&opts.ReplyTimeout, "reply-timeout", 0, "how long a probe's answer may take before the connection counts as silently dropped (default: max(1s, 10 × the control connection's RTT))")
	f.BoolVar(&opts.CheckKeepalive, "check-keepalive-refresh", false, "also test whether TCP keepalive probes alone keep a flow (one more connection)")
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&opts.WriteChain, "write-chain", "", "write the measured idle_timeout, on_expiry (and refreshed_by) into this chain file's --hop, keeping FILE.bak")
	f.StringVar(&opts.Hop, "hop", "", "the middlebox hop of --write-chain to write into")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress on stderr")
	f.StringVar(&opts.HTML, "html", "", "also write an HTML page with the bracket narrowing over the run to this file")
	f.StringVar(&opts.HTTP, "http", "", "measure the idle timeout of a layer-7 balancer at this http:// URL, in front of `keeptune responder --http`")
	return cmd
}

// parsePrecision reads --precision: auto, a duration, or a percentage.
func parsePrecision(s string) (probe.Precision, error) {
	switch {
	case s == "auto" || s == "":
		return probe.DefaultPrecision, nil
	case strings.HasSuffix(s, "%"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || v <= 0 || v > 50 {
			return probe.Precision{}, fmt.Errorf("invalid --precision %q: expected a percentage above 0%% and at most 50%%", s)
		}
		return probe.Precision{Fraction: v / 100}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return probe.Precision{}, fmt.Errorf("invalid --precision %q: expected auto, a duration like 500ms or 2s, or a percentage like 2%%", s)
	}
	return probe.Precision{Fixed: d}, nil
}

// probeOptions checks the flags and turns them into probe.Options.
func probeOptions(target string, opts ProbeOptions, stdio IO) (probe.Options, error) {
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return probe.Options{}, err
	}
	if opts.HTTP == "" {
		if _, _, err := probe.ParseTarget(target); err != nil {
			return probe.Options{}, usageErr(err)
		}
	} else if err := probe.CheckHTTPURL(opts.HTTP); err != nil {
		return probe.Options{}, usageErr(err)
	}
	prec, err := parsePrecision(opts.Precision)
	if err != nil {
		return probe.Options{}, usageErr(err)
	}
	if err := checkHTMLFile(opts.HTML); err != nil {
		return probe.Options{}, err
	}
	if (opts.WriteChain == "") != (opts.Hop == "") {
		return probe.Options{}, usageErr(errors.New("--write-chain FILE and --hop NAME go together: the hop of the chain file to write the measured values into"))
	}
	if opts.MaxIdle < 0 || opts.ConnectTimeout <= 0 || opts.ReplyTimeout < 0 {
		return probe.Options{}, usageErr(errors.New("--max-idle, --connect-timeout and --reply-timeout must be positive"))
	}
	o := probe.Options{MaxConns: opts.MaxConns, Precision: prec, MaxIdle: opts.MaxIdle, ConnectTimeout: opts.ConnectTimeout,
		HelloTimeout: opts.ConnectTimeout, ReplyTimeout: opts.ReplyTimeout, CheckKeepalive: opts.CheckKeepalive, Dial: probeDial}
	if !opts.Quiet {
		o.Progress = stdio.Err
	}
	if opts.MaxConns < 1 {
		return o, usageErr(fmt.Errorf("invalid --max-conns %d: expected at least 4", opts.MaxConns))
	}
	if opts.HTTP != "" {
		o.HTTP = &probe.HTTPTarget{} // resolved by runProbe; here for Validate's checks
	}
	if err := o.Validate(); err != nil {
		return o, usageErr(err)
	}
	return o, nil
}

func runProbe(ctx context.Context, target string, opts ProbeOptions, stdio IO) error {
	o, err := probeOptions(target, opts, stdio)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.WriteChain != "" {
		// Before minutes of measuring: the file must load and the hop must be a middlebox.
		if err := chainfile.Check(opts.WriteChain, opts.Hop); err != nil {
			return usageErr(err)
		}
	}
	var addr netip.AddrPort
	if opts.HTTP != "" {
		t, err := probe.ParseHTTPTarget(ctx, opts.HTTP)
		if err != nil {
			return runtimeErr(err)
		}
		o.HTTP, addr = &t, t.Addr
	} else if addr, err = probe.Resolve(ctx, target); err != nil {
		return runtimeErr(err)
	}
	res, err := probe.Run(ctx, addr, o)
	if err != nil {
		if res != nil && (ctx.Err() != nil || errors.Is(err, probe.ErrBound)) {
			// What the run learned before it stopped is worth keeping, never as a result.
			fmt.Fprintf(stdio.Err, "keeptune probe: learned so far: %s\n", res.LearnedSoFar())
		}
		return probeErr(ctx, addr.String(), err)
	}

	if opts.HTML != "" {
		if err := writeProbeHTML(opts.HTML, res); err != nil {
			return runtimeErr(err)
		}
		fmt.Fprintf(stdio.Err, "keeptune probe: wrote %s\n", opts.HTML)
	}
	var written *probe.JSONChain
	var werr error
	if opts.WriteChain != "" {
		written, werr = writeProbeChain(opts.WriteChain, opts.Hop, target, res)
	}
	if opts.Output == "json" {
		j := res.JSON()
		j.Chain = written
		err = jsonx.NewEncoder(stdio.Out).Encode(j)
	} else {
		res.ChainWritten = written != nil
		err = res.WriteText(stdio.Out)
		if err == nil && written != nil {
			_, err = fmt.Fprintf(stdio.Out, "\nwrote %s into hop %q of %s (the original is in %s)\n",
				strings.Join(written.Set, ", "), written.Hop, written.File, written.Backup)
		}
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("write the result: %w", err))
	}
	if werr != nil {
		return &exitError{code: ExitRuntime, err: werr, hint: "the measurement above is complete; the chain file was left as it was"}
	}
	return nil
}

// writeProbeChain writes the measured values into the hop.
// It writes the lower end of the bracket rounded down: keepalive settings checked against it
// stay safe, where the middle of the bracket may already be past the path's timeout.
func writeProbeChain(file, hop, target string, res *probe.Result) (*probe.JSONChain, error) {
	if !res.Found {
		return nil, fmt.Errorf("--write-chain: no idle timeout was found (flows idle for %v survived): nothing written to %s", res.Lo.Round(time.Second), file)
	}
	value := chainfile.RoundDown(res.Lo)
	comment := fmt.Sprintf("idle_timeout %s is the lower end of the bracket %.3fs-%.3fs rounded down, measured %s by `keeptune probe idle-timeout %s` (%d connections, precision %s)",
		chainfile.FormatDuration(value), res.Lo.Seconds(), res.Hi.Seconds(), time.Now().UTC().Format("2006-01-02 15:04 MST"), target, res.Connections, res.Precision.Round(time.Millisecond))
	u := chainfile.Update{Hop: hop, IdleTimeout: value, OnExpiry: res.Expiry(), Comment: comment}
	if res.KeepaliveRefresh != nil {
		u.RefreshedBy = model.RefreshPayload
		if *res.KeepaliveRefresh {
			u.RefreshedBy = model.RefreshAnySegment
		}
	}
	if res.HTTP != "" {
		// A layer-7 balancer's keep-alive timer counts requests: TCP keepalive never refreshes it.
		u.RefreshedBy = model.RefreshPayload
	}
	w, err := chainfile.Apply(file, u)
	if err != nil {
		return nil, fmt.Errorf("--write-chain: %w", err)
	}
	return &probe.JSONChain{File: file, Hop: hop, Set: w.Set, Backup: w.Backup}, nil
}

func writeProbeHTML(path string, res *probe.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := res.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// probeErr gives each way a run can fail its exit code and a hint.
func probeErr(ctx context.Context, target string, err error) error {
	var re *probe.RefusedError
	_, port, _ := strings.Cut(target, "]:")
	if port == "" {
		_, port, _ = strings.Cut(target, ":")
	}
	responder := "start `keeptune responder --listen :" + port + "` on the far end (it answers keeptune probes only and is safe to expose: docs/probe.md)"
	switch {
	case ctx.Err() != nil:
		return runtimeErr(errors.New("probe interrupted: every connection was closed; no result (what was learned so far is above)"))
	case errors.Is(err, probe.ErrBound):
		return &exitError{code: ExitRuntime, err: err, hint: "no figure is reported from a run that hit a bound; run again when the responder is less busy, or raise --max-conns (the bound is 2 x --max-conns attempts)"}
	case errors.Is(err, probe.ErrRefused), errors.Is(err, probe.ErrNotResponder):
		return &exitError{code: ExitRuntime, err: err, hint: responder}
	case errors.Is(err, probe.ErrUnreachable):
		return &exitError{code: ExitRuntime, err: err, hint: "check the address, and that every firewall on the way lets TCP to port " + port + " through"}
	case errors.Is(err, probe.ErrPathFailed):
		return &exitError{code: ExitRuntime, err: err, hint: "run it again; if the control connection keeps failing, the path loses packets or the responder restarts"}
	case errors.As(err, &re):
		return runtimeErr(err)
	}
	return runtimeErr(fmt.Errorf("probe %s: %w", target, err))
}
