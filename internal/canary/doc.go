// Package canary judges a change by the kernel's own TCP counters: it measures a window before
// the change and an equal window after it, per network namespace, and tests each counter for a
// rise per connection opened with a one-sided exact conditional Poisson rate test (a binomial
// test of the split of the events between the windows given their exposures), Holm-corrected
// across counters. Too little data is "inconclusive", never "no regression"; rises that are
// the point of a keepalive change (more keepalive probes, aborts of dead peers) are reported as
// expected, not as regressions. An optional application signal from Prometheus is judged the
// same way.
package canary
