package sockets

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

var ne = binary.NativeEndian

// buildTCPInfo returns n bytes of tcp_info where every u32 field at offset off (8 <= off < 104)
// holds off itself and the 64-bit fields past 104 hold off*1000, so each decoded field says
// where it was read from.
func buildTCPInfo(n int) []byte {
	b := make([]byte, n)
	if n >= 8 {
		copy(b, []byte{1, 2, 3, 4, 5, 6, 0x97, 0})
	}
	for off := 8; off+4 <= n && off < TCPInfoLenBase; off += 4 {
		ne.PutUint32(b[off:], uint32(off))
	}
	for _, off := range []int{104, 112, 120, 128, 160, 168, 176, 184, 200, 208} {
		if off+8 <= n {
			ne.PutUint64(b[off:], uint64(off)*1000)
		}
	}
	for _, off := range []int{136, 140, 144, 148, 152, 156, 192, 196, 216, 220, 224, 228, 232, 236, 244} {
		if off+4 <= n {
			ne.PutUint32(b[off:], uint32(off))
		}
	}
	for _, off := range []int{240, 242} {
		if off+2 <= n {
			ne.PutUint16(b[off:], uint16(off))
		}
	}
	return b
}

func TestDecodeTCPInfoByLength(t *testing.T) {
	cases := []struct {
		name string
		n    int
		// checks on the decoded struct
		lastDataRecv, totalRetrans  uint32
		bytesAcked                  uint64
		minRTT, rcvWnd              uint32
		totalRTO                    uint16
		hasBytes, hasMinRTT, hasRTO bool
	}{
		{name: "empty", n: 0},
		{name: "shorter than the head", n: 7},
		{name: "head only", n: 8},
		{name: "cut inside last_data_recv", n: 54},
		{name: "old 104-byte struct (2.6)", n: 104, lastDataRecv: 52, totalRetrans: 100},
		{name: "cut inside pacing_rate", n: 108, lastDataRecv: 52, totalRetrans: 100},
		{name: "4.1 with bytes_acked", n: 136, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, hasBytes: true},
		{name: "4.6 with min_rtt", n: 160, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, minRTT: 148, hasBytes: true, hasMinRTT: true},
		{name: "5.4 232 bytes", n: 232, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, minRTT: 148, hasBytes: true, hasMinRTT: true},
		{name: "6.2 rcv_wnd", n: 240, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, minRTT: 148, rcvWnd: 232, hasBytes: true, hasMinRTT: true},
		{name: "6.7 total_rto", n: 248, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, minRTT: 148, rcvWnd: 232, totalRTO: 240, hasBytes: true, hasMinRTT: true, hasRTO: true},
		{name: "6.18 280 bytes", n: 280, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, minRTT: 148, rcvWnd: 232, totalRTO: 240, hasBytes: true, hasMinRTT: true, hasRTO: true},
		{name: "a future, longer struct", n: 400, lastDataRecv: 52, totalRetrans: 100, bytesAcked: 120000, minRTT: 148, rcvWnd: 232, totalRTO: 240, hasBytes: true, hasMinRTT: true, hasRTO: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := buildTCPInfo(c.n)
			// A slice with no spare capacity: a read past it would panic.
			b = b[:len(b):len(b)]
			var ti TCPInfo
			DecodeTCPInfo(b, &ti)
			if ti.Len != c.n {
				t.Errorf("Len = %d, want %d", ti.Len, c.n)
			}
			if c.n >= 8 && (ti.State != 1 || ti.Retransmits != 3 || ti.Probes != 4 || ti.Backoff != 5 || ti.SndWscale != 7 || ti.RcvWscale != 9) {
				t.Errorf("head = %+v", ti)
			}
			if c.n < 8 && ti != (TCPInfo{Len: c.n}) {
				t.Errorf("short input decoded to %+v", ti)
			}
			if ti.LastDataRecv != c.lastDataRecv || ti.TotalRetrans != c.totalRetrans || ti.BytesAcked != c.bytesAcked ||
				ti.MinRTT != c.minRTT || ti.RcvWnd != c.rcvWnd || ti.TotalRTO != c.totalRTO {
				t.Errorf("fields: last_data_recv %d total_retrans %d bytes_acked %d min_rtt %d rcv_wnd %d total_rto %d",
					ti.LastDataRecv, ti.TotalRetrans, ti.BytesAcked, ti.MinRTT, ti.RcvWnd, ti.TotalRTO)
			}
			if c.n >= 104 && (ti.LastDataSent != 44 || ti.LastAckRecv != 56 || ti.RTT != 68 || ti.RTTVar != 72) {
				t.Errorf("base fields: %+v", ti)
			}
			if ti.HasBytes() != c.hasBytes || ti.HasMinRTT() != c.hasMinRTT || ti.HasTotalRTO() != c.hasRTO {
				t.Errorf("Has: bytes %v minrtt %v rto %v", ti.HasBytes(), ti.HasMinRTT(), ti.HasTotalRTO())
			}
		})
	}
}

// buildDiagMsg builds an inet_diag_msg payload with the given attributes.
func buildDiagMsg(family, state, timer, retrans uint8, local, peer netip.AddrPort, expires, inode, uid uint32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofDiagMsg)
	b[0], b[1], b[2], b[3] = family, state, timer, retrans
	binary.BigEndian.PutUint16(b[4:], local.Port())
	binary.BigEndian.PutUint16(b[6:], peer.Port())
	if family == afInet {
		a, p := local.Addr().As4(), peer.Addr().As4()
		copy(b[8:], a[:])
		copy(b[24:], p[:])
	} else {
		a, p := local.Addr().As16(), peer.Addr().As16()
		copy(b[8:], a[:])
		copy(b[24:], p[:])
	}
	ne.PutUint32(b[40:], 3)          // if
	ne.PutUint32(b[44:], 0xdeadbeef) // cookie[0]
	ne.PutUint32(b[48:], 1)          // cookie[1]
	ne.PutUint32(b[52:], expires)
	ne.PutUint32(b[56:], 10) // rqueue
	ne.PutUint32(b[60:], 20) // wqueue
	ne.PutUint32(b[64:], uid)
	ne.PutUint32(b[68:], inode)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

func attr(typ uint16, payload []byte) []byte { return appendAttr(nil, typ, payload) }

func TestDecodeDiagMsg(t *testing.T) {
	l4, p4 := netip.MustParseAddrPort("127.0.0.1:5432"), netip.MustParseAddrPort("10.1.2.3:40000")
	l6, p6 := netip.MustParseAddrPort("[2001:db8::1]:443"), netip.MustParseAddrPort("[::ffff:198.51.100.7]:51000")
	info := buildTCPInfo(232)
	ne.PutUint32(info[52:], 600000) // last_data_recv: 10 min
	ne.PutUint32(info[44:], 500000) // last_data_sent

	var s Socket
	msg := buildDiagMsg(afInet, uint8(StateEstablished), 2, 0, l4, p4, 7199000, 4242, 1000,
		attr(8, []byte{0}), attr(inetDiagInfo, info))
	if err := decodeDiagMsg(msg, &s); err != nil {
		t.Fatal(err)
	}
	if s.Local != l4 || s.Peer != p4 || s.State != StateEstablished || s.Inode != 4242 || s.UID != 1000 ||
		s.RecvQ != 10 || s.SendQ != 20 || s.Interface != 3 || s.Cookie != 1<<32|0xdeadbeef {
		t.Errorf("header: %+v", s)
	}
	if s.Timer != (Timer{Kind: TimerKeepalive, Expires: 7199 * time.Second}) {
		t.Errorf("timer = %+v", s.Timer)
	}
	if !s.HasInfo || s.Info.Len != 232 || s.Info.LastDataRecv != 600000 {
		t.Errorf("info: has %v %+v", s.HasInfo, s.Info)
	}
	if idle, ok := s.Idle(); !ok || idle != 500*time.Second {
		t.Errorf("Idle = %v %v, want 500s", idle, ok)
	}

	// IPv6, an orphaned FIN_WAIT2 (no inode) on the socket timer, no info.
	msg = buildDiagMsg(afInet6, uint8(StateFinWait2), 2, 0, l6, p6, 30000, 0, 0)
	if err := decodeDiagMsg(msg, &s); err != nil {
		t.Fatal(err)
	}
	if s.Local != l6 || s.Peer != p6 || s.HasInfo || s.Timer.Kind != TimerFinWait2 {
		t.Errorf("v6: %+v", s)
	}
	Derive(&s, DefaultThresholds)
	if !s.Flags.Has(FlagOrphanFinWait2) || s.Keepalive.State != KeepaliveUnknown {
		t.Errorf("orphan FIN_WAIT2: flags %v keepalive %v", s.Flags.Names(), s.Keepalive.State)
	}

	// Errors: short, unknown family, an attribute longer than the message.
	if err := decodeDiagMsg(msg[:sizeofDiagMsg-1], &s); !errors.Is(err, errShortDiagMsg) {
		t.Errorf("short: %v", err)
	}
	bad := buildDiagMsg(afInet, 1, 0, 0, l4, p4, 0, 1, 0)
	bad[0] = 1
	if err := decodeDiagMsg(bad, &s); err == nil {
		t.Error("AF_UNIX message decoded")
	}
	trunc := buildDiagMsg(afInet, 1, 0, 0, l4, p4, 0, 1, 0, attr(inetDiagInfo, info))
	trunc = trunc[:len(trunc)-100]
	if err := decodeDiagMsg(trunc, &s); err == nil {
		t.Error("truncated attribute accepted")
	}
	// A short tcp_info attribute (an old kernel) decodes what is there.
	old := buildDiagMsg(afInet, 1, 0, 0, l4, p4, 0, 1, 0, attr(inetDiagInfo, buildTCPInfo(104)))
	if err := decodeDiagMsg(old, &s); err != nil || !s.HasInfo || s.Info.Len != 104 || s.Info.LastDataRecv != 52 || s.Info.BytesAcked != 0 {
		t.Errorf("old tcp_info: %v %+v", err, s.Info)
	}
}

func TestBytecode(t *testing.T) {
	type sock struct{ s, d uint16 }
	socks := []sock{{80, 40000}, {40001, 80}, {443, 40002}, {5432, 443}, {22, 50000}, {8080, 8080}}
	cases := []struct {
		name                string
		either, local, peer []uint16
		want                []sock
	}{
		{"either 80", []uint16{80}, nil, nil, []sock{{80, 40000}, {40001, 80}}},
		{"either 80 or 443", []uint16{80, 443}, nil, nil, []sock{{80, 40000}, {40001, 80}, {443, 40002}, {5432, 443}}},
		{"local 443", nil, []uint16{443}, nil, []sock{{443, 40002}}},
		{"peer 443 or 80", nil, nil, []uint16{443, 80}, []sock{{40001, 80}, {5432, 443}}},
		{"local 5432 and peer 443", nil, []uint16{5432}, []uint16{443}, []sock{{5432, 443}}},
		{"either 8080 and local 8080", []uint16{8080}, []uint16{8080}, nil, []sock{{8080, 8080}}},
		{"nothing matches", []uint16{9}, nil, nil, nil},
	}
	for _, c := range cases {
		for _, eq := range []bool{true, false} {
			bc := portFilter(c.either, c.local, c.peer, eq)
			if err := auditBytecode(bc); err != nil {
				t.Errorf("%s (eq %v): the kernel's audit would refuse it: %v", c.name, eq, err)
			}
			var got []sock
			for _, s := range socks {
				if runBytecode(bc, s.s, s.d) {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s (eq %v): passes %v, want %v", c.name, eq, got, c.want)
			}
		}
	}
	if bc := portFilter(nil, nil, nil, true); bc != nil {
		t.Errorf("no ports: bytecode %v", bc)
	}
}

// auditBytecode mirrors inet_diag_bc_audit (net/ipv4/inet_diag.c) for the ops keeptune emits.
func auditBytecode(bc []byte) error {
	validCC := func(cc int) bool {
		l, pos := len(bc), 0
		for l >= 0 {
			if cc > l {
				return false
			}
			if cc == l {
				return true
			}
			yes := int(bc[pos+1])
			if yes < 4 || yes&3 != 0 {
				return false
			}
			l -= yes
			pos += yes
		}
		return false
	}
	l, pos := len(bc), 0
	for l > 0 {
		if l < 4 {
			return errors.New("op past the end")
		}
		code, yes, no := bc[pos], int(bc[pos+1]), int(ne.Uint16(bc[pos+2:]))
		minLen := 4
		switch code {
		case bcSGE, bcSLE, bcDGE, bcDLE, bcSEq, bcDEq:
			if l < 8 {
				return errors.New("port op without its argument")
			}
			minLen = 8
		case bcJmp, 0:
		default:
			return errors.New("unknown op")
		}
		if code != 0 {
			if no < minLen || no > l+4 || no&3 != 0 {
				return errors.New("bad no")
			}
			if no < l && !validCC(l-no) {
				return errors.New("no lands inside an op")
			}
		}
		if yes < minLen || yes > l+4 || yes&3 != 0 {
			return errors.New("bad yes")
		}
		pos += yes
		l -= yes
	}
	return nil
}

func TestParseStates(t *testing.T) {
	cases := []struct {
		in   string
		want StateSet
		err  bool
	}{
		{"established", 1 << StateEstablished, false},
		{"ESTAB,close-wait", 1<<StateEstablished | 1<<StateCloseWait, false},
		{"CLOSE_WAIT, time-wait", 1<<StateCloseWait | 1<<StateTimeWait, false},
		{"fin-wait-2,FIN_WAIT1", 1<<StateFinWait2 | 1<<StateFinWait1, false},
		{"listening", 1 << StateListen, false},
		{"all", AllStates, false},
		{"connected", AllStates &^ (1<<StateListen | 1<<StateClose), false},
		{"bogus", 0, true},
		{"", 0, true},
	}
	for _, c := range cases {
		got, err := ParseStates(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseStates(%q) = %b, %v; want %b, err %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseIdleCond(t *testing.T) {
	cases := []struct {
		in   string
		want IdleCond
		err  bool
	}{
		{">60s", IdleCond{">", time.Minute}, false},
		{">=5m", IdleCond{">=", 5 * time.Minute}, false},
		{"< 500ms", IdleCond{"<", 500 * time.Millisecond}, false},
		{"<=1h", IdleCond{"<=", time.Hour}, false},
		{"90", IdleCond{">=", 90 * time.Second}, false},
		{">", IdleCond{}, true},
		{">-5s", IdleCond{}, true},
		{"=5s", IdleCond{}, true},
		{"abc", IdleCond{}, true},
	}
	for _, c := range cases {
		got, err := ParseIdleCond(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseIdleCond(%q) = %v, %v; want %v, err %v", c.in, got, err, c.want, c.err)
		}
	}
	if !(IdleCond{">", time.Minute}).Match(61*time.Second) || (IdleCond{">", time.Minute}).Match(time.Minute) ||
		!(IdleCond{">=", time.Minute}).Match(time.Minute) || !(IdleCond{"<", time.Second}).Match(0) {
		t.Error("Match")
	}
}

func TestParsePorts(t *testing.T) {
	got, err := ParsePorts("80, :443,,8080")
	if err != nil || !slices.Equal(got, []uint16{80, 443, 8080}) {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"0", "65536", "http", "-1"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
}

func TestDerive(t *testing.T) {
	info := func(recv, send, ackRecv uint32, backoff uint8) TCPInfo {
		return TCPInfo{Len: 232, LastDataRecv: recv, LastDataSent: send, LastAckRecv: ackRecv, Backoff: backoff}
	}
	cases := []struct {
		name  string
		s     Socket
		ka    KeepaliveState
		flags []string
	}{
		{"keepalive timer", Socket{State: StateEstablished, Inode: 1, Timer: Timer{Kind: TimerKeepalive}}, KeepaliveOn, nil},
		{"probing", Socket{State: StateEstablished, Inode: 1, Timer: Timer{Kind: TimerKeepalive, Retrans: 2}}, KeepaliveProbing, []string{"silent-peer"}},
		{"no timer, idle 10 min", Socket{State: StateEstablished, Inode: 1, HasInfo: true, Info: info(600000, 600000, 600000, 0)}, KeepaliveOff, []string{"idle-without-keepalive"}},
		{"no timer, recently sent", Socket{State: StateEstablished, Inode: 1, HasInfo: true, Info: info(600000, 1000, 1000, 0)}, KeepaliveOff, nil},
		{"retransmitting hides keepalive", Socket{State: StateEstablished, Inode: 1, Timer: Timer{Kind: TimerRetransmit, Retrans: 1}, HasInfo: true, Info: info(1, 1, 1, 1)}, KeepaliveUnknown, nil},
		{"retransmitting, backoff 3", Socket{State: StateEstablished, Inode: 1, Timer: Timer{Kind: TimerRetransmit, Retrans: 3}, HasInfo: true, Info: info(1, 1, 1, 3)}, KeepaliveUnknown, []string{"silent-peer"}},
		{"listener", Socket{State: StateListen, Inode: 1}, KeepaliveUnknown, nil},
		{"time-wait", Socket{State: StateTimeWait, Timer: Timer{Kind: TimerTimeWait}}, KeepaliveNA, nil},
		{"close-wait 2 min", Socket{State: StateCloseWait, Inode: 1, HasInfo: true, Info: info(120000, 5000, 120000, 0)}, KeepaliveOff, []string{"close-wait-leak"}},
		{"close-wait, peer acked recently", Socket{State: StateCloseWait, Inode: 1, HasInfo: true, Info: info(120000, 5000, 5000, 0)}, KeepaliveOff, nil},
		{"orphan fin-wait2 in time-wait", Socket{State: StateFinWait2, Timer: Timer{Kind: TimerTimeWait}}, KeepaliveNA, []string{"orphan-fin-wait2"}},
		{"deep says on, retransmitting", Socket{State: StateEstablished, Inode: 1, Timer: Timer{Kind: TimerRetransmit}, Keepalive: Keepalive{Deep: true, Effective: keepalive.Effective{Enabled: true}}}, KeepaliveOn, nil},
		{"deep says off on a listener", Socket{State: StateListen, Inode: 1, Keepalive: Keepalive{Deep: true}}, KeepaliveOff, nil},
	}
	for _, c := range cases {
		s := c.s
		Derive(&s, DefaultThresholds)
		if s.Keepalive.State != c.ka || !slices.Equal(s.Flags.Names(), c.flags) {
			t.Errorf("%s: keepalive %v flags %v; want %v %v", c.name, s.Keepalive.State, s.Flags.Names(), c.ka, c.flags)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	s := Socket{Family: afInet6, State: StateEstablished, Local: netip.MustParseAddrPort("[::1]:80"), Peer: netip.MustParseAddrPort("[::1]:5555"),
		Inode: 7, Timer: Timer{Kind: TimerKeepalive, Expires: 1500 * time.Millisecond, Retrans: 1}, HasInfo: true, Info: TCPInfo{Len: 232, LastDataRecv: 9, RTT: 50},
		Netns: &Netns{Name: "host"}, Owner: &Process{PID: 42, Comm: "we\"ird\x01\xff"}, OwnerFD: 5,
		Keepalive: Keepalive{Deep: true, Effective: keepalive.Effective{Enabled: true, Idle: 123 * time.Second, Interval: 7 * time.Second, Count: 4, UserTimeout: 9 * time.Second}, SetByProgram: SetIdle | SetUserTimeout}}
	Derive(&s, DefaultThresholds)
	line := AppendJSON(nil, &s)
	if !strings.HasSuffix(string(line), "}\n") || !json.Valid(line) {
		t.Fatalf("not one JSON line: %s", line)
	}
	var v struct {
		Netns, State, Local, Peer, Process string
		PID                                *int
		Timer                              struct {
			Kind      string
			ExpiresMS int64 `json:"expires_ms"`
			Retrans   int
		}
		IdleRecvMS *int64 `json:"idle_recv_ms"`
		Keepalive  struct {
			State         string
			IdleS         int      `json:"idle_s"`
			IntvlS        int      `json:"intvl_s"`
			Count         int      `json:"count"`
			UserTimeoutMS int64    `json:"user_timeout_ms"`
			SetByProgram  []string `json:"set_by_program"`
			Source        string
		}
		Flags []string
	}
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	if v.Netns != "host" || v.State != "ESTABLISHED" || v.Local != "[::1]:80" || v.PID == nil || *v.PID != 42 ||
		v.Process != "we\"ird\x01\ufffd" || v.Timer.Kind != "keepalive" || v.Timer.ExpiresMS != 1500 || v.Timer.Retrans != 1 ||
		v.IdleRecvMS == nil || *v.IdleRecvMS != 9 || v.Keepalive.State != "probing" || v.Keepalive.IdleS != 123 ||
		v.Keepalive.IntvlS != 7 || v.Keepalive.Count != 4 || v.Keepalive.UserTimeoutMS != 9000 ||
		!slices.Equal(v.Keepalive.SetByProgram, []string{"idle", "user_timeout"}) || v.Keepalive.Source != "socket (set by program)" ||
		!slices.Equal(v.Flags, []string{"silent-peer"}) {
		t.Errorf("decoded %+v from %s", v, line)
	}
	// Unknowns are null, not zero.
	bare := Socket{Family: afInet, State: StateTimeWait, Local: netip.MustParseAddrPort("1.2.3.4:1"), Peer: netip.MustParseAddrPort("5.6.7.8:2")}
	line = AppendJSON(nil, &bare)
	if !json.Valid(line) || !strings.Contains(string(line), `"pid":null`) || !strings.Contains(string(line), `"idle_recv_ms":null`) || !strings.Contains(string(line), `"netns":null`) {
		t.Errorf("bare socket: %s", line)
	}
}

func TestAppendDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		25 * time.Microsecond: "25µs", 450 * time.Millisecond: "450ms", 1234 * time.Millisecond: "1.2s", 42 * time.Second: "42s",
		5*time.Minute + 2*time.Second: "5m02s", 3*time.Hour + 4*time.Minute: "3h04m", 50 * time.Hour: "2d02h",
	} {
		if got := string(AppendDuration(nil, d)); got != want {
			t.Errorf("AppendDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	sm := NewSummary()
	p := &Process{PID: 10, Comm: "srv"}
	listener := Socket{State: StateListen, Local: netip.MustParseAddrPort("0.0.0.0:80"), Owner: p}
	sm.NoteListener(&listener)
	for i := 1; i <= 100; i++ {
		s := Socket{State: StateEstablished, Local: netip.MustParseAddrPort("10.0.0.1:80"), Peer: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(1000+i)),
			Owner: p, Inode: uint32(i), HasInfo: true, Info: TCPInfo{Len: 232, LastDataRecv: uint32(i * 1000), LastDataSent: uint32(i * 1000)}}
		Derive(&s, DefaultThresholds)
		sm.Add(&s)
	}
	client := Socket{State: StateEstablished, Local: netip.MustParseAddrPort("10.0.0.1:40000"), Peer: netip.MustParseAddrPort("10.0.0.9:5432"), Inode: 1000}
	Derive(&client, DefaultThresholds)
	sm.Add(&client)
	procs, ports := sm.Processes(), sm.Ports()
	if len(procs) != 2 || procs[0].Name != "10/srv" || procs[0].Sockets != 100 || procs[1].Name != "-" {
		t.Fatalf("processes: %+v", procs)
	}
	if len(ports) != 1 || ports[0].Port != 80 || ports[0].Sockets != 100 {
		t.Fatalf("ports: %+v", ports)
	}
	p50, p90, p99, ok := procs[0].Percentiles()
	if !ok || p50 != 50*time.Second || p90 != 90*time.Second || p99 != 99*time.Second {
		t.Errorf("percentiles %v %v %v", p50, p90, p99)
	}
	if procs[0].Keepalive[KeepaliveOff] != 100 || procs[0].FlagCounts[0] != 0 {
		t.Errorf("keepalive/flags: %+v", procs[0])
	}
	out := string(sm.AppendSummary(nil))
	if !strings.Contains(out, "10/srv") || !strings.Contains(out, ":80") {
		t.Errorf("summary text:\n%s", out)
	}
	if b, err := json.Marshal(sm.JSON()); err != nil || !strings.Contains(string(b), `"idle_p50_ms":50000`) {
		t.Errorf("summary json %s %v", b, err)
	}
}

// FuzzDecodeDiagMsg feeds arbitrary bytes to the message decoder: it must return an error or a
// socket, never panic or read past its input.
func FuzzDecodeDiagMsg(f *testing.F) {
	l4, p4 := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	f.Add(buildDiagMsg(afInet, 1, 2, 0, l4, p4, 1, 2, 3, attr(inetDiagInfo, buildTCPInfo(232))))
	f.Add(buildDiagMsg(afInet6, 5, 2, 0, netip.MustParseAddrPort("[::1]:1"), netip.MustParseAddrPort("[::1]:2"), 1, 0, 0, attr(inetDiagInfo, buildTCPInfo(50))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		b = b[:len(b):len(b)]
		var s Socket
		if err := decodeDiagMsg(b, &s); err == nil {
			Derive(&s, DefaultThresholds)
			if !json.Valid(AppendJSON(nil, &s)) {
				t.Fatalf("invalid JSON for %x", b)
			}
			_ = AppendTableRow(nil, &s, true)
		}
		var ti TCPInfo
		DecodeTCPInfo(b, &ti)
	})
}

// FuzzBytecode checks that every port filter keeptune compiles passes the kernel's audit and
// agrees with the user-space check.
func FuzzBytecode(f *testing.F) {
	f.Add([]byte{0, 80, 1, 187}, []byte{}, []byte{0, 22}, uint16(80), uint16(22), true)
	f.Fuzz(func(t *testing.T, e, l, p []byte, sport, dport uint16, eq bool) {
		ports := func(b []byte) []uint16 {
			var out []uint16
			for i := 0; i+1 < len(b) && len(out) < 20; i += 2 {
				out = append(out, binary.BigEndian.Uint16(b[i:]))
			}
			return out
		}
		fl := Filter{Ports: ports(e), LocalPorts: ports(l), PeerPorts: ports(p)}
		bc := fl.bytecode(eq)
		if bc == nil {
			return
		}
		if err := auditBytecode(bc); err != nil {
			t.Fatalf("audit: %v", err)
		}
		s := Socket{Local: netip.AddrPortFrom(netip.IPv4Unspecified(), sport), Peer: netip.AddrPortFrom(netip.IPv4Unspecified(), dport)}
		if runBytecode(bc, sport, dport) != fl.matchPorts(&s) {
			t.Fatalf("bytecode and user space disagree on %d->%d for %+v", sport, dport, fl)
		}
	})
}

func TestKeepaliveSettings(t *testing.T) {
	s := Socket{Keepalive: Keepalive{Deep: true, Effective: keepalive.Effective{Enabled: true, Idle: 123 * time.Second, Interval: 75 * time.Second, Count: 9}, SetByProgram: SetIdle}}
	k := s.KeepaliveSettings()
	if !k.Enabled.Known || !k.Enabled.Value || k.Idle.Value != 123*time.Second || k.Idle.Source.Detail != "set by program" ||
		k.Interval.Source.Detail != "namespace sysctl" || !k.UserTimeout.Known || k.UserTimeout.Value != 0 {
		t.Errorf("deep: %+v", k)
	}
	if d, ok := k.DetectionTime(); !ok || d != 123*time.Second+9*75*time.Second {
		t.Errorf("detection %v %v", d, ok)
	}
	s = Socket{Keepalive: Keepalive{State: KeepaliveOff}}
	if k := s.KeepaliveSettings(); !k.Enabled.Known || k.Enabled.Value || k.Idle.Known {
		t.Errorf("diag only: %+v", k)
	}
	s = Socket{Keepalive: Keepalive{State: KeepaliveUnknown}}
	if k := s.KeepaliveSettings(); k.Enabled.Known {
		t.Errorf("unknown: %+v", k)
	}
}
