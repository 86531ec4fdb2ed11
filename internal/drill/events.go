package drill

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// The timeline's lines that count packets, with the noun agreeing with the count (a NAT that
// resets a forgotten flow often resets exactly one packet).

// natInvalidEvent says what the NAT did with n packets of a flow it had forgotten.
func natInvalidEvent(onExp lab.OnExpiry, n uint64) string {
	verb := "dropped"
	if onExp == lab.ExpiryReset {
		verb = "reset"
	}
	return fmt.Sprintf("NAT %s %d %s of the forgotten flow", verb, n, textfmt.Plural(int(n), "packet", "packets"))
}

// blackholeEvent says how many packets the lab's blackhole dropped.
func blackholeEvent(n uint64) string {
	return fmt.Sprintf("blackhole dropped %d %s", n, textfmt.Plural(int(n), "packet", "packets"))
}
