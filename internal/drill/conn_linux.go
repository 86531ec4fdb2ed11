package drill

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/keepalive"
)

// labPort is the server's port in every lab.
const labPort = 4242

// timeline collects a run's events relative to its start.
type timeline struct {
	mu     sync.Mutex
	start  time.Time
	events []Event
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

func (t *timeline) at(when time.Time, side, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, Event{At: when.Sub(t.start), Side: side, What: what})
}

func (t *timeline) add(side, what string) { t.at(time.Now(), side, what) }

func (t *timeline) sorted() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]Event(nil), t.events...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].At < out[j-1].At; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// keepaliveConfig is what the sockets get for s. nil means keepalive off. With ViaSysctl the
// values come from the namespace's sysctls and the socket only turns keepalive on.
func keepaliveConfig(s *Settings) *keepalive.Config {
	if s == nil {
		return nil
	}
	if s.ViaSysctl {
		return &keepalive.Config{UserTimeout: s.UserTimeout}
	}
	c := s.Config
	return &c
}

// applySysctls writes s as the keepalive sysctls of the nodes when s says so.
func applySysctls(s *Settings, nodes ...*lab.Node) error {
	if s == nil || !s.ViaSysctl {
		return nil
	}
	for _, n := range nodes {
		for k, v := range map[string]int{
			"net.ipv4.tcp_keepalive_time":   int(s.Idle.Seconds()),
			"net.ipv4.tcp_keepalive_intvl":  int(s.Interval.Seconds()),
			"net.ipv4.tcp_keepalive_probes": s.Count,
		} {
			if err := n.SetSysctl(k, fmt.Sprint(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// listenConfig and dialer build the net package's configs for the keepalive settings.
// Multipath TCP is off: keeptune drills plain TCP, and MPTCP sockets refuse TCP_USER_TIMEOUT.
func listenConfig(s *Settings) *net.ListenConfig {
	base := &net.ListenConfig{}
	base.SetMultipathTCP(false)
	if c := keepaliveConfig(s); c != nil {
		return c.ListenConfig(base)
	}
	base.KeepAlive = -1
	return base
}

func dialer(s *Settings) *net.Dialer {
	base := &net.Dialer{Timeout: 5 * time.Second}
	base.SetMultipathTCP(false)
	if c := keepaliveConfig(s); c != nil {
		return c.Dialer(base)
	}
	base.KeepAlive = -1
	return base
}

// pair is one client connection and the server's end of it, after a first exchange.
type pair struct {
	client, server *net.TCPConn
	tl             *timeline
	// exchanged is when the last exchange began (before the client's "ping"): every segment
	// either end has received since is later.
	exchanged time.Time
	// serverRaw replaces server with --enforce: the plain server's socket, duplicated and read
	// as a file (net.FileConn would turn Go's own keepalive on for it).
	serverRaw *os.File
}

// ends are the client's and the server's sockets as the drill reads them.
func (p *pair) ends() [2]readConn {
	if p.serverRaw != nil {
		return [2]readConn{p.client, p.serverRaw}
	}
	return [2]readConn{p.client, p.server}
}

// readConn is a connection the drill reads and inspects (tcp_info): a *net.TCPConn, or the
// *os.File of a duplicated socket.
type readConn interface {
	Read([]byte) (int, error)
	SyscallConn() (syscall.RawConn, error)
}

// connectPair listens in the server with serverS, dials from the client with clientS (nil:
// keepalive off), exchanges "ping"/"pong" and records it on a new timeline.
func connectPair(ctx context.Context, l *lab.Lab, clientS, serverS *Settings) (*pair, error) {
	addr := netip.AddrPortFrom(l.ServerAddr(), labPort)
	ln, err := l.Listen(ctx, l.Server, listenConfig(serverS), addr)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	tl := newTimeline()
	type accepted struct {
		c   *net.TCPConn
		err error
	}
	acc := make(chan accepted, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err == nil {
			l.Track(c)
		}
		acc <- accepted{c, err}
	}()
	c, err := l.Dial(ctx, l.Client, dialer(clientS), addr)
	if err != nil {
		return nil, err
	}
	tl.add("client", "connected")
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	a := <-acc
	if a.err != nil {
		return nil, fmt.Errorf("accept in the lab: %w", a.err)
	}
	tl.add("server", "accepted")
	for _, s := range []struct {
		side string
		c    *net.TCPConn
		want *Settings
	}{{"client", c, clientS}, {"server", a.c, serverS}} {
		if s.want == nil {
			continue
		}
		eff, err := keepalive.Read(s.c)
		if err != nil {
			return nil, fmt.Errorf("read back the %s socket's keepalive: %w", s.side, err)
		}
		if !eff.Enabled || eff.Idle != s.want.Idle || eff.Interval != s.want.Interval || eff.Count != s.want.Count || eff.UserTimeout != s.want.UserTimeout {
			return nil, fmt.Errorf("the %s socket reads back keepalive %+v, not the settings under test (%v)", s.side, eff, s.want)
		}
	}
	p := &pair{client: c, server: a.c, tl: tl}
	if err := p.exchange(); err != nil {
		return nil, err
	}
	return p, nil
}

// exchange sends "ping" and answers "pong": the last data before the drill's idle phase.
func (p *pair) exchange() error {
	deadline := time.Now().Add(5 * time.Second)
	p.client.SetDeadline(deadline)
	p.server.SetDeadline(deadline)
	defer p.client.SetDeadline(time.Time{})
	defer p.server.SetDeadline(time.Time{})
	buf := make([]byte, 4)
	p.exchanged = time.Now()
	if _, err := p.client.Write([]byte("ping")); err != nil {
		return fmt.Errorf("lab exchange: %w", err)
	}
	if _, err := io.ReadFull(p.server, buf); err != nil {
		return fmt.Errorf("lab exchange: %w", err)
	}
	if _, err := p.server.Write([]byte("pong")); err != nil {
		return fmt.Errorf("lab exchange: %w", err)
	}
	if _, err := io.ReadFull(p.client, buf); err != nil {
		return fmt.Errorf("lab exchange: %w", err)
	}
	p.tl.add("client", "last data (ping/pong)")
	return nil
}

// tcpInfo is what the drills read from TCP_INFO.
type tcpInfo struct {
	state       uint8
	probes      int           // unanswered keepalive (or zero-window) probes: icsk_probes_out
	retransmits int           // retransmissions of the current head segment: icsk_retransmits
	unacked     int           // segments in flight
	lastRecvAge time.Duration // since the last segment received (data or ACK), in jiffies
	ackAge      time.Duration // since the last ACK received
	dataSentAge time.Duration // since the last data sent (keepalive probes carry none)
	rto, srtt   time.Duration
}

func readTCPInfo(c syscall.Conn) (tcpInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return tcpInfo{}, err
	}
	var ti *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) { ti, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return tcpInfo{}, err
	}
	if gerr != nil {
		return tcpInfo{}, fmt.Errorf("getsockopt TCP_INFO: %w", gerr)
	}
	// The kernel's keepalive timer counts idle time from the later of the last data
	// received and the last ACK received (keepalive_time_elapsed).
	age := min(ti.Last_data_recv, ti.Last_ack_recv)
	return tcpInfo{state: ti.State, probes: int(ti.Probes), retransmits: int(ti.Retransmits),
		unacked: int(ti.Unacked), lastRecvAge: time.Duration(age) * time.Millisecond,
		ackAge: time.Duration(ti.Last_ack_recv) * time.Millisecond, dataSentAge: time.Duration(ti.Last_data_sent) * time.Millisecond,
		rto: time.Duration(ti.Rto) * time.Microsecond, srtt: time.Duration(ti.Rtt) * time.Microsecond}, nil
}

// retransModel reads the socket's RTO and srtt, and whether the node has tail loss probes on.
func retransModel(c syscall.Conn, n *lab.Node) (kernel.Retrans, error) {
	ti, err := readTCPInfo(c)
	if err != nil {
		return kernel.Retrans{}, err
	}
	tlp := true // the default, tcp_early_retrans=3
	if v, err := n.Sysctl("net.ipv4.tcp_early_retrans"); err == nil {
		n, _ := strconv.Atoi(v)
		tlp = n >= 3
	}
	return kernel.NewRetrans(ti.rto, ti.srtt, tlp), nil
}

// judgeRetrans judges a measurement against kernel.Retrans.GiveUp's theory or its earlier
// alternative.
func judgeRetrans(theory, alt, measured time.Duration) (Verdict, string) {
	v := Judge(theory, measured)
	if v == Early && alt > 0 && Judge(alt, measured) == Pass {
		return Pass, fmt.Sprintf("the kernel gave up one RTO firing early (%.3fs): the timers ran late enough to pass the budget there", alt.Seconds())
	}
	return v, ""
}

// lastReceived is when c last received a segment, by the kernel's own clock. tcp_info gives
// the age in whole jiffies (4 ms at HZ=250), counted between the jiffy the segment arrived in and
// the current one, so now minus that age lands up to a jiffy either side of the arrival: early
// enough to fall before events the drill saw happen first (a timeline had "-0.002s last segment
// received" above "connected"). notBefore is an instant the segment certainly came after (the
// start of the last exchange, see pair.exchanged); the time is never earlier. The zero time
// bounds nothing.
func lastReceived(c syscall.Conn, notBefore time.Time) (time.Time, error) {
	now := time.Now()
	ti, err := readTCPInfo(c)
	if err != nil {
		return time.Time{}, err
	}
	last := now.Add(-ti.lastRecvAge)
	if last.Before(notBefore) {
		last = notBefore
	}
	return last, nil
}

// lastReceived is when end i of the pair (0 the client, 1 the server) last received a segment.
func (p *pair) lastReceived(i int) (time.Time, error) {
	return lastReceived(p.ends()[i], p.exchanged)
}

// watcher waits for a connection's error while recording keepalive probes and
// retransmissions on the timeline.
type watcher struct {
	side  string
	done  chan struct{}
	errAt time.Time
	err   error
	data  []byte // what arrived instead of an error
}

const pollEvery = 5 * time.Millisecond

// watch starts reading c (the first successful read ends the watch too) and polling its
// tcp_info for probes and retransmissions until then.
func watch(c readConn, side string, tl *timeline) *watcher {
	w := &watcher{side: side, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		w.errAt = time.Now()
		w.err = err
		w.data = buf[:n]
		close(w.done)
	}()
	go func() {
		var last tcpInfo
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
			}
			ti, err := readTCPInfo(c)
			if err != nil {
				return
			}
			now := time.Now()
			if ti.probes > last.probes {
				tl.at(now, side, fmt.Sprintf("keepalive probe %d sent (unanswered)", ti.probes))
			}
			// An ACK that acknowledges no new data of ours answers a keepalive probe: the
			// probe got through (and refreshed the NAT's entry on its way).
			if last.ackAge > 0 && ti.ackAge+pollEvery < last.ackAge && ti.dataSentAge > last.ackAge && ti.probes == 0 {
				tl.at(now.Add(-ti.ackAge), side, "keepalive probe answered: the path still knows the flow")
			}
			if ti.retransmits > last.retransmits {
				tl.at(now, side, fmt.Sprintf("retransmission %d", ti.retransmits))
			}
			last = ti
		}
	}()
	return w
}

// wait waits for w until deadline or ctx; it reports whether w finished.
func (w *watcher) wait(ctx context.Context, deadline time.Time) (bool, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-w.done:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// errName is a short name for how a connection ended: "ETIMEDOUT", "ECONNRESET", "EOF".
func errName(err error) string {
	if err == nil {
		return "data"
	}
	if errors.Is(err, io.EOF) {
		return "EOF"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
	}
	return err.Error()
}

// sockMem is the buffer memory charged to c (SO_MEMINFO: receive queue, write queue and
// forward allocation).
func sockMem(c syscall.Conn) int64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var total int64
	rc.Control(func(fd uintptr) {
		var mi [unix.SK_MEMINFO_VARS]uint32
		l := uint32(len(mi) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mi)), uintptr(unsafe.Pointer(&l)), 0)
		if e == 0 {
			total = int64(mi[unix.SK_MEMINFO_RMEM_ALLOC]) + int64(mi[unix.SK_MEMINFO_WMEM_QUEUED]) + int64(mi[unix.SK_MEMINFO_FWD_ALLOC])
		}
	})
	return total
}

// connectClients dials n connections from the lab's client to addr, 32 at a time (keepalive
// off: zombie-flood's and --server-cmd's clients are about to vanish), and calls each with every
// connection as it opens (from several goroutines at once). It stops at the first error of a
// dial or of each and returns it; lab.Dial has made the lab's Close close every connection.
func connectClients(ctx context.Context, l *lab.Lab, addr netip.AddrPort, n int, each func(*net.TCPConn) error) error {
	jobs := make(chan struct{})
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return firstErr != nil }
	for range min(n, 32) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				c, err := l.Dial(ctx, l.Client, dialer(nil), addr)
				if err == nil {
					err = each(c)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for range n {
		if ctx.Err() != nil || failed() {
			break
		}
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}
