package drill

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
)

// settle lets the last ACKs of an exchange arrive before a fault is switched on, so that the
// "last segment received" each side reports is the one the drill means.
const settle = 20 * time.Millisecond

// natExpect is what theory says happens to one side of a connection through the NAT.
type natExpect struct {
	outcome string        // "survives", "ETIMEDOUT", "ECONNRESET", "no error"
	after   time.Duration // from the last segment received (keepalive) or from the write
	alt     time.Duration // an earlier time the kernel may also give up at (Retrans.GiveUp)
	rule    string
	fromW   bool // measured from the client's write, not from the last segment received
}

func natTheory(nat lab.NAT, s *Settings, retries2 int, server bool) natExpect {
	if s == nil {
		if server {
			return natExpect{outcome: "no error", rule: "nothing is ever sent to the server again: it keeps a zombie connection"}
		}
		if nat.OnExpiry == lab.ExpiryReset {
			return natExpect{outcome: "ECONNRESET", after: 0, fromW: true, rule: "the NAT answers the first packet of the forgotten flow with a reset"}
		}
		// after and rule are filled in at the write, from the socket's RTO (Retrans).
		return natExpect{outcome: "ETIMEDOUT", after: unackedTheory(retries2, 0), fromW: true}
	}
	if s.Idle < nat.IdleTimeout {
		return natExpect{outcome: "survives", rule: fmt.Sprintf("keepalive idle %v < NAT timeout %v: every probe refreshes the NAT's entry", s.Idle, nat.IdleTimeout)}
	}
	if nat.OnExpiry == lab.ExpiryReset {
		return natExpect{outcome: "ECONNRESET", after: s.Idle, rule: "idle: the first keepalive probe after the NAT forgot the flow is reset"}
	}
	return natExpect{outcome: "ETIMEDOUT", after: s.Detection(), rule: detectionRule(*s) + ": the NAT drops every probe of the forgotten flow"}
}

// natTheoryEnds is natTheory for one end when the ends may differ: an end without keepalive
// survives when its peer's probes keep the NAT's entry fresh.
func natTheoryEnds(nat lab.NAT, self, peer *Settings, retries2 int, server bool) natExpect {
	if self == nil && peer != nil && peer.Idle < nat.IdleTimeout {
		return natExpect{outcome: "survives", rule: fmt.Sprintf("no keepalive at this end, but the peer's probes (idle %v < NAT timeout %v) refresh the NAT's entry", peer.Idle, nat.IdleTimeout)}
	}
	return natTheory(nat, self, retries2, server)
}

// natServerReceiveWait is the longest the run waits for the server to receive the client's
// write after the idle phase.
const natServerReceiveWait = time.Second

// fails says theory expects this side's connection to fail (ETIMEDOUT or ECONNRESET).
func (x natExpect) fails() bool { return x.outcome == "ETIMEDOUT" || x.outcome == "ECONNRESET" }

// natIdlePhase is how long a nat-expiry case leaves the connection idle before the client
// writes: past the NAT's timeout T by half of it (at least a second).
func natIdlePhase(nat lab.NAT) time.Duration {
	return nat.IdleTimeout + max(nat.IdleTimeout/2, time.Second)
}

// natEstimate is how long runNATExpiry takes by theory, case by case as it runs them: a side
// expected to survive costs the idle phase only (the write is answered at once), a side whose
// keepalive fails ends the case when it fails, and a client without keepalive fails only after
// the idle phase, from its write (at once on a resetting NAT, after the tcp_retries2 budget on a
// dropping one), while the run gives the server up to a second to receive that write. Building
// and removing a lab takes tens of milliseconds: not counted.
func natEstimate(o Options, s Settings) time.Duration {
	t, _ := ScaleSeconds("NAT idle timeout", o.NATTimeout, o.TimeScale)
	e := &env{opts: o}
	var d time.Duration
	for _, onExp := range o.OnExpiry {
		nat := lab.NAT{IdleTimeout: t, OnExpiry: onExp}
		for _, withKA := range []bool{false, true} {
			var cs, ss *Settings
			if withKA {
				cs, ss = e.endSettings(&s)
			}
			exp := [2]natExpect{natTheoryEnds(nat, cs, ss, o.Retries2, false), natTheoryEnds(nat, ss, cs, o.Retries2, true)}
			var c time.Duration
			switch {
			case exp[0].fromW:
				c = natIdlePhase(nat) + max(exp[0].after, natServerReceiveWait)
			case exp[0].fails():
				c = exp[0].after
			default:
				c = natIdlePhase(nat)
			}
			if exp[1].fails() {
				c = max(c, exp[1].after)
			}
			d += settle + c
		}
	}
	return d
}
