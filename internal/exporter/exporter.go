package exporter

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keeptune/keeptune/internal/kstats"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/sockets"
)

// Exporter is a prometheus.Collector that reads the world on every scrape. Scrapes are
// serialised: a second one waits for the first, so memory stays that of one walk.
type Exporter struct {
	opts  Options
	log   *slog.Logger
	audit *auditor

	mu     sync.Mutex
	errors map[string]float64 // cumulative, by source
	owners ownerCache
}

// New checks the options and returns an exporter. Call Run to start the audit loop.
func New(opts Options, log *slog.Logger) (*Exporter, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := &Exporter{opts: o, log: log, errors: map[string]float64{}}
	for _, s := range errorSources {
		e.errors[s] = 0
	}
	e.audit = newAuditor(o, log)
	return e, nil
}

// RunAudit runs the audit now and then every AuditInterval until ctx ends (never when the
// interval is negative).
func (e *Exporter) RunAudit(ctx context.Context) {
	e.audit.loop(ctx)
}

// Describe sends nothing: the exporter is an unchecked collector, its label values change
// with the host.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect reads the world and sends the metrics.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ScrapeTimeout)
	defer cancel()
	w := e.read(ctx)
	b := newBudget(ch, e.opts.MaxSeries-selfSeries)
	e.emit(w, b)
	for _, err := range w.errs {
		e.errors[err.source]++
		e.log.Warn("scrape: could not read", "source", err.source, "err", err.err)
	}
	// The exporter's own series, outside the budget (selfSeries of them at most).
	self := func(d *prometheus.Desc, t prometheus.ValueType, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, l...)
	}
	for _, s := range errorSources {
		self(descScrapeErrors, prometheus.CounterValue, e.errors[s], s)
	}
	self(descSeriesDropped, prometheus.GaugeValue, float64(b.dropped))
	self(descSockets, prometheus.GaugeValue, float64(w.agg.total))
	self(descScrapeDuration, prometheus.GaugeValue, time.Since(start).Seconds())
	if b.dropped > 0 {
		e.log.Warn("scrape: series cap reached", "max_series", e.opts.MaxSeries, "dropped", b.dropped)
	}
}

// world is what one scrape read.
type world struct {
	facts []nsFacts
	agg   *aggregate
	drift driftState
	errs  []readError
}

// read reads the namespaces in scope and the socket table.
func (e *Exporter) read(ctx context.Context) world {
	var w world
	nss, nerrs := listNamespaces(e.opts.ProcRoot, e.opts.AllNetns)
	w.errs = append(w.errs, nerrs...)
	self, _ := netns.Inode("/proc/thread-self/ns/net")
	for _, n := range nss {
		f := readNamespace(e.opts.ProcRoot, n, !e.opts.AllNetns || n.Inode == self)
		w.errs = append(w.errs, f.errors...)
		if !f.Gone {
			w.facts = append(w.facts, f)
		}
	}
	drift, derrs := readDrift(e.opts.JournalDir, e.opts.Root, self)
	w.drift = drift
	w.errs = append(w.errs, derrs...)
	agg, err := e.walkSockets(ctx)
	if err != nil {
		w.errs = append(w.errs, readError{"sockets", err})
	}
	w.agg = agg
	return w
}

// emit sends a world's metrics in priority order through the budget.
func (e *Exporter) emit(w world, b *budget) {
	for _, f := range w.facts {
		b.gauge(descNetnsInfo, 1, nsLabel(f.Inode), f.Name)
	}
	for _, f := range w.facts {
		for _, key := range sysctlKeys {
			if v, ok := f.Sysctls[key]; ok {
				b.gauge(descSysctl, v, nsLabel(f.Inode), key)
			}
		}
		if f.HasConntrack {
			b.gauge(descConntrackEntries, f.ConntrackCount, nsLabel(f.Inode))
			b.gauge(descConntrackLimit, f.ConntrackLimit, nsLabel(f.Inode))
		}
	}
	for _, f := range w.facts {
		if !f.HasCounters {
			continue
		}
		for i, c := range kstats.TCPCounters {
			if v, ok := f.Counters.Value(c); ok {
				b.counter(counterDescs[i], float64(v), nsLabel(f.Inode))
			}
		}
	}
	e.audit.collect(b)
	if w.drift.journal {
		b.gauge(descDriftKnown, map[bool]float64{true: 1}[w.drift.applied])
		for _, r := range w.drift.rows {
			b.gauge(descDrift, map[bool]float64{true: 1}[r.drifted], r.netns, r.key)
		}
	}
	agg := w.agg
	for _, r := range agg.CloseWait() {
		b.gauge(descCloseWait, float64(r.count), nsLabel(r.netns), r.process)
		b.gauge(descCloseWaitOldest, r.oldest.Seconds(), nsLabel(r.netns), r.process)
	}
	for _, hk := range sortedHistKeys(agg.idle) {
		h := agg.idle[hk]
		m := prometheus.MustNewConstHistogram(descIdle, h.count, h.sum, h.cumulative(), nsLabel(hk.netns), hk.keepalive.String())
		b.send(m, histogramSeries(len(idleBuckets)))
	}
	for _, c := range agg.Ports() {
		b.gauge(descSocketsByPort, float64(c.count), nsLabel(c.netns), c.group, stateLabel(c.state), c.keepalive.String())
	}
	for _, c := range agg.Processes() {
		b.gauge(descSocketsByProcess, float64(c.count), nsLabel(c.netns), c.group, stateLabel(c.state), c.keepalive.String())
	}
}

// walkSockets reads the socket table into an aggregate: listeners first (a cheap dump the
// kernel filters), then every socket with its tcp_info. Processes come from the owner cache;
// only sockets it has not seen before cost a descriptor walk.
func (e *Exporter) walkSockets(ctx context.Context) (*aggregate, error) {
	agg := newAggregate(e.opts)
	ns := ""
	if e.opts.AllNetns {
		ns = "all"
	}
	base := sockets.Options{Netns: ns, ProcRoot: e.opts.ProcRoot, Thresholds: e.opts.Thresholds}
	lo := base
	lo.Filter = sockets.Filter{States: sockets.StateSet(1 << sockets.StateListen)}
	err := sockets.Walk(ctx, lo, func(s *sockets.Socket) error {
		var ino uint64
		if s.Netns != nil {
			ino = s.Netns.Inode
		}
		agg.AddListener(ino, s.Local.Port())
		return nil
	})
	if err != nil {
		return agg, err
	}
	e.owners.begin(e.opts.ProcRoot, time.Now())
	var pending []sockRec
	all := base
	all.Info = true
	err = sockets.Walk(ctx, all, func(s *sockets.Socket) error {
		r := record(s)
		if comm, ok := e.owners.lookup(r.inode); ok {
			agg.Add(r, comm)
		} else {
			pending = append(pending, r)
		}
		return nil
	})
	if err != nil {
		return agg, err
	}
	err = e.owners.resolve(ctx, e.opts.ProcRoot, pending, agg.Add)
	e.owners.end()
	return agg, err
}

// stateLabel is the state as ss(8) names it, in lower case: established, close_wait, ...
func stateLabel(s sockets.State) string { return strings.ToLower(s.String()) }
