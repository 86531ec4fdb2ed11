//go:build !linux

package enforce

import (
	"errors"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/keepalive"
)

var errNotLinux = &MissingError{What: "enforce needs Linux (BPF sock_ops programs on cgroup v2)"}

// Enforcer is only available on Linux.
type Enforcer struct{}

// Open fails outside Linux.
func Open(Options, bool) (*Enforcer, error) { return nil, errNotLinux }

// PinDir is empty outside Linux.
func (e *Enforcer) PinDir() string { return "" }

// Resolve fails outside Linux.
func (e *Enforcer) Resolve(Scope) (Target, error) { return Target{}, errNotLinux }

// Apply fails outside Linux.
func (e *Enforcer) Apply(Target, Policy) error { return errNotLinux }

// Status fails outside Linux.
func (e *Enforcer) Status() (Status, error) { return Status{}, errNotLinux }

// Detach fails outside Linux.
func (e *Enforcer) Detach(*Target) (bool, error) { return false, errNotLinux }

// Netns fails outside Linux.
func (e *Enforcer) Netns(Target) (uint64, uint64, error) {
	return 0, 0, errors.New("enforce needs Linux")
}

// Annotate does nothing outside Linux.
func Annotate([]model.SocketStats) {}

// Coverage covers nothing outside Linux.
type Coverage struct{}

// ReadCoverage covers nothing outside Linux: nothing can be pinned there.
func ReadCoverage(string) (*Coverage, error) { return &Coverage{}, nil }

// Empty is true outside Linux.
func (c *Coverage) Empty() bool { return true }

// ForPID is empty outside Linux.
func (c *Coverage) ForPID(int) string { return "" }

// SocketValues are a socket's keepalive options as getsockopt reads them: the public keepalive
// library's read-back type, which the socket table carries too.
type SocketValues = keepalive.Effective

// Carrying is empty outside Linux.
func (c *Coverage) Carrying(int, SocketValues) string { return "" }
