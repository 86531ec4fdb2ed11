package apply

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The failpoint tests run this test binary as a helper process that applies or rolls back the
// fixture's plan, and stop it with SIGKILL at each step.
const helperEnv = "KEEPTUNE_APPLY_TEST_HELPER"

func TestMain(m *testing.M) {
	if op := os.Getenv(helperEnv); op != "" {
		os.Exit(helper(op))
	}
	os.Exit(m.Run())
}

func helper(op string) int {
	dir := os.Getenv("KEEPTUNE_APPLY_TEST_DIR")
	f := &fixture{root: filepath.Join(dir, "root"), state: filepath.Join(dir, "state"), sys: fileSysctls{filepath.Join(dir, "sysctls.json")}}
	if os.Getenv("KEEPTUNE_APPLY_TEST_REAL") == "1" {
		f = &fixture{root: "/", state: filepath.Join(dir, "state"), sys: ProcSysctls{}, real: true}
	}
	j, err := OpenJournal(f.state)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer j.Close()
	switch op {
	case "apply":
		_, err = Apply(j, f.request(), f.options())
	case "rollback":
		_, err = Rollback(j, "", f.options())
		if errors.Is(err, ErrNothingToRollBack) {
			err = nil // the killed run had changed nothing yet, or had finished
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// runHelper runs op on the fixture; failpoint stops it at that step. It returns whether the
// process was killed.
func runHelper(t *testing.T, f *fixture, op, failpoint, trace string) (killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+op, "KEEPTUNE_APPLY_TEST_DIR="+filepath.Dir(f.state))
	if f.real {
		cmd.Env = append(cmd.Env, "KEEPTUNE_APPLY_TEST_REAL=1")
	}
	if failpoint != "" {
		cmd.Env = append(cmd.Env, FailpointEnv+"="+failpoint)
	}
	if trace != "" {
		cmd.Env = append(cmd.Env, FailpointTraceEnv+"="+trace)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	if err != nil {
		t.Fatalf("%s (failpoint %q): %v\n%s", op, failpoint, err, out)
	}
	return false
}

// steps runs op once with a trace and returns the steps it passed.
func steps(t *testing.T, op string, newFixture func(*testing.T) *fixture) []string {
	t.Helper()
	f := newFixture(t)
	if op == "rollback" {
		runHelper(t, f, "apply", "", "")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	runHelper(t, f, op, "", trace)
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// applied checks that the fixture holds the plan's values.
func (f *fixture) checkApplied(t *testing.T) {
	t.Helper()
	if got := read(t, filepath.Join(f.root, "etc/sysctl.d/99-zz-keeptune.conf")); got != string(f.request().Files[0].Content) {
		t.Errorf("keeptune's sysctl file: %q", got)
	}
	for _, s := range f.request().Sysctls {
		if v, _ := f.sys.Read(s.Netns, s.Key); v != s.To {
			t.Errorf("%s in %q = %s, want %s", s.Key, s.Netns.Path, v, s.To)
		}
	}
	if strings.Contains(read(t, filepath.Join(f.root, "etc/sysctl.conf")), "3600") {
		t.Error("sysctl.conf still has the removed line")
	}
}

func (f *fixture) checkNoTemps(t *testing.T) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(f.root, "etc/*/"+tempPrefix+"*"))
	more, _ := filepath.Glob(filepath.Join(f.root, "etc/"+tempPrefix+"*"))
	if len(matches)+len(more) > 0 {
		t.Errorf("temporary files left: %v %v", matches, more)
	}
}

// TestKillAtEveryApplyStep stops apply with SIGKILL at each of its steps; then either a
// rollback puts back exactly what was there, or a new apply finishes the job (and can itself
// be rolled back exactly).
func TestKillAtEveryApplyStep(t *testing.T) { killAtEveryStep(t, "apply", newFixture, true) }

// TestKillAtEveryRollbackStep stops rollback at each step; the next rollback finishes it, or
// the next apply finishes it and applies again.
func TestKillAtEveryRollbackStep(t *testing.T) { killAtEveryStep(t, "rollback", newFixture, true) }

// killAtEveryStep stops op ("apply", or "rollback" after an apply) at each of its steps, runs
// a rollback or an apply after it, and checks that a final rollback restores everything exactly.
func killAtEveryStep(t *testing.T, op string, newFixture func(*testing.T) *fixture, parallel bool) {
	all := steps(t, op, newFixture)
	if len(all) < 8 {
		t.Fatalf("%s passed only %d steps: %v", op, len(all), all)
	}
	for _, step := range all {
		for _, next := range []string{"rollback", "apply"} {
			t.Run(step+"/then-"+next, func(t *testing.T) {
				if parallel {
					t.Parallel()
				}
				f := newFixture(t)
				before := f.snapshot(t)
				if op == "rollback" {
					runHelper(t, f, "apply", "", "")
				}
				if !runHelper(t, f, op, step, "") {
					t.Fatalf("the failpoint %s did not stop %s", step, op)
				}
				runHelper(t, f, next, "", "")
				if next == "apply" {
					f.checkApplied(t)
					runHelper(t, f, "rollback", "", "")
				}
				f.checkNoTemps(t)
				if got := f.snapshot(t); got != before {
					t.Errorf("not restored exactly:\nbefore:\n%s\nafter:\n%s", before, got)
				}
			})
		}
	}
}
