package sockets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/netns"
)

// families are dumped in this order: IPv4 first, as ss does.
var families = [...]uint8{afInet, afInet6}

// Walk dumps the TCP sockets the options select and calls fn with each, one at a time, as the
// kernel's datagrams arrive: memory does not grow with the number of sockets, except for the
// process map when Processes is set (about 12 bytes per socket descriptor it records). The
// *Socket is reused for the next call: copy it to keep it. An error from fn stops the walk and
// is returned; so does the end of ctx.
func Walk(ctx context.Context, opts Options, fn func(*Socket) error) (err error) {
	start := time.Now()
	stats := opts.Stats
	if stats == nil {
		stats = &Stats{}
	}
	defer func() { stats.Duration = time.Since(start) }()
	f := &opts.Filter
	if err := f.Validate(); err != nil {
		return err
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Deep || f.needsOwners() {
		opts.Processes = true
	}
	if opts.Deep || f.needsInfo() {
		opts.Info = true
	}
	th := opts.thresholds()

	targets, err := resolveNamespaces(opts.ProcRoot, opts.Netns)
	if err != nil {
		return err
	}
	conns := make([]*diagConn, len(targets))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i, t := range targets {
		err := inNetns(t.path, func() error {
			c, err := dialDiag()
			if err != nil {
				return err
			}
			conns[i] = c
			t.ns.Sysctls = readNetnsSysctls()
			return nil
		})
		if err != nil {
			if len(targets) > 1 && !errors.Is(err, ErrPrivilege) {
				// A namespace whose last process exited while we looked: skip it.
				continue
			}
			return fmt.Errorf("network namespace %s: %w", t.ns.Name, err)
		}
	}
	stats.Namespaces = len(targets)

	// The kernel filters by state and port. Summaries of listening ports need the listeners even
	// when the caller's states exclude them; that is the caller's business: Walk hands out only
	// the states asked for.
	states := f.States
	if states == 0 {
		states = AllStates
	}

	var owners *Owners
	if opts.Processes {
		if opts.Owners != nil {
			owners = opts.Owners
		} else if owners, err = indexFor(ctx, opts, conns, states, stats); err != nil {
			return err
		}
		stats.Owners = owners.Stats
		names := namespaceNames(opts.ProcRoot)
		for _, p := range owners.Processes() {
			p.NetnsName = netns.Label(names[p.NetnsInode], p.NetnsInode)
		}
	}

	var deep *deepReader
	if opts.Deep {
		deep = newDeepReader(opts.DeepPerProcess)
		defer func() {
			deep.Close()
			stats.DeepRead, stats.DeepFailed, stats.DeepErr = deep.Read, deep.Failed, deep.FirstErr
		}()
	}

	var s Socket
	for i, c := range conns {
		if c == nil {
			continue
		}
		ns := targets[i].ns
		for _, fam := range families {
			err := c.dump(ctx, fam, states, opts.Info, f, func(b []byte) error {
				if err := decodeDiagMsg(b, &s); err != nil {
					return err
				}
				s.Netns = ns
				if !f.matchPorts(&s) {
					return nil
				}
				if owners != nil {
					s.OwnerMissing = ""
					if p, fd, ok := owners.Lookup(s.Inode); ok {
						s.Owner, s.OwnerFD = p, int32(fd)
					} else {
						s.OwnerMissing = ownerMissing(&s, owners)
					}
					if !f.matchOwner(&s) {
						return nil
					}
				}
				if deep != nil && s.Owner != nil && s.State != StateTimeWait && deep.allow(s.Owner.PID) {
					deep.read(&s)
				}
				s.Keepalive.Enforced = ""
				if opts.Enforcement != nil && s.Owner != nil && s.Keepalive.Deep && s.State != StateListen && s.State != StateTimeWait {
					s.Keepalive.Enforced = opts.Enforcement(s.Owner.PID, s.Keepalive)
				}
				Derive(&s, th)
				if !f.matchDerived(&s) {
					return nil
				}
				stats.Matched++
				return fn(&s)
			})
			stats.Received += c.received
			c.received = 0
			if c.eq < 0 {
				stats.BytecodeRanges = true
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// indexFor attributes sockets to processes the cheapest way the options allow.
func indexFor(ctx context.Context, opts Options, conns []*diagConn, states StateSet, stats *Stats) (*Owners, error) {
	f := &opts.Filter
	q := OwnerQuery{ProcRoot: opts.ProcRoot, PIDs: f.PIDs, Comms: f.Processes}
	strategy := opts.OwnerStrategy
	if strategy == OwnersAuto {
		switch {
		case f.needsOwners():
			// Only the named processes are walked, and every socket they hold is recorded.
			strategy = OwnersAll
		case len(f.Ports)+len(f.LocalPorts)+len(f.PeerPorts) > 0 || states&(1<<StateEstablished) == 0:
			// The kernel filter is selective: learn the few inodes wanted, stop once found.
			strategy = OwnersWanted
		default:
			// Nearly every socket is wanted: the header-only dump would cost more (about 0.8 µs a
			// socket) than the early stop saves. Record every socket descriptor instead.
			strategy = OwnersAll
		}
	}
	if strategy == OwnersWanted {
		// A header-only dump (no tcp_info: about a third of the bytes) with the same kernel
		// filter says which inodes to look for.
		uids := map[uint32]bool{}
		for _, c := range conns {
			if c == nil {
				continue
			}
			for _, fam := range families {
				err := c.dump(ctx, fam, states, false, f, func(b []byte) error {
					if len(b) < sizeofDiagMsg {
						return errShortDiagMsg
					}
					if ino := nativeUint32(b[sizeofDiagMsg-4:]); ino != 0 {
						q.Want = append(q.Want, ino)
						uids[nativeUint32(b[sizeofDiagMsg-8:])] = true
					}
					return nil
				})
				c.received = 0
				if err != nil {
					return nil, err
				}
			}
		}
		if len(q.Want) == 0 {
			return &Owners{}, nil
		}
		for u := range uids {
			q.UIDs = append(q.UIDs, u)
		}
	}
	return IndexOwners(ctx, q)
}

// Why a socket has no owning process, for the JSON "process_missing" key.
const (
	missingNoDescriptor = "no descriptor: the socket is orphaned or in time-wait"
	missingDenied       = "not among the processes keeptune could read: other users' processes need root (CAP_SYS_PTRACE)"
	missingGone         = "no process holds it (closed or passed on since the process table was read)"
)

func ownerMissing(s *Socket, owners *Owners) string {
	switch {
	case s.Inode == 0:
		return missingNoDescriptor
	case owners.Stats.Denied > 0:
		return missingDenied
	}
	return missingGone
}
