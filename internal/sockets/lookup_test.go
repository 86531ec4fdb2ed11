package sockets

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// The lookup request carries the 4-tuple where struct inet_diag_req_v2 has it, and decodes back
// to the same addresses with the reply decoder (the reply's sockid has the same layout).
func TestLookupRequest(t *testing.T) {
	for _, tc := range []struct {
		local, peer string
		family      uint8
	}{
		{"203.0.113.2:4242", "198.51.100.2:51234", afInet},
		{"[2001:db8:113::2]:4242", "[2001:db8:100::2]:40000", afInet6},
	} {
		local, peer := netip.MustParseAddrPort(tc.local), netip.MustParseAddrPort(tc.peer)
		b := lookupRequest(local, peer, true)
		if len(b) != sizeofReqV2 || b[0] != tc.family || b[1] != ipprotoTCP || b[2] != 1<<(inetDiagInfo-1) {
			t.Fatalf("%s: header % x", tc.local, b[:8])
		}
		if got := StateSet(binary.NativeEndian.Uint32(b[4:])); got != AllStates {
			t.Errorf("%s: states %#x, want all", tc.local, got)
		}
		if c1, c2 := binary.NativeEndian.Uint32(b[8+40:]), binary.NativeEndian.Uint32(b[8+44:]); c1 != ^uint32(0) || c2 != ^uint32(0) {
			t.Errorf("%s: cookie %#x %#x, want INET_DIAG_NOCOOKIE", tc.local, c1, c2)
		}
		// A reply is family, state, timer, retrans, then the same sockid.
		msg := make([]byte, sizeofDiagMsg)
		msg[0], msg[1] = tc.family, byte(StateEstablished)
		copy(msg[4:], b[8:8+sizeofSockID])
		var s Socket
		if err := decodeDiagMsg(msg, &s); err != nil {
			t.Fatal(err)
		}
		if s.Local != local || s.Peer != peer {
			t.Errorf("decoded %v-%v, want %v-%v", s.Local, s.Peer, local, peer)
		}
	}
}
