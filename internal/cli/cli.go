// Package cli is keeptune's command line: one file per verb, each with an Options struct, over
// the library packages. Data goes to stdout, status and errors to stderr, and exit codes are
// decided in one place (exit.go).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// IO is where a command reads and writes; tests give buffers.
type IO struct {
	Out, Err io.Writer
	// OutIsTerminal decides colour in auto mode.
	OutIsTerminal bool
}

// Main runs keeptune with os.Args and returns the exit code.
func Main() int {
	// SIGPIPE too: without it the Go runtime kills the process on the first write to a closed
	// pipe (`keeptune drill ... | head`), before a drill can remove its lab or apply can finish
	// its journal entry. Caught, it ends the run like Ctrl-C, and writes fail with EPIPE.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()
	stdio := IO{Out: os.Stdout, Err: os.Stderr, OutIsTerminal: isTerminal(os.Stdout)}
	return Run(ctx, os.Args[1:], stdio)
}

// Run executes one command line and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	return exitCode(err, stdio.Err)
}

func newRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "keeptune",
		Short: "Audit and prove TCP keepalive and idle-timeout settings on Linux hosts",
		Long: "keeptune reads every layer that keeps TCP connections alive (kernel keepalive sysctls per\n" +
			"network namespace, retransmission limits, connection tracking, descriptor limits, live sockets,\n" +
			"server configurations, and the chain of NATs, balancers and proxies to the application), checks\n" +
			"them against a workload profile and against each other, and says exactly what to change and why.\n" +
			"drill proves settings in a lab of network namespaces; probe measures a real path's idle timeout.",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(newAuditCmd(stdio), newRulesCmd(stdio), newProfilesCmd(stdio), newLintCmd(stdio), newSocketsCmd(stdio), newDrillCmd(stdio), newCatalogCmd(stdio), newProbeCmd(stdio), newResponderCmd(stdio), newApplyCmd(stdio), newRollbackCmd(stdio), newVerifyCmd(stdio))
	root.AddCommand(newPlanCmd(stdio))
	root.AddCommand(newExporterCmd(stdio))
	root.AddCommand(newEnforceCmd(stdio))
	root.AddCommand(newVersionCmd(stdio))
	return root
}

// isTerminal reports whether f is a terminal (colour in auto mode).
func isTerminal(f *os.File) bool {
	return isatty(f.Fd())
}

// colorFor decides colour from --color and the environment (NO_COLOR, TERM=dumb).
func colorFor(mode string, stdio IO) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return stdio.OutIsTerminal && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, usageErr(fmt.Errorf("invalid --color %q: expected auto, always or never", mode))
}

var errFindings = errors.New("findings at or above the --fail-on severity")

// textOrJSON are the --output formats of the verbs that write either a table or JSON.
var textOrJSON = []string{"text", "json"}

// checkOutput is the one check of --output: a usage error naming what was given and what the
// verb writes ("expected text or json", "expected one of text, json, sarif"), or nil.
func checkOutput(output string, formats []string) error {
	if slices.Contains(formats, output) {
		return nil
	}
	expected := "one of " + strings.Join(formats, ", ")
	if len(formats) == 2 {
		expected = formats[0] + " or " + formats[1]
	}
	return usageErr(fmt.Errorf("invalid --output %q: expected %s", output, expected))
}

// checkHTMLFile is the one check of an --html FILE that is written only at the end of a long
// run (drill, probe): a usage error before the run, creating nothing, when the file could not
// be written there: its directory does not exist, or the path is a directory. nil for "".
func checkHTMLFile(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return usageErr(fmt.Errorf("--html %s: expected a file in an existing directory", path))
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usageErr(fmt.Errorf("--html %s: is a directory; expected a file (--html %s)", path, filepath.Join(path, "report.html")))
	}
	return nil
}
