package rules

import (
	"regexp"
	"testing"

	"github.com/keeptune/keeptune/internal/plan"
)

// A rule's documentation names the sysctl.d file its fixes write (KT102-KT104 named
// /etc/sysctl.d/60-keeptune.conf while every fix writes plan.DropIn), and cites no unnamed
// "hosting guide" (KT704 cited one for LVS's 90 s).
func TestRuleDocsNameTheDropIn(t *testing.T) {
	file := regexp.MustCompile(`/etc/sysctl\.d/[\w.-]*keeptune[\w.-]*`)
	for _, r := range All() {
		for _, text := range []string{r.What, r.Why, r.Fix, r.Source} {
			for _, f := range file.FindAllString(text, -1) {
				if f != plan.DropIn {
					t.Errorf("%s names %s, but fixes write %s", r.ID, f, plan.DropIn)
				}
			}
			if regexp.MustCompile(`(?i)hosting guides?\b`).MatchString(text) {
				t.Errorf("%s cites a hosting guide nobody can look up, which is no primary source: %q", r.ID, text)
			}
		}
	}
}
