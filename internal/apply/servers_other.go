//go:build !linux

package apply

import (
	"errors"
	"fmt"
)

// RealServers checks and reloads servers on Linux only: the check runs in a private mount
// namespace and masters are found through /proc.
type RealServers struct{}

var errServersUnsupported = errors.New("checking and reloading servers needs Linux (mount namespaces and /proc)")

// Check always fails off Linux, so that no edit is swapped in unchecked.
func (RealServers) Check(server, main string, swapped map[string]string) error {
	return fmt.Errorf("%s: %w", server, errServersUnsupported)
}

// Reload always fails off Linux.
func (RealServers) Reload(server, main string) (string, error) {
	return "", fmt.Errorf("%s: %w", server, errServersUnsupported)
}
