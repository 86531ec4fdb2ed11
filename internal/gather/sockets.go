package gather

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/enforce"
	"github.com/keeptune/keeptune/internal/sockets"
)

// ErrPrivilege is matched by errors root would avoid: entering another network namespace,
// reading other users' processes (exit code 4 in the CLI).
var ErrPrivilege = sockets.ErrPrivilege

// SocketsQuery is a view of the live socket table as a person asks for it (the sockets verb's
// flags): which sockets, what to read about them, in which order.
type SocketsQuery struct {
	// States are state names and groups, comma separated (established, close-wait, connected,
	// ...; "" for all).
	States string
	// Ports, LocalPorts and PeerPorts are numbers or TCP service names (/etc/services), each
	// entry possibly a comma-separated list; filtered in the kernel.
	Ports, LocalPorts, PeerPorts []string
	// PIDs and Processes keep the sockets these processes hold (by pid, or by name as in
	// /proc/PID/comm).
	PIDs      []int
	Processes []string
	// Idle keeps connections idle for longer or shorter than a duration (">60s", "<1s").
	Idle string
	// NoKeepalive keeps only sockets whose keepalive is off.
	NoKeepalive bool
	// Netns is "" (keeptune's own), "all", a PID, a name under /run/netns or a path.
	Netns string
	// Deep reads each socket's keepalive options from its process (and the keeptune enforce
	// policy it carries); NoInfo skips tcp_info; NoProcesses skips finding the holders.
	Deep, NoInfo, NoProcesses bool
	// Sort is "" (the kernel's order, streamed), "idle", "state" or "process".
	Sort string
	// IdleThreshold and CloseWaitThreshold tune the derived flags (model.DefaultSocketThresholds
	// in the CLI).
	IdleThreshold, CloseWaitThreshold time.Duration
}

// SocketSink receives the sockets of a walk; a socket is valid only during the call.
type SocketSink interface {
	Socket(s *sockets.Socket) error
}

// ListenerSink is a SocketSink that first learns every listening socket of the namespaces in
// scope, whatever the query's states (a summary groups connections under their port).
type ListenerSink interface {
	SocketSink
	Listener(s *sockets.Socket)
}

// Sockets reads the live socket table as q asks and hands every socket to sink, streaming them
// in the kernel's order (or, with q.Sort, all of them once read). Errors about q match ErrInput,
// errors root would avoid match ErrPrivilege. Stats say what the walk did; a privilege error
// of the deep read is in Stats.DeepErr (matching ErrPrivilege) and the walk goes on.
func Sockets(ctx context.Context, q SocketsQuery, sink SocketSink) (sockets.Stats, error) {
	var stats sockets.Stats
	o, err := socketOptions(q)
	if err != nil {
		return stats, &inputError{err}
	}
	o.Stats = &stats
	if o.Deep {
		o.Enforcement = enforcementLookup()
	}
	if l, ok := sink.(ListenerSink); ok {
		lq := sockets.Options{Netns: o.Netns, Filter: sockets.Filter{States: 1 << sockets.StateListen}}
		if err := sockets.Walk(ctx, lq, func(s *sockets.Socket) error { l.Listener(s); return nil }); err != nil {
			return stats, walkError(err)
		}
	}
	if q.Sort == "" {
		err = sockets.Walk(ctx, o, sink.Socket)
	} else {
		// Sorting needs them all first: copies, since the walk reuses its socket.
		var all []sockets.Socket
		err = sockets.Walk(ctx, o, func(s *sockets.Socket) error { all = append(all, *s); return nil })
		if err == nil {
			sortSockets(all, q.Sort)
			for i := range all {
				if err = sink.Socket(&all[i]); err != nil {
					break
				}
			}
		}
	}
	return stats, walkError(err)
}

// Check says whether q is a query Sockets can answer (an error matching ErrInput, naming the
// flag, when not), before any socket is read.
func (q SocketsQuery) Check() error {
	if _, err := socketOptions(q); err != nil {
		return &inputError{err}
	}
	return nil
}

// walkError gives a walk's error the stage's classes: a namespace that does not exist is bad
// input; ErrPrivilege is matched as it is.
func walkError(err error) error {
	if errors.Is(err, sockets.ErrNoNamespace) {
		return &inputError{err}
	}
	return err
}

// socketOptions checks q and turns it into the walk's options.
func socketOptions(q SocketsQuery) (sockets.Options, error) {
	var o sockets.Options
	switch q.Sort {
	case "", "idle", "state", "process":
	default:
		return o, fmt.Errorf("invalid --sort %q: expected idle, state or process", q.Sort)
	}
	if q.IdleThreshold <= 0 {
		return o, fmt.Errorf("invalid --idle-threshold %v: expected a positive duration such as 300s", q.IdleThreshold)
	}
	if q.CloseWaitThreshold <= 0 {
		return o, fmt.Errorf("invalid --close-wait-threshold %v: expected a positive duration such as 60s", q.CloseWaitThreshold)
	}
	f := &o.Filter
	if q.States != "" {
		st, err := sockets.ParseStates(q.States)
		if err != nil {
			return o, fmt.Errorf("invalid --state: %w", err)
		}
		f.States = st
	}
	for _, p := range []struct {
		flag string
		in   []string
		out  *[]uint16
	}{{"--port", q.Ports, &f.Ports}, {"--sport", q.LocalPorts, &f.LocalPorts}, {"--dport", q.PeerPorts, &f.PeerPorts}} {
		names, err := servicePorts(p.in)
		if err != nil {
			return o, fmt.Errorf("invalid %s: %w", p.flag, err)
		}
		ports, err := sockets.ParsePorts(strings.Join(names, ","))
		if err != nil {
			return o, fmt.Errorf("invalid %s: %w", p.flag, err)
		}
		*p.out = ports
	}
	for _, pid := range q.PIDs {
		if pid <= 0 {
			return o, fmt.Errorf("invalid --pid %d: expected a positive process id", pid)
		}
	}
	f.PIDs = q.PIDs
	for _, name := range q.Processes {
		if name == "" || len(name) > 15 {
			return o, fmt.Errorf("invalid --process %q: expected a process name as in /proc/PID/comm (1 to 15 characters)", name)
		}
	}
	f.Processes = q.Processes
	if q.Idle != "" {
		c, err := sockets.ParseIdleCond(q.Idle)
		if err != nil {
			return o, fmt.Errorf("invalid --idle: %w", err)
		}
		f.Idle = &c
	}
	f.NoKeepalive = q.NoKeepalive
	if err := f.Validate(); err != nil {
		return o, err
	}
	if q.NoInfo && (f.Idle != nil || q.Deep) {
		return o, fmt.Errorf("--no-info cannot be combined with --idle or --deep: they need tcp_info")
	}
	if q.NoProcesses && (q.Deep || len(f.PIDs) > 0 || len(f.Processes) > 0) {
		return o, fmt.Errorf("--no-processes cannot be combined with --deep, --pid or --process: they need the owning processes")
	}
	o.Info = !q.NoInfo
	o.Processes = !q.NoProcesses
	o.Deep = q.Deep
	o.Netns = q.Netns
	o.Thresholds = sockets.Thresholds{Idle: q.IdleThreshold, CloseWait: q.CloseWaitThreshold}
	return o, nil
}

// servicePorts turns service names (http, postgresql), as ss accepts them, into port numbers
// through the services database (/etc/services); numbers pass through.
func servicePorts(in []string) ([]string, error) {
	var out []string
	for _, list := range in {
		for _, p := range strings.Split(list, ",") {
			p = strings.TrimSpace(p)
			name := strings.TrimPrefix(p, ":")
			if name == "" || strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
				out = append(out, p)
				continue
			}
			n, err := net.LookupPort("tcp", name)
			if err != nil {
				return nil, fmt.Errorf("unknown port or service %q: expected a number from 1 to 65535 or a TCP service name from /etc/services", name)
			}
			out = append(out, strconv.Itoa(n))
		}
	}
	return out, nil
}

// sortSockets orders sockets: idle (longest idle both ways first; sockets without tcp_info
// last), state (the kernel's state order, then local address as a number: 10.0.0.2 before
// 10.0.0.10, IPv4 before IPv6; compared without building strings, as it runs n log n times), process (name, then pid;
// sockets without a process last).
func sortSockets(all []sockets.Socket, by string) {
	idle := func(s *sockets.Socket) int64 {
		if !s.HasInfo || s.State == sockets.StateListen {
			return -1
		}
		return int64(min(s.Info.LastDataRecv, s.Info.LastDataSent))
	}
	slices.SortStableFunc(all, func(a, b sockets.Socket) int {
		switch by {
		case "idle":
			return cmp.Compare(idle(&b), idle(&a))
		case "state":
			if c := cmp.Compare(a.State, b.State); c != 0 {
				return c
			}
			return a.Local.Compare(b.Local)
		default:
			an, bn := "\xff", "\xff"
			ap, bp := 0, 0
			if a.Owner != nil {
				an, ap = a.Owner.Comm, a.Owner.PID
			}
			if b.Owner != nil {
				bn, bp = b.Owner.Comm, b.Owner.PID
			}
			if c := cmp.Compare(an, bn); c != 0 {
				return c
			}
			return cmp.Compare(ap, bp)
		}
	})
}

// enforcementLookup tells a deep read which sockets carry a `keeptune enforce` policy; nil when
// nothing is enforced or the pins cannot be read.
func enforcementLookup() func(pid int, k sockets.Keepalive) string {
	cov, err := enforce.ReadCoverage("/sys/fs/bpf")
	if err != nil || cov.Empty() {
		return nil
	}
	return func(pid int, k sockets.Keepalive) string {
		return cov.Carrying(pid, k.Effective)
	}
}
