package configs

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Rule is a check of one configuration format. It lives beside the format's parser, which
// knows the format's own model (Config.Detail), and the format registers it with RegisterRules;
// internal/rules runs it on the configurations of that format and documents it in
// docs/rules.md like every other rule. Adding a format thus touches its own folder and its
// line in internal/configs/all.
type Rule struct {
	ID       string
	Name     string // kebab-case, usable instead of the ID in --enable/--disable
	Title    string
	Severity model.Severity // the highest severity the rule emits

	// Documentation, rendered into docs/rules.md.
	What, Why, Fix, Source string

	Check func(in *RuleInput) []model.Finding
}

// RuleInput is what a format's rules read: the configurations of their format and the little
// they need to know beyond the files.
type RuleInput struct {
	// Configs are the configurations of the rule's format, in the order read.
	Configs []*Config
	// Profile is the workload profile findings propose values from.
	Profile model.Profile
	// Host is the keepalive of the host's current network namespace when the run read host
	// facts (audit), else the kernel defaults; each value with its source.
	Host model.KeepaliveSettings
	// SysctlDropIn is the file fixes put new sysctl lines in (the plan's drop-in).
	SysctlDropIn string
}

var formatRules = map[string][]Rule{}

// RegisterRules adds a format's rules. Formats call it from init, beside Register.
func RegisterRules(format string, rules ...Rule) {
	formatRules[format] = append(formatRules[format], rules...)
}

// FormatRules returns the rules of every registered format, by format name.
func FormatRules() map[string][]Rule {
	out := make(map[string][]Rule, len(formatRules))
	for f, rs := range formatRules {
		out[f] = append([]Rule(nil), rs...)
	}
	return out
}

// RuleFormats lists the formats that registered rules, sorted.
func RuleFormats() []string {
	var out []string
	for f := range formatRules {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Details returns the format models (Config.Detail) of type T among cs: a format's rules read
// their own model with Details[*Config](in.Configs).
func Details[T any](cs []*Config) []T {
	var out []T
	for _, c := range cs {
		if d, ok := c.Detail.(T); ok {
			out = append(out, d)
		}
	}
	return out
}

// HostKeepalive returns the keepalive of the host's current namespace in snap (nil or without
// readable sysctls: the kernel defaults), each value with its source.
func HostKeepalive(snap *model.Snapshot) model.KeepaliveSettings {
	def := model.Source{Kind: model.SourceKernelDefault, Detail: "unless a sysctl file changes it"}
	k := model.KeepaliveSettings{
		Idle:     model.KnownSetting(kernel.DefaultKeepIdle, def),
		Interval: model.KnownSetting(kernel.DefaultKeepIntvl, def),
		Count:    model.KnownSetting(kernel.DefaultKeepCnt, def),
	}
	if snap == nil {
		return k
	}
	for _, ns := range snap.Namespaces {
		if !ns.Current {
			continue
		}
		if ns.Keepalive.Idle.Known {
			k.Idle = ns.Keepalive.Idle
		}
		if ns.Keepalive.Interval.Known {
			k.Interval = ns.Keepalive.Interval
		}
		if ns.Keepalive.Count.Known {
			k.Count = ns.Keepalive.Count
		}
	}
	return k
}

// ProposedKeepalive returns the keepalive timings findings propose: the profile's
// recommendation, or the general profile's (600 s, 30 s, 5) when the input has none.
func (in *RuleInput) ProposedKeepalive() (idle, intvl time.Duration, cnt int) {
	p := in.Profile
	idle, intvl, cnt = p.Idle.Recommended, p.Interval.Recommended, p.Probes.Recommended
	if idle <= 0 || intvl <= 0 || cnt <= 0 {
		return 600 * time.Second, 30 * time.Second, 5
	}
	return idle, intvl, cnt
}

// HostDetection describes the host's keepalive timers, the dead-peer detection they give and
// the evidence for both.
func (in *RuleInput) HostDetection() (string, time.Duration, []model.Evidence) {
	idle, intvl, cnt := in.Host.Idle, in.Host.Interval, in.Host.Count
	d := kernel.DeadPeerDetection(idle.Value, intvl.Value, cnt.Value, 0)
	ev := []model.Evidence{
		{Name: model.KeyKeepaliveTime, Value: SecondsValue(idle.Value), Source: idle.Source},
		{Name: model.KeyKeepaliveIntvl, Value: SecondsValue(intvl.Value), Source: intvl.Source},
		{Name: model.KeyKeepaliveProbes, Value: fmt.Sprint(cnt.Value), Source: cnt.Source},
	}
	return fmt.Sprintf("the host's %s s idle, %s s interval, %d probes", SecondsValue(idle.Value), SecondsValue(intvl.Value), cnt.Value), d, ev
}

// KeepaliveLines renders the proposed keepalive as three assignments with a separator
// ("tcp_keepalives_idle = 600" ...), and the dead-peer detection they give.
func (in *RuleInput) KeepaliveLines(idleKey, intvlKey, cntKey, sep string) (string, time.Duration) {
	idle, intvl, cnt := in.ProposedKeepalive()
	return fmt.Sprintf("%s%s%d\n%s%s%d\n%s%s%d", idleKey, sep, int64(idle/time.Second), intvlKey, sep, int64(intvl/time.Second), cntKey, sep, cnt),
		kernel.DeadPeerDetection(idle, intvl, cnt, 0)
}

// UnackedTarget is the profile's limit for unacknowledged data (5 min without a profile).
func (in *RuleInput) UnackedTarget() time.Duration {
	if in.Profile.MaxUnackedTimeout > 0 {
		return in.Profile.MaxUnackedTimeout
	}
	return 5 * time.Minute
}

// Loc and Src locate a value in a configuration file; a line of 0 points at the file.
func Loc(file string, line int) *model.Location { return &model.Location{File: file, Line: line} }

// Src is the source of a value read at file:line.
func Src(file string, line int) model.Source {
	return model.Source{Kind: model.SourceConfig, File: file, Line: line}
}

// SecondsValue renders whole seconds as a bare number ("600"), as configuration files write them.
func SecondsValue(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// Human renders a duration for people (textfmt.Duration: 2h11m15s, 10m, 1.5s).
func Human(d time.Duration) string { return textfmt.Duration(d) }

// Seconds renders a count of seconds with its human form (textfmt.Seconds: "7200 s (2h)").
func Seconds(d time.Duration) string { return textfmt.Seconds(d) }
