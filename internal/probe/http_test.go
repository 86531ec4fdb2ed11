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

// The chart's bracket follows the ladder tests in the order their outcomes were known; side
// tests do not move it.
func TestBracket(t *testing.T) {
	s := time.Second
	ladder, side := roleLadder.String(), roleServerPush.String()
	r := &Result{Tests: []Test{
		{Role: ladder, Idle: 20 * s, At: 30 * s, Outcome: Silent},
		{Role: ladder, Idle: 10 * s, At: 12 * s, Outcome: Alive},
		{Role: side, Idle: 40 * s, At: 41 * s, Outcome: Alive},
		{Role: ladder, Idle: 15 * s, At: 40 * s, Outcome: Closed},
		{Role: ladder, Idle: 12 * s, At: 50 * s, Outcome: Alive},
	}}
	got := r.bracket()
	want := [][2]time.Duration{{10 * s, 0}, {10 * s, 20 * s}, {10 * s, 15 * s}, {12 * s, 15 * s}}
	if len(got) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Lo != w[0] || got[i].Hi != w[1] {
			t.Errorf("step %d: [%v, %v], want [%v, %v]", i, got[i].Lo, got[i].Hi, w[0], w[1])
		}
	}
}
