package drill

import (
	"net"
	"testing"
	"time"
)

// The "last segment received" of a timeline comes from tcp_info's jiffy-counted age; it must
// not land before the exchange that sent the segment, nor before "connected" (a dead-peer
// timeline had "-0.002s last segment received" above "connected"). A jiffy is 1-10 ms, the
// exchange on loopback well under one: without the bound, about one try in ten lands early.
func TestLastReceivedNotBeforeTheExchange(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for try := range 25 {
		tl := newTimeline()
		c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
		if err != nil {
			t.Fatal(err)
		}
		tl.add("client", "connected")
		s, err := ln.AcceptTCP()
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		p := &pair{client: c, server: s, tl: tl}
		err = p.exchange()
		time.Sleep(settle)
		for i, side := range []string{"client", "server"} {
			if err != nil {
				break
			}
			var last time.Time
			if last, err = p.lastReceived(i); err == nil {
				tl.at(last, side, "last segment received")
				if last.After(time.Now()) {
					t.Errorf("try %d: %s last received in the future", try, side)
				}
			}
		}
		c.Close()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		events := tl.sorted()
		if events[0].What != "connected" || events[0].At < 0 {
			for _, e := range events {
				t.Logf("  %8.4fs %-7s %s", e.At.Seconds(), e.Side, e.What)
			}
			t.Fatalf("try %d: the timeline starts with %q at %v, not with connected at or after 0", try, events[0].What, events[0].At)
		}
	}
}
