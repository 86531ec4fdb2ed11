package chain

import (
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// The constraint arithmetic of chains, shared by the chain rules (which say what is wrong) and
// the planner (which picks the one value that is right): one margin, one rounding, one notion of
// silence.

// PoolRaceMargin: a backend must keep idle connections at least this much longer than the hop
// that pools connections to it. The race window is the time between the pooler picking an idle
// connection and the request reaching the backend: one round trip and a scheduling delay, well
// under a second inside a region.
const PoolRaceMargin = time.Second

// ProbeMargin is how much earlier than a middlebox's idle timeout the first keepalive probe must
// leave: 10% of the timeout, at least 10 s, for timer lateness (up to 12.5% on the kernel's
// timer wheel for long timers) and a probe lost on the way.
// The margin never exceeds half the timeout: a larger one left a negative deadline ("probes
// must leave by -2s" for an 8 s timeout).
func ProbeMargin(idle time.Duration) time.Duration {
	return min(max(idle/10, 10*time.Second), idle/2)
}

// KeepaliveLimit is the longest keepalive idle time that still refreshes a middlebox forgetting
// flows after t: t minus the probe margin, rounded down to a friendly value (80 s for 90 s,
// 5 min for 350 s).
func KeepaliveLimit(t time.Duration) time.Duration {
	return RoundDownFriendly(t - ProbeMargin(t))
}

// BackendIdleAbove is the keep-alive idle timeout keeptune proposes for a backend behind a pool
// that keeps idle connections for pool: pool plus 5 s or 2%, rounded up to 5 s (65 s behind a
// 60 s ALB).
func BackendIdleAbove(pool time.Duration) time.Duration {
	return RoundUp5s(pool + max(5*time.Second, pool/50))
}

// Limited returns a timeout's value when it is known and limits something (a known zero means
// "no limit").
func Limited(s model.Setting[time.Duration]) (time.Duration, bool) {
	return s.Value, s.Known && s.Value > 0
}

// Unlimited reports whether a timeout is known to be "no limit".
func Unlimited(s model.Setting[time.Duration]) bool { return s.Known && s.Value <= 0 }

// RoundUp5s rounds up to a multiple of 5 s.
func RoundUp5s(d time.Duration) time.Duration {
	step := 5 * time.Second
	return (d + step - 1) / step * step
}

// RoundDownFriendly rounds a proposed keepalive idle down to whole minutes from 2 min, to 10 s
// below.
func RoundDownFriendly(d time.Duration) time.Duration {
	if d >= 2*time.Minute {
		return d / time.Minute * time.Minute
	}
	if d >= 20*time.Second {
		return d / (10 * time.Second) * (10 * time.Second)
	}
	return max(d/time.Second*time.Second, time.Second)
}

// IsTrackingTable reports whether a middlebox is a Linux connection-tracking table (conntrack,
// IPVS, kube-proxy, Docker's swarm VIPs): KT704 judges those.
func IsTrackingTable(h *model.Hop) bool {
	name := strings.ToLower(h.Catalog)
	for _, s := range []string{"conntrack", "ipvs", "kube-proxy", "swarm", "lvs"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// Silence is the longest a connection on the segment can carry no data: between requests, the
// acceptor's keep-alive idle timeout and the opener's pool idle timeout; during a request, the
// read timeouts (a proxy waiting on its backend sends nothing to its client meanwhile). bounded
// is false when nothing bounds it: the acceptor keeps idle connections without a known limit.
func Silence(seg Segment) (d time.Duration, bounded bool) {
	o, a := seg.Opener.Side, seg.Acceptor.Side
	d, ok := Limited(a.IdleTimeout)
	if !ok {
		return 0, false
	}
	if pool, ok := Limited(o.IdleTimeout); ok && o.Pools.Known && o.Pools.Value {
		d = min(d, pool) // the pool drops it first; it never idles longer
	}
	reads := []model.Setting[time.Duration]{o.ReadTimeout, a.ReadTimeout}
	if up := seg.Acceptor.Hop.Upstream; up != nil {
		reads = append(reads, up.ReadTimeout)
	}
	for _, rt := range reads {
		if Unlimited(rt) {
			return 0, false // a request may wait for ever without a byte
		}
		if v, ok := Limited(rt); ok {
			d = max(d, v)
		}
	}
	return d, true
}

// MayIdlePast reports whether connections on the segment can go without data for d or longer.
func MayIdlePast(seg Segment, d time.Duration) bool {
	s, bounded := Silence(seg)
	return !bounded || s >= d
}

// CountsProbes reports whether a middlebox's idle timer is reset by TCP keepalive probes (not a
// layer-7 balancer counting payload only).
func CountsProbes(mb *model.Middlebox) bool {
	return !(mb.RefreshedBy.Known && mb.RefreshedBy.Value == model.RefreshPayload)
}
