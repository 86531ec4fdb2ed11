package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// The sock_diag / inet_diag wire format (include/uapi/linux/inet_diag.h, sock_diag.h). Everything
// in this file is pure bytes: it builds everywhere and is tested and fuzzed without a kernel.

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	netlinkInetDiag  = 4  // NETLINK_SOCK_DIAG (historically NETLINK_INET_DIAG)
	ipprotoTCP       = 6

	afInet  = 2
	afInet6 = 10

	// Attributes of a request.
	inetDiagReqBytecode = 1

	// Attributes of a reply (enum in inet_diag.h).
	inetDiagInfo = 2

	// sizeofReqV2 is struct inet_diag_req_v2: family, protocol, ext, pad, states, sockid.
	sizeofReqV2 = 8 + sizeofSockID
	// sizeofSockID is struct inet_diag_sockid: sport, dport (big endian), src[4], dst[4] (network
	// order words), if, cookie[2].
	sizeofSockID = 4 + 16 + 16 + 4 + 8
	// sizeofDiagMsg is struct inet_diag_msg: family, state, timer, retrans, sockid, expires,
	// rqueue, wqueue, uid, inode.
	sizeofDiagMsg = 4 + sizeofSockID + 20
)

// diagRequest builds the payload of a SOCK_DIAG_BY_FAMILY dump request for TCP sockets of one
// family in the given states, asking for tcp_info when info is set, with an optional bytecode
// filter the kernel runs on every socket.
func diagRequest(family uint8, states StateSet, info bool, bytecode []byte) []byte {
	if states == 0 {
		states = AllStates
	}
	b := make([]byte, sizeofReqV2, sizeofReqV2+4+len(bytecode))
	b[0] = family
	b[1] = ipprotoTCP
	if info {
		b[2] = 1 << (inetDiagInfo - 1) // idiag_ext
	}
	binary.NativeEndian.PutUint32(b[4:], uint32(states))
	// The sockid stays zero: a dump does not look at it (lookupRequest fills it in for an
	// exact-socket lookup).
	if len(bytecode) > 0 {
		b = appendAttr(b, inetDiagReqBytecode, bytecode)
	}
	return b
}

// appendAttr appends a netlink attribute (struct nlattr and its payload, padded to 4 bytes).
func appendAttr(b []byte, typ uint16, payload []byte) []byte {
	var hdr [4]byte
	binary.NativeEndian.PutUint16(hdr[0:], uint16(4+len(payload)))
	binary.NativeEndian.PutUint16(hdr[2:], typ)
	b = append(b, hdr[:]...)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// errShortDiagMsg is returned for a reply too short to hold struct inet_diag_msg.
var errShortDiagMsg = errors.New("inet_diag message shorter than struct inet_diag_msg")

// decodeDiagMsg decodes one inet_diag reply (the payload after the netlink header) into s. It
// fills the header fields and, when present, tcp_info; everything else in s is reset. Attributes
// are walked with bounds checks, so a truncated or garbled message gives an error or fewer
// fields, never a read past data.
func decodeDiagMsg(data []byte, s *Socket) error {
	if len(data) < sizeofDiagMsg {
		return fmt.Errorf("%w: %d bytes, want %d", errShortDiagMsg, len(data), sizeofDiagMsg)
	}
	ne := binary.NativeEndian
	*s = Socket{Family: data[0], State: State(data[1])}
	rawTimer, retrans := data[2], data[3]
	id := data[4 : 4+sizeofSockID]
	sport := binary.BigEndian.Uint16(id[0:])
	dport := binary.BigEndian.Uint16(id[2:])
	switch s.Family {
	case afInet:
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[4:8])), sport)
		s.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[20:24])), dport)
	case afInet6:
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[4:20])), sport)
		s.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[20:36])), dport)
	default:
		return fmt.Errorf("inet_diag message of address family %d, want AF_INET or AF_INET6", s.Family)
	}
	s.Interface = ne.Uint32(id[36:])
	s.Cookie = uint64(ne.Uint32(id[40:])) | uint64(ne.Uint32(id[44:]))<<32
	rest := data[4+sizeofSockID:]
	expires := ne.Uint32(rest[0:])
	s.RecvQ = ne.Uint32(rest[4:])
	s.SendQ = ne.Uint32(rest[8:])
	s.UID = ne.Uint32(rest[12:])
	s.Inode = ne.Uint32(rest[16:])

	s.Timer = Timer{Kind: timerKind(rawTimer, s.State, s.Inode), Expires: time.Duration(expires) * time.Millisecond, Retrans: retrans}
	if s.Timer.Kind == TimerNone {
		s.Timer.Expires = 0
	}

	attrs := data[nlaAlign(sizeofDiagMsg):]
	for len(attrs) >= 4 {
		l := int(ne.Uint16(attrs[0:]))
		typ := ne.Uint16(attrs[2:]) & 0x3fff // drop NLA_F_NESTED and NLA_F_NET_BYTEORDER
		if l < 4 || l > len(attrs) {
			return fmt.Errorf("inet_diag attribute %d has length %d with %d bytes left", typ, l, len(attrs))
		}
		if typ == inetDiagInfo {
			DecodeTCPInfo(attrs[4:l], &s.Info)
			s.HasInfo = s.Info.Len >= 8
		}
		next := nlaAlign(l)
		if next > len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return nil
}

func nlaAlign(n int) int { return (n + 3) &^ 3 }

// timerKind names idiag_timer. The socket timer (2) is the keepalive timer except on an orphaned
// FIN_WAIT2 socket (no inode), where it runs tcp_fin_timeout.
func timerKind(raw uint8, st State, inode uint32) TimerKind {
	switch raw {
	case 0:
		return TimerNone
	case 1:
		return TimerRetransmit
	case 2:
		if st == StateFinWait2 && inode == 0 {
			return TimerFinWait2
		}
		return TimerKeepalive
	case 3:
		return TimerTimeWait
	case 4:
		return TimerZeroWindowProbe
	case 5:
		return TimerDelack
	}
	return TimerUnknown
}

// Bytecode: a small program the kernel runs on every socket of a dump (inet_diag_bc_run in
// net/ipv4/inet_diag.c). Each op is {code u8, yes u8, no u16}: when the condition holds the
// program moves on by yes bytes, otherwise by no bytes; the socket is accepted when the program
// ends exactly at its end and rejected when a jump lands 4 bytes past it. Port conditions take a
// second op whose no field holds the port. The kernel's audit (inet_diag_bc_audit) follows only
// the yes path, so every op here has yes = its own length (fall through) and every jump target
// lies on that path.
const (
	bcJmp  = 1
	bcSGE  = 2
	bcSLE  = 3
	bcDGE  = 4
	bcDLE  = 5
	bcSEq  = 11 // since Linux 4.16
	bcDEq  = 12
	bcOpSz = 4
)

// bcExpr is a bytecode expression: a port condition, or an and/or of expressions.
type bcExpr struct {
	op   uint8 // bcSEq, bcDEq, bcSGE, ...; 0 for and/or
	port uint16
	and  bool
	subs []bcExpr
}

func bcPort(op uint8, port uint16) bcExpr { return bcExpr{op: op, port: port} }
func bcAnd(subs ...bcExpr) bcExpr         { return bcExpr{and: true, subs: subs} }
func bcOr(subs ...bcExpr) bcExpr          { return bcExpr{subs: subs} }

func (e bcExpr) size() int {
	if e.op != 0 {
		return 2 * bcOpSz
	}
	n := 0
	for i, s := range e.subs {
		n += s.size()
		if !e.and && i < len(e.subs)-1 {
			n += bcOpSz // the jump over the remaining alternatives
		}
	}
	return n
}

// compileBytecode turns an expression into inet_diag bytecode.
func compileBytecode(e bcExpr) []byte {
	total := e.size()
	b := make([]byte, 0, total)
	b = e.emit(b, total, total+bcOpSz)
	return b
}

// emit appends e's code; a false outcome jumps to the absolute offset onFalse, a true one falls
// through to the end of e.
func (e bcExpr) emit(b []byte, total, onFalse int) []byte {
	op := func(b []byte, code uint8, yes uint8, no uint16) []byte {
		var o [4]byte
		o[0], o[1] = code, yes
		binary.NativeEndian.PutUint16(o[2:], no)
		return append(b, o[:]...)
	}
	if e.op != 0 {
		pos := len(b)
		b = op(b, e.op, 2*bcOpSz, uint16(onFalse-pos))
		return op(b, 0, 0, e.port)
	}
	if e.and {
		for _, s := range e.subs {
			b = s.emit(b, total, onFalse)
		}
		return b
	}
	end := len(b) + e.size()
	for i, s := range e.subs {
		if i == len(e.subs)-1 {
			return s.emit(b, total, onFalse)
		}
		next := len(b) + s.size() + bcOpSz // the next alternative, after the jump
		b = s.emit(b, total, next)
		pos := len(b)
		b = op(b, bcJmp, bcOpSz, uint16(end-pos))
	}
	return b
}

// portFilter builds the bytecode for the port filters: a socket passes when its local port is
// one of local, its peer port is one of peer, and its local or peer port is one of either (each
// list empty means no condition). eq selects the equality ops (4.16+); without it each equality
// is a >= and a <= (every kernel).
func portFilter(either, local, peer []uint16, eq bool) []byte {
	cond := func(s bool, p uint16) bcExpr {
		switch {
		case eq && s:
			return bcPort(bcSEq, p)
		case eq:
			return bcPort(bcDEq, p)
		case s:
			return bcAnd(bcPort(bcSGE, p), bcPort(bcSLE, p))
		default:
			return bcAnd(bcPort(bcDGE, p), bcPort(bcDLE, p))
		}
	}
	var all []bcExpr
	if len(either) > 0 {
		var alts []bcExpr
		for _, p := range either {
			alts = append(alts, cond(true, p), cond(false, p))
		}
		all = append(all, bcOr(alts...))
	}
	if len(local) > 0 {
		var alts []bcExpr
		for _, p := range local {
			alts = append(alts, cond(true, p))
		}
		all = append(all, bcOr(alts...))
	}
	if len(peer) > 0 {
		var alts []bcExpr
		for _, p := range peer {
			alts = append(alts, cond(false, p))
		}
		all = append(all, bcOr(alts...))
	}
	if len(all) == 0 {
		return nil
	}
	return compileBytecode(bcAnd(all...))
}

// runBytecode interprets bytecode the way the kernel does, for tests and for the fuzzer: it
// reports whether a socket with these ports passes.
func runBytecode(bc []byte, sport, dport uint16) bool {
	ne := binary.NativeEndian
	pos, n := 0, len(bc)
	for pos < n {
		if pos+bcOpSz > n {
			return false
		}
		code, yes, no := bc[pos], int(bc[pos+1]), int(ne.Uint16(bc[pos+2:]))
		arg := func() int {
			if pos+2*bcOpSz > n {
				return -1
			}
			return int(ne.Uint16(bc[pos+6:]))
		}
		ok := true
		switch code {
		case 0:
		case bcJmp:
			ok = false
		case bcSGE:
			ok = int(sport) >= arg()
		case bcSLE:
			ok = int(sport) <= arg()
		case bcDGE:
			ok = int(dport) >= arg()
		case bcDLE:
			ok = int(dport) <= arg()
		case bcSEq:
			ok = int(sport) == arg()
		case bcDEq:
			ok = int(dport) == arg()
		default:
			return false
		}
		step := no
		if ok {
			step = yes
		}
		if step <= 0 {
			return false
		}
		pos += step
	}
	return pos == n
}
