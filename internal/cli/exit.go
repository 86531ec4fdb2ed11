package cli

import (
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Exit codes (shared/DESIGN.md, Conventions).
const (
	ExitOK        = 0
	ExitFindings  = 1 // findings at or above --fail-on
	ExitUsage     = 2 // usage error or unreadable input
	ExitRuntime   = 3 // the run itself failed
	ExitPrivilege = 4 // needs a privilege the process lacks
	// ExitBrokenPipe is what a shell reports for a process SIGPIPE killed (128 + 13): the
	// reader of the output went away (`keeptune rules | head`). keeptune catches the signal
	// so that it can clean up (a drill's lab), then exits with this code and says nothing.
	ExitBrokenPipe = 141
)

// exitError carries an exit code and an optional hint for the person at the terminal.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error { return &exitError{code: ExitUsage, err: err} }

func runtimeErr(err error) error { return &exitError{code: ExitRuntime, err: err} }

func privilegeErr(err error, hint string) error {
	return &exitError{code: ExitPrivilege, err: err, hint: hint}
}

// exitCode maps an error to the process exit code and prints it, age-style:
// "error: ..." then "hint: ...".
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, syscall.EPIPE) {
		return ExitBrokenPipe
	}
	if errors.Is(err, errFindings) {
		return ExitFindings
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(stderr, "error: %v\n", ee.err)
		if ee.hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", ee.hint)
		}
		return ee.code
	}
	// cobra reports unknown commands and bad arguments as plain errors.
	fmt.Fprintf(stderr, "error: %v\nhint: run keeptune --help\n", err)
	return ExitUsage
}
