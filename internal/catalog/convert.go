package catalog

import (
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// source is what every value taken from the entry carries, known or not: a person reading a
// finding can follow it to the document the value comes from.
func (e Entry) source() model.Source {
	return model.Source{Kind: model.SourceCatalog, Detail: e.Name + ": " + e.Source}
}

// osSource marks a value the entry leaves to the operating system: still unknown to the
// catalog, but the detail tells whoever fills it in (from the host's sysctls) why.
func (e Entry) osSource() model.Source {
	s := e.source()
	s.Detail += " (the operating system's default applies)"
	return s
}

// Middlebox returns the entry as a chain hop's middlebox description, or nil for software.
// Values the entry does not state are unknown settings that still carry the entry as source.
func (e Entry) Middlebox() *model.Middlebox {
	if e.Kind != KindMiddlebox {
		return nil
	}
	src := e.source()
	m := &model.Middlebox{
		IdleTimeout:        model.Setting[time.Duration]{Source: src},
		Layer:              model.Setting[int]{Source: src},
		RefreshedBy:        model.Setting[model.Refresh]{Source: src},
		OnExpiry:           model.Setting[model.Expiry]{Source: src},
		HTTP2PingRefreshes: model.Setting[bool]{Source: src},
	}
	if e.IdleTimeout != nil {
		m.IdleTimeout = model.KnownSetting(e.IdleTimeout.Default, src)
	}
	if e.Layer != 0 {
		m.Layer = model.KnownSetting(e.Layer, src)
	}
	if e.RefreshedBy != "" {
		m.RefreshedBy = model.KnownSetting(e.RefreshedBy, src)
	}
	if e.OnExpiry != "" {
		m.OnExpiry = model.KnownSetting(e.OnExpiry, src)
	}
	if e.HTTP2PingRefreshes != nil {
		m.HTTP2PingRefreshes = model.KnownSetting(*e.HTTP2PingRefreshes, src)
	}
	return m
}

// Downstream returns how the hop treats the connections it accepts, or nil when the entry does
// not describe that side. Each call returns a fresh value.
//
// A layer 7 middlebox terminates its clients' connections, so it has a downstream side even
// though its entry does not spell one out: its idle timeout is the middlebox's, and nothing
// else is known. Giving it here lets rules treat an L7 balancer like any proxy (a client pool
// must idle out before the balancer does) without a second copy of the value in the data.
// Layer 4 middleboxes have no downstream side: they do not accept connections, they forward
// segments.
func (e Entry) Downstream() *model.Side {
	if e.Kind == KindMiddlebox && e.Layer == 7 && e.IdleTimeout != nil {
		s := e.modelSide(&side{})
		s.IdleTimeout = model.KnownSetting(e.IdleTimeout.Default, e.source())
		return s
	}
	return e.modelSide(e.down)
}

// Upstream returns how the hop treats the connections it opens (for a layer 7 middlebox: the
// connections to its backends), or nil when the entry does not describe that side.
func (e Entry) Upstream() *model.Side { return e.modelSide(e.up) }

func (e Entry) modelSide(s *side) *model.Side {
	if s == nil {
		return nil
	}
	d := func(v durVal) model.Setting[time.Duration] { return e.durSetting(v) }
	out := &model.Side{
		IdleTimeout: d(s.idle),
		Pools:       e.boolSetting(s.pools),
		TCP: model.KeepaliveSettings{
			Enabled:     e.boolSetting(s.tcpEnabled),
			Idle:        d(s.tcpIdle),
			Interval:    d(s.tcpInterval),
			Count:       e.intSetting(s.tcpCount),
			UserTimeout: d(s.tcpUserTimeout),
		},
		ReadTimeout:    d(s.read),
		ConnectTimeout: d(s.connect),
		MaxLifetime:    d(s.lifetime),
		HTTP2Ping:      d(s.h2ping),
	}
	if g := s.grpc; g != nil {
		out.GRPC = &model.GRPCKeepalive{
			Time:                d(g.time),
			Timeout:             d(g.timeout),
			PermitWithoutStream: e.boolSetting(g.permit),
			MinTime:             d(g.minTime),
		}
	}
	return out
}

// durSetting maps the entry's statement to a setting: a value or "none" (no limit, a known
// zero) is known; "os" and silence are not.
func (e Entry) durSetting(v durVal) model.Setting[time.Duration] {
	switch v.st {
	case stated:
		return model.KnownSetting(v.d, e.source())
	case none:
		return model.KnownSetting(time.Duration(0), e.source())
	case osDefault:
		return model.Setting[time.Duration]{Source: e.osSource()}
	}
	return model.Setting[time.Duration]{Source: e.source()}
}

func (e Entry) boolSetting(v boolVal) model.Setting[bool] {
	if v.st == stated {
		return model.KnownSetting(v.b, e.source())
	}
	return model.Setting[bool]{Source: e.source()}
}

func (e Entry) intSetting(v intVal) model.Setting[int] {
	switch v.st {
	case stated:
		return model.KnownSetting(v.n, e.source())
	case osDefault:
		return model.Setting[int]{Source: e.osSource()}
	}
	return model.Setting[int]{Source: e.source()}
}
