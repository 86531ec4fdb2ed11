package model

import (
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
)

// Setting is one value together with where it came from. Known is false when the value could
// not be read or is not set anywhere keeptune can see; Value is then the zero value and must
// not be used.
type Setting[T any] struct {
	Value  T      `json:"value"`
	Known  bool   `json:"known"`
	Source Source `json:"source"`
}

// Known returns a known setting.
func KnownSetting[T any](v T, src Source) Setting[T] {
	return Setting[T]{Value: v, Known: true, Source: src}
}

// KeepaliveSettings are the TCP keepalive parameters in force for a class of sockets: a network
// namespace's sysctls, a program's defaults, a proxy's upstream sockets, one live socket.
type KeepaliveSettings struct {
	// Enabled is SO_KEEPALIVE. The sysctls never enable keepalive by themselves: a socket has it
	// only if its program asks. For a namespace's sysctls Enabled is unknown.
	Enabled  Setting[bool]          `json:"enabled"`
	Idle     Setting[time.Duration] `json:"idle"`     // TCP_KEEPIDLE / tcp_keepalive_time
	Interval Setting[time.Duration] `json:"interval"` // TCP_KEEPINTVL / tcp_keepalive_intvl
	Count    Setting[int]           `json:"count"`    // TCP_KEEPCNT / tcp_keepalive_probes
	// UserTimeout is TCP_USER_TIMEOUT; zero means unset (the kernel then uses tcp_retries2 for
	// unacknowledged data and the probe count for keepalive).
	UserTimeout Setting[time.Duration] `json:"user_timeout"`
}

// DetectionTime is how long after the last segment received a silent, idle peer is declared
// dead: idle + interval * count without TCP_USER_TIMEOUT. With TCP_USER_TIMEOUT the kernel ignores
// the count and kills the connection at the first keepalive timer firing at or after the user
// timeout (with at least one probe sent), so the result is the first probe time at or after it.
// ok is false when a value needed is unknown.
func (k KeepaliveSettings) DetectionTime() (d time.Duration, ok bool) {
	if !k.Idle.Known || !k.Interval.Known || !k.Count.Known {
		return 0, false
	}
	return kernel.DeadPeerDetection(k.Idle.Value, k.Interval.Value, k.Count.Value, k.UserTimeout.Value), true
}
