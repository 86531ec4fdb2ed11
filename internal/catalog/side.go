package catalog

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/textfmt"
)

// state is what an entry says about one value. Keeping "not stated", "no limit" and "the OS
// decides" apart is the point: the first two look alike as a zero, and a rule must not mistake
// a source's silence for a program that never times out.
type state uint8

const (
	unstated  state = iota // the source says nothing: unknown
	stated                 // the source gives the value
	none                   // the source says there is no such limit: known, zero
	osDefault              // the source says the operating system's value applies: unknown here
)

type durVal struct {
	d  time.Duration
	st state
}

type boolVal struct {
	b  bool
	st state
}

type intVal struct {
	n  int
	st state
}

// side is one side of a software hop (or the upstream side of a layer 7 middlebox), as the
// entry states it.
type side struct {
	idle           durVal
	pools          boolVal
	tcpEnabled     boolVal
	tcpIdle        durVal
	tcpInterval    durVal
	tcpCount       intVal
	tcpUserTimeout durVal
	read           durVal
	connect        durVal
	lifetime       durVal
	h2ping         durVal
	grpc           *grpcSpec
}

type grpcSpec struct {
	time    durVal
	timeout durVal
	permit  boolVal
	minTime durVal
}

// row is one value of a side for people and for the JSON document: key is its path in the YAML
// file ("tcp.idle"), label its name for people.
type row struct {
	key   string
	label string
	text  string
	st    state
	json  any // seconds (float64), bool or int; nil when not known
}

// rows lists the values of a side in a fixed order; unstated values are included (st ==
// unstated) so that callers decide whether to show them.
func (s *side) rows() []row {
	out := []row{
		durRow("idle_timeout", "idle timeout (keep-alive / pool)", s.idle),
		boolRow("pools", "reuses connections", s.pools),
		boolRow("tcp.enabled", "TCP keepalive (SO_KEEPALIVE)", s.tcpEnabled),
		durRow("tcp.idle", "TCP keepalive idle", s.tcpIdle),
		durRow("tcp.interval", "TCP keepalive interval", s.tcpInterval),
		intRow("tcp.count", "TCP keepalive probes", s.tcpCount),
		durRow("tcp.user_timeout", "TCP_USER_TIMEOUT", s.tcpUserTimeout),
		durRow("read_timeout", "read timeout", s.read),
		durRow("connect_timeout", "connect timeout", s.connect),
		durRow("max_lifetime", "max connection lifetime", s.lifetime),
		durRow("http2_ping", "HTTP/2 PING interval", s.h2ping),
	}
	if g := s.grpc; g != nil {
		out = append(out,
			durRow("grpc.time", "gRPC keepalive time", g.time),
			durRow("grpc.timeout", "gRPC keepalive timeout", g.timeout),
			boolRow("grpc.permit_without_stream", "gRPC permit without stream", g.permit),
			durRow("grpc.min_time", "gRPC server min ping interval", g.minTime),
		)
	}
	return out
}

// statedRows is rows without the values the source does not state.
func (s *side) statedRows() []row {
	var out []row
	for _, r := range s.rows() {
		if r.st != unstated {
			out = append(out, r)
		}
	}
	return out
}

// tcpSummary renders the side's TCP keepalive in one cell: "on, 15s/15s/9", "off", "on, OS
// defaults", "—" when nothing is stated.
func (s *side) tcpSummary() string {
	parts := []string{}
	switch {
	case s.tcpEnabled.st == stated && !s.tcpEnabled.b:
		return "off"
	case s.tcpEnabled.st == stated:
		parts = append(parts, "on")
	}
	timing := []string{}
	allOS := true
	anyStated := false
	for _, r := range []row{durRow("", "", s.tcpIdle), durRow("", "", s.tcpInterval), intRow("", "", s.tcpCount)} {
		if r.st != osDefault {
			allOS = false
		}
		if r.st != unstated {
			anyStated = true
		}
		if r.st == unstated {
			timing = append(timing, "?")
		} else {
			timing = append(timing, r.text)
		}
	}
	switch {
	case allOS:
		parts = append(parts, "OS defaults")
	case anyStated:
		parts = append(parts, strings.Join(timing, "/"))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func durRow(key, label string, v durVal) row {
	r := row{key: key, label: label, st: v.st, text: "not stated"}
	switch v.st {
	case stated:
		r.text = textfmt.Setting(v.d)
		r.json = v.d.Seconds()
	case none:
		r.text = "none"
		r.json = 0.0
	case osDefault:
		r.text = "OS default"
	}
	return r
}

func boolRow(key, label string, v boolVal) row {
	r := row{key: key, label: label, st: v.st, text: "not stated"}
	if v.st == stated {
		r.text = "no"
		if v.b {
			r.text = "yes"
		}
		r.json = v.b
	}
	return r
}

func intRow(key, label string, v intVal) row {
	r := row{key: key, label: label, st: v.st, text: "not stated"}
	switch v.st {
	case stated:
		r.text = fmt.Sprint(v.n)
		r.json = v.n
	case osDefault:
		r.text = "OS default"
	}
	return r
}
