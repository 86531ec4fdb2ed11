package plan

import (
	"fmt"
	"strconv"

	"github.com/keeptune/keeptune/internal/model"
)

// SomaxconnTarget is the kernel's own default since Linux 5.4 (commit 19f92a030ca6, raised from
// 128 because bursts of connections overflowed the accept queue).
const SomaxconnTarget = 4096

// Headroom is how many descriptors beyond the expected connections a process or host needs for
// everything else (log files, upstream connections of a proxy, listening sockets).
func Headroom(n int) int64 { return int64(n) + int64(n)/4 + 1024 }

// RoundUp rounds a proposed limit up to a tidy number (two significant digits).
func RoundUp(n int64) int64 {
	step := int64(1)
	for n/step >= 100 {
		step *= 10
	}
	return (n + step - 1) / step * step
}

// planCapacity picks the capacity sysctls: the accept queue limit in every namespace, and with
// an expected connection count the SYN backlog, the descriptor limits and the conntrack table
// of the host (KT401-KT405). A value already above its floor is kept: capacity has no profile
// range to come back to.
func planCapacity(in *Input, ns model.Namespace) []target {
	var out []target
	floor := func(list []model.Sysctl, key string, min int64, text string) {
		s, v, ok := sysctlInt(list, key)
		if !ok {
			return
		}
		to := max(v, min)
		out = append(out, target{sysctl: s, to: strconv.FormatInt(to, 10),
			why: []Reason{{Kind: ReasonHard, Op: ">=", Bound: strconv.FormatInt(min, 10), Text: text}}})
	}
	floor(ns.Sysctls, model.KeySomaxconn, SomaxconnTarget, fmt.Sprintf("the accept queue limit at least %d, the kernel's default since Linux 5.4: bursts overflow a smaller one", SomaxconnTarget))
	if ct := ns.Conntrack; ns.Current && in.Snapshot != nil && ct != nil && ct.Count.Known && ct.Max.Known && ct.Max.Value > 0 &&
		ct.Count.Value*5 >= ct.Max.Value*4 && in.ExpectConnections <= 0 {
		floor(in.Snapshot.Global, model.KeyConntrackMax, RoundUp(int64(ct.Count.Value)*2),
			fmt.Sprintf("the connection-tracking table holds %d of %d flows: twice what it holds now, before it drops new flows", ct.Count.Value, ct.Max.Value))
	}
	n := in.ExpectConnections
	if n <= 0 {
		return out
	}
	somax := int64(SomaxconnTarget)
	if _, v, ok := sysctlInt(ns.Sysctls, model.KeySomaxconn); ok {
		somax = max(v, somax)
	}
	floor(ns.Sysctls, model.KeyMaxSynBacklog, somax, "the SYN queue at least the accept queue limit, so that it does not fill first")
	if !ns.Current || in.Snapshot == nil {
		return out
	}
	need := RoundUp(Headroom(n))
	for _, key := range []string{model.KeyFileMax, model.KeyNrOpen} {
		floor(in.Snapshot.Global, key, need, fmt.Sprintf("room for the %d expected connections plus a quarter and 1024 descriptors", n))
	}
	if ns.Conntrack != nil {
		floor(in.Snapshot.Global, model.KeyConntrackMax, RoundUp(Headroom(n)*2),
			fmt.Sprintf("a connection-tracking table for twice the %d expected connections with headroom (each proxied connection has two flows)", n))
	}
	return out
}
