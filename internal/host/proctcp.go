package host

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
)

// tcpEntry is one socket of a /proc/net/tcp or /proc/net/tcp6 table.
type tcpEntry struct {
	Local, Remote netip.AddrPort
	State         uint8 // TCP_ESTABLISHED 1 ... TCP_LISTEN 0x0A (include/net/tcp_states.h)
	Inode         uint64
}

// tcpListen is TCP_LISTEN, "0A" in the st column.
const tcpListen = 0x0A

// parseProcNetTCP streams a /proc/net/tcp or tcp6 table (net/ipv4/tcp_ipv4.c get_tcp4_sock,
// net/ipv6/tcp_ipv6.c get_tcp6_sock) and calls fn for each socket line. The entry passed to fn is
// reused: fn must copy what it keeps. Lines that do not parse are skipped, so a table from a
// newer kernel with more columns still reads.
//
// Columns: "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
// inode ...". An address is the in-memory __be32 words of the address printed with %08X as
// native-endian integers (so 127.0.0.1 reads 0100007F on little-endian machines), a colon, and
// the port in host order as %04X. IPv6 addresses are four such words.
//
// The parser reads with one buffer and does not allocate per line: a host with 100k sockets has
// a 15 MB table.
func parseProcNetTCP(r io.Reader, fn func(*tcpEntry)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var e tcpEntry
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// No socket line is this long: skip it to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if len(line) > 0 && parseTCPLine(line, &e) {
			fn(&e)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseTCPLine parses one socket line into e and reports whether it was one.
func parseTCPLine(line []byte, e *tcpEntry) bool {
	var f [10][]byte
	n := 0
	for i := 0; i < len(line) && n < len(f); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		if i > start {
			f[n] = line[start:i]
			n++
		}
	}
	if n < len(f) || len(f[0]) < 2 || f[0][len(f[0])-1] != ':' {
		return false // the header ("sl local_address ...") or a short line
	}
	var ok bool
	if e.Local, ok = parseHexAddrPort(f[1]); !ok {
		return false
	}
	if e.Remote, ok = parseHexAddrPort(f[2]); !ok {
		return false
	}
	st, ok := parseHex(f[3])
	if !ok || st > 0xFF {
		return false
	}
	e.State = uint8(st)
	if e.Inode, ok = parseDec(f[9]); !ok {
		return false
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseHexAddrPort parses "0100007F:0CEA" (IPv4) or the 32-hex-digit IPv6 form.
func parseHexAddrPort(b []byte) (netip.AddrPort, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	addr, port := b[:i], b[i+1:]
	p, ok := parseHex(port)
	if !ok || len(port) != 4 {
		return netip.AddrPort{}, false
	}
	switch len(addr) {
	case 8:
		var a [4]byte
		w, ok := parseHex(addr)
		if !ok {
			return netip.AddrPort{}, false
		}
		binary.NativeEndian.PutUint32(a[:], uint32(w))
		return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(p)), true
	case 32:
		var a [16]byte
		for j := 0; j < 4; j++ {
			w, ok := parseHex(addr[j*8 : j*8+8])
			if !ok {
				return netip.AddrPort{}, false
			}
			binary.NativeEndian.PutUint32(a[j*4:], uint32(w))
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a), uint16(p)), true
	}
	return netip.AddrPort{}, false
}

// parseHex parses up to 16 hex digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// parseDec parses an unsigned decimal of up to 19 digits (no overflow).
func parseDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// littleEndian is true on the machines whose /proc/net/tcp prints 127.0.0.1 as 0100007F.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
