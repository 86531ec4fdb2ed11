//go:build !linux && !darwin && !freebsd && !windows

package keepalive

import (
	"fmt"
	"runtime"
	"time"
)

// Platforms without an implementation: every call fails with ErrUnsupported.

func setOptions(uintptr, Config) error {
	return &OptionError{Op: "set", Option: "SO_KEEPALIVE",
		Err: fmt.Errorf("keepalive options are not implemented on %s: %w", runtime.GOOS, ErrUnsupported)}
}

func getOptions(uintptr) (Effective, error) {
	return Effective{}, &OptionError{Op: "get", Option: "SO_KEEPALIVE",
		Err: fmt.Errorf("keepalive options are not implemented on %s: %w", runtime.GOOS, ErrUnsupported)}
}

func setUserTimeout(uintptr, time.Duration) error {
	return &OptionError{Op: "set", Option: "TCP_USER_TIMEOUT",
		Err: fmt.Errorf("keepalive options are not implemented on %s: %w", runtime.GOOS, ErrUnsupported)}
}
