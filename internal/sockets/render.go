package sockets

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The renderers append to a byte slice: at 200,000 sockets fmt and encoding/json cost more than
// the dump itself, and appending into one reused buffer keeps the output path free of
// per-socket allocations.

// AppendJSON appends s as one JSON object and a newline: the JSON Lines format of
// `keeptune sockets -o json`, documented in docs/sockets.md. Every key is always present; values
// that are unknown are null.
func AppendJSON(b []byte, s *Socket) []byte { return AppendJSONStamped(b, s, nil) }

// AppendJSONStamped is AppendJSON with stamp written first inside the object: --watch puts
// `"snapshot":N,"time":"...",` there so that lines of one refresh can be told from the next.
func AppendJSONStamped(b []byte, s *Socket, stamp []byte) []byte {
	b = append(b, '{')
	b = append(b, stamp...)
	b = append(b, `"netns":`...)
	if s.Netns != nil {
		b = appendJSONString(b, s.Netns.Name)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"family":`...)
	if s.Family == afInet6 {
		b = append(b, `"ipv6"`...)
	} else {
		b = append(b, `"ipv4"`...)
	}
	b = append(b, `,"state":"`...)
	b = append(b, s.State.String()...)
	b = append(b, `","local":"`...)
	b = s.Local.AppendTo(b)
	b = append(b, `","peer":"`...)
	b = s.Peer.AppendTo(b)
	b = append(b, `","uid":`...)
	b = strconv.AppendUint(b, uint64(s.UID), 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, uint64(s.Inode), 10)
	if s.Owner != nil {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(s.Owner.PID), 10)
		b = append(b, `,"process":`...)
		b = appendJSONString(b, s.Owner.Comm)
		b = append(b, `,"fd":`...)
		b = strconv.AppendInt(b, int64(s.OwnerFD), 10)
		b = append(b, `,"process_netns":`...)
		b = appendJSONString(b, s.Owner.NetnsName)
	} else {
		b = append(b, `,"pid":null,"process":null,"fd":null,"process_netns":null`...)
		if s.OwnerMissing != "" {
			b = append(b, `,"process_missing":`...)
			b = appendJSONString(b, s.OwnerMissing)
		}
	}
	b = append(b, `,"timer":{"kind":"`...)
	b = append(b, s.Timer.Kind.String()...)
	b = append(b, `","expires_ms":`...)
	b = strconv.AppendInt(b, s.Timer.Expires.Milliseconds(), 10)
	b = append(b, `,"retrans":`...)
	b = strconv.AppendUint(b, uint64(s.Timer.Retrans), 10)
	b = append(b, `},"recv_q":`...)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = append(b, `,"send_q":`...)
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	if s.HasInfo && s.State != StateListen {
		i := &s.Info
		b = append(b, `,"idle_recv_ms":`...)
		b = strconv.AppendUint(b, uint64(i.LastDataRecv), 10)
		b = append(b, `,"idle_send_ms":`...)
		b = strconv.AppendUint(b, uint64(i.LastDataSent), 10)
		b = append(b, `,"ack_recv_ms":`...)
		b = strconv.AppendUint(b, uint64(i.LastAckRecv), 10)
		b = append(b, `,"rtt_us":`...)
		b = strconv.AppendUint(b, uint64(i.RTT), 10)
		b = append(b, `,"rttvar_us":`...)
		b = strconv.AppendUint(b, uint64(i.RTTVar), 10)
		b = append(b, `,"retransmits":`...)
		b = strconv.AppendUint(b, uint64(i.Retransmits), 10)
		b = append(b, `,"total_retrans":`...)
		b = strconv.AppendUint(b, uint64(i.TotalRetrans), 10)
		b = append(b, `,"backoff":`...)
		b = strconv.AppendUint(b, uint64(i.Backoff), 10)
		b = append(b, `,"probes":`...)
		b = strconv.AppendUint(b, uint64(i.Probes), 10)
	} else {
		b = append(b, `,"idle_recv_ms":null,"idle_send_ms":null,"ack_recv_ms":null,"rtt_us":null,"rttvar_us":null,"retransmits":null,"total_retrans":null,"backoff":null,"probes":null`...)
	}
	k := &s.Keepalive
	b = append(b, `,"keepalive":{"state":"`...)
	b = append(b, k.State.String()...)
	b = append(b, '"')
	if k.Deep {
		num := func(key string, v int64, bit SetBits) {
			b = append(b, key...)
			if k.Unread&bit != 0 {
				b = append(b, "null"...) // its getsockopt failed: error says why
			} else {
				b = strconv.AppendInt(b, v, 10)
			}
		}
		b = append(b, `,"enabled":`...)
		if k.Unread&UnreadEnabled != 0 {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendBool(b, k.Enabled)
		}
		num(`,"idle_s":`, int64(k.Idle/time.Second), SetIdle)
		num(`,"intvl_s":`, int64(k.Interval/time.Second), SetInterval)
		num(`,"count":`, int64(k.Count), SetCount)
		num(`,"user_timeout_ms":`, k.UserTimeout.Milliseconds(), SetUserTimeout)
	} else {
		b = append(b, `,"enabled":null,"idle_s":null,"intvl_s":null,"count":null,"user_timeout_ms":null`...)
	}
	b = append(b, `,"set_by_program":[`...)
	for i, n := range setNames {
		if k.SetByProgram&(1<<i) != 0 {
			if b[len(b)-1] != '[' {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, n...)
			b = append(b, '"')
		}
	}
	b = append(b, `],"source":`...)
	b = appendJSONString(b, k.Source())
	if k.Enforced != "" {
		b = append(b, `,"enforced":`...)
		b = appendJSONString(b, k.Enforced)
	}
	if k.Err != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, k.Err)
	}
	b = append(b, `},"flags":[`...)
	for _, n := range flagNames {
		if s.Flags.Has(n.f) {
			if b[len(b)-1] != '[' {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, n.name...)
			b = append(b, '"')
		}
	}
	return append(b, "]}\n"...)
}

// setNames name the SetBits in order, for "set_by_program".
var setNames = [...]string{"idle", "intvl", "count", "user_timeout"}

// appendJSONString appends s as a JSON string (process names can hold any byte).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// AppendDuration appends d compactly for tables: 25µs, 450ms, 1.2s, 42s, 5m02s, 3h04m, 2d03h.
func AppendDuration(b []byte, d time.Duration) []byte {
	switch {
	case d < 0:
		return append(b, '-')
	case d < time.Millisecond:
		b = strconv.AppendInt(b, d.Microseconds(), 10)
		return append(b, "µs"...)
	case d < time.Second:
		b = strconv.AppendInt(b, d.Milliseconds(), 10)
		return append(b, "ms"...)
	case d < 10*time.Second:
		ds := d.Milliseconds() / 100
		b = strconv.AppendInt(b, ds/10, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, ds%10, 10)
		return append(b, 's')
	case d < time.Minute:
		b = strconv.AppendInt(b, int64(d/time.Second), 10)
		return append(b, 's')
	case d < time.Hour:
		return appendTwo(b, int64(d/time.Minute), 'm', int64(d%time.Minute/time.Second), 's')
	case d < 24*time.Hour:
		return appendTwo(b, int64(d/time.Hour), 'h', int64(d%time.Hour/time.Minute), 'm')
	}
	return appendTwo(b, int64(d/(24*time.Hour)), 'd', int64(d%(24*time.Hour)/time.Hour), 'h')
}

func appendTwo(b []byte, a int64, ua byte, c int64, uc byte) []byte {
	b = strconv.AppendInt(b, a, 10)
	b = append(b, ua)
	if c < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, c, 10)
	return append(b, uc)
}

// Table columns, streamed with fixed widths (a wider value pushes the rest of its row right, as
// in ss): no buffering of rows to measure them.
var tableColumns = []struct {
	name  string
	width int
}{
	{"STATE", 12}, {"LOCAL", 22}, {"PEER", 22}, {"PROCESS", 22}, {"TIMER", 22},
	{"IDLE RECV/SEND", 16}, {"KEEPALIVE", 24}, {"RTT", 8}, {"FLAGS", 0},
}

// queueWidth is the RECV-Q and SEND-Q columns (bytes; up to 6 digits stay aligned).
const queueWidth = 7

// netnsWidth is the NETNS column, shown when sockets come from chosen namespaces.
const netnsWidth = 18

// AppendTableHeader appends the table's header line; withNetns adds a NETNS column first.
func AppendTableHeader(b []byte, withNetns bool) []byte {
	if withNetns {
		b = appendCell(b, len(b), "NETNS", netnsWidth)
	}
	for i, c := range tableColumns {
		b = appendCell(b, len(b), c.name, c.width)
		if i == 0 {
			// ss's Recv-Q and Send-Q: unread bytes are the first clue of a stuck reader (a
			// CLOSE_WAIT leak holding what the peer sent last).
			b = appendCell(b, len(b), "RECV-Q", queueWidth)
			b = appendCell(b, len(b), "SEND-Q", queueWidth)
		}
	}
	return trimEOL(b)
}

func appendCell(b []byte, start int, text string, width int) []byte {
	b = append(b, text...)
	return pad(b, start, width)
}

// pad pads the cell begun at start to width, and always leaves one space after it.
func pad(b []byte, start, width int) []byte {
	n := len(b) - start
	for ; n < width; n++ {
		b = append(b, ' ')
	}
	if width > 0 && len(b) > 0 && b[len(b)-1] != ' ' {
		b = append(b, ' ')
	}
	return b
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return append(b, '\n')
}

// AppendTableRow appends one socket as a table line; withNetns adds the NETNS column.
func AppendTableRow(b []byte, s *Socket, withNetns bool) []byte {
	w := tableColumns
	st := len(b)
	if withNetns {
		if s.Netns != nil {
			b = append(b, s.Netns.Name...)
		} else {
			b = append(b, '-')
		}
		b = pad(b, st, netnsWidth)
		st = len(b)
	}
	b = append(b, s.State.String()...)
	b = pad(b, st, w[0].width)
	st = len(b)
	b = strconv.AppendUint(b, uint64(s.RecvQ), 10)
	b = pad(b, st, queueWidth)
	st = len(b)
	b = strconv.AppendUint(b, uint64(s.SendQ), 10)
	b = pad(b, st, queueWidth)
	st = len(b)
	b = s.Local.AppendTo(b)
	b = pad(b, st, w[1].width)
	st = len(b)
	b = s.Peer.AppendTo(b)
	b = pad(b, st, w[2].width)
	st = len(b)
	if s.Owner != nil {
		b = strconv.AppendInt(b, int64(s.Owner.PID), 10)
		b = append(b, '/')
		b = append(b, s.Owner.Comm...)
	} else {
		b = append(b, '-')
	}
	b = pad(b, st, w[3].width)
	st = len(b)
	b = append(b, s.Timer.Kind.String()...)
	if s.Timer.Kind != TimerNone {
		b = append(b, ' ')
		b = AppendDuration(b, s.Timer.Expires)
		if s.Timer.Retrans > 0 {
			b = append(b, " x"...)
			b = strconv.AppendUint(b, uint64(s.Timer.Retrans), 10)
		}
	}
	b = pad(b, st, w[4].width)
	st = len(b)
	if s.HasInfo && s.State != StateListen {
		b = AppendDuration(b, time.Duration(s.Info.LastDataRecv)*time.Millisecond)
		b = append(b, '/')
		b = AppendDuration(b, time.Duration(s.Info.LastDataSent)*time.Millisecond)
	} else {
		b = append(b, '-')
	}
	b = pad(b, st, w[5].width)
	st = len(b)
	k := &s.Keepalive
	b = append(b, k.State.String()...)
	if k.State == KeepaliveProbing {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(s.Timer.Retrans), 10)
	}
	if k.Deep {
		b = append(b, ' ')
		b = appendSetting(b, int64(k.Idle/time.Second), k.SetByProgram&SetIdle != 0, k.Unread&SetIdle != 0)
		b = append(b, '/')
		b = appendSetting(b, int64(k.Interval/time.Second), k.SetByProgram&SetInterval != 0, k.Unread&SetInterval != 0)
		b = append(b, '/')
		b = appendSetting(b, int64(k.Count), k.SetByProgram&SetCount != 0, k.Unread&SetCount != 0)
		if k.Unread&SetUserTimeout != 0 {
			b = append(b, " uto=?"...)
		} else if k.UserTimeout > 0 {
			b = append(b, " uto="...)
			b = AppendDuration(b, k.UserTimeout)
		}
	}
	if k.Enforced != "" {
		b = append(b, " enforced"...)
	}
	b = pad(b, st, w[6].width)
	st = len(b)
	if s.HasInfo && s.State != StateListen && s.Info.RTT > 0 {
		b = AppendDuration(b, time.Duration(s.Info.RTT)*time.Microsecond)
	} else {
		b = append(b, '-')
	}
	b = pad(b, st, w[7].width)
	first := true
	for _, n := range flagNames {
		if s.Flags.Has(n.f) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, n.name...)
		}
	}
	return trimEOL(b)
}

// appendSetting appends a keepalive value, starred when the program set it itself.
func appendSetting(b []byte, v int64, set, unread bool) []byte {
	if unread {
		return append(b, '?')
	}
	b = strconv.AppendInt(b, v, 10)
	if set {
		b = append(b, '*')
	}
	return b
}
