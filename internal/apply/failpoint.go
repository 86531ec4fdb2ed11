package apply

import (
	"os"
	"syscall"
)

// Environment variables that drive failpoints (documented in the package comment and in
// README.md): tests stop the process at a named step, as a kill -9 would.
const (
	FailpointEnv      = "KEEPTUNE_FAILPOINT"
	FailpointTraceEnv = "KEEPTUNE_FAILPOINT_TRACE"
)

// failpoint marks a step of apply or rollback. Step names are "apply:journal", "apply:file:N",
// "apply:sysctl:N", "apply:config:N:..." and so on (N counts from 0 in the entry's order); the
// trace lists them in the order a run passes them.
func failpoint(name string) {
	if trace := os.Getenv(FailpointTraceEnv); trace != "" {
		if f, err := os.OpenFile(trace, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			_, _ = f.WriteString(name + "\n")
			_ = f.Close()
		}
	}
	if os.Getenv(FailpointEnv) == name {
		// SIGKILL, not exit: no deferred function, no flush, exactly what kill -9 does.
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
