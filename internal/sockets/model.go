package sockets

import (
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// KeepaliveSettings returns the socket's keepalive in the model's vocabulary, for rules. Values
// read with Deep carry model.SourceSocket, with the detail "set by program" when they differ
// from the namespace's sysctl and "namespace sysctl" otherwise. Without Deep only Enabled can be
// known (from the timers, see KeepaliveState), with the detail "inet_diag timer"; the other
// values are unknown.
func (s *Socket) KeepaliveSettings() model.KeepaliveSettings {
	k := s.Keepalive
	var out model.KeepaliveSettings
	if !k.Deep {
		switch k.State {
		case KeepaliveOn, KeepaliveProbing:
			out.Enabled = model.KnownSetting(true, model.Source{Kind: model.SourceSocket, Detail: "inet_diag timer"})
		case KeepaliveOff:
			out.Enabled = model.KnownSetting(false, model.Source{Kind: model.SourceSocket, Detail: "inet_diag timer"})
		}
		return out
	}
	src := func(bit SetBits) model.Source {
		if k.SetByProgram&bit != 0 {
			return model.Source{Kind: model.SourceSocket, Detail: "set by program"}
		}
		return model.Source{Kind: model.SourceSocket, Detail: "namespace sysctl"}
	}
	if k.Unread&UnreadEnabled == 0 {
		out.Enabled = model.KnownSetting(k.Enabled, model.Source{Kind: model.SourceSocket, Detail: "SO_KEEPALIVE"})
	}
	// A value whose getsockopt failed stays unknown; the others stand.
	if k.Unread&SetIdle == 0 {
		out.Idle = model.KnownSetting(k.Idle, src(SetIdle))
	}
	if k.Unread&SetInterval == 0 {
		out.Interval = model.KnownSetting(k.Interval, src(SetInterval))
	}
	if k.Unread&SetCount == 0 {
		out.Count = model.KnownSetting(k.Count, src(SetCount))
	}
	if k.Unread&SetUserTimeout == 0 {
		out.UserTimeout = model.KnownSetting[time.Duration](k.UserTimeout, src(SetUserTimeout))
	}
	return out
}
