package drill

import (
	"testing"

	"github.com/keeptune/keeptune/internal/lab"
)

// A resetting NAT usually resets one packet of the forgotten flow: "1 packet", not "1 packets".
func TestPacketEventsAgree(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{natInvalidEvent(lab.ExpiryReset, 1), "NAT reset 1 packet of the forgotten flow"},
		{natInvalidEvent(lab.ExpiryReset, 2), "NAT reset 2 packets of the forgotten flow"},
		{natInvalidEvent(lab.ExpiryDrop, 7), "NAT dropped 7 packets of the forgotten flow"},
		{blackholeEvent(0), "blackhole dropped 0 packets"},
		{blackholeEvent(1), "blackhole dropped 1 packet"},
		{blackholeEvent(12), "blackhole dropped 12 packets"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}
