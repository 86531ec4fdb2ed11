package cli

import (
	"context"
	"strings"
	"testing"
)

// TestOutputFormatChecked runs every verb that takes --output with a format none of them
// writes: each must refuse it before doing any work, with exit 2 and the formats it does write.
func TestOutputFormatChecked(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"audit"}, "expected one of text, json, sarif"},
		{[]string{"lint", "nginx.conf"}, "expected one of text, json, sarif"},
		{[]string{"plan"}, "expected one of text, json, sysctl, diff"},
		{[]string{"sockets"}, "expected text or json"},
		{[]string{"catalog"}, "expected text or json"},
		{[]string{"rules"}, "expected text or json"},
		{[]string{"profiles"}, "expected text or json"},
		{[]string{"version"}, "expected text or json"},
		{[]string{"probe", "idle-timeout", "192.0.2.1:4242"}, "expected text or json"},
		{[]string{"drill", "dead-peer"}, "expected text or json"},
		{[]string{"apply", "plan.json"}, "expected text or json"},
		{[]string{"rollback", "--list"}, "expected text or json"},
		{[]string{"verify", "some-id"}, "expected text or json"},
	}
	for _, c := range cases {
		args := append(c.args, "-o", "yaml")
		code, stdout, stderr := runCLI(context.Background(), args...)
		want := `invalid --output "yaml": ` + c.want
		if code != ExitUsage || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", args, code, stdout, stderr, ExitUsage, want)
		}
	}
}
