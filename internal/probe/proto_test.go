package probe

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"
)

func TestFrameRoundTrips(t *testing.T) {
	read := func(b []byte) frame {
		t.Helper()
		f, err := readFrame(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("readFrame(%q): %v", b, err)
		}
		if f.Size != len(b) {
			t.Errorf("size %d, want %d", f.Size, len(b))
		}
		return f
	}
	h := hello{MinVersion: 1, MaxVersion: 3}.marshal()
	if len(h) != HelloSize {
		t.Fatalf("hello is %d bytes, want %d", len(h), HelloSize)
	}
	if got, err := parseHello(read(h)); err != nil || got != (hello{MinVersion: 1, MaxVersion: 3}) {
		t.Errorf("hello = %+v, %v", got, err)
	}
	// Version 2: the run's token, the control flag and the announced idle survive the wire;
	// a version 1 hello (padding of zeros) announces nothing.
	h2 := hello{MinVersion: 1, MaxVersion: 2, Control: true, Token: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, MaxIdle: 7201 * time.Second}
	if got, err := parseHello(read(h2.marshal())); err != nil || got != h2 {
		t.Errorf("v2 hello = %+v, %v; want %+v", got, err, h2)
	}
	if got, _ := parseHello(read(hello{MinVersion: 1, MaxVersion: 1, Token: [8]byte{9}}.marshal())); got.Token != ([8]byte{}) {
		t.Errorf("a version 1 hello carries a token: %+v", got)
	}
	list := []uint32{1, 70000, 1 << 31, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if got := parseDone(read(marshalDone(list))); len(got) != len(list) || got[0] != 1 || got[1] != 70000 || got[2] != 1<<31 || got[15] != 16 {
		t.Errorf("done list = %v, want %v", got, list)
	}
	if len(list) != maxDonePerFrame {
		t.Errorf("a done frame holds %d connections, the test lists %d", maxDonePerFrame, len(list))
	}
	// Version 2 hello-acks carry the connection's id; version 1 ones do not.
	a2 := helloAck{Version: 2, MaxPerSource: 128, IdleCap: time.Hour, Client: netip.MustParseAddrPort("203.0.113.7:40000"), ConnID: 77}
	if got, err := parseHelloAck(read(a2.marshal())); err != nil || got != a2 {
		t.Errorf("v2 hello-ack = %+v, %v; want %+v", got, err, a2)
	}
	for _, client := range []netip.AddrPort{netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddrPort("[2001:db8::7]:1")} {
		a := helloAck{Version: 1, MaxPerSource: 128, IdleCap: 2 * time.Hour, Client: client}
		b := a.marshal()
		if len(b)+headerSize+errorPayload > HelloSize {
			t.Errorf("hello-ack (%d bytes) and an error frame do not fit in the hello's %d", len(b), HelloSize)
		}
		if got, err := parseHelloAck(read(b)); err != nil || got != a {
			t.Errorf("hello-ack = %+v, %v; want %+v", got, err, a)
		}
	}
	if p, a := marshalProbe(7), marshalAnswer(probeMsg{Seq: 7, Heard: 1500 * time.Millisecond}); len(p) != FrameCost || len(a) != FrameCost {
		t.Errorf("probe %d and answer %d bytes: both must be FrameCost (%d), so answers cost no credit", len(p), len(a), FrameCost)
	} else if m, err := parseProbeMsg(read(a), typeAnswer); err != nil || m.Seq != 7 || m.Heard != 1500*time.Millisecond {
		t.Errorf("answer = %+v, %v", m, err)
	}
	if b := marshalTick(1, time.Second); len(b) != FrameCost {
		t.Errorf("tick is %d bytes, want %d", len(b), FrameCost)
	}
	req := pushReq{First: 250 * time.Millisecond, Growth: 0.05, Ticks: 170}
	pb := req.marshal(100)
	f := read(pb)
	if len(f.Payload) != maxKeep {
		t.Errorf("kept %d bytes of the padded push request, want %d", len(f.Payload), maxKeep)
	}
	if got, err := parsePushReq(f); err != nil || got != req {
		t.Errorf("push = %+v, %v", got, err)
	}
	e := errorMsg{Code: CodeBusy, Value: 128}
	if got, err := parseError(read(e.marshal())); err != nil || got != e {
		t.Errorf("error = %+v, %v", got, err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", io.EOF},
		{"P\x00", io.ErrUnexpectedEOF},
		{"P\x00\x00\x08abc", io.ErrUnexpectedEOF},
		{"P\x01\x00\x00", errMalformed},
	} {
		_, err := readFrame(bytes.NewReader([]byte(tc.in)))
		if !errors.Is(err, tc.want) {
			t.Errorf("readFrame(%q) = %v, want %v", tc.in, err, tc.want)
		}
	}
	// Not hellos: an HTTP request, a short hello, a wrong magic.
	for _, in := range [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n"), appendFrame(nil, typeHello, magic[:]), hello{MinVersion: 1, MaxVersion: 1}.marshal()[:HelloSize-1]} {
		f, err := readFrame(bytes.NewReader(in))
		if err == nil {
			_, err = parseHello(f)
		}
		if err == nil {
			t.Errorf("%q parsed as a hello", in)
		}
	}
}

func TestPushSchedule(t *testing.T) {
	r := pushReq{First: 250 * time.Millisecond, Growth: 0.05}
	// Gaps stay below 1/19 of the time elapsed once past 5 s: far below any idle
	// timeout the connection reaches.
	for _, el := range []time.Duration{time.Second, 10 * time.Second, time.Hour} {
		if g := r.gap(el); g > max(r.First, el/19) {
			t.Errorf("gap after %v = %v", el, g)
		}
	}
	// Two hours of ticks cost a few kilobytes of padding.
	if n := r.ticksFor(2 * time.Hour); n > 250 || n*FrameCost > 4096 {
		t.Errorf("%d ticks for 2h", n)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(hello{MinVersion: 1, MaxVersion: 1}.marshal())
	f.Add(marshalProbe(1))
	f.Add(pushReq{First: time.Second, Growth: 0.1, Ticks: 3}.marshal(40))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if len(fr.Payload) > maxKeep || fr.Size < headerSize {
				t.Fatalf("frame %+v", fr)
			}
			parseHello(fr)
			parseHelloAck(fr)
			parseProbeMsg(fr, typeProbe)
			parsePushReq(fr)
			parseError(fr)
		}
	})
}
