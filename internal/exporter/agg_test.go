package exporter

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keeptune/keeptune/internal/sockets"
)

// sock builds a socket as Walk hands it out, and the name of its process.
func sock(ns *sockets.Netns, state sockets.State, ka sockets.KeepaliveState, local uint16, comm string, idleMs uint32) (sockRec, string) {
	s := &sockets.Socket{State: state, Netns: ns, Local: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), local),
		Keepalive: sockets.Keepalive{State: ka}, HasInfo: true}
	s.Info.LastDataRecv, s.Info.LastDataSent, s.Info.LastAckRecv = idleMs, idleMs, idleMs
	return record(s), comm
}

func TestAggregateLabels(t *testing.T) {
	ns := &sockets.Netns{Inode: 7}
	a := newAggregate(Options{TopPorts: 1, TopProcesses: 1, Ports: []uint16{22}, Processes: []string{"sshd"}})
	for _, p := range []uint16{443, 8080, 22} {
		a.AddListener(7, p)
	}
	add := func(n int) func(sockRec, string) {
		return func(r sockRec, comm string) {
			for range n {
				a.Add(r, comm)
			}
		}
	}
	add(5)(sock(ns, sockets.StateEstablished, sockets.KeepaliveOff, 443, "nginx", 400_000))
	add(2)(sock(ns, sockets.StateEstablished, sockets.KeepaliveOn, 8080, "java", 1_000))
	add(1)(sock(ns, sockets.StateEstablished, sockets.KeepaliveOn, 22, "sshd", 5_000))
	add(3)(sock(ns, sockets.StateCloseWait, sockets.KeepaliveOff, 8080, "java", 90_000))
	add(1)(sock(ns, sockets.StateCloseWait, sockets.KeepaliveOff, 8080, "java", 300_000))
	add(4)(sock(ns, sockets.StateEstablished, sockets.KeepaliveOff, 40000, "curl", 20))
	add(6)(sock(ns, sockets.StateTimeWait, sockets.KeepaliveNA, 41000, "", 0))

	got := map[string]int{}
	for _, c := range a.Ports() {
		got[fmt.Sprintf("%s/%s/%s", c.group, stateLabel(c.state), c.keepalive)] = c.count
	}
	want := map[string]int{
		// 8080 has the most sockets (6) and is the one top port; 22 is allow-listed; 443 is other.
		"8080/established/on": 2, "8080/close_wait/off": 4, "22/established/on": 1,
		"other/established/off": 5, "ephemeral/established/off": 4, "ephemeral/time_wait/n/a": 6,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by port:\n got %v\nwant %v", got, want)
	}

	got = map[string]int{}
	for _, c := range a.Processes() {
		got[fmt.Sprintf("%s/%s/%s", c.group, stateLabel(c.state), c.keepalive)] = c.count
	}
	want = map[string]int{
		"java/established/on": 2, "java/close_wait/off": 4, "sshd/established/on": 1,
		"other/established/off": 9, "unknown/time_wait/n/a": 6,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by process:\n got %v\nwant %v", got, want)
	}

	cw := a.CloseWait()
	if len(cw) != 1 || cw[0].process != "java" || cw[0].count != 4 || cw[0].oldest.Seconds() != 300 {
		t.Errorf("close wait = %+v, want java 4 sockets, oldest 300 s", cw)
	}
	off := a.idle[histKey{7, sockets.KeepaliveOff}]
	if off == nil || off.count != 9 {
		t.Fatalf("idle histogram of keepalive off: %+v, want 9 observations", off)
	}
	if c := off.cumulative(); c[1] != 4 || c[350] != 4 || c[900] != 9 {
		t.Errorf("cumulative buckets %v: want 4 at 1 s and 350 s (the curl ones), 9 at 900 s", c)
	}
}

// The cardinality contract: with the defaults, a host with 40,000 sockets on 300 listening
// ports (and every state and keepalive state, 200 process names) yields at most 2,000
// keeptune_ series, and so does one with 1,000 ports; the count does not depend on sockets.
func TestSeriesBoundedBySocketsAndPorts(t *testing.T) {
	count := func(ports, socks int) int {
		e, err := New(Options{AuditInterval: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		states := []sockets.State{sockets.StateEstablished, sockets.StateCloseWait, sockets.StateFinWait1, sockets.StateFinWait2,
			sockets.StateLastAck, sockets.StateSynRecv, sockets.StateSynSent, sockets.StateClosing, sockets.StateTimeWait}
		kas := []sockets.KeepaliveState{sockets.KeepaliveOn, sockets.KeepaliveOff, sockets.KeepaliveProbing, sockets.KeepaliveUnknown}
		w := world{agg: newAggregate(e.opts)}
		for _, inode := range []uint64{1, 2} { // the host and one container
			ns := &sockets.Netns{Inode: inode}
			w.facts = append(w.facts, nsFacts{namespace: namespace{Inode: inode, Name: "ns"}, Sysctls: map[string]float64{"net.ipv4.tcp_keepalive_time": 7200}})
			for p := range ports {
				w.agg.AddListener(inode, uint16(1000+p))
				w.agg.Add(sock(ns, sockets.StateListen, sockets.KeepaliveUnknown, uint16(1000+p), fmt.Sprintf("proc%d", p%200), 0))
			}
			for i := range socks / 2 {
				port := uint16(1000 + i%ports)
				if i%3 == 0 {
					port = uint16(40000 + i%20000) // outbound
				}
				w.agg.Add(sock(ns, states[i%len(states)], kas[i%len(kas)], port, fmt.Sprintf("proc%d", i%200), uint32(i*37)))
			}
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
			e.emit(w, newBudget(ch, e.opts.MaxSeries-selfSeries))
		}))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "keeptune_") {
				continue
			}
			for _, m := range mf.Metric {
				if h := m.GetHistogram(); h != nil {
					n += histogramSeries(len(h.Bucket))
					continue
				}
				n++
			}
		}
		return n + selfSeries
	}
	a := count(300, 40_000)
	b := count(300, 80_000)
	c := count(1_000, 40_000)
	t.Logf("series: 300 ports/40k sockets %d, 300 ports/80k sockets %d, 1000 ports/40k sockets %d", a, b, c)
	if a > 2000 || c > 2000 {
		t.Errorf("series %d (300 ports) and %d (1,000 ports): want at most 2,000", a, c)
	}
	if a != b {
		t.Errorf("series grew with sockets: %d with 40k, %d with 80k", a, b)
	}
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestBudgetDropsPastTheCap(t *testing.T) {
	ch := make(chan prometheus.Metric, 100)
	b := newBudget(ch, 5)
	for i := range 4 {
		b.gauge(descCloseWait, 1, "1", fmt.Sprint(i))
	}
	h := prometheus.MustNewConstHistogram(descIdle, 1, 1, map[float64]uint64{1: 1}, "1", "on")
	if b.send(h, histogramSeries(1)) {
		t.Fatal("a 4-series histogram fit in 1 series left")
	}
	b.gauge(descCloseWait, 1, "1", "x")
	b.gauge(descCloseWait, 1, "1", "y")
	if b.sent != 5 || b.dropped != 5 || len(ch) != 5 {
		t.Fatalf("sent %d dropped %d in channel %d; want 5, 5, 5", b.sent, b.dropped, len(ch))
	}
}
