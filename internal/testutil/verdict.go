package testutil

import (
	"strings"
	"testing"
)

// Verdict checks a configuration parser's verdict on one case: with wantErr, an error whose
// text contains it; without, no error and, with wantWarn, exactly one warning containing it (no
// warning at all when wantWarn is ""). warnings are the warnings' messages. It reports whether
// the parse succeeded and the caller may look further.
func Verdict(t *testing.T, err error, warnings []string, wantErr, wantWarn string) bool {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error %v, want %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	switch {
	case wantWarn == "" && len(warnings) > 0:
		t.Errorf("unexpected warnings %q", warnings)
	case wantWarn != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], wantWarn)):
		t.Errorf("warnings %q, want one with %q", warnings, wantWarn)
	}
	return true
}
