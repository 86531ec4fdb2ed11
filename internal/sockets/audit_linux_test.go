package sockets

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/keepalive"
)

// TestSilentPeerShowsAsProbing blackholes the path of a connection with keepalive in a lab of
// network namespaces: once probes go unanswered the socket must show as probing, with the
// silent-peer flag and the probes counted in its timer.
func TestSilentPeerShowsAsProbing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds a lab of network namespaces and walks sockets in them")
	}
	ctx := context.Background()
	l, err := lab.New(ctx, lab.Spec{Topology: lab.Routed})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ln, err := l.Listen(ctx, l.Server, &net.ListenConfig{KeepAlive: -1}, netip.AddrPortFrom(l.ServerAddr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	cfg := keepalive.Config{Idle: time.Second, Interval: time.Second, Count: 20}
	conn, err := l.Dial(ctx, l.Client, cfg.Dialer(&net.Dialer{}), netip.AddrPortFrom(l.ServerAddr(), port))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l.Track(srv)
	conn.Write([]byte("x"))
	buf := make([]byte, 1)
	srv.Read(buf)

	find := func() (Socket, bool) {
		var got Socket
		var found bool
		err := Walk(ctx, Options{Info: true, Processes: true, Netns: l.Client.Name, Filter: Filter{PeerPorts: []uint16{port}}}, func(s *Socket) error {
			got, found = *s, true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, found
	}
	// Healthy: keepalive on, answered.
	time.Sleep(1500 * time.Millisecond)
	s, ok := find()
	if !ok || s.Keepalive.State != KeepaliveOn || s.Flags.Has(FlagSilentPeer) || s.Owner == nil || s.Owner.PID != os.Getpid() {
		t.Fatalf("healthy socket: found %v, keepalive %v, flags %v, owner %+v", ok, s.Keepalive.State, s.Flags.Names(), s.Owner)
	}
	// The peer vanishes: after idle 1 s and a few 1 s intervals, probes are out unanswered.
	if err := l.Blackhole(lab.Both, lab.AtMiddlebox); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(6 * time.Second)
	for {
		s, ok = find()
		if ok && s.Keepalive.State == KeepaliveProbing && s.Timer.Retrans >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the blackhole: found %v, keepalive %v, timer %+v, flags %v", ok, s.Keepalive.State, s.Timer, s.Flags.Names())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !s.Flags.Has(FlagSilentPeer) {
		t.Errorf("probing socket lacks silent-peer: %v", s.Flags.Names())
	}
}

// TestSummarizeCountsLeaksAndIdleSockets builds a CLOSE_WAIT leak and an idle connection
// without keepalive in this process and checks the audit summary counts them for this pid.
func TestSummarizeCountsLeaksAndIdleSockets(t *testing.T) {
	ctx := context.Background()
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &net.Dialer{KeepAlive: -1}
	// A leak: the server side closes, this client never does: CLOSE_WAIT.
	leak, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	s1, _ := ln.Accept()
	s1.Close()
	// An idle connection without keepalive, both ends in this process.
	idle, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	s2, _ := ln.Accept()
	defer s2.Close()
	time.Sleep(300 * time.Millisecond)

	stats, err := Summarize(ctx, false, Thresholds{Idle: 200 * time.Millisecond, CloseWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stats {
		if st.PID != os.Getpid() {
			continue
		}
		if st.CloseWaitLeaks < 1 || st.OldestCloseWait < 200*time.Millisecond {
			t.Errorf("close-wait: %+v", st)
		}
		// idle (client) and s2 (server) are both idle without keepalive.
		if st.IdleNoKeepalive < 2 || st.KeepaliveOff < 2 {
			t.Errorf("idle without keepalive: %+v", st)
		}
		return
	}
	t.Fatalf("no stats for this process (pid %d) among %d processes", os.Getpid(), len(stats))
}

// TestOwnerMissingSaysWhy: a socket whose owner cannot be named says why in its JSON line.
func TestOwnerMissingSaysWhy(t *testing.T) {
	s := Socket{Inode: 0}
	if got := ownerMissing(&s, &Owners{}); got != missingNoDescriptor {
		t.Errorf("orphan: %q", got)
	}
	s.Inode = 42
	if got := ownerMissing(&s, &Owners{Stats: OwnerStats{Denied: 3}}); got != missingDenied {
		t.Errorf("denied: %q", got)
	}
	if got := ownerMissing(&s, &Owners{}); got != missingGone {
		t.Errorf("gone: %q", got)
	}
	s.OwnerMissing = missingDenied
	line := string(AppendJSON(nil, &s))
	if !strings.Contains(line, `"pid":null`) || !strings.Contains(line, `"process_missing":"not among the processes keeptune could read`) {
		t.Errorf("JSON line: %s", line)
	}
}
