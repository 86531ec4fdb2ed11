package drill

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
	"github.com/keeptune/keeptune/keepalive"
)

// Kernel limits of the keepalive options, in the units the flags speak.
const (
	maxKeepSeconds = int(kernel.MaxKeepIdle / time.Second)
	maxKeepCount   = kernel.MaxKeepCnt
	maxUserTimeout = kernel.MaxUserTimeout
)

// Kernel defaults of a fresh network namespace: net.ipv4.tcp_keepalive_time/intvl/probes.
var KernelDefaults = Settings{
	Label: "kernel defaults", Source: "Linux defaults (tcp_keepalive_time 7200, intvl 75, probes 9)",
	Config: keepalive.Config{Idle: kernel.DefaultKeepIdle, Interval: kernel.DefaultKeepIntvl, Count: kernel.DefaultKeepCnt},
}

// Settings are the keepalive values under test.
type Settings struct {
	// Label names the settings in reports: "explicit", "profile api-gateway", "host sysctls".
	Label string
	// Source says where the values come from (flags, a profile file, /proc/sys).
	Source string

	// Config holds the values (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT; a
	// zero user timeout is unset) in the public library's type, which also applies them to the
	// lab's sockets.
	keepalive.Config

	// ViaSysctl applies Idle, Interval and Count as the lab namespaces' sysctls
	// (tcp_keepalive_time/intvl/probes) and only turns SO_KEEPALIVE on in the sockets, which
	// is what a program that enables keepalive without values gets (--from-host).
	ViaSysctl bool
}

// Validate checks the values against what the kernel accepts. Errors name the flag a person
// would change.
func (s Settings) Validate() error {
	var errs []string
	sec := func(flag, opt string, d time.Duration) {
		switch {
		case d < 0:
			errs = append(errs, fmt.Sprintf("--%s %v is negative: expected whole seconds from 1s to %ds (%s)", flag, d, maxKeepSeconds, opt))
		case d == 0:
			errs = append(errs, fmt.Sprintf("--%s 0: the kernel rejects 0; expected whole seconds from 1s to %ds (%s)", flag, maxKeepSeconds, opt))
		case d%time.Second != 0:
			errs = append(errs, fmt.Sprintf("--%s %v: the kernel takes whole seconds; expected 1s to %ds (%s)", flag, d, maxKeepSeconds, opt))
		case d > kernel.MaxKeepIdle:
			errs = append(errs, fmt.Sprintf("--%s %v is above the kernel's limit of %ds (%s)", flag, d, maxKeepSeconds, opt))
		}
	}
	sec("idle", "TCP_KEEPIDLE", s.Idle)
	sec("intvl", "TCP_KEEPINTVL", s.Interval)
	if s.Count < 1 || s.Count > maxKeepCount {
		errs = append(errs, fmt.Sprintf("--probes %d: expected 1 to %d (TCP_KEEPCNT)", s.Count, maxKeepCount))
	}
	switch ut := s.UserTimeout; {
	case ut < 0:
		errs = append(errs, fmt.Sprintf("--user-timeout %v is negative: expected 0 (unset) or 1ms to %v (TCP_USER_TIMEOUT)", ut, maxUserTimeout))
	case ut%time.Millisecond != 0:
		errs = append(errs, fmt.Sprintf("--user-timeout %v: the kernel takes whole milliseconds (TCP_USER_TIMEOUT)", ut))
	case ut > maxUserTimeout:
		errs = append(errs, fmt.Sprintf("--user-timeout %v is above the kernel's limit of %v (TCP_USER_TIMEOUT)", ut, maxUserTimeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid %s settings: %s", s.Label, strings.Join(errs, "; "))
	}
	return nil
}

// Detection is the dead-peer detection time the kernel should show for s
// (kernel.DeadPeerDetection): idle + intvl*probes, or the TCP_USER_TIMEOUT rule.
func (s Settings) Detection() time.Duration {
	return kernel.DeadPeerDetection(s.Idle, s.Interval, s.Count, s.UserTimeout)
}

// MarshalJSON writes durations as seconds: {"label", "source", "idle_s", "intvl_s", "probes",
// "user_timeout_s", "via_sysctl"}.
func (s Settings) MarshalJSON() ([]byte, error) {
	return jsonx.Marshal(struct {
		Label       string  `json:"label"`
		Source      string  `json:"source,omitempty"`
		Idle        float64 `json:"idle_s"`
		Interval    float64 `json:"intvl_s"`
		Count       int     `json:"probes"`
		UserTimeout float64 `json:"user_timeout_s"`
		ViaSysctl   bool    `json:"via_sysctl,omitempty"`
	}{s.Label, s.Source, s.Idle.Seconds(), s.Interval.Seconds(), s.Count, s.UserTimeout.Seconds(), s.ViaSysctl})
}

// String is the compact form used in tables: "idle 60s intvl 10s probes 5 uto 45s".
func (s Settings) String() string {
	if s.Idle == 0 && s.Interval == 0 && s.Count == 0 {
		// No TCP keepalive: the label says what the case runs instead (http-keepalive-race's
		// idle timeouts), or just that.
		if s.Label != "" {
			return s.Label
		}
		return "keepalive off"
	}
	// Written as the flags take them (--idle 180s), not Go's "3m0s".
	out := fmt.Sprintf("idle %s intvl %s probes %d", textfmt.Setting(s.Idle), textfmt.Setting(s.Interval), s.Count)
	if s.UserTimeout > 0 {
		out += " uto " + textfmt.Setting(s.UserTimeout)
	}
	if s.ViaSysctl {
		out += " (sysctl)"
	}
	return out
}

// Scale divides every timer by n for a quick run. The kernel takes keepalive values in whole
// seconds, so scaled values are rounded up to whole seconds and at least 1 s; the user timeout
// is rounded up to whole milliseconds. The notes say which values were rounded, because then
// the scaled run no longer has the original's proportions.
func (s Settings) Scale(n int) (Settings, []string) {
	if n <= 1 {
		return s, nil
	}
	var notes []string
	secs := func(name string, d time.Duration) time.Duration {
		exact := float64(d) / float64(n) / float64(time.Second)
		v := time.Duration(math.Ceil(exact)) * time.Second
		if v < time.Second {
			v = time.Second
		}
		if float64(v)/float64(time.Second) != exact {
			notes = append(notes, fmt.Sprintf("%s %v / %d = %s rounded up to %v (the kernel takes whole seconds)",
				name, d, n, strconv.FormatFloat(exact, 'f', -1, 64)+"s", v))
		}
		return v
	}
	out := s
	out.Idle = secs(s.Label+" idle", s.Idle)
	out.Interval = secs(s.Label+" intvl", s.Interval)
	if s.UserTimeout > 0 {
		ms := s.UserTimeout.Milliseconds()
		v := max((ms+int64(n)-1)/int64(n), 1)
		if v*int64(n) != ms {
			notes = append(notes, fmt.Sprintf("%s user timeout %v / %d rounded up to %v (the kernel takes whole milliseconds)",
				s.Label, s.UserTimeout, n, time.Duration(v)*time.Millisecond))
		}
		out.UserTimeout = time.Duration(v) * time.Millisecond
	}
	return out, notes
}

// ScaleSeconds scales another timer in whole seconds (the NAT's idle timeout) the same way.
func ScaleSeconds(name string, d time.Duration, n int) (time.Duration, string) {
	if n <= 1 {
		return d, ""
	}
	s, notes := Settings{Label: name, Config: keepalive.Config{Idle: d, Interval: time.Duration(n) * time.Second}}.Scale(n)
	if len(notes) == 0 {
		return s.Idle, ""
	}
	return s.Idle, strings.Replace(notes[0], name+" idle", name, 1)
}

// FromProfile takes a profile's recommended values.
func FromProfile(p model.Profile) Settings {
	return Settings{Label: "profile " + p.Name, Source: p.Source,
		Config: keepalive.Config{Idle: p.Idle.Recommended, Interval: p.Interval.Recommended, Count: p.Probes.Recommended}}
}

// unackedTheory is a quick estimate (for progress lines) of how long unacknowledged data
// lasts: a lab RTO of about 204ms, with a tail loss probe.
func unackedTheory(retries2 int, userTimeout time.Duration) time.Duration {
	t, _ := kernel.LowLatency().GiveUp(retries2, userTimeout)
	return t
}

// detectionRule says which formula gives Settings.Detection.
func detectionRule(s Settings) string {
	if s.UserTimeout > 0 {
		return "first keepalive firing (idle + k*intvl, k >= 1) at or after TCP_USER_TIMEOUT"
	}
	return "idle + intvl * probes"
}
