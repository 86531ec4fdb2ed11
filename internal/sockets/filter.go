package sockets

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filter selects sockets. States and ports are handed to the kernel (a state mask and bytecode),
// so sockets that fail them never cross into user space; the other conditions are checked on
// each socket as it streams by. The zero Filter selects every socket.
type Filter struct {
	// States is the state mask (0: all).
	States StateSet
	// Ports keeps sockets whose local or peer port is one of them; LocalPorts and PeerPorts look at
	// one side only. The three conditions are and-ed; within one list any port matches.
	Ports, LocalPorts, PeerPorts []uint16
	// PIDs keeps sockets held by one of these processes, Processes those held by a process whose
	// name (comm) is one of these. Both need process attribution.
	PIDs      []int
	Processes []string
	// Idle keeps sockets whose idle time (Socket.Idle) satisfies it; sockets without an idle time
	// (listeners, time-wait sockets, no tcp_info) never do.
	Idle *IdleCond
	// NoKeepalive keeps sockets whose keepalive is off.
	NoKeepalive bool
}

// maxFilterPorts bounds the port lists: the bytecode's jumps are 16-bit.
const maxFilterPorts = 256

// Validate checks the filter.
func (f *Filter) Validate() error {
	if n := len(f.Ports) + len(f.LocalPorts) + len(f.PeerPorts); n > maxFilterPorts {
		return fmt.Errorf("%d ports in the filter: at most %d", n, maxFilterPorts)
	}
	for _, p := range f.PIDs {
		if p <= 0 {
			return fmt.Errorf("invalid pid %d: expected a positive process id", p)
		}
	}
	return nil
}

// needsOwners reports whether the filter needs process attribution.
func (f *Filter) needsOwners() bool { return len(f.PIDs) > 0 || len(f.Processes) > 0 }

// needsInfo reports whether the filter needs tcp_info.
func (f *Filter) needsInfo() bool { return f.Idle != nil }

// bytecode is the kernel filter for the ports, with equality ops (4.16+) or ranges.
func (f *Filter) bytecode(eq bool) []byte {
	return portFilter(f.Ports, f.LocalPorts, f.PeerPorts, eq)
}

// matchPorts checks the port conditions in user space (the kernel already did; this guards the
// bytecode and covers kernels that refuse it).
func (f *Filter) matchPorts(s *Socket) bool {
	in := func(list []uint16, p uint16) bool {
		for _, q := range list {
			if q == p {
				return true
			}
		}
		return false
	}
	lp, pp := s.Local.Port(), s.Peer.Port()
	if len(f.Ports) > 0 && !in(f.Ports, lp) && !in(f.Ports, pp) {
		return false
	}
	if len(f.LocalPorts) > 0 && !in(f.LocalPorts, lp) {
		return false
	}
	if len(f.PeerPorts) > 0 && !in(f.PeerPorts, pp) {
		return false
	}
	return true
}

// matchOwner checks the process conditions.
func (f *Filter) matchOwner(s *Socket) bool {
	if !f.needsOwners() {
		return true
	}
	if s.Owner == nil {
		return false
	}
	if len(f.PIDs) > 0 {
		ok := false
		for _, p := range f.PIDs {
			if p == s.Owner.PID {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Processes) > 0 && !f.matchComm(s.Owner.Comm) {
		return false
	}
	return true
}

func (f *Filter) matchComm(comm string) bool {
	for _, n := range f.Processes {
		if n == comm {
			return true
		}
	}
	return false
}

// matchDerived checks the conditions on derived values (after Derive).
func (f *Filter) matchDerived(s *Socket) bool {
	if !f.States.Has(s.State) {
		return false
	}
	if f.NoKeepalive && s.Keepalive.State != KeepaliveOff {
		return false
	}
	if f.Idle != nil {
		idle, ok := s.Idle()
		if !ok || !f.Idle.Match(idle) {
			return false
		}
	}
	return true
}

// IdleCond compares an idle time with a duration.
type IdleCond struct {
	Op string // ">", ">=", "<", "<="
	D  time.Duration
}

// Match reports whether d satisfies the condition.
func (c IdleCond) Match(d time.Duration) bool {
	switch c.Op {
	case ">":
		return d > c.D
	case ">=":
		return d >= c.D
	case "<":
		return d < c.D
	case "<=":
		return d <= c.D
	}
	return false
}

func (c IdleCond) String() string { return c.Op + c.D.String() }

// ParseIdleCond reads ">60s", ">=5m", "<1h30m", "<=500ms"; a bare number is seconds, and a
// missing operator means ">=".
func ParseIdleCond(s string) (IdleCond, error) {
	t := strings.TrimSpace(s)
	var c IdleCond
	for _, op := range []string{">=", "<=", ">", "<"} {
		if strings.HasPrefix(t, op) {
			c.Op, t = op, strings.TrimSpace(t[len(op):])
			break
		}
	}
	if c.Op == "" {
		c.Op = ">="
	}
	d, err := parseDurationOrSeconds(t)
	if err != nil || d < 0 {
		return IdleCond{}, fmt.Errorf("invalid idle condition %q: expected an operator (>, >=, <, <=) and a duration such as '>60s', '>=5m' or '<500ms'", s)
	}
	c.D = d
	return c, nil
}

func parseDurationOrSeconds(t string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(t, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(t)
}

// ParsePorts reads a comma-separated list of ports ("80,443", ":8080").
func ParsePorts(list string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimPrefix(strings.TrimSpace(f), ":")
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("invalid port %q: expected a number from 1 to 65535", f)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}
