package report

import (
	"cmp"
	"io"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/model"
)

// SchemaVersion is the version of the JSON document JSON writes (docs/json.md). It changes only
// when a key is removed or changes meaning or type; adding keys does not change it.
const SchemaVersion = 1

// JSON writes the report as the documented JSON document (docs/json.md), indented, with a
// trailing newline.
//
// The document is built from view types in this package rather than by marshalling the model
// directly for one reason: the model keeps durations as time.Duration, which encoding/json
// writes as integer nanoseconds, a unit nobody expects and one that hides what the kernel was
// given. Every duration here is a number of seconds in a key ending in "_s" (fractions where the
// source is finer, like TCP_USER_TIMEOUT in milliseconds). Everything without a duration is
// marshalled from the model types themselves, through embedding, so a field added to the model
// appears in the output (and the docs test then asks for it to be documented).
func JSON(w io.Writer, r Report) error {
	return jsonx.NewEncoder(w).Encode(newJSONReport(r))
}

// jsonReport is the top-level JSON object.
type jsonReport struct {
	SchemaVersion int               `json:"schema_version"`
	Tool          jsonTool          `json:"tool"`
	Command       string            `json:"command"`
	Profile       *jsonProfile      `json:"profile"`
	Options       map[string]string `json:"options"`
	Summary       jsonSummary       `json:"summary"`
	Findings      []model.Finding   `json:"findings"`
	Chains        []jsonChain       `json:"chains"`
	Configs       []jsonConfig      `json:"configs"`
	Values        []jsonValue       `json:"values"`
	Facts         *jsonSnapshot     `json:"facts"`
	Problems      []model.Problem   `json:"problems"`
}

type jsonTool struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	InformationURI string `json:"information_uri"`
}

type jsonSummary struct {
	Error   int `json:"error"`
	Warning int `json:"warning"`
	Info    int `json:"info"`
}

func newJSONReport(r Report) jsonReport {
	findings := emptyIfNil(sortedFindings(r.Findings))
	for i := range findings {
		// Consumers iterate evidence without a null check.
		if findings[i].Evidence == nil {
			findings[i].Evidence = []model.Evidence{}
		}
	}
	c := countFindings(findings)
	out := jsonReport{
		SchemaVersion: SchemaVersion,
		Tool:          jsonTool{Name: cmp.Or(r.Tool.Name, "keeptune"), Version: r.Tool.Version, InformationURI: r.Tool.InformationURI},
		Command:       r.Command,
		Options:       r.Options,
		Summary:       jsonSummary{Error: c.errors, Warning: c.warnings, Info: c.infos},
		Findings:      findings,
		Chains:        []jsonChain{},
		Configs:       []jsonConfig{},
		Values:        []jsonValue{},
		Problems:      emptyIfNil(r.problems()),
	}
	for _, c := range r.Configs {
		if c == nil {
			continue
		}
		out.Configs = append(out.Configs, newJSONConfig(*c))
		for _, v := range c.Values {
			out.Values = append(out.Values, jsonValue{Format: c.Format, Key: v.Key, Value: v.Value, Block: v.Block,
				File: v.Location.File, Line: v.Location.Line})
		}
	}
	for _, c := range r.Chains {
		if c != nil {
			out.Chains = append(out.Chains, newJSONChain(*c))
		}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if r.Profile.Name != "" {
		p := newJSONProfile(r.Profile)
		out.Profile = &p
	}
	if r.Snapshot != nil {
		s := newJSONSnapshot(*r.Snapshot)
		out.Facts = &s
	}
	return out
}

// emptyIfNil makes a nil list an empty one: the document says "array", never "array or null".
func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// seconds renders a duration as seconds for JSON.
func seconds(d time.Duration) float64 { return d.Seconds() }

// jsonProfile mirrors model.Profile with durations in seconds. It lists every field by hand (a
// test checks model.Profile has not grown without it).
type jsonProfile struct {
	Name                 string           `json:"name"`
	Description          string           `json:"description"`
	Source               string           `json:"source"`
	Idle                 jsonSecondsRange `json:"idle_s"`
	Interval             jsonSecondsRange `json:"interval_s"`
	Probes               model.IntRange   `json:"probes"`
	MaxDetection         float64          `json:"max_detection_s"`
	MaxUnackedTimeout    float64          `json:"max_unacked_timeout_s"`
	Retries2             int              `json:"retries2"`
	RecommendedDetection float64          `json:"recommended_detection_s"`
}

type jsonSecondsRange struct {
	Min         float64 `json:"min"`
	Max         float64 `json:"max"`
	Recommended float64 `json:"recommended"`
}

func secondsRange(r model.DurationRange) jsonSecondsRange {
	return jsonSecondsRange{Min: seconds(r.Min), Max: seconds(r.Max), Recommended: seconds(r.Recommended)}
}

func newJSONProfile(p model.Profile) jsonProfile {
	return jsonProfile{
		Name:                 p.Name,
		Description:          p.Description,
		Source:               p.Source,
		Idle:                 secondsRange(p.Idle),
		Interval:             secondsRange(p.Interval),
		Probes:               p.Probes,
		MaxDetection:         seconds(p.MaxDetection),
		MaxUnackedTimeout:    seconds(p.MaxUnackedTimeout),
		Retries2:             p.Retries2,
		RecommendedDetection: seconds(p.RecommendedDetection()),
	}
}

// jsonSetting is model.Setting with the value null when it is not known, so that a consumer
// cannot mistake "could not be read" for zero.
type jsonSetting[T any] struct {
	Value  *T           `json:"value"`
	Known  bool         `json:"known"`
	Source model.Source `json:"source"`
}

func setting[T any](s model.Setting[T]) jsonSetting[T] {
	out := jsonSetting[T]{Known: s.Known, Source: s.Source}
	if s.Known {
		v := s.Value
		out.Value = &v
	}
	return out
}

func secondsSetting(s model.Setting[time.Duration]) jsonSetting[float64] {
	out := jsonSetting[float64]{Known: s.Known, Source: s.Source}
	if s.Known {
		v := seconds(s.Value)
		out.Value = &v
	}
	return out
}

// jsonSnapshot is model.Snapshot as "facts", field by field in the model's order (a test checks
// model.Snapshot has not grown without it). Problems are left out: they are the report's
// top-level "problems", which commands without host facts have too.
type jsonSnapshot struct {
	Host        model.HostInfo         `json:"host"`
	Namespaces  []jsonNamespace        `json:"namespaces"`
	Global      []model.Sysctl         `json:"global"`
	SysctlFiles []string               `json:"sysctl_files"`
	Conflicts   []model.SysctlConflict `json:"sysctl_conflicts"`
	Processes   []jsonProcess          `json:"processes"`
	Sockets     []jsonSocketStats      `json:"sockets"`
}

// jsonSocketStats is model.SocketStats with durations in seconds.
type jsonSocketStats struct {
	PID             int            `json:"pid"`
	Comm            string         `json:"comm"`
	NetnsInode      uint64         `json:"netns_inode"`
	Established     int            `json:"established"`
	KeepaliveOn     int            `json:"keepalive_on"`
	KeepaliveOff    int            `json:"keepalive_off"`
	CloseWaitLeaks  int            `json:"close_wait_leaks"`
	OldestCloseWait float64        `json:"oldest_close_wait_s"`
	IdleNoKeepalive int            `json:"idle_without_keepalive"`
	LongestIdle     float64        `json:"longest_idle_s"`
	SilentPeers     int            `json:"silent_peers"`
	Sampled         int            `json:"sampled"`
	Overridden      int            `json:"overridden"`
	Override        *jsonKeepalive `json:"override"`
	Cgroup          string         `json:"cgroup"`
	Enforced        string         `json:"enforced"`
}

func newJSONSocketStats(st model.SocketStats) jsonSocketStats {
	out := jsonSocketStats{PID: st.PID, Comm: st.Comm, NetnsInode: st.NetnsInode, Established: st.Established,
		KeepaliveOn: st.KeepaliveOn, KeepaliveOff: st.KeepaliveOff, CloseWaitLeaks: st.CloseWaitLeaks,
		OldestCloseWait: seconds(st.OldestCloseWait), IdleNoKeepalive: st.IdleNoKeepalive, LongestIdle: seconds(st.LongestIdle),
		SilentPeers: st.SilentPeers, Sampled: st.Sampled, Overridden: st.Overridden, Cgroup: st.Cgroup, Enforced: st.Enforced}
	if st.Override != nil {
		k := newJSONKeepalive(*st.Override)
		out.Override = &k
	}
	return out
}

func newJSONSnapshot(s model.Snapshot) jsonSnapshot {
	out := jsonSnapshot{
		Host:        s.Host,
		Namespaces:  []jsonNamespace{},
		Global:      emptyIfNil(s.Global),
		SysctlFiles: emptyIfNil(s.SysctlFiles),
		Conflicts:   []model.SysctlConflict{},
		Processes:   []jsonProcess{},
		Sockets:     []jsonSocketStats{},
	}
	for _, st := range s.Sockets {
		out.Sockets = append(out.Sockets, newJSONSocketStats(st))
	}
	for _, c := range s.Conflicts {
		c.Assignments = emptyIfNil(c.Assignments)
		out.Conflicts = append(out.Conflicts, c)
	}
	for _, ns := range s.Namespaces {
		out.Namespaces = append(out.Namespaces, newJSONNamespace(ns))
	}
	for _, p := range s.Processes {
		out.Processes = append(out.Processes, newJSONProcess(p))
	}
	return out
}

// The types below embed the model types and override only the fields that hold settings.
// encoding/json resolves a JSON key to the least nested field that has it (Go's own embedding
// rule), so a field at the outer level hides the embedded one of the same key, and every other
// field of the model type, including ones added later, is marshalled as the model declares it.

type jsonNamespace struct {
	model.Namespace
	Sysctls   []model.Sysctl `json:"sysctls"`
	Keepalive jsonKeepalive  `json:"keepalive"`
	Conntrack *jsonConntrack `json:"conntrack,omitempty"`
}

func newJSONNamespace(ns model.Namespace) jsonNamespace {
	out := jsonNamespace{Namespace: ns, Sysctls: emptyIfNil(ns.Sysctls), Keepalive: newJSONKeepalive(ns.Keepalive)}
	if ns.Conntrack != nil {
		out.Conntrack = &jsonConntrack{
			EstablishedTimeout: secondsSetting(ns.Conntrack.EstablishedTimeout),
			Max:                setting(ns.Conntrack.Max),
			Count:              setting(ns.Conntrack.Count),
		}
	}
	return out
}

// jsonKeepalive mirrors model.KeepaliveSettings (every field by hand: its duration keys are
// renamed, which embedding cannot do; a test checks the model has not grown without it).
type jsonKeepalive struct {
	Enabled     jsonSetting[bool]    `json:"enabled"`
	Idle        jsonSetting[float64] `json:"idle_s"`
	Interval    jsonSetting[float64] `json:"interval_s"`
	Count       jsonSetting[int]     `json:"count"`
	UserTimeout jsonSetting[float64] `json:"user_timeout_s"`
	// Detection is KeepaliveSettings.DetectionTime, null when a value it needs is unknown.
	Detection *float64 `json:"detection_s"`
}

func newJSONKeepalive(k model.KeepaliveSettings) jsonKeepalive {
	out := jsonKeepalive{
		Enabled:     setting(k.Enabled),
		Idle:        secondsSetting(k.Idle),
		Interval:    secondsSetting(k.Interval),
		Count:       setting(k.Count),
		UserTimeout: secondsSetting(k.UserTimeout),
	}
	if d, ok := k.DetectionTime(); ok {
		s := seconds(d)
		out.Detection = &s
	}
	return out
}

// jsonConntrack mirrors model.Conntrack (by hand, like jsonKeepalive).
type jsonConntrack struct {
	EstablishedTimeout jsonSetting[float64] `json:"established_timeout_s"`
	Max                jsonSetting[int]     `json:"max"`
	Count              jsonSetting[int]     `json:"count"`
}

type jsonProcess struct {
	model.Process
	NofileSoft jsonSetting[int64] `json:"nofile_soft"`
	NofileHard jsonSetting[int64] `json:"nofile_hard"`
	Go         *jsonGoBinary      `json:"go,omitempty"`
}

type jsonGoBinary struct {
	model.GoBinary
	Keepalive jsonKeepalive `json:"keepalive"`
}

func newJSONProcess(p model.Process) jsonProcess {
	out := jsonProcess{Process: p, NofileSoft: setting(p.NofileSoft), NofileHard: setting(p.NofileHard)}
	if p.Go != nil {
		out.Go = &jsonGoBinary{GoBinary: *p.Go, Keepalive: newJSONKeepalive(p.Go.Keepalive)}
	}
	return out
}

// jsonChain is a chain file as read: model.Chain with its hops' durations in seconds.
type jsonChain struct {
	model.Chain
	Hops []jsonHop `json:"hops"`
}

// jsonHop embeds model.Hop and replaces its middlebox and sides, which hold settings. They are
// always present, null where the hop has none (a middlebox has no sides, software no middlebox
// values), so that a consumer tells "not this kind of hop" from a key it does not know.
type jsonHop struct {
	model.Hop
	Middlebox  *jsonMiddlebox `json:"middlebox"`
	Downstream *jsonSide      `json:"downstream"`
	Upstream   *jsonSide      `json:"upstream"`
}

func newJSONChain(c model.Chain) jsonChain {
	out := jsonChain{Chain: c, Hops: []jsonHop{}}
	for _, h := range c.Hops {
		jh := jsonHop{Hop: h, Downstream: newJSONSide(h.Downstream), Upstream: newJSONSide(h.Upstream)}
		if m := h.Middlebox; m != nil {
			jh.Middlebox = &jsonMiddlebox{
				IdleTimeout:        secondsSetting(m.IdleTimeout),
				Layer:              setting(m.Layer),
				RefreshedBy:        setting(m.RefreshedBy),
				OnExpiry:           setting(m.OnExpiry),
				HTTP2PingRefreshes: setting(m.HTTP2PingRefreshes),
			}
		}
		out.Hops = append(out.Hops, jh)
	}
	return out
}

// jsonMiddlebox mirrors model.Middlebox (every field by hand, like jsonKeepalive).
type jsonMiddlebox struct {
	IdleTimeout        jsonSetting[float64]       `json:"idle_timeout_s"`
	Layer              jsonSetting[int]           `json:"layer"`
	RefreshedBy        jsonSetting[model.Refresh] `json:"refreshed_by"`
	OnExpiry           jsonSetting[model.Expiry]  `json:"on_expiry"`
	HTTP2PingRefreshes jsonSetting[bool]          `json:"http2_ping_refreshes"`
}

// jsonSide mirrors model.Side (every field by hand, like jsonKeepalive).
type jsonSide struct {
	IdleTimeout    jsonSetting[float64] `json:"idle_timeout_s"`
	Pools          jsonSetting[bool]    `json:"pools"`
	TCP            jsonKeepalive        `json:"tcp"`
	ReadTimeout    jsonSetting[float64] `json:"read_timeout_s"`
	ConnectTimeout jsonSetting[float64] `json:"connect_timeout_s"`
	MaxLifetime    jsonSetting[float64] `json:"max_lifetime_s"`
	GRPC           *jsonGRPC            `json:"grpc"`
	HTTP2Ping      jsonSetting[float64] `json:"http2_ping_s"`
}

// jsonGRPC mirrors model.GRPCKeepalive (every field by hand, like jsonKeepalive).
type jsonGRPC struct {
	Time                jsonSetting[float64] `json:"time_s"`
	Timeout             jsonSetting[float64] `json:"timeout_s"`
	PermitWithoutStream jsonSetting[bool]    `json:"permit_without_stream"`
	MinTime             jsonSetting[float64] `json:"min_time_s"`
}

func newJSONSide(s *model.Side) *jsonSide {
	if s == nil {
		return nil
	}
	out := &jsonSide{
		IdleTimeout:    secondsSetting(s.IdleTimeout),
		Pools:          setting(s.Pools),
		TCP:            newJSONKeepalive(s.TCP),
		ReadTimeout:    secondsSetting(s.ReadTimeout),
		ConnectTimeout: secondsSetting(s.ConnectTimeout),
		MaxLifetime:    secondsSetting(s.MaxLifetime),
		HTTP2Ping:      secondsSetting(s.HTTP2Ping),
	}
	if g := s.GRPC; g != nil {
		out.GRPC = &jsonGRPC{
			Time:                secondsSetting(g.Time),
			Timeout:             secondsSetting(g.Timeout),
			PermitWithoutStream: setting(g.PermitWithoutStream),
			MinTime:             secondsSetting(g.MinTime),
		}
	}
	return out
}

// jsonConfig is a configuration file read, with the sides a chain hop would take from it.
type jsonConfig struct {
	Format     string    `json:"format"`
	File       string    `json:"file"`
	Files      []string  `json:"files"`
	Downstream *jsonSide `json:"downstream"`
	Upstream   *jsonSide `json:"upstream"`
	// Listeners are the server's listeners with their own sides (nginx server blocks, HAProxy
	// sections, Apache virtual hosts, Envoy listeners and clusters); empty for formats with one.
	Listeners []jsonListener `json:"listeners"`
	Origin    string         `json:"origin,omitempty"`
}

// jsonListener is one listener of a configuration (configs.Listener).
type jsonListener struct {
	Kind       string         `json:"kind"`
	Name       string         `json:"name"`
	Names      []string       `json:"names"`
	Addresses  []string       `json:"addresses"`
	Location   model.Location `json:"location"`
	NotServing string         `json:"not_serving,omitempty"`
	Downstream *jsonSide      `json:"downstream"`
	Upstream   *jsonSide      `json:"upstream"`
}

func newJSONConfig(c configs.Config) jsonConfig {
	out := jsonConfig{Format: c.Format, File: c.File, Files: emptyIfNil(c.Files), Origin: c.Origin, Listeners: []jsonListener{}}
	out.Downstream = newJSONSide(c.Downstream)
	out.Upstream = newJSONSide(c.Upstream)
	for _, l := range c.Listeners {
		out.Listeners = append(out.Listeners, jsonListener{
			Kind: l.Kind, Name: l.Name, Names: emptyIfNil(l.Names), Addresses: emptyIfNil(l.Addresses),
			Location: l.Location, NotServing: l.NotServing,
			Downstream: newJSONSide(l.Downstream), Upstream: newJSONSide(l.Upstream),
		})
	}
	return out
}

// jsonValue is one setting read from a configuration file, flat for jq and spreadsheets.
type jsonValue struct {
	Format string `json:"format"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	Block  string `json:"block"`
	File   string `json:"file"`
	Line   int    `json:"line"`
}

// ProfileJSON is a profile as every JSON output writes it (docs/json.md, Profile): `keeptune
// profiles -o json` uses the same view as audit's "profile".
func ProfileJSON(p model.Profile) any { return newJSONProfile(p) }
