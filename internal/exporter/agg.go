package exporter

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/keeptune/keeptune/internal/sockets"
)

// Label values for the buckets that collapse unbounded sets.
const (
	labelOther     = "other"     // listening ports or processes past the top-N
	labelEphemeral = "ephemeral" // local port of an outbound connection
	labelUnknown   = "unknown"   // socket no process holds (or not visible)
)

// idleBuckets are the idle-time histogram bounds in seconds, chosen at the timeouts that cut
// idle connections: 4 min (Azure load balancers, GCP Cloud NAT's established default is 20 min),
// 350 s (AWS NAT gateway and NLB), 15 min, 1 h, and 2 h (the kernel's keepalive time).
var idleBuckets = []float64{1, 10, 60, 240, 350, 900, 1800, 3600, 7200, 21600, 86400}

// sockKey is one cell of a socket breakdown.
type sockKey struct {
	netns     uint64
	group     string // port or process label value
	state     sockets.State
	keepalive sockets.KeepaliveState
}

// histo is an idle-time histogram being filled.
type histo struct {
	counts []uint64 // per idleBuckets bound, not cumulative
	count  uint64
	sum    float64
}

func (h *histo) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(idleBuckets))
	}
	h.count++
	h.sum += v
	if i, _ := slices.BinarySearch(idleBuckets, v); i < len(idleBuckets) {
		h.counts[i]++
	}
}

// cumulative returns the buckets as Prometheus wants them: upper bound -> count at or below.
func (h *histo) cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(idleBuckets))
	var c uint64
	for i, b := range idleBuckets {
		if h.counts != nil {
			c += h.counts[i]
		}
		out[b] = c
	}
	return out
}

type histKey struct {
	netns     uint64
	keepalive sockets.KeepaliveState
}

type nsProc struct {
	netns uint64
	comm  string
}

type closeWait struct {
	count  int
	oldest time.Duration
}

// aggregate folds sockets into bounded groups. Feed it the listeners first (AddListener), then
// every socket (Add), then call Finish.
type aggregate struct {
	allowPorts map[uint16]bool
	allowProcs map[string]bool
	topPorts   int
	topProcs   int

	listening map[portRef]bool
	// Raw counts before top-N: per listening port and per process name.
	byPort map[portRef]map[cellKey]int
	byProc map[nsProc]map[cellKey]int
	idle   map[histKey]*histo
	cw     map[nsProc]*closeWait
	total  int
}

type portRef struct {
	netns uint64
	port  uint16
}

type cellKey struct {
	state     sockets.State
	keepalive sockets.KeepaliveState
}

func newAggregate(o Options) *aggregate {
	a := &aggregate{
		allowPorts: map[uint16]bool{}, allowProcs: map[string]bool{},
		topPorts: o.TopPorts, topProcs: o.TopProcesses,
		listening: map[portRef]bool{},
		byPort:    map[portRef]map[cellKey]int{},
		byProc:    map[nsProc]map[cellKey]int{},
		idle:      map[histKey]*histo{},
		cw:        map[nsProc]*closeWait{},
	}
	for _, p := range o.Ports {
		a.allowPorts[p] = true
	}
	for _, p := range o.Processes {
		a.allowProcs[p] = true
	}
	return a
}

// AddListener records a listening port, so that sockets accepted on it are counted under it.
func (a *aggregate) AddListener(netns uint64, port uint16) {
	a.listening[portRef{netns, port}] = true
}

// sockRec is what the aggregate needs of one socket: a few bytes, so that sockets whose owner
// is not known yet can wait for the process walk without holding a whole sockets.Socket.
type sockRec struct {
	netns     uint64
	inode     uint32
	port      uint16
	state     sockets.State
	keepalive sockets.KeepaliveState
	hasIdle   bool
	hasAge    bool
	idle      time.Duration
	closeWait time.Duration // CLOSE_WAIT age, at least
}

// record extracts a sockRec from a socket as Walk hands it out.
func record(s *sockets.Socket) sockRec {
	r := sockRec{inode: s.Inode, port: s.Local.Port(), state: s.State, keepalive: s.Keepalive.State}
	if s.Netns != nil {
		r.netns = s.Netns.Inode
	}
	r.idle, r.hasIdle = s.Idle()
	r.closeWait, r.hasAge = s.CloseWaitAge()
	return r
}

// Add counts one socket held by the process named comm ("" when none is known).
func (a *aggregate) Add(r sockRec, comm string) {
	a.total++
	ns := r.netns
	cell := cellKey{r.state, r.keepalive}
	// The port a socket belongs to: its own local port when that port listens in its namespace
	// (a listener, or a connection accepted on it), else the connection is outbound and its
	// local port is ephemeral (port 0 stands for that).
	pr := portRef{ns, r.port}
	if !a.listening[pr] {
		pr.port = 0
	}
	bump(a.byPort, pr, cell)
	if comm == "" {
		comm = labelUnknown
	}
	np := nsProc{ns, comm}
	bump(a.byProc, np, cell)

	switch r.state {
	case sockets.StateEstablished:
		if r.hasIdle {
			hk := histKey{ns, r.keepalive}
			h := a.idle[hk]
			if h == nil {
				h = &histo{}
				a.idle[hk] = h
			}
			h.observe(r.idle.Seconds())
		}
	case sockets.StateCloseWait:
		c := a.cw[np]
		if c == nil {
			c = &closeWait{}
			a.cw[np] = c
		}
		c.count++
		if r.hasAge && r.closeWait > c.oldest {
			c.oldest = r.closeWait
		}
	}
}

func bump[K comparable](m map[K]map[cellKey]int, k K, c cellKey) {
	cells := m[k]
	if cells == nil {
		cells = map[cellKey]int{}
		m[k] = cells
	}
	cells[c]++
}

// cell is one output row of a socket breakdown.
type cell struct {
	sockKey
	count int
}

// Ports returns the breakdown by listening port with the top-N applied, sorted.
func (a *aggregate) Ports() []cell {
	keep := topN(a.byPort, a.topPorts,
		func(k portRef) bool { return k.port == 0 }, // ephemeral: never ranked
		func(k portRef) bool { return a.allowPorts[k.port] },
		func(x, y portRef) int {
			if c := cmp.Compare(x.netns, y.netns); c != 0 {
				return c
			}
			return cmp.Compare(x.port, y.port)
		})
	out := map[sockKey]int{}
	for k, cells := range a.byPort {
		label := labelEphemeral
		switch {
		case k.port == 0:
		case keep[k]:
			label = strconv.Itoa(int(k.port))
		default:
			label = labelOther
		}
		for c, v := range cells {
			out[sockKey{k.netns, label, c.state, c.keepalive}] += v
		}
	}
	return sorted(out)
}

// Processes returns the breakdown by process name with the top-N applied, sorted.
func (a *aggregate) Processes() []cell {
	keep := a.keptProcs()
	out := map[sockKey]int{}
	for k, cells := range a.byProc {
		label := k.comm
		if !keep[k] {
			label = labelOther
		}
		for c, v := range cells {
			out[sockKey{k.netns, label, c.state, c.keepalive}] += v
		}
	}
	return sorted(out)
}

// keptProcs chooses the processes that keep their own label: the allow-list, "unknown", and
// the top-N by socket count over all namespaces.
func (a *aggregate) keptProcs() map[nsProc]bool {
	return topN(a.byProc, a.topProcs,
		func(nsProc) bool { return false },
		func(k nsProc) bool { return a.allowProcs[k.comm] || k.comm == labelUnknown },
		func(x, y nsProc) int {
			if c := cmp.Compare(x.netns, y.netns); c != 0 {
				return c
			}
			return cmp.Compare(x.comm, y.comm)
		})
}

// topN chooses the groups that keep their own label: every allowed one, plus the n largest of
// the rest by socket count. Skipped groups are never chosen. Ties are broken by order so that
// the choice, and with it the series a scrape exposes, is stable from scrape to scrape.
func topN[K comparable](groups map[K]map[cellKey]int, n int, skip, allowed func(K) bool, order func(x, y K) int) map[K]bool {
	type ranked struct {
		key   K
		total int
	}
	var rs []ranked
	for k, cells := range groups {
		if !skip(k) {
			rs = append(rs, ranked{k, sum(cells)})
		}
	}
	slices.SortFunc(rs, func(x, y ranked) int {
		if c := cmp.Compare(y.total, x.total); c != 0 {
			return c
		}
		return order(x.key, y.key)
	})
	keep := map[K]bool{}
	for _, r := range rs {
		switch {
		case allowed(r.key):
			keep[r.key] = true
		case n > 0:
			keep[r.key] = true
			n--
		}
	}
	return keep
}

// CloseWait returns CLOSE_WAIT counts and oldest ages per process (top-N applied: merged
// "other" keeps the sum and the oldest), sorted.
func (a *aggregate) CloseWait() []closeWaitRow {
	keep := a.keptProcs()
	out := map[nsProc]*closeWait{}
	for k, c := range a.cw {
		if !keep[k] {
			k.comm = labelOther
		}
		o := out[k]
		if o == nil {
			o = &closeWait{}
			out[k] = o
		}
		o.count += c.count
		o.oldest = max(o.oldest, c.oldest)
	}
	rows := make([]closeWaitRow, 0, len(out))
	for k, c := range out {
		rows = append(rows, closeWaitRow{k.netns, k.comm, *c})
	}
	slices.SortFunc(rows, func(x, y closeWaitRow) int {
		if c := cmp.Compare(x.netns, y.netns); c != 0 {
			return c
		}
		return cmp.Compare(x.process, y.process)
	})
	return rows
}

type closeWaitRow struct {
	netns   uint64
	process string
	closeWait
}

func sum(cells map[cellKey]int) int {
	n := 0
	for _, v := range cells {
		n += v
	}
	return n
}

func sorted(m map[sockKey]int) []cell {
	out := make([]cell, 0, len(m))
	for k, v := range m {
		out = append(out, cell{k, v})
	}
	slices.SortFunc(out, func(x, y cell) int {
		if c := cmp.Compare(x.netns, y.netns); c != 0 {
			return c
		}
		if c := cmp.Compare(x.group, y.group); c != 0 {
			return c
		}
		if c := cmp.Compare(x.state, y.state); c != 0 {
			return c
		}
		return cmp.Compare(x.keepalive, y.keepalive)
	})
	return out
}
