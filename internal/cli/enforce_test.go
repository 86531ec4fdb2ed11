package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/enforce"
)

func TestEnforceBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"enforce", "apply", "--idle", "60s"}, "name the cgroup"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--cgroup", "/a", "--idle", "60"}, "only one of"},
		{[]string{"enforce", "apply", "--unit", "a.service"}, "the policy sets nothing"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--idle", "soon"}, "not a duration"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--idle", "1500ms"}, "whole seconds"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--probes", "200"}, "1 to 127"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--idle", "60", "--side", "in"}, "connect, accept or both"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--idle", "60", "--mode", "strict"}, "default or force"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--idle", "60", "-o", "yaml"}, "want text or json"},
		{[]string{"enforce", "apply", "--pod", "nonamespace", "--idle", "60"}, "NAMESPACE/NAME"},
		{[]string{"enforce", "apply", "--unit", "a.service", "--profile", "no-such-profile"}, "no-such-profile"},
	} {
		code, _, stderr := runCLI(context.Background(), tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

func TestEnforceErrExitCodes(t *testing.T) {
	var buf strings.Builder
	if code := exitCode(enforceErr(&enforce.MissingError{What: "enforce needs CAP_BPF", Hint: "run as root", Privilege: true}), &buf); code != ExitPrivilege || !strings.Contains(buf.String(), "hint: run as root") {
		t.Errorf("privilege: exit %d, %q", code, buf.String())
	}
	buf.Reset()
	if code := exitCode(enforceErr(&enforce.MissingError{What: "kernel 5.4.0 is too old", Hint: "upgrade"}), &buf); code != ExitRuntime || !strings.Contains(buf.String(), "too old") {
		t.Errorf("old kernel: exit %d, %q", code, buf.String())
	}
}
