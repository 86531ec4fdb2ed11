package drill

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/lab"
)

// requestSize is what each zombie-flood client sends. The server leaves it unread, as a busy
// backend would, so each zombie holds buffer memory until the server closes it.
const requestSize = 1024

// runZombieFlood: N clients connect, send a request and vanish. The server's sockets,
// descriptors and memory are sampled until keepalive has reclaimed them all, for the settings
// under test and, with --compare, a second setting after it.
func runZombieFlood(ctx context.Context, e *env) ([]Run, error) {
	if e.opts.ServerCmd != "" {
		return runServerCmd(ctx, e, "zombie-flood", e.opts.Clients)
	}
	list := []Settings{e.settings}
	if e.compare != nil {
		list = append(list, *e.compare)
	}
	var runs []Run
	for i, s := range list {
		r, err := zombieOnce(ctx, e, s)
		if r != nil {
			r.Reference = i > 0 // --compare: what the settings save you from
			runs = append(runs, *r)
		}
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// raiseFDLimit makes room for n more descriptors, raising the hard limit too when root may.
func raiseFDLimit(n int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	need := uint64(n) + 256
	if lim.Cur >= need {
		return nil
	}
	nl := unix.Rlimit{Cur: need, Max: max(lim.Max, need)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &nl); err != nil {
		return fmt.Errorf("zombie-flood needs %d file descriptors and the limit is %d (%v): raise it with `ulimit -n %d` or lower --clients", need, lim.Cur, err, need)
	}
	return nil
}

// zombie is the server's side of one vanished client.
type zombie struct {
	c        *net.TCPConn
	lastRecv time.Time
	errAt    time.Time
	errno    string
	closed   atomic.Bool
}

func zombieOnce(ctx context.Context, e *env, s Settings) (*Run, error) {
	n := e.opts.Clients
	if err := raiseFDLimit(2 * n); err != nil {
		return nil, err
	}
	spec := e.labSpec(nil)
	at := e.opts.DropAt
	if spec.Topology == lab.Direct {
		at = lab.AtReceiver
	}
	theory := s.Detection()
	e.logf("zombie-flood: %d clients, server keepalive %v; theory: every socket reclaimed %v after its last segment", n, s, theory)
	l, err := e.newLab(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := applySysctls(&s, l.Server); err != nil {
		return nil, err
	}
	addr := netip.AddrPortFrom(l.ServerAddr(), labPort)
	ln, err := l.Listen(ctx, l.Server, listenConfig(&s), addr)
	if err != nil {
		return nil, err
	}
	tl := newTimeline()

	var (
		mu        sync.Mutex
		zombies   []*zombie
		requests  atomic.Int64
		open      atomic.Int64
		serveDone sync.WaitGroup
	)
	go func() {
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			z := &zombie{c: c}
			mu.Lock()
			zombies = append(zombies, z)
			mu.Unlock()
			open.Add(1)
			serveDone.Add(1)
			go func() {
				defer serveDone.Done()
				serveZombie(z, &requests)
				z.c.Close()
				z.closed.Store(true)
				open.Add(-1)
			}()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		for _, z := range zombies {
			z.c.SetLinger(0)
			z.c.Close()
		}
		mu.Unlock()
		serveDone.Wait()
	}()

	// Connect the clients (keepalive off: they are about to vanish anyway).
	e.logf("zombie-flood: connecting %d clients", n)
	req := bytes.Repeat([]byte("x"), requestSize)
	if err := connectClients(ctx, l, addr, n, func(c *net.TCPConn) error { _, err := c.Write(req); return err }); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("zombie-flood: connect clients: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); requests.Load() < int64(n); {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("zombie-flood: only %d of %d requests reached the server within 30s", requests.Load(), n)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	tl.add("client", fmt.Sprintf("%d clients connected and sent a %d-byte request", n, requestSize))
	time.Sleep(settle)

	if err := l.Blackhole(lab.Both, at); err != nil {
		return nil, err
	}
	holeAt := time.Now()
	tl.at(holeAt, "lab", "all clients vanish: blackhole both directions at "+at.String())
	mu.Lock()
	zs := append([]*zombie(nil), zombies...)
	mu.Unlock()
	var latest time.Time
	for _, z := range zs {
		if z.lastRecv, err = lastReceived(z.c, time.Time{}); err != nil && !z.closed.Load() {
			return nil, err
		}
		if z.lastRecv.After(latest) {
			latest = z.lastRecv
		}
	}
	objSize := tcpObjectSize(e.opts.Family)

	sample := func() Sample {
		at := time.Since(holeAt)
		smp := Sample{At: at, FDs: int(open.Load())}
		smp.Inuse = max(sockstatInuse(l.Server)-1, 0) // less the listener
		for _, z := range zs {
			if !z.closed.Load() {
				smp.MemBytes += sockMem(z.c)
			}
			if z.lastRecv.Add(theory).After(holeAt.Add(at)) {
				smp.Theory++
			}
		}
		smp.MemBytes += int64(smp.Inuse) * objSize
		return smp
	}
	every := min(max(theory/100, 100*time.Millisecond), time.Second)
	deadline := latest.Add(AcceptWindow(theory).High + waitMargin(theory))
	e.logf("zombie-flood: clients vanished; sampling every %v until all %d sockets are reclaimed (up to %v)", every, n, time.Until(deadline).Round(time.Second))
	var series []Sample
	series = append(series, sample())
	tick := time.NewTicker(every)
	defer tick.Stop()
	for open.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		series = append(series, sample())
	}
	series = append(series, sample())

	run := &Run{Scenario: "zombie-flood", Case: fmt.Sprintf("%d clients, %s", n, s.Label), Settings: s, Lab: labDesc(spec, at),
		Theory: dur(theory), TheoryRule: detectionRule(s) + ", per socket from its last segment", Expected: "ETIMEDOUT", Series: series}
	var times []time.Duration
	outcomes := map[string]int{}
	rc := &Reclaim{Sockets: len(zs), PerSockMem: objSize}
	var lastErr time.Time
	for _, z := range zs {
		if !z.closed.Load() {
			continue
		}
		outcomes[z.errno]++
		times = append(times, z.errAt.Sub(z.lastRecv))
		if z.errAt.After(lastErr) {
			lastErr = z.errAt
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	rc.Reclaimed = len(times)
	for _, smp := range series {
		rc.PeakInuse = max(rc.PeakInuse, smp.Inuse)
		rc.PeakMem = max(rc.PeakMem, smp.MemBytes)
	}
	if len(times) > 0 {
		rc.Min, rc.Median, rc.Max = times[0], times[len(times)/2], times[len(times)-1]
		tl.at(holeAt.Add(series[0].At), "server", fmt.Sprintf("%d zombie sockets, %d descriptors, %s", series[0].Inuse, series[0].FDs, fmtBytes(series[0].MemBytes)))
		for _, z := range zs {
			if z.closed.Load() && z.errAt.Sub(z.lastRecv) == times[0] {
				tl.at(z.errAt, "server", "first zombie reclaimed: "+z.errno)
				break
			}
		}
	}
	var names []string
	for k, v := range outcomes {
		names = append(names, fmt.Sprintf("%s x%d", k, v))
	}
	sort.Strings(names)
	run.Outcome = strings.Join(names, ", ")
	switch {
	case len(times) < len(zs):
		run.Outcome = fmt.Sprintf("%d of %d reclaimed (%s)", len(times), len(zs), run.Outcome)
		run.Verdict = Late
		if len(times) > 0 {
			run.Measured = dur(rc.Max)
		}
	case len(outcomes) != 1 || outcomes["ETIMEDOUT"] == 0:
		run.Verdict = Fail
		run.Measured = dur(rc.Max)
	default:
		rc.AllGoneAt = lastErr.Sub(holeAt)
		tl.at(lastErr, "server", fmt.Sprintf("all %d reclaimed", len(zs)))
		run.Measured = dur(rc.Max)
		run.Verdict = Judge(theory, rc.Max)
		if v := Judge(theory, rc.Min); v == Early {
			run.Verdict = Early
		}
	}
	run.Reclaim = rc
	run.Notes = append(run.Notes, fmt.Sprintf("measured is the slowest socket; per socket from its last segment: min %.3fs, median %.3fs, max %.3fs",
		rc.Min.Seconds(), rc.Median.Seconds(), rc.Max.Seconds()))
	if objSize > 0 {
		run.Notes = append(run.Notes, fmt.Sprintf("memory = unread requests and buffers (SO_MEMINFO) + %d bytes of socket object per open socket (slabinfo)", objSize))
	}
	run.Timeline = tl.sorted()
	e.logf("zombie-flood: %s: %s", run.Case, runLine(*run))
	return run, nil
}

// serveZombie waits, without reading, until the connection fails. It counts the request when
// it has fully arrived. SO_ERROR holds the error the kernel set when it gave up.
func serveZombie(z *zombie, requests *atomic.Int64) {
	rc, err := z.c.SyscallConn()
	if err != nil {
		return
	}
	counted := false
	rc.Read(func(fd uintptr) bool {
		if !counted {
			if n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil && n >= requestSize {
				counted = true
				requests.Add(1)
			}
		}
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || v == 0 {
			return false
		}
		z.errAt = time.Now()
		z.errno = unix.ErrnoName(unix.Errno(v))
		return true
	})
	if z.errAt.IsZero() {
		z.errAt = time.Now()
		z.errno = "closed"
	}
}

// sockstatInuse is the number of TCP sockets in use in the node's namespace (IPv4 and IPv6).
// Only "inuse" in /proc/net/sockstat is per namespace: "alloc", "orphan" and "mem" count the
// whole host.
func sockstatInuse(n *lab.Node) int {
	total := 0
	for _, f := range []string{"sockstat", "sockstat6"} {
		b, err := n.ReadNetFile(f)
		if err != nil {
			continue
		}
		total += ParseSockstatInuse(b)
	}
	return total
}

// tcpObjectSize is the slab object size of one TCP socket (TCP or TCPv6 cache), or 0.
func tcpObjectSize(f lab.Family) int64 {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return 0
	}
	want := "TCP"
	if f == lab.IPv6 {
		want = "TCPv6"
	}
	return ParseSlabObjSize(b, want)
}
