package model

import (
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
)

// Profile is the target for a workload: the ranges keepalive values should fall in and the
// longest a dead or stuck connection may go unnoticed. Built-in profiles come from the hosting
// guides' workload table (internal/profiles); operators can write their own.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Source says where the ranges come from (a guide, a file:line for custom profiles).
	Source string `json:"source"`

	Idle     DurationRange `json:"idle"`
	Interval DurationRange `json:"interval"`
	Probes   IntRange      `json:"probes"`
	// MaxDetection is the longest acceptable dead-peer detection time (idle + interval*probes).
	MaxDetection time.Duration `json:"max_detection"`
	// MaxUnackedTimeout is the longest a connection with unacknowledged data may hang before the
	// kernel gives up (governed by tcp_retries2 when no TCP_USER_TIMEOUT is set).
	MaxUnackedTimeout time.Duration `json:"max_unacked_timeout"`
	// Retries2 is the tcp_retries2 value to propose when MaxUnackedTimeout is exceeded.
	Retries2 int `json:"retries2"`
}

// DurationRange is an inclusive range with the value keeptune proposes when a setting is outside.
type DurationRange struct {
	Min         time.Duration `json:"min"`
	Max         time.Duration `json:"max"`
	Recommended time.Duration `json:"recommended"`
}

// Contains reports whether d is within the range.
func (r DurationRange) Contains(d time.Duration) bool { return d >= r.Min && d <= r.Max }

// IntRange is DurationRange for counts.
type IntRange struct {
	Min         int `json:"min"`
	Max         int `json:"max"`
	Recommended int `json:"recommended"`
}

// Contains reports whether n is within the range.
func (r IntRange) Contains(n int) bool { return n >= r.Min && n <= r.Max }

// RecommendedDetection is the detection time of the profile's recommended values.
func (p Profile) RecommendedDetection() time.Duration {
	return kernel.DeadPeerDetection(p.Idle.Recommended, p.Interval.Recommended, p.Probes.Recommended, 0)
}
