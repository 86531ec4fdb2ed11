package sockets

import (
	"encoding/binary"
	"net/netip"
)

// lookupRequest builds the payload of a SOCK_DIAG_BY_FAMILY request for one socket, named by
// its local and peer address (no NLM_F_DUMP): the kernel finds it in its hash tables
// (inet_diag_find_one_icsk), in constant time, where a dump walks every socket of every
// namespace the host's table holds. The cookie is INET_DIAG_NOCOOKIE (any socket of that
// 4-tuple). An unmapped IPv4 pair asks AF_INET, anything else AF_INET6.
func lookupRequest(local, peer netip.AddrPort, info bool) []byte {
	family := uint8(afInet6)
	if local.Addr().Is4() && peer.Addr().Is4() {
		family = afInet
	}
	b := diagRequest(family, AllStates, info, nil)
	id := b[8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], peer.Port())
	if family == afInet {
		a, p := local.Addr().As4(), peer.Addr().As4()
		copy(id[4:], a[:])
		copy(id[20:], p[:])
	} else {
		a, p := local.Addr().As16(), peer.Addr().As16()
		copy(id[4:], a[:])
		copy(id[20:], p[:])
	}
	binary.NativeEndian.PutUint32(id[40:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(id[44:], ^uint32(0))
	return b
}
