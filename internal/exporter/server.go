package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// DefaultListen is the default address. The Prometheus project's list of default exporter
// ports (github.com/prometheus/prometheus/wiki/Default-port-allocations) has had 9100-9999
// fully allocated since 2023, so keeptune takes 19877: outside that range, not in
// /etc/services, and below Linux's ephemeral port range (32768-60999), so no outbound
// connection holds it.
const DefaultListen = "127.0.0.1:19877"

// ServeOptions say where and how to serve.
type ServeOptions struct {
	Listen string
	// WebConfigFile is exporter-toolkit's web configuration (TLS, basic auth); empty for plain
	// HTTP.
	WebConfigFile string
	Version       string
	// Ready, when set, receives the listening address once the socket is bound.
	Ready func(net.Addr)
}

// ErrWebConfig is matched by errors in the web configuration file.
var ErrWebConfig = errors.New("invalid web configuration")

// CheckWebConfig reads the web configuration, its password hashes and certificates, so that
// a bad one stops the exporter before it listens instead of leaving an endpoint open.
func CheckWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("%w %s: %v", ErrWebConfig, path, err)
	}
	return nil
}

// Handler returns the HTTP handler: /metrics (keeptune's metrics and the exporter process's
// own go_ and process_ metrics) and a landing page at /.
func (e *Exporter) Handler(version string) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(e); err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(e.log.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 2,
		Timeout:             e.opts.ScrapeTimeout + 5*time.Second,
	}))
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "keeptune exporter",
		Description: "Connection liveness per network namespace, listening port and process: keepalive states, idle times, CLOSE_WAIT leaks, the kernel's TCP abort counters and audit findings.",
		Version:     version,
		Links:       []web.LandingLinks{{Address: "/metrics", Text: "Metrics"}},
		// The toolkit's page links /debug/pprof/ unless told not to; keeptune does not serve it
		// (a profile endpoint has no place on a fleet-wide port), so the links would be 404s.
		Profiling: "false",
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/", landing)
	return mux, nil
}

// Serve checks the web configuration, listens, runs the audit loop and serves until ctx ends,
// then shuts down gracefully (in-flight scrapes get 10 s to finish).
func (e *Exporter) Serve(ctx context.Context, so ServeOptions) error {
	if err := CheckWebConfig(so.WebConfigFile); err != nil {
		return err
	}
	h, err := e.Handler(so.Version)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", so.Listen)
	if err != nil {
		return err
	}
	if so.Ready != nil {
		so.Ready(l.Addr())
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	actx, stopAudit := context.WithCancel(ctx)
	defer stopAudit()
	go e.RunAudit(actx)

	errc := make(chan error, 1)
	go func() {
		wcf := so.WebConfigFile
		systemd := false
		errc <- web.Serve(l, srv, &web.FlagConfig{WebConfigFile: &wcf, WebSystemdSocket: &systemd, WebListenAddresses: &[]string{so.Listen}}, e.log)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	e.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
