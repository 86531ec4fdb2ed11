package catalog

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Value is one value of an entry rendered for people: the CLI's explain view and
// docs/catalog.md print these, so both say the same thing in the same words.
type Value struct {
	// Side is "" for a middlebox's own behaviour, "downstream" or "upstream" for a side.
	Side string
	// Key is the value's path in catalog.yaml ("idle_timeout", "tcp.idle").
	Key   string
	Label string
	Text  string
}

// Values lists what the entry states: a middlebox's layer, idle timeout, refresh and expiry
// behaviour (saying "unknown" where the source is silent, because for a middlebox that silence
// is itself worth knowing), then the stated values of each side.
func (e Entry) Values() []Value {
	var out []Value
	if e.Kind == KindMiddlebox {
		out = append(out,
			Value{Key: "layer", Label: "layer", Text: layerText(e.Layer)},
			Value{Key: "idle_timeout", Label: "idle timeout", Text: e.IdleText()},
			Value{Key: "refreshed_by", Label: "idle timer refreshed by", Text: refreshText(e.RefreshedBy)},
			Value{Key: "on_expiry", Label: "when a flow expires", Text: expiryText(e.OnExpiry)},
		)
		if e.HTTP2PingRefreshes != nil {
			t := "no"
			if *e.HTTP2PingRefreshes {
				t = "yes"
			}
			out = append(out, Value{Key: "http2_ping_refreshes", Label: "HTTP/2 PING refreshes idle timer", Text: t})
		}
	}
	for _, sd := range []struct {
		name string
		s    *side
	}{{"downstream", e.down}, {"upstream", e.up}} {
		if sd.s == nil {
			continue
		}
		for _, r := range sd.s.statedRows() {
			out = append(out, Value{Side: sd.name, Key: r.key, Label: r.label, Text: r.text})
		}
	}
	return out
}

// IdleText renders a middlebox's idle timeout with its range: "60s (1s–4000s)", "350s
// (fixed)", "not stated".
func (e Entry) IdleText() string {
	if e.IdleTimeout == nil {
		return "not stated"
	}
	d := textfmt.Setting(e.IdleTimeout.Default)
	if r := e.RangeText(); r != "" {
		return d + " (" + r + ")"
	}
	return d
}

// RangeText renders only the configurable range: "1s–4000s", "fixed", "min 600s", or "" when
// the source gives none.
func (e Entry) RangeText() string {
	r := e.IdleTimeout
	switch {
	case r == nil:
		return ""
	case r.Fixed():
		return "fixed"
	case r.Min != 0 && r.Max != 0:
		return textfmt.Setting(r.Min) + "–" + textfmt.Setting(r.Max)
	case r.Min != 0:
		return "min " + textfmt.Setting(r.Min)
	case r.Max != 0:
		return "max " + textfmt.Setting(r.Max)
	}
	return ""
}

// IdleSummary is the one-cell idle timeout of any entry: a middlebox's default, a software
// entry's downstream and upstream idle ("down 75s, up 60s").
func (e Entry) IdleSummary() string {
	if e.Kind == KindMiddlebox {
		if e.IdleTimeout == nil {
			return "?"
		}
		s := textfmt.Setting(e.IdleTimeout.Default)
		if e.up != nil && e.up.idle.st != unstated {
			s += ", up " + durRow("", "", e.up.idle).text
		}
		return s
	}
	var parts []string
	if e.down != nil && e.down.idle.st != unstated {
		parts = append(parts, "down "+durRow("", "", e.down.idle).text)
	}
	if e.up != nil && e.up.idle.st != unstated {
		parts = append(parts, "up "+durRow("", "", e.up.idle).text)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func layerText(l int) string {
	switch l {
	case 4:
		return "4 (forwards TCP segments: keepalive probes pass through)"
	case 7:
		return "7 (terminates TCP on both sides: keepalive is per side)"
	}
	return "not stated"
}

func refreshText(r model.Refresh) string {
	switch r {
	case model.RefreshAnySegment:
		return "any segment (TCP keepalive probes keep the flow alive)"
	case model.RefreshPayload:
		return "payload only (TCP keepalive probes do not count)"
	}
	return "unknown"
}

func expiryText(x model.Expiry) string {
	switch x {
	case model.ExpirySilent:
		return "silent drop (nobody is told: idle connections hang)"
	case model.ExpiryReset:
		return "TCP reset (see notes for when it is sent)"
	case ExpiryClose:
		return "closes the connection (FIN)"
	}
	return "unknown"
}

// shortRefresh and shortExpiry are the table forms.
func shortRefresh(r model.Refresh) string {
	if r == "" {
		return "?"
	}
	return string(r)
}

func shortExpiry(x model.Expiry) string {
	if x == "" {
		return "?"
	}
	return string(x)
}

// The JSON form follows docs/json.md: durations are seconds in keys ending in _s, a value the
// source does not state is null, "none" (no limit) is 0, lists are arrays, never null.
type jsonEntry struct {
	Name               string     `json:"name"`
	Aliases            []string   `json:"aliases"`
	Title              string     `json:"title"`
	Kind               Kind       `json:"kind"`
	Layer              *int       `json:"layer"`
	IdleTimeout        *jsonRange `json:"idle_timeout"`
	RefreshedBy        *string    `json:"refreshed_by"`
	OnExpiry           *string    `json:"on_expiry"`
	HTTP2PingRefreshes *bool      `json:"http2_ping_refreshes"`
	Downstream         *jsonSide  `json:"downstream"`
	Upstream           *jsonSide  `json:"upstream"`
	Source             string     `json:"source"`
	Verified           bool       `json:"verified"`
	Notes              string     `json:"notes"`
}

type jsonRange struct {
	DefaultS float64  `json:"default_s"`
	MinS     *float64 `json:"min_s"`
	MaxS     *float64 `json:"max_s"`
}

type jsonSide struct {
	IdleTimeoutS    any       `json:"idle_timeout_s"`
	Pools           any       `json:"pools"`
	TCP             jsonTCP   `json:"tcp"`
	ReadTimeoutS    any       `json:"read_timeout_s"`
	ConnectTimeoutS any       `json:"connect_timeout_s"`
	MaxLifetimeS    any       `json:"max_lifetime_s"`
	HTTP2PingS      any       `json:"http2_ping_s"`
	GRPC            *jsonGRPC `json:"grpc"`
	// OSDefault lists the keys whose value is the operating system's (null above).
	OSDefault []string `json:"os_default"`
}

type jsonTCP struct {
	Enabled      any `json:"enabled"`
	IdleS        any `json:"idle_s"`
	IntervalS    any `json:"interval_s"`
	Count        any `json:"count"`
	UserTimeoutS any `json:"user_timeout_s"`
}

type jsonGRPC struct {
	TimeS               any `json:"time_s"`
	TimeoutS            any `json:"timeout_s"`
	PermitWithoutStream any `json:"permit_without_stream"`
	MinTimeS            any `json:"min_time_s"`
}

// MarshalJSON writes the entry in keeptune's JSON conventions (see docs/catalog.md).
func (e Entry) MarshalJSON() ([]byte, error) {
	j := jsonEntry{
		Name: e.Name, Aliases: e.Aliases, Title: e.Title, Kind: e.Kind,
		Source: e.Source, Verified: e.Verified, Notes: e.Notes,
		HTTP2PingRefreshes: e.HTTP2PingRefreshes,
	}
	if j.Aliases == nil {
		j.Aliases = []string{}
	}
	if e.Layer != 0 {
		l := e.Layer
		j.Layer = &l
	}
	if r := e.IdleTimeout; r != nil {
		j.IdleTimeout = &jsonRange{DefaultS: r.Default.Seconds()}
		if r.Min != 0 {
			s := r.Min.Seconds()
			j.IdleTimeout.MinS = &s
		}
		if r.Max != 0 {
			s := r.Max.Seconds()
			j.IdleTimeout.MaxS = &s
		}
	}
	if e.RefreshedBy != "" {
		s := string(e.RefreshedBy)
		j.RefreshedBy = &s
	}
	if e.OnExpiry != "" {
		s := string(e.OnExpiry)
		j.OnExpiry = &s
	}
	j.Downstream = e.down.json()
	j.Upstream = e.up.json()
	// Not json.Marshal: it escapes "<", ">" and "&" (a note's "Objects > Applications").
	return jsonx.Marshal(j)
}

func (s *side) json() *jsonSide {
	if s == nil {
		return nil
	}
	vals := map[string]any{}
	out := &jsonSide{OSDefault: []string{}}
	for _, r := range s.rows() {
		vals[r.key] = r.json
		if r.st == osDefault {
			out.OSDefault = append(out.OSDefault, r.key)
		}
	}
	out.IdleTimeoutS = vals["idle_timeout"]
	out.Pools = vals["pools"]
	out.TCP = jsonTCP{
		Enabled: vals["tcp.enabled"], IdleS: vals["tcp.idle"], IntervalS: vals["tcp.interval"],
		Count: vals["tcp.count"], UserTimeoutS: vals["tcp.user_timeout"],
	}
	out.ReadTimeoutS = vals["read_timeout"]
	out.ConnectTimeoutS = vals["connect_timeout"]
	out.MaxLifetimeS = vals["max_lifetime"]
	out.HTTP2PingS = vals["http2_ping"]
	if s.grpc != nil {
		out.GRPC = &jsonGRPC{
			TimeS: vals["grpc.time"], TimeoutS: vals["grpc.timeout"],
			PermitWithoutStream: vals["grpc.permit_without_stream"], MinTimeS: vals["grpc.min_time"],
		}
	}
	return out
}

// String is the entry's name and title, for error messages.
func (e Entry) String() string { return fmt.Sprintf("%s (%s)", e.Name, e.Title) }
