package exporter

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/rules"
)

// auditor runs keeptune's audit on its own interval and keeps the last result for scrapes.
type auditor struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	ran      bool
	ok       bool
	at       time.Time
	took     time.Duration
	findings map[findingKey]int
	defaults map[string]float64 // kernel defaults of per-namespace keys
}

type findingKey struct {
	rule     string
	severity string
}

func newAuditor(o Options, log *slog.Logger) *auditor {
	return &auditor{opts: o, log: log}
}

// loop audits now and then on every tick until ctx ends.
func (a *auditor) loop(ctx context.Context) {
	if a.opts.AuditInterval < 0 {
		return
	}
	t := time.NewTicker(a.opts.AuditInterval)
	defer t.Stop()
	for {
		a.run(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// run performs one audit the way `keeptune audit` does (internal/gather: host facts of every
// namespace with AllNetns, live sockets, server configurations, the chain file; all rules).
func (a *auditor) run(ctx context.Context) {
	start := time.Now()
	findings, defaults, err := audit(ctx, a.opts)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ran, a.at, a.took = true, time.Now(), time.Since(start)
	if err != nil {
		a.ok = false
		a.log.Warn("audit failed", "err", err)
		return
	}
	a.ok = true
	a.findings = map[findingKey]int{}
	for _, f := range findings {
		a.findings[findingKey{f.Rule, f.Severity.String()}]++
	}
	a.defaults = defaults
}

func audit(ctx context.Context, o Options) ([]model.Finding, map[string]float64, error) {
	profile, err := profiles.Resolve(o.Profile)
	if err != nil {
		return nil, nil, err
	}
	w, err := gather.Host(ctx, gather.Options{AllNetns: o.AllNetns, Chain: o.Chain, FindChain: o.Chain == "", Thresholds: o.Thresholds})
	if err != nil {
		return nil, nil, err
	}
	all, err := rules.Select(rules.Selection{})
	if err != nil {
		return nil, nil, err
	}
	findings := rules.Run(&rules.Input{Snapshot: w.Snapshot, Chain: w.Chain, Configs: w.Configs, Profile: profile}, all)
	defaults := map[string]float64{}
	for _, ns := range w.Snapshot.Namespaces {
		for _, s := range ns.Sysctls {
			if s.Default == "" {
				continue
			}
			if v, err := strconv.ParseFloat(s.Default, 64); err == nil {
				defaults[s.Key] = v
			}
		}
	}
	return findings, defaults, nil
}

// collect sends the last audit's metrics (nothing before the first audit ends).
func (a *auditor) collect(b *budget) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ran {
		return
	}
	b.gauge(descAuditLast, float64(a.at.UnixNano())/1e9)
	b.gauge(descAuditDuration, a.took.Seconds())
	b.gauge(descAuditSuccess, map[bool]float64{true: 1}[a.ok])
	for _, key := range sortedKeys(a.defaults) {
		b.gauge(descSysctlDefault, a.defaults[key], key)
	}
	keys := make([]findingKey, 0, len(a.findings))
	for k := range a.findings {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y findingKey) int {
		if c := cmp.Compare(x.rule, y.rule); c != 0 {
			return c
		}
		return cmp.Compare(x.severity, y.severity)
	})
	for _, k := range keys {
		b.gauge(descFindings, float64(a.findings[k]), k.rule, k.severity)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedHistKeys(m map[histKey]*histo) []histKey {
	out := make([]histKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y histKey) int {
		if c := cmp.Compare(x.netns, y.netns); c != 0 {
			return c
		}
		return cmp.Compare(x.keepalive, y.keepalive)
	})
	return out
}
