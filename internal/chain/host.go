package chain

import "github.com/keeptune/keeptune/internal/model"

// ApplyHost fills, for every hop marked `local: true`, the keepalive values its sockets take
// from the host: software that enables SO_KEEPALIVE without setting TCP_KEEPIDLE/INTVL/CNT
// (pgbouncer's tcp_keepalive = 1, nginx's so_keepalive=on, HAProxy's option clitcpka) uses the
// sysctls of the network namespace it runs in. Values the hop states itself are kept.
func ApplyHost(c *model.Chain, ns model.Namespace) {
	host := ns.Keepalive
	for i := range c.Hops {
		h := &c.Hops[i]
		if !h.Local {
			continue
		}
		for _, s := range []*model.Side{h.Downstream, h.Upstream} {
			if s == nil || !s.TCP.Enabled.Known || !s.TCP.Enabled.Value {
				continue
			}
			if !s.TCP.Idle.Known && host.Idle.Known {
				s.TCP.Idle = host.Idle
			}
			if !s.TCP.Interval.Known && host.Interval.Known {
				s.TCP.Interval = host.Interval
			}
			if !s.TCP.Count.Known && host.Count.Known {
				s.TCP.Count = host.Count
			}
		}
	}
}
