package chain

import (
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// Segment is one TCP connection's path: from the hop that opens it to the hop that accepts it,
// through the layer-4 middleboxes between them. TCP keepalive and idle timers are per segment:
// a proxy or a layer-7 balancer ends one connection and opens another, so probes never cross it.
type Segment struct {
	Opener, Acceptor Endpoint
	// Middleboxes are the layer-4 middleboxes the segment passes through, in chain order.
	Middleboxes []int
}

// Endpoint is one end of a segment: the hop and the side of it that faces the segment.
type Endpoint struct {
	Index int
	Hop   *model.Hop
	// Side is the hop's upstream side for an opener, its downstream side for an acceptor. For
	// a layer-7 middlebox it is derived from the middlebox: idle timeout on both sides, pooling
	// towards its backends, no TCP keepalive of its own that keeptune knows of.
	Side *model.Side
	// L7 is set when the endpoint is a layer-7 middlebox: its idle timer ignores TCP keepalive.
	L7 *model.Middlebox
}

// Name is the hop's name.
func (e Endpoint) Name() string { return e.Hop.Name }

// Segments splits a chain into the TCP connections it is made of.
func Segments(c *model.Chain) []Segment {
	var out []Segment
	open := -1
	var boxes []int
	for i := range c.Hops {
		h := &c.Hops[i]
		if isL4(h) {
			if open >= 0 {
				boxes = append(boxes, i)
			}
			continue
		}
		if open >= 0 {
			out = append(out, Segment{
				Opener:      endpoint(c, open, true),
				Acceptor:    endpoint(c, i, false),
				Middleboxes: boxes,
			})
		}
		open, boxes = i, nil
		if h.Type == model.HopServer {
			open = -1 // a server opens nothing further in this chain
		}
	}
	return out
}

func isL4(h *model.Hop) bool {
	if h.Type != model.HopMiddlebox || h.Middlebox == nil {
		return false
	}
	return !h.Middlebox.Layer.Known || h.Middlebox.Layer.Value != 7
}

func endpoint(c *model.Chain, i int, opener bool) Endpoint {
	h := &c.Hops[i]
	e := Endpoint{Index: i, Hop: h}
	if h.Type == model.HopMiddlebox {
		mb := h.Middlebox
		e.L7 = mb
		side := h.Downstream
		if opener {
			side = h.Upstream
		}
		s := &model.Side{}
		if side != nil {
			cp := *side
			s = &cp
		}
		if !s.IdleTimeout.Known {
			s.IdleTimeout = mb.IdleTimeout
		}
		if opener && !s.Pools.Known {
			s.Pools = model.KnownSetting(true, model.Source{Kind: model.SourceCatalog, Detail: "layer-7 balancers reuse backend connections"})
		}
		e.Side = s
		return e
	}
	if opener {
		e.Side = h.Upstream
	} else {
		e.Side = h.Downstream
	}
	if e.Side == nil {
		e.Side = &model.Side{}
	}
	return e
}

// KeepaliveOn reports whether the endpoint's sockets send TCP keepalive probes, with the idle
// time before the first one when known.
func (e Endpoint) KeepaliveOn() (idle time.Duration, known bool, on bool) {
	k := e.Side.TCP
	if !k.Enabled.Known || !k.Enabled.Value {
		return 0, false, false
	}
	return k.Idle.Value, k.Idle.Known, true
}
