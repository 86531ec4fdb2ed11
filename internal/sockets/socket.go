package sockets

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/keepalive"
)

// State is a TCP state as the kernel numbers it (include/net/tcp_states.h).
type State uint8

// The TCP states. NewSynRecv is a request socket (a SYN received, no full socket yet); the kernel
// reports request sockets as SynRecv in dumps.
const (
	StateEstablished State = 1
	StateSynSent     State = 2
	StateSynRecv     State = 3
	StateFinWait1    State = 4
	StateFinWait2    State = 5
	StateTimeWait    State = 6
	StateClose       State = 7
	StateCloseWait   State = 8
	StateLastAck     State = 9
	StateListen      State = 10
	StateClosing     State = 11
	StateNewSynRecv  State = 12
)

var stateNames = [...]string{
	StateEstablished: "ESTABLISHED",
	StateSynSent:     "SYN_SENT",
	StateSynRecv:     "SYN_RECV",
	StateFinWait1:    "FIN_WAIT1",
	StateFinWait2:    "FIN_WAIT2",
	StateTimeWait:    "TIME_WAIT",
	StateClose:       "CLOSE",
	StateCloseWait:   "CLOSE_WAIT",
	StateLastAck:     "LAST_ACK",
	StateListen:      "LISTEN",
	StateClosing:     "CLOSING",
	StateNewSynRecv:  "NEW_SYN_RECV",
}

// String returns the kernel's name of the state (ESTABLISHED, CLOSE_WAIT, ...): the same names
// appear in the JSON output.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE_%d", uint8(s))
}

// StateSet is a set of states, bit 1<<state, the same mask inet_diag takes (idiag_states).
type StateSet uint32

// AllStates is every TCP state.
const AllStates StateSet = 0xfff << 1

// Has reports whether s is in the set. The empty set means every state.
func (ss StateSet) Has(s State) bool { return ss == 0 || ss&(1<<s) != 0 }

func setOf(states ...State) StateSet {
	var ss StateSet
	for _, s := range states {
		ss |= 1 << s
	}
	return ss
}

// stateGroups are the names --state accepts besides single states, after ss(8)'s.
var stateGroups = map[string]StateSet{
	"all": AllStates,
	// connected: every state but LISTEN and CLOSE.
	"connected": AllStates &^ setOf(StateListen, StateClose),
	// synchronized: connected but not SYN_SENT.
	"synchronized": AllStates &^ setOf(StateListen, StateClose, StateSynSent),
	// bucket: the minisockets (request and time-wait sockets).
	"bucket": setOf(StateSynRecv, StateTimeWait),
	"big":    AllStates &^ setOf(StateSynRecv, StateTimeWait),
}

// ParseStates reads a comma-separated list of states and groups, in the kernel's spelling
// (CLOSE_WAIT) or ss's (close-wait, estab), case-insensitive.
func ParseStates(list string) (StateSet, error) {
	var ss StateSet
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		key := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if g, ok := stateGroups[strings.ToLower(key)]; ok {
			ss |= g
			continue
		}
		switch key {
		case "ESTAB":
			key = "ESTABLISHED"
		case "FIN_WAIT_1":
			key = "FIN_WAIT1"
		case "FIN_WAIT_2":
			key = "FIN_WAIT2"
		case "LISTENING":
			key = "LISTEN"
		case "CLOSED", "UNCONN":
			key = "CLOSE"
		}
		found := false
		for i, n := range stateNames {
			if n != "" && n == key && State(i) != StateNewSynRecv {
				ss |= 1 << i
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown TCP state %q: expected a state (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, close, close-wait, last-ack, listen, closing) or a group (all, connected, synchronized, bucket, big)", name)
		}
	}
	if ss == 0 {
		return 0, fmt.Errorf("empty state list: expected states such as established,close-wait")
	}
	return ss, nil
}

// TimerKind is the timer inet_diag reports for a socket (idiag_timer), refined where the state
// says more than the number.
type TimerKind uint8

const (
	// TimerNone: no timer pending (idiag_timer 0).
	TimerNone TimerKind = iota
	// TimerRetransmit: retransmission, loss probe or reordering timer (idiag_timer 1, ss "on");
	// idiag_retrans is the retransmission count. It hides a keepalive timer.
	TimerRetransmit
	// TimerKeepalive: the socket timer (idiag_timer 2) on a socket that has a user: keepalive.
	// idiag_retrans is the number of keepalive probes sent without an answer.
	TimerKeepalive
	// TimerTimeWait: a time-wait socket's timer (idiag_timer 3).
	TimerTimeWait
	// TimerZeroWindowProbe: the persist timer (idiag_timer 4); idiag_retrans is probes out.
	TimerZeroWindowProbe
	// TimerDelack: delayed ACK (idiag_timer 5, reported only by new kernels).
	TimerDelack
	// TimerFinWait2: the socket timer (idiag_timer 2) on an orphaned FIN_WAIT2 socket: the kernel
	// reuses the keepalive timer for tcp_fin_timeout (net/ipv4/tcp_timer.c tcp_keepalive_timer),
	// so ss calls it "keepalive", but it says nothing about SO_KEEPALIVE.
	TimerFinWait2
	// TimerUnknown: a number this version does not know.
	TimerUnknown
)

var timerNames = [...]string{
	TimerNone:            "none",
	TimerRetransmit:      "retransmit",
	TimerKeepalive:       "keepalive",
	TimerTimeWait:        "time-wait",
	TimerZeroWindowProbe: "zero-window-probe",
	TimerDelack:          "delack",
	TimerFinWait2:        "fin-wait2",
	TimerUnknown:         "unknown",
}

func (k TimerKind) String() string {
	if int(k) < len(timerNames) {
		return timerNames[k]
	}
	return "unknown"
}

// Timer is the pending timer of a socket.
type Timer struct {
	Kind TimerKind
	// Expires is how long until the timer fires (idiag_expires, milliseconds).
	Expires time.Duration
	// Retrans is retransmissions for TimerRetransmit, unanswered probes for TimerKeepalive and
	// TimerZeroWindowProbe (idiag_retrans).
	Retrans uint8
}

// KeepaliveState is what can be told about SO_KEEPALIVE and the peer's liveness.
type KeepaliveState uint8

const (
	// KeepaliveNA: the state has no keepalive (TIME_WAIT, request sockets, closed sockets).
	KeepaliveNA KeepaliveState = iota
	// KeepaliveUnknown: inet_diag cannot tell, because another timer hides the keepalive timer
	// (a retransmission is pending) or the socket is a listener; --deep reads it.
	KeepaliveUnknown
	// KeepaliveOff: SO_KEEPALIVE is not set. Without --deep this is told from a connected socket
	// with no timer pending: with SO_KEEPALIVE the kernel keeps the keepalive timer armed in
	// every connected state (tcp_keepalive_timer re-arms itself until CLOSE).
	KeepaliveOff
	// KeepaliveOn: SO_KEEPALIVE is set (the keepalive timer is pending, or --deep read it).
	KeepaliveOn
	// KeepaliveProbing: keepalive is on and probes went out without an answer: the peer is silent.
	KeepaliveProbing
)

var keepaliveNames = [...]string{
	KeepaliveNA:      "n/a",
	KeepaliveUnknown: "unknown",
	KeepaliveOff:     "off",
	KeepaliveOn:      "on",
	KeepaliveProbing: "probing",
}

func (k KeepaliveState) String() string {
	if int(k) < len(keepaliveNames) {
		return keepaliveNames[k]
	}
	return "unknown"
}

// Keepalive is a socket's keepalive as far as it can be told.
type Keepalive struct {
	State KeepaliveState
	// Deep is true when the values below were read from the socket itself (--deep); Err says
	// why they could not be, when the read was attempted and failed.
	Deep bool
	Err  string
	// Effective holds SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and
	// TCP_USER_TIMEOUT as getsockopt returns them (the public keepalive library's read-back
	// type: the socket's own value, or the namespace sysctl when the program did not set one;
	// UserTimeout 0 when unset).
	keepalive.Effective
	// SetByProgram has a bit per value (SetIdle, ...) that differs from the namespace's sysctl:
	// the program set it itself. A program that sets a value equal to the sysctl cannot be told
	// apart from one that did not set it.
	SetByProgram SetBits
	// Unread has a bit per value (SetIdle, ..., UnreadEnabled) whose getsockopt failed while
	// the others were read: that value is unknown (Err says why), the others stand.
	Unread SetBits
	// Enforced names the `keeptune enforce` policy the socket carries (Options.Enforcement): its
	// process is covered by one and the values read from the socket satisfy it. "" otherwise (a
	// connection older than the policy keeps what it had).
	Enforced string
}

// SetBits marks which keepalive values a program set itself (or, in Unread, which could not be
// read).
type SetBits uint8

const (
	SetIdle SetBits = 1 << iota
	SetInterval
	SetCount
	SetUserTimeout
	// UnreadEnabled marks SO_KEEPALIVE in Keepalive.Unread.
	UnreadEnabled
)

// Source says where the keepalive values come from, for people and for the JSON "source".
func (k Keepalive) Source() string {
	switch {
	case !k.Deep:
		return "inet_diag (state only: --deep reads the values)"
	case k.SetByProgram != 0:
		return "socket (set by program)"
	default:
		return "socket (same as namespace sysctls)"
	}
}

// Flag is a derived finding about one socket.
type Flag uint8

const (
	// FlagIdleNoKeepalive: established, idle beyond the threshold in both directions, and keepalive
	// off: a peer that vanishes will never be noticed.
	FlagIdleNoKeepalive Flag = 1 << iota
	// FlagCloseWaitLeak: CLOSE_WAIT for longer than the threshold: the peer closed and the program
	// never did. Its age is the time since anything was last received (see the package doc).
	FlagCloseWaitLeak
	// FlagSilentPeer: keepalive probes are unanswered, or retransmissions back off 3 times or more.
	FlagSilentPeer
	// FlagOrphanFinWait2: FIN_WAIT2 with no process: closed by its program, waiting for the peer's
	// FIN until tcp_fin_timeout.
	FlagOrphanFinWait2
)

// Flags is a set of Flag.
type Flags uint8

var flagNames = []struct {
	f    Flag
	name string
}{
	{FlagIdleNoKeepalive, "idle-without-keepalive"},
	{FlagCloseWaitLeak, "close-wait-leak"},
	{FlagSilentPeer, "silent-peer"},
	{FlagOrphanFinWait2, "orphan-fin-wait2"},
}

// Has reports whether f is set.
func (fs Flags) Has(f Flag) bool { return fs&Flags(f) != 0 }

// Names lists the flags' names in a fixed order.
func (fs Flags) Names() []string {
	var out []string
	for _, n := range flagNames {
		if fs.Has(n.f) {
			out = append(out, n.name)
		}
	}
	return out
}

func (f Flag) String() string {
	for _, n := range flagNames {
		if n.f == f {
			return n.name
		}
	}
	return "unknown"
}

// Netns is a network namespace sockets were read from.
type Netns struct {
	Inode uint64
	// Name is "host" for the init namespace, the `ip netns` name, or net:[INODE].
	Name string
	// Current is true for the namespace keeptune runs in.
	Current bool
	// Sysctls are the namespace's keepalive sysctls, the defaults a socket gets when its program
	// sets nothing. Known is false when they could not be read.
	Sysctls NetnsSysctls
}

// NetnsSysctls are net.ipv4.tcp_keepalive_time, _intvl and _probes of one namespace.
type NetnsSysctls struct {
	Known    bool
	Idle     time.Duration
	Interval time.Duration
	Count    int
}

// Socket is one TCP socket from the dump. Walk reuses one Socket for every callback: a callback
// that keeps a socket beyond its return must copy it (the pointers inside are shared and
// read-only).
type Socket struct {
	Family uint8 // unix.AF_INET or unix.AF_INET6
	State  State
	Local  netip.AddrPort
	Peer   netip.AddrPort
	// Interface is the bound interface index (0: none).
	Interface uint32
	// Cookie is the kernel's socket cookie (stable for the socket's life).
	Cookie uint64
	Timer  Timer
	// RecvQ and SendQ are the receive and send queues in bytes; for a listener, the accept
	// backlog and its limit.
	RecvQ, SendQ uint32
	UID          uint32
	// Inode is the socket's inode (0 for time-wait, request and orphaned sockets).
	Inode uint32
	// HasInfo says Info was filled (tcp_info was asked for and the kernel sent it: never for
	// time-wait and request sockets).
	HasInfo bool
	Info    TCPInfo
	// Netns is the namespace the socket was dumped from.
	Netns *Netns
	// Owner is a process holding the socket and OwnerFD its descriptor there; nil when processes
	// were not asked for or none was found (another user's process without root, an orphan).
	// When several processes share the socket (forked workers), Owner is the first one found.
	Owner   *Process
	OwnerFD int32
	// OwnerMissing says why Owner is nil when processes were asked for.
	OwnerMissing string
	// Keepalive and Flags are derived from the above (see Derive).
	Keepalive Keepalive
	Flags     Flags
}

// IdleRecv is the time since data was last received (tcpi_last_data_recv); ok is false without
// tcp_info.
func (s *Socket) IdleRecv() (time.Duration, bool) {
	if !s.HasInfo {
		return 0, false
	}
	return time.Duration(s.Info.LastDataRecv) * time.Millisecond, true
}

// IdleSend is the time since data was last sent (tcpi_last_data_sent).
func (s *Socket) IdleSend() (time.Duration, bool) {
	if !s.HasInfo {
		return 0, false
	}
	return time.Duration(s.Info.LastDataSent) * time.Millisecond, true
}

// Idle is how long the connection has carried no data in either direction: the shorter of
// IdleRecv and IdleSend. It is what --idle and idle-without-keepalive use. Listeners have no
// idle time.
func (s *Socket) Idle() (time.Duration, bool) {
	if !s.HasInfo || s.State == StateListen {
		return 0, false
	}
	return time.Duration(min(s.Info.LastDataRecv, s.Info.LastDataSent)) * time.Millisecond, true
}

// CloseWaitAge is how long a CLOSE_WAIT socket has been in that state, at least: the time since
// anything (data or an ACK) was last received from the peer. The peer's FIN came at or before
// that moment, and the kernel keeps no timestamp of the FIN itself, so the real age is this or
// longer. ok is false for other states or without tcp_info.
func (s *Socket) CloseWaitAge() (time.Duration, bool) {
	if s.State != StateCloseWait {
		return 0, false
	}
	return s.SinceReceived()
}

// SinceReceived is the time since anything (data or an ACK) was last received from the peer
// (the shorter of tcpi_last_data_recv and tcpi_last_ack_recv); ok is false without tcp_info.
func (s *Socket) SinceReceived() (time.Duration, bool) {
	if !s.HasInfo {
		return 0, false
	}
	return time.Duration(min(s.Info.LastDataRecv, s.Info.LastAckRecv)) * time.Millisecond, true
}

// Thresholds tune the derived flags (model.SocketThresholds: the CLI, the exporter and the
// gather stage set them without depending on this package).
type Thresholds = model.SocketThresholds

// DefaultThresholds are the thresholds the CLI starts from.
var DefaultThresholds = model.DefaultSocketThresholds

// connectedWithKeepalive are the states in which an SO_KEEPALIVE socket always has the keepalive
// timer pending (tcp_keepalive_timer stops only in CLOSE and SYN_SENT, and a listener never
// arms it).
const connectedWithKeepalive = StateSet(1<<StateEstablished | 1<<StateFinWait1 | 1<<StateFinWait2 |
	1<<StateCloseWait | 1<<StateLastAck | 1<<StateClosing)

// Derive fills s.Keepalive.State and s.Flags from the header, tcp_info and (if read) the deep
// keepalive values. Walk calls it; it is exported for callers that build sockets themselves.
func Derive(s *Socket, th Thresholds) {
	k := &s.Keepalive
	switch {
	case s.State == StateTimeWait || s.State == StateSynRecv || s.State == StateNewSynRecv ||
		s.State == StateClose || s.Timer.Kind == TimerTimeWait:
		k.State = KeepaliveNA
	case s.Timer.Kind == TimerKeepalive:
		k.State = KeepaliveOn
		if s.Timer.Retrans > 0 {
			k.State = KeepaliveProbing
		}
	case k.Deep && k.Enabled:
		// The keepalive timer is hidden by another one; probes cannot be told.
		k.State = KeepaliveOn
	case k.Deep:
		k.State = KeepaliveOff
	case s.Timer.Kind == TimerNone && connectedWithKeepalive.Has(s.State) && s.Inode != 0:
		k.State = KeepaliveOff
	default:
		k.State = KeepaliveUnknown
	}

	s.Flags = 0
	if s.State == StateEstablished && k.State == KeepaliveOff {
		if idle, ok := s.Idle(); ok && idle > th.Idle {
			s.Flags |= Flags(FlagIdleNoKeepalive)
		}
	}
	if age, ok := s.CloseWaitAge(); ok && age > th.CloseWait {
		s.Flags |= Flags(FlagCloseWaitLeak)
	}
	backoff := th.SilentBackoff
	if backoff == 0 {
		backoff = DefaultThresholds.SilentBackoff
	}
	if k.State == KeepaliveProbing ||
		(s.Timer.Kind == TimerRetransmit && s.HasInfo && s.Info.Backoff >= backoff) {
		s.Flags |= Flags(FlagSilentPeer)
	}
	// An orphan has no struct socket left, so no inode: no process can hold it. (A socket with an
	// inode but no owner found is held by a process keeptune could not see.)
	if s.State == StateFinWait2 && s.Inode == 0 {
		s.Flags |= Flags(FlagOrphanFinWait2)
	}
}
