package sockets

import (
	"context"
	"sort"

	"github.com/keeptune/keeptune/internal/model"
)

// deepSample is how many sockets per process Summarize reads options from when it may: enough
// to see whether a program sets its own keepalive, cheap on a host with 100,000 sockets.
const deepSample = 8

// Summarize walks the TCP sockets of keeptune's network namespace and sums them up per owning
// process, for the audit. deep reads a sample of each process's sockets' keepalive options
// (root). Sockets without a known owner are left out.
func Summarize(ctx context.Context, deep bool, th Thresholds) ([]model.SocketStats, error) {
	return SummarizeIn(ctx, SummaryOptions{Deep: deep, Thresholds: th})
}

// SummaryOptions say which sockets SummarizeIn reads.
type SummaryOptions struct {
	// Netns selects the namespaces as Options.Netns does: "" keeptune's own, "all" every one.
	Netns string
	// Deep reads a sample of each process's sockets' options (needs root).
	Deep       bool
	Thresholds Thresholds
	// ProcRoot is the proc file system (default /proc).
	ProcRoot string
	// Owners is a descriptor walk made already (procfd.Walk recording every socket).
	Owners *Owners
	// Held, when set, also receives every socket of every state (listeners too) for each
	// process holding it: host facts' per-process TCP counts and listening addresses, from the
	// same dump.
	Held map[int]*Held
}

// Held is one process's share of the socket tables.
type Held struct {
	Sockets   int
	Listening []string
}

// SummarizeIn sums up the connected sockets of the namespaces opts selects per owning process
// and per namespace the sockets live in: a process holding sockets in two namespaces gets a row
// for each, and SocketStats.NetnsInode is the sockets' namespace. Sockets without a known owner
// are left out.
func SummarizeIn(ctx context.Context, opts SummaryOptions) ([]model.SocketStats, error) {
	type key struct {
		pid int
		ns  uint64
	}
	rows := map[key]*model.SocketStats{}
	wopts := Options{Info: true, Processes: true, Deep: opts.Deep, DeepPerProcess: deepSample, Thresholds: opts.Thresholds,
		Filter: Filter{States: connectedStates}, Netns: opts.Netns, ProcRoot: opts.ProcRoot, Owners: opts.Owners}
	if opts.Held != nil {
		wopts.Filter.States = AllStates
	}
	err := Walk(ctx, wopts, func(s *Socket) error {
		if s.Owner == nil {
			return nil
		}
		if opts.Held != nil {
			hold := func(p *Process, _ int) {
				h := opts.Held[p.PID]
				if h == nil {
					h = &Held{}
					opts.Held[p.PID] = h
				}
				h.Sockets++
				if s.State == StateListen {
					h.Listening = append(h.Listening, s.Local.String())
				}
			}
			hold(s.Owner, 0)
			opts.Owners.MoreHolders(s.Inode, hold)
			if !connectedStates.Has(s.State) {
				return nil
			}
		}
		k := key{s.Owner.PID, s.Owner.NetnsInode}
		if s.Netns != nil {
			k.ns = s.Netns.Inode
		}
		st := rows[k]
		if st == nil {
			st = &model.SocketStats{PID: s.Owner.PID, Comm: s.Owner.Comm, NetnsInode: k.ns}
			rows[k] = st
		}
		addSocket(st, s)
		return nil
	})
	out := make([]model.SocketStats, 0, len(rows))
	for _, st := range rows {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PID != out[j].PID {
			return out[i].PID < out[j].PID
		}
		return out[i].NetnsInode < out[j].NetnsInode
	})
	return out, err
}

// connectedStates are the states a process's connections can be in.
var connectedStates = setOf(StateEstablished, StateCloseWait, StateFinWait1, StateFinWait2, StateLastAck, StateClosing)

// addSocket counts one socket into its process's stats.
func addSocket(st *model.SocketStats, s *Socket) {
	st.Established++
	switch s.Keepalive.State {
	case KeepaliveOn, KeepaliveProbing:
		st.KeepaliveOn++
	case KeepaliveOff:
		st.KeepaliveOff++
	}
	if s.Flags.Has(FlagCloseWaitLeak) {
		st.CloseWaitLeaks++
		if age, ok := s.CloseWaitAge(); ok && age > st.OldestCloseWait {
			st.OldestCloseWait = age
		}
	}
	if s.Flags.Has(FlagIdleNoKeepalive) {
		st.IdleNoKeepalive++
		if idle, ok := s.Idle(); ok && idle > st.LongestIdle {
			st.LongestIdle = idle
		}
	}
	if s.Flags.Has(FlagSilentPeer) {
		st.SilentPeers++
	}
	if s.Keepalive.Deep {
		st.Sampled++
		if s.Keepalive.Enabled && s.Keepalive.SetByProgram != 0 {
			st.Overridden++
			if st.Override == nil {
				k := s.KeepaliveSettings()
				st.Override = &k
			}
		}
	}
}
