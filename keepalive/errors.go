package keepalive

import "errors"

// ErrUnsupported is matched (with errors.Is) by every error about an option
// the platform, the kernel or the socket's protocol does not have: for
// example TCP_USER_TIMEOUT on darwin, FreeBSD and Windows, or on a Linux
// Multipath TCP socket. It is errors.ErrUnsupported, so errno values such as
// EOPNOTSUPP match it too.
var ErrUnsupported = errors.ErrUnsupported

// ErrInvalidConfig is matched (with errors.Is) by every error that
// [Config.Validate] returns, and so by Control and Apply errors caused by an
// invalid Config.
var ErrInvalidConfig = errors.New("keepalive: invalid config")

// OptionError is the error returned when setting or reading one socket
// option fails. Its message names the option, for example
// "keepalive: set TCP_KEEPCNT: invalid argument".
type OptionError struct {
	Op     string // "set" or "get"
	Option string // the option's name on this platform, e.g. "TCP_KEEPIDLE"
	Err    error  // usually a syscall.Errno
}

func (e *OptionError) Error() string {
	return "keepalive: " + e.Op + " " + e.Option + ": " + e.Err.Error()
}

func (e *OptionError) Unwrap() error { return e.Err }

// unsupportedError marks an errno that means "no such option here" (such as
// ENOPROTOOPT) as unsupported while keeping the errno's message and value.
type unsupportedError struct{ err error }

func (e unsupportedError) Error() string   { return e.err.Error() }
func (e unsupportedError) Unwrap() []error { return []error{e.err, ErrUnsupported} }
