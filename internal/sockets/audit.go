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
	byPID := map[int]*model.SocketStats{}
	opts := Options{Info: true, Processes: true, Deep: deep, DeepPerProcess: deepSample, Thresholds: th,
		Filter: Filter{States: connectedStates}}
	err := Walk(ctx, opts, func(s *Socket) error {
		if s.Owner == nil {
			return nil
		}
		st := byPID[s.Owner.PID]
		if st == nil {
			st = &model.SocketStats{PID: s.Owner.PID, Comm: s.Owner.Comm, NetnsInode: s.Owner.NetnsInode}
			byPID[s.Owner.PID] = st
		}
		addSocket(st, s)
		return nil
	})
	out := make([]model.SocketStats, 0, len(byPID))
	for _, st := range byPID {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
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
