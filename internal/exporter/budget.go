package exporter

import "github.com/prometheus/client_golang/prometheus"

// selfSeries is how many series the exporter's own metrics take at most: they are emitted
// outside the budget, which is MaxSeries minus this, so the cap holds for everything keeptune_.
const selfSeries = 16

// minSeries is the smallest MaxSeries accepted.
const minSeries = selfSeries + 64

// budget forwards metrics until the series cap is reached and counts the rest.
type budget struct {
	ch      chan<- prometheus.Metric
	left    int
	sent    int
	dropped int
}

func newBudget(ch chan<- prometheus.Metric, limit int) *budget {
	return &budget{ch: ch, left: limit}
}

// send forwards m if its series fit, and tells whether they did.
func (b *budget) send(m prometheus.Metric, series int) bool {
	if series > b.left {
		b.dropped += series
		return false
	}
	b.left -= series
	b.sent += series
	b.ch <- m
	return true
}

// gauge sends one gauge sample.
func (b *budget) gauge(d *prometheus.Desc, v float64, labels ...string) {
	b.send(prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...), 1)
}

// counter sends one counter sample.
func (b *budget) counter(d *prometheus.Desc, v float64, labels ...string) {
	b.send(prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...), 1)
}

// histogramSeries is how many series a histogram with n bounds takes: n buckets, +Inf, _sum
// and _count.
func histogramSeries(n int) int { return n + 3 }
