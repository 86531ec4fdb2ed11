//go:build !linux

package lab

import (
	"context"
	"net/netip"
)

// Lab is a running lab; on this platform none can be built.
type Lab struct {
	ID                        string
	Spec                      Spec
	Client, Server, Middlebox *Node
}

// Node is one network namespace of a lab.
type Node struct {
	Role  Role
	Name  string
	Addr  netip.Addr
	Iface string
}

// New fails: labs need Linux network namespaces.
func New(ctx context.Context, spec Spec) (*Lab, error) { return nil, ErrUnsupported }

// Close does nothing.
func (l *Lab) Close() error { return nil }

// Leftovers finds nothing: no lab can exist here.
func Leftovers() ([]Leftover, error) { return nil, nil }

// Remaining finds nothing.
func Remaining(id string) ([]Leftover, error) { return nil, nil }

// Cleanup fails: there is nothing a lab could have left on this platform.
func Cleanup(runIDs ...string) (removed, inUse []Leftover, err error) {
	return nil, nil, ErrUnsupported
}
