package probe

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The note names the URL as given (not with a slash added) and the responder's idle in the
// report's units ("2 h", not Go's "2h0m0s").
func TestHTTPNote(t *testing.T) {
	tg := &HTTPTarget{Addr: netip.MustParseAddrPort("203.0.113.9:80"), Host: "lb.example.net", Path: "/keeptune"}
	note := httpNote(tg, 2*time.Hour)
	for _, want := range []string{"HTTP through 203.0.113.9:80 (http://lb.example.net/keeptune)", "connections 2 h and says so"} {
		if !strings.Contains(note, want) {
			t.Errorf("note lacks %q:\n%s", want, note)
		}
	}
}
