package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// The wire protocol (docs/probe.md), version 2. Every message is a frame:
//
//	type:u8  reserved:u8 (0)  length:u16 (big endian)  payload[length]
//
// The client speaks first with a hello padded to HelloSize bytes. The responder answers each
// message with at most as many bytes as it has received on that connection (no
// amplification): the hello pays for the hello-ack and leaves room for one error frame, a
// probe and its answer have the same size, and pushed ticks are paid for in advance by the
// padding of the push request.

// Version is the newest protocol version this build speaks; MinVersion the oldest.
//
// Version 2 adds what keeps a probe from storming a path: the hello carries a run token, a
// control flag and the longest idle the run will leave a connection (the responder caps the
// connection's idle at that plus a margin), and the client says when it is done with
// connections (typeDone), also for connections a silent NAT cut off (listed on the control
// connection), and when the run is over (typeFinished). A version 1 responder ignores all of it.
const (
	Version    = 2
	MinVersion = 1
)

// Frame types.
const (
	typeHello    = 'H' // client: hello (magic, versions), padded to HelloSize
	typeHelloAck = 'h' // responder: version, limits, the client's address as seen
	typeProbe    = 'P' // client: probe (sequence number)
	typeAnswer   = 'a' // responder: answer (sequence number, how long it had heard nothing)
	typePush     = 'S' // client: push request (tick schedule) followed by padding that pays for it
	typeTick     = 't' // responder: one pushed tick
	typeError    = 'e' // responder: refusal or reason for closing
	// Version 2.
	typeDone     = 'D' // client: done with this connection (empty), or with the listed ones (on the control connection)
	typeFinished = 'F' // client, on the control connection: the run is over; drop every connection of its token
)

const (
	headerSize = 4
	// HelloSize is the size of the client's hello, header included. It is larger than the
	// hello-ack plus an error frame, so the responder can answer without sending more than
	// it has received.
	HelloSize     = 64
	helloPayload  = HelloSize - headerSize
	ackPayload    = 42
	ackPayloadV2  = 46 // version 2 adds the connection's id
	probePayload  = 8
	answerPayload = 8
	tickPayload   = 8
	pushPayload   = 8 // before the padding
	errorPayload  = 4
	// FrameCost is the size of a probe, an answer and a tick frame.
	FrameCost = headerSize + probePayload
	// maxKeep is the most payload a reader keeps of one frame; the rest is read and
	// discarded (push padding).
	maxKeep = 64
)

// magic opens the hello and the hello-ack payloads. It is readable, so a plain server's log
// shows what connected to it.
var magic = [16]byte{'k', 'e', 'e', 'p', 't', 'u', 'n', 'e', '-', 'p', 'r', 'o', 'b', 'e', '\r', '\n'}

// ErrorCode is why a responder refused or closed a connection.
type ErrorCode uint8

// The error codes of an error frame.
const (
	CodeBusy     ErrorCode = 1 // too many connections from this source (value: the limit)
	CodeFull     ErrorCode = 2 // too many connections in total (value: the limit)
	CodeRate     ErrorCode = 3 // too many new connections or frames per second from this source
	CodeVersion  ErrorCode = 4 // no common protocol version (value: the highest it speaks)
	CodeIdleCap  ErrorCode = 5 // idle longer than the responder allows (value: the cap in minutes)
	CodeProtocol ErrorCode = 6 // a malformed message
)

func (c ErrorCode) String() string {
	switch c {
	case CodeBusy:
		return "too many connections from this source"
	case CodeFull:
		return "too many connections in total"
	case CodeRate:
		return "rate limited"
	case CodeVersion:
		return "no common protocol version"
	case CodeIdleCap:
		return "idle longer than the responder's cap"
	case CodeProtocol:
		return "protocol error"
	}
	return fmt.Sprintf("error code %d", uint8(c))
}

// frame is one decoded message. Payload holds at most maxKeep bytes; Size is the frame's
// full size on the wire (what it pays in credit).
type frame struct {
	Type    byte
	Payload []byte
	Size    int
}

func appendFrame(dst []byte, typ byte, payload []byte) []byte {
	dst = append(dst, typ, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...)
}

// errMalformed marks bytes that are not a frame of this protocol.
var errMalformed = errors.New("malformed frame")

// readFrame reads one frame from r, keeping at most maxKeep bytes of its payload.
func readFrame(r io.Reader) (frame, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	if h[1] != 0 {
		return frame{Type: h[0], Size: headerSize}, fmt.Errorf("%w: reserved byte %#x", errMalformed, h[1])
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	f := frame{Type: h[0], Size: headerSize + n}
	keep := min(n, maxKeep)
	f.Payload = make([]byte, keep)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, unexpected(err)
	}
	if rest := int64(n - keep); rest > 0 {
		if _, err := io.CopyN(io.Discard, r, rest); err != nil {
			return f, unexpected(err)
		}
	}
	return f, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// hello is the client's first message. Version 2 fills what version 1 left as padding.
type hello struct {
	MinVersion, MaxVersion uint8
	// Control marks the run's control connection: when it ends, the run is over.
	Control bool
	// Token identifies the run: the responder drops every connection of a run that is over.
	Token [8]byte
	// MaxIdle is the longest the client will leave this connection idle (whole seconds on
	// the wire; 0: not announced). The responder closes it after that plus a margin.
	MaxIdle time.Duration
}

func (h hello) marshal() []byte {
	p := make([]byte, helloPayload)
	copy(p, magic[:])
	p[16], p[17] = h.MinVersion, h.MaxVersion
	if h.Control {
		p[18] = 1
	}
	copy(p[20:28], h.Token[:])
	binary.BigEndian.PutUint32(p[28:], uint32(min((h.MaxIdle+time.Second-1)/time.Second, 1<<32-1)))
	return appendFrame(nil, typeHello, p)
}

// announcedCap is the idle cap a responder applies to a connection whose client announced
// it idles at most d: d plus max(10 s, 10 %), for the client's timers and a slow path.
func announcedCap(d time.Duration) time.Duration {
	return d + max(10*time.Second, d/10)
}

// marshalDone lists connections of the run the client is done with, by the ids their
// hello-acks gave them (u32 each); empty: this connection.
func marshalDone(ids []uint32) []byte {
	p := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		p = binary.BigEndian.AppendUint32(p, id)
	}
	return appendFrame(nil, typeDone, p)
}

// maxDonePerFrame keeps a done frame's list within what a reader keeps of a payload.
const maxDonePerFrame = maxKeep / 4

func parseDone(f frame) []uint32 {
	var out []uint32
	for p := f.Payload; len(p) >= 4; p = p[4:] {
		out = append(out, binary.BigEndian.Uint32(p))
	}
	return out
}

func parseHello(f frame) (hello, error) {
	if f.Type != typeHello || f.Size < HelloSize || len(f.Payload) < 18 || !bytes.Equal(f.Payload[:16], magic[:]) {
		return hello{}, fmt.Errorf("%w: not a keeptune hello", errMalformed)
	}
	h := hello{MinVersion: f.Payload[16], MaxVersion: f.Payload[17]}
	if h.MinVersion > h.MaxVersion {
		return h, fmt.Errorf("%w: versions %d-%d", errMalformed, h.MinVersion, h.MaxVersion)
	}
	if h.MaxVersion >= 2 && len(f.Payload) >= 32 {
		h.Control = f.Payload[18]&1 != 0
		copy(h.Token[:], f.Payload[20:28])
		h.MaxIdle = time.Duration(binary.BigEndian.Uint32(f.Payload[28:])) * time.Second
	}
	return h, nil
}

// helloAck is the responder's answer to a hello: the version it chose, its limits, and the
// client's address as it sees it (after any NAT on the path).
type helloAck struct {
	Version      uint8
	MaxPerSource uint16
	IdleCap      time.Duration // whole seconds on the wire
	Client       netip.AddrPort
	// ConnID (version 2) names the connection within its run: done frames list these ids. An
	// address would not do: a NAT may give a new connection the port of one it forgot.
	ConnID uint32
}

func (a helloAck) marshal() []byte {
	size := ackPayload
	if a.Version >= 2 {
		size = ackPayloadV2
	}
	p := make([]byte, size)
	copy(p, magic[:])
	p[16] = a.Version
	binary.BigEndian.PutUint16(p[18:], a.MaxPerSource)
	binary.BigEndian.PutUint32(p[20:], uint32(min(a.IdleCap/time.Second, 1<<32-1)))
	binary.BigEndian.PutUint16(p[24:], a.Client.Port())
	ip := a.Client.Addr().As16()
	copy(p[26:], ip[:])
	if a.Version >= 2 {
		binary.BigEndian.PutUint32(p[42:], a.ConnID)
	}
	return appendFrame(nil, typeHelloAck, p)
}

func parseHelloAck(f frame) (helloAck, error) {
	if f.Type != typeHelloAck || len(f.Payload) < ackPayload || !bytes.Equal(f.Payload[:16], magic[:]) {
		return helloAck{}, fmt.Errorf("%w: not a keeptune hello-ack", errMalformed)
	}
	p := f.Payload
	var ip [16]byte
	copy(ip[:], p[26:42])
	a := helloAck{
		Version:      p[16],
		MaxPerSource: binary.BigEndian.Uint16(p[18:]),
		IdleCap:      time.Duration(binary.BigEndian.Uint32(p[20:])) * time.Second,
		Client:       netip.AddrPortFrom(netip.AddrFrom16(ip).Unmap(), binary.BigEndian.Uint16(p[24:])),
	}
	if a.Version >= 2 && len(p) >= ackPayloadV2 {
		a.ConnID = binary.BigEndian.Uint32(p[42:])
	}
	return a, nil
}

// probeMsg is a probe (client) or its answer (responder). Heard is, in an answer, how long the
// responder had received nothing on the connection before the probe.
type probeMsg struct {
	Seq   uint32
	Heard time.Duration // milliseconds on the wire
}

func marshalProbe(seq uint32) []byte {
	p := make([]byte, probePayload)
	binary.BigEndian.PutUint32(p, seq)
	return appendFrame(nil, typeProbe, p)
}

func marshalAnswer(m probeMsg) []byte {
	p := make([]byte, answerPayload)
	binary.BigEndian.PutUint32(p, m.Seq)
	binary.BigEndian.PutUint32(p[4:], uint32(min(m.Heard/time.Millisecond, 1<<32-1)))
	return appendFrame(nil, typeAnswer, p)
}

func parseProbeMsg(f frame, typ byte) (probeMsg, error) {
	if f.Type != typ || len(f.Payload) < probePayload {
		return probeMsg{}, fmt.Errorf("%w: short %q frame", errMalformed, typ)
	}
	return probeMsg{Seq: binary.BigEndian.Uint32(f.Payload), Heard: time.Duration(binary.BigEndian.Uint32(f.Payload[4:])) * time.Millisecond}, nil
}

// pushReq asks the responder to send ticks with no further traffic from the client: the
// first after First, then each after max(First, Growth × the time since the request), at
// most Ticks of them, as long as the padding of the request (and earlier credit) pays for
// them. Gaps that grow with the elapsed time stay a small fraction of any idle timeout the
// connection reaches, so the ticks refresh the flow whatever its timeout, at a cost that
// grows only with the logarithm of the time.
type pushReq struct {
	First  time.Duration // milliseconds on the wire
	Growth float64       // per mille on the wire
	Ticks  int
}

func (r pushReq) marshal(pad int) []byte {
	p := make([]byte, pushPayload+pad)
	binary.BigEndian.PutUint32(p, uint32(r.First/time.Millisecond))
	binary.BigEndian.PutUint16(p[4:], uint16(r.Growth*1000))
	binary.BigEndian.PutUint16(p[6:], uint16(r.Ticks))
	return appendFrame(nil, typePush, p)
}

func parsePushReq(f frame) (pushReq, error) {
	if f.Type != typePush || len(f.Payload) < pushPayload {
		return pushReq{}, fmt.Errorf("%w: short push request", errMalformed)
	}
	p := f.Payload
	return pushReq{
		First:  time.Duration(binary.BigEndian.Uint32(p)) * time.Millisecond,
		Growth: float64(binary.BigEndian.Uint16(p[4:])) / 1000,
		Ticks:  int(binary.BigEndian.Uint16(p[6:])),
	}, nil
}

// gap is the wait before tick k+1 when elapsed has passed since the request.
func (r pushReq) gap(elapsed time.Duration) time.Duration {
	return max(r.First, time.Duration(float64(elapsed)*r.Growth))
}

// ticksFor counts the ticks r sends within d.
func (r pushReq) ticksFor(d time.Duration) int {
	n := 0
	for at := r.First; at <= d && n < 1<<16; at += r.gap(at) {
		n++
	}
	return n
}

func marshalTick(seq uint32, since time.Duration) []byte {
	p := make([]byte, tickPayload)
	binary.BigEndian.PutUint32(p, seq)
	binary.BigEndian.PutUint32(p[4:], uint32(min(since/time.Millisecond, 1<<32-1)))
	return appendFrame(nil, typeTick, p)
}

// errorMsg is a responder's refusal.
type errorMsg struct {
	Code  ErrorCode
	Value uint16
}

func (e errorMsg) marshal() []byte {
	p := make([]byte, errorPayload)
	p[0] = byte(e.Code)
	binary.BigEndian.PutUint16(p[2:], e.Value)
	return appendFrame(nil, typeError, p)
}

func parseError(f frame) (errorMsg, error) {
	if f.Type != typeError || len(f.Payload) < errorPayload {
		return errorMsg{}, fmt.Errorf("%w: short error frame", errMalformed)
	}
	return errorMsg{Code: ErrorCode(f.Payload[0]), Value: binary.BigEndian.Uint16(f.Payload[2:])}, nil
}

// Sizes checked at compile time: the hello pays for the hello-ack and an error frame.
var _ = [1]struct{}{}[(headerSize+ackPayloadV2+headerSize+errorPayload)/(HelloSize+1)]
