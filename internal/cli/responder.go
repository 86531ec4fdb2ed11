package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/probe"
)

// ResponderOptions are the flags of `keeptune responder`.
type ResponderOptions struct {
	Listen       string
	MaxPerSource int
	MaxConns     int
	ConnRate     float64
	IdleCap      time.Duration
	Verbose      bool
	// HTTP serves HTTP/1.1 for `keeptune probe idle-timeout --http` behind a layer-7 balancer.
	HTTP bool
}

func newResponderCmd(stdio IO) *cobra.Command {
	opts := ResponderOptions{}
	cmd := &cobra.Command{
		Use:   "responder --listen ADDR",
		Short: "Answer `keeptune probe` at the far end of a path (safe to expose)",
		Long: "responder is the far end of `keeptune probe`: it answers probes, says when it last heard from each\n" +
			"connection, and sends server-to-client traffic that the client has paid for. It is safe to expose:\n" +
			"it never sends a connection more bytes than it received on it, limits connections per source\n" +
			"(an IPv4 address or an IPv6 /64) and in total, limits new connections and messages per second,\n" +
			"closes connections idle longer than --idle-cap, and answers nothing to clients that do not open\n" +
			"with keeptune's hello. It turns TCP keepalive off on its sockets (its probes would hide the\n" +
			"middlebox's timeout). It runs until interrupted.",
		Example: "  keeptune responder --listen :4242\n  keeptune responder --listen [::]:4242 --idle-cap 3h --max-per-source 256\n" +
			"  keeptune responder --http --listen :8080   # behind an HTTP load balancer: probe idle-timeout --http URL",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runResponder(cmd.Context(), opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "", "address to listen on, e.g. :4242 or [::]:4242 (required)")
	f.IntVar(&opts.MaxPerSource, "max-per-source", probe.DefaultMaxPerSource, "connections open at once from one IPv4 address or IPv6 /64")
	f.IntVar(&opts.MaxConns, "max-conns", probe.DefaultMaxTotal, "connections open at once in total")
	f.Float64Var(&opts.ConnRate, "conn-rate", 32, "new connections per second from one source (bursts up to --max-per-source)")
	f.DurationVar(&opts.IdleCap, "idle-cap", probe.DefaultIdleCap, "close connections that sent nothing for this long (probes cannot measure timeouts beyond it)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "log every refused connection on stderr")
	f.BoolVar(&opts.HTTP, "http", false, "serve HTTP/1.1 instead (behind a layer-7 balancer): answer every request, keep idle keep-alive connections for --idle-cap and announce it (Keeptune-Idle-Timeout), at most --max-conns at once")
	return cmd
}

func runResponder(ctx context.Context, opts ResponderOptions, stdio IO) error {
	if opts.Listen == "" {
		return usageErr(errors.New("--listen ADDR is required, e.g. --listen :4242"))
	}
	if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
		return usageErr(fmt.Errorf("invalid --listen %q: expected HOST:PORT or :PORT", opts.Listen))
	}
	cfg := probe.ResponderConfig{MaxPerSource: opts.MaxPerSource, MaxTotal: opts.MaxConns, ConnRate: opts.ConnRate, IdleCap: opts.IdleCap}
	// Zero means "the default" to the library: on the command line it is a mistake.
	switch {
	case opts.MaxPerSource < 1 || opts.MaxPerSource > 65535:
		return usageErr(fmt.Errorf("invalid --max-per-source %d: expected 1 to 65535", opts.MaxPerSource))
	case opts.MaxConns < 1:
		return usageErr(fmt.Errorf("invalid --max-conns %d: expected at least 1", opts.MaxConns))
	case opts.ConnRate <= 0:
		return usageErr(fmt.Errorf("invalid --conn-rate %g: expected more than 0", opts.ConnRate))
	case opts.IdleCap <= 0:
		return usageErr(fmt.Errorf("invalid --idle-cap %v: expected 1s to 48h", opts.IdleCap))
	}
	if err := cfg.Validate(); err != nil {
		return usageErr(err)
	}
	if opts.Verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stdio.Err, format+"\n", args...) }
	}
	r, err := probe.NewResponder(cfg)
	if err != nil {
		return usageErr(err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ln, err := probe.ListenConfig().Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		if errors.Is(err, syscall.EACCES) {
			return privilegeErr(fmt.Errorf("listen on %s: %w", opts.Listen, err), "ports below 1024 need root or CAP_NET_BIND_SERVICE: pick a port above 1023")
		}
		return runtimeErr(fmt.Errorf("listen on %s: %w", opts.Listen, err))
	}
	if opts.HTTP {
		h := &probe.HTTPResponder{Idle: opts.IdleCap, MaxConns: opts.MaxConns}
		fmt.Fprintf(stdio.Err, "keeptune responder: HTTP/1.1 on %v (keep-alive idle timeout %v, announced in %s; at most %d connections)\n",
			ln.Addr(), opts.IdleCap, probe.HeaderIdle, opts.MaxConns)
		if err := h.Serve(ctx, ln); err != nil {
			return runtimeErr(fmt.Errorf("responder: %w", err))
		}
		return nil
	}
	fmt.Fprintf(stdio.Err, "keeptune responder: listening on %v (protocol %d; at most %d connections per source, %d in all; idle cap %v)\n",
		ln.Addr(), probe.Version, opts.MaxPerSource, opts.MaxConns, opts.IdleCap)
	if err := r.Serve(ctx, ln); err != nil {
		return runtimeErr(fmt.Errorf("responder: %w", err))
	}
	acc, ref := r.Stats()
	fmt.Fprintf(stdio.Err, "keeptune responder: stopped; served %d connections, refused %d\n", acc, ref)
	return nil
}
