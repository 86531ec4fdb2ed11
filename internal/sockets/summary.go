package sockets

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// Summary aggregates sockets per process and per listening port. It keeps counters per group
// and one uint32 per connection with an idle time (for exact percentiles): a few bytes per
// socket, nothing else.
type Summary struct {
	procs map[procKey]*Group
	ports map[portKey]*Group
	// listening are the listening ports known (per namespace), filled by NoteListener.
	listening map[portKey]bool
	Total     Group
}

type procKey struct {
	pid  int
	comm string
}

type portKey struct {
	netns uint64
	port  uint16
}

// Group is the aggregate of one process or one listening port.
type Group struct {
	// Name is "PID/COMM", "-" for sockets no process was found for, or ":PORT" (with the
	// namespace when it is not keeptune's own).
	Name    string
	PID     int
	Port    uint16
	Sockets int
	// States counts sockets by state (index: State).
	States [StateNewSynRecv + 1]int
	// Keepalive counts sockets by KeepaliveState.
	Keepalive [KeepaliveProbing + 1]int
	// FlagCounts counts sockets per flag, in flagNames order.
	FlagCounts [4]int
	idles      []uint32 // ms, connections only
}

// NewSummary returns an empty summary.
func NewSummary() *Summary {
	return &Summary{procs: map[procKey]*Group{}, ports: map[portKey]*Group{}, listening: map[portKey]bool{}}
}

func nsIno(s *Socket) uint64 {
	if s.Netns == nil {
		return 0
	}
	return s.Netns.Inode
}

// NoteListener records a listening port without counting the socket, so that connections
// accepted on it group under it even when listeners are not shown.
func (sm *Summary) NoteListener(s *Socket) {
	if s.State == StateListen {
		sm.listening[portKey{nsIno(s), s.Local.Port()}] = true
	}
}

// Add counts one socket.
func (sm *Summary) Add(s *Socket) {
	sm.Total.add(s)
	k := procKey{}
	if s.Owner != nil {
		k = procKey{s.Owner.PID, s.Owner.Comm}
	}
	g := sm.procs[k]
	if g == nil {
		g = &Group{Name: "-", PID: k.pid}
		if s.Owner != nil {
			g.Name = strconv.Itoa(k.pid) + "/" + k.comm
		}
		sm.procs[k] = g
	}
	g.add(s)

	pk := portKey{nsIno(s), s.Local.Port()}
	if s.State == StateListen {
		sm.listening[pk] = true
	}
	if !sm.listening[pk] {
		return
	}
	pg := sm.ports[pk]
	if pg == nil {
		pg = &Group{Name: ":" + strconv.Itoa(int(pk.port)), Port: pk.port}
		if s.Netns != nil && !s.Netns.Current {
			pg.Name = s.Netns.Name + " " + pg.Name
		}
		sm.ports[pk] = pg
	}
	pg.add(s)
}

func (g *Group) add(s *Socket) {
	g.Sockets++
	if int(s.State) < len(g.States) {
		g.States[s.State]++
	}
	if int(s.Keepalive.State) < len(g.Keepalive) {
		g.Keepalive[s.Keepalive.State]++
	}
	for i, n := range flagNames {
		if s.Flags.Has(n.f) {
			g.FlagCounts[i]++
		}
	}
	if idle, ok := s.Idle(); ok {
		g.idles = append(g.idles, uint32(min(idle.Milliseconds(), 1<<32-1)))
	}
}

// Percentiles returns the p50, p90 and p99 idle times of the group's connections (nearest
// rank); ok is false when no socket had an idle time.
func (g *Group) Percentiles() (p50, p90, p99 time.Duration, ok bool) {
	if len(g.idles) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(g.idles)
	at := func(p int) time.Duration {
		i := (len(g.idles)*p+99)/100 - 1
		i = max(0, min(i, len(g.idles)-1))
		return time.Duration(g.idles[i]) * time.Millisecond
	}
	return at(50), at(90), at(99), true
}

// Processes returns the per-process groups, most sockets first.
func (sm *Summary) Processes() []*Group { return sortedGroups(sm.procs) }

// Ports returns the per-listening-port groups, most sockets first.
func (sm *Summary) Ports() []*Group { return sortedGroups(sm.ports) }

func sortedGroups[K comparable](m map[K]*Group) []*Group {
	out := make([]*Group, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *Group) int {
		if c := cmp.Compare(b.Sockets, a.Sockets); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// summaryColumns are the summary table's columns.
var summaryColumns = []struct {
	name  string
	width int
}{
	{"", 26}, {"SOCKETS", 8}, {"ESTAB", 7}, {"LISTEN", 7}, {"CLOSE_WAIT", 11}, {"TIME_WAIT", 10},
	{"OTHER", 6}, {"KA ON", 6}, {"OFF", 6}, {"UNKNOWN", 8}, {"PROBING", 8},
	{"IDLE P50", 9}, {"P90", 7}, {"P99", 7}, {"IDLE-NO-KA", 11}, {"CW-LEAK", 8}, {"SILENT", 7}, {"ORPHAN-FW2", 0},
}

// AppendSummary appends the two summary tables (per process, per listening port).
func (sm *Summary) AppendSummary(b []byte) []byte {
	b = appendSummaryTable(b, "PROCESS", sm.Processes())
	b = append(b, '\n')
	ports := sm.Ports()
	if len(ports) == 0 {
		return append(b, "LISTENING PORT: none among the sockets shown\n"...)
	}
	return appendSummaryTable(b, "LISTENING PORT", ports)
}

func appendSummaryTable(b []byte, title string, groups []*Group) []byte {
	for i, c := range summaryColumns {
		name := c.name
		if i == 0 {
			name = title
		}
		b = appendCell(b, len(b), name, c.width)
	}
	b = trimEOL(b)
	for _, g := range groups {
		cells := [...]int{
			g.Sockets, g.States[StateEstablished], g.States[StateListen], g.States[StateCloseWait], g.States[StateTimeWait],
			g.Sockets - g.States[StateEstablished] - g.States[StateListen] - g.States[StateCloseWait] - g.States[StateTimeWait],
			g.Keepalive[KeepaliveOn] + g.Keepalive[KeepaliveProbing], g.Keepalive[KeepaliveOff], g.Keepalive[KeepaliveUnknown], g.Keepalive[KeepaliveProbing],
		}
		st := len(b)
		b = append(b, g.Name...)
		b = pad(b, st, summaryColumns[0].width)
		for i, v := range cells {
			st = len(b)
			b = strconv.AppendInt(b, int64(v), 10)
			b = pad(b, st, summaryColumns[1+i].width)
		}
		p50, p90, p99, ok := g.Percentiles()
		for i, d := range [...]time.Duration{p50, p90, p99} {
			st = len(b)
			if ok {
				b = AppendDuration(b, d)
			} else {
				b = append(b, '-')
			}
			b = pad(b, st, summaryColumns[11+i].width)
		}
		for i, v := range g.FlagCounts {
			st = len(b)
			b = strconv.AppendInt(b, int64(v), 10)
			b = pad(b, st, summaryColumns[14+i].width)
		}
		b = trimEOL(b)
	}
	return b
}

// SummaryJSON is the JSON form of a summary (`--summary -o json`).
type SummaryJSON struct {
	Total     GroupJSON   `json:"total"`
	Processes []GroupJSON `json:"processes"`
	Ports     []GroupJSON `json:"listening_ports"`
}

// GroupJSON is one group in SummaryJSON. Idle percentiles are in milliseconds, null when no
// connection had an idle time.
type GroupJSON struct {
	Name      string         `json:"name"`
	PID       int            `json:"pid,omitempty"`
	Port      uint16         `json:"port,omitempty"`
	Sockets   int            `json:"sockets"`
	States    map[string]int `json:"states"`
	Keepalive map[string]int `json:"keepalive"`
	IdleP50   *int64         `json:"idle_p50_ms"`
	IdleP90   *int64         `json:"idle_p90_ms"`
	IdleP99   *int64         `json:"idle_p99_ms"`
	Flags     map[string]int `json:"flags"`
}

// JSON returns the summary for encoding/json.
func (sm *Summary) JSON() SummaryJSON {
	conv := func(gs []*Group) []GroupJSON {
		out := make([]GroupJSON, 0, len(gs))
		for _, g := range gs {
			out = append(out, g.json())
		}
		return out
	}
	return SummaryJSON{Total: sm.Total.json(), Processes: conv(sm.Processes()), Ports: conv(sm.Ports())}
}

func (g *Group) json() GroupJSON {
	j := GroupJSON{Name: g.Name, PID: g.PID, Port: g.Port, Sockets: g.Sockets,
		States: map[string]int{}, Keepalive: map[string]int{}, Flags: map[string]int{}}
	if j.Name == "" {
		j.Name = "total"
	}
	for st, n := range g.States {
		if n > 0 {
			j.States[State(st).String()] = n
		}
	}
	for k, n := range g.Keepalive {
		if n > 0 {
			j.Keepalive[KeepaliveState(k).String()] = n
		}
	}
	for i, n := range g.FlagCounts {
		j.Flags[flagNames[i].name] = n
	}
	if p50, p90, p99, ok := g.Percentiles(); ok {
		a, b, c := p50.Milliseconds(), p90.Milliseconds(), p99.Milliseconds()
		j.IdleP50, j.IdleP90, j.IdleP99 = &a, &b, &c
	}
	return j
}
