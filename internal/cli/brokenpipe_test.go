//go:build linux || darwin || freebsd

package cli

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelperMain runs keeptune's Main in a child process of the test binary (see
// TestBrokenPipeIsQuiet); it does nothing in a normal run.
func TestHelperMain(t *testing.T) {
	args := os.Getenv("KEEPTUNE_TEST_MAIN_ARGS")
	if args == "" {
		return
	}
	os.Args = append([]string{"keeptune"}, strings.Fields(args)...)
	os.Exit(Main())
}

// A reader that goes away (`keeptune rules | head -1`) ends the run with the shell's broken-pipe
// status and no error message. Before, the Go runtime killed keeptune with SIGPIPE on the first
// write, which also skipped a drill's lab cleanup.
func TestBrokenPipeIsQuiet(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // nobody reads: the first write fails
	defer w.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMain$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KEEPTUNE_TEST_MAIN_ARGS=rules")
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("keeptune rules into a closed pipe: %v, want exit %d", err, ExitBrokenPipe)
	}
	if code := ee.ExitCode(); code != ExitBrokenPipe {
		t.Errorf("exit %d (%v), want %d", code, ee, ExitBrokenPipe)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
}
