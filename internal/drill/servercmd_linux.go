package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/procfd"
	"github.com/keeptune/keeptune/internal/sockets"
	"github.com/keeptune/keeptune/keepalive"
)

// serverProc is the user's server (--server-cmd), running in the lab's server namespace in a
// process group of its own.
type serverProc struct {
	cmd     *exec.Cmd
	command string
	vars    ServerVars
	ns      string // the server namespace's name under /run/netns
	nsIno   uint64
	logPath string
	exited  chan struct{}
	stopped sync.Once
	deepErr error // why a socket's keepalive could not be read
}

// startServerCmd runs the command with /bin/sh -c in the lab's server namespace (the child
// inherits the namespace of the thread that starts it), its output in a file in {dir}.
func startServerCmd(e *env, l *lab.Lab) (*serverProc, error) {
	dir, err := os.MkdirTemp("", "keeptune-server-")
	if err != nil {
		return nil, err
	}
	vars := ServerVars{Addr: l.ServerAddr(), Port: labPort, Dir: dir}
	p := &serverProc{command: vars.Expand(e.opts.ServerCmd), vars: vars, ns: l.Server.Name, logPath: filepath.Join(dir, "output.log"),
		exited: make(chan struct{})}
	if p.nsIno, err = netns.Inode(netns.NamedPath(l.Server.Name)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(p.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	p.cmd = exec.Command("/bin/sh", "-c", p.command)
	p.cmd.Env = append(os.Environ(), vars.Env()...)
	// Output goes to a file (no pipe a forked worker could hold open); the server and its
	// children form a process group that stop kills as one; the shell dies with keeptune.
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := l.Server.Do(p.cmd.Start); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("--server-cmd: start %q: %w", p.command, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	// The lab's Close stops the server too (interrupts and errors included), before the
	// namespace goes.
	l.Track(closerFunc(func() error { p.stop(); return nil }))
	e.logf("server: started %q (pid %d) in %s", p.command, p.cmd.Process.Pid, l.Server.Name)
	return p, nil
}

// stop kills the process group, then every process still in the lab's server namespace (a
// server that daemonized left the group), waits for the shell and removes {dir}.
func (p *serverProc) stop() {
	p.stopped.Do(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		for range 50 {
			pids := p.pids()
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
		<-p.exited
		os.RemoveAll(p.vars.Dir)
	})
}

// output is the end of what the server wrote, for error messages.
func (p *serverProc) output() string {
	b, _ := os.ReadFile(p.logPath)
	b = bytes.TrimSpace(b)
	if len(b) > 1500 {
		b = append([]byte("..."), b[len(b)-1500:]...)
	}
	if len(b) == 0 {
		return "(no output)"
	}
	return string(b)
}

// pids lists the processes in the server namespace: the user's server and its children.
func (p *serverProc) pids() []int {
	all, err := procfd.ListPIDs("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, pid := range all {
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", strconv.Itoa(pid), "ns/net"), &st) == nil && st.Ino == p.nsIno {
			out = append(out, pid)
		}
	}
	return out
}

// waitListening waits until the server listens: on {port}, or else on the one TCP port it
// listens on in its namespace (a configuration file that names its own). It fails when the
// command exits first or listens nowhere the clients can reach.
func (p *serverProc) waitListening(ctx context.Context, l *lab.Lab) (netip.AddrPort, error) {
	deadline := time.Now().Add(serverStartTimeout)
	seen := 0
	for {
		ports := map[uint16]netip.AddrPort{}
		err := sockets.Walk(ctx, sockets.Options{Netns: p.ns, Filter: sockets.Filter{States: sockets.StateSet(1 << sockets.StateListen)}}, func(s *sockets.Socket) error {
			ports[s.Local.Port()] = s.Local
			return nil
		})
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("--server-cmd: read the server namespace's listeners: %w", err)
		}
		pick := func(a netip.AddrPort) (netip.AddrPort, error) {
			if a.Addr().IsLoopback() {
				return a, fmt.Errorf("--server-cmd: %q listens on %v only, which the lab's clients cannot reach: listen on {listen} or {port} (KEEPTUNE_LISTEN, KEEPTUNE_PORT)", p.command, a)
			}
			return netip.AddrPortFrom(l.ServerAddr(), a.Port()), nil
		}
		if a, ok := ports[labPort]; ok {
			return pick(a)
		}
		if len(ports) > 0 {
			// Give a server that opens several listeners a moment to open them all.
			if seen++; seen >= 3 {
				if len(ports) == 1 {
					for _, a := range ports {
						return pick(a)
					}
				}
				var list []string
				for port := range ports {
					list = append(list, strconv.Itoa(int(port)))
				}
				sort.Strings(list)
				return netip.AddrPort{}, fmt.Errorf("--server-cmd: %q listens on ports %s, not on %d: make it listen on {port} (KEEPTUNE_PORT)",
					p.command, strings.Join(list, ", "), labPort)
			}
		}
		select {
		case <-p.exited:
			return netip.AddrPort{}, fmt.Errorf("--server-cmd: %q exited (%v) before it listened; its output:\n%s\nhint: the command must stay in the foreground (nginx: -g 'daemon off;') and listen on {port} (KEEPTUNE_PORT)",
				p.command, p.cmd.ProcessState, p.output())
		case <-ctx.Done():
			return netip.AddrPort{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return netip.AddrPort{}, fmt.Errorf("--server-cmd: %q never listened on a TCP port in %v; its output:\n%s\nhint: make it listen on {port} (KEEPTUNE_PORT)",
				p.command, serverStartTimeout, p.output())
		}
	}
}

// serverConn is one accepted connection as the lab sees it from outside the server.
type serverConn struct {
	local, peer netip.AddrPort // as the kernel has them (an IPv4 client of an IPv6 socket is v4-mapped)
	seen        time.Time      // when the look saw it
	state       sockets.State
	inode       uint32    // 0 once no descriptor refers to the socket (an orphan)
	lastRecv    time.Time // its last received segment (tcp_info's age when the dump gave it)
	ka          sockets.Keepalive
}

// look is one observation of the server: its processes' descriptors (procfd), then its
// namespace's socket table (sockets). fdsAt and end are when each part finished: a change seen
// happened before then (an upper bound, late by at most the time since the previous look).
type look struct {
	conns      map[netip.AddrPort]serverConn // by the client's address (unmapped)
	absent     map[netip.AddrPort]time.Time  // when a lookup found no socket
	index      *procfd.Index                 // nil when no process is left
	fds        int
	pids       []int
	fdsAt, end time.Time
}

// readDescriptors walks the descriptor tables of the server's processes (none left: no index).
func (k *look) readDescriptors(ctx context.Context) error {
	defer func() { k.fdsAt = time.Now() }()
	if len(k.pids) == 0 {
		return nil
	}
	idx, err := procfd.Walk(ctx, procfd.Query{PIDs: k.pids, AllProcesses: true})
	if err != nil {
		return fmt.Errorf("--server-cmd: read the server's descriptors: %w", err)
	}
	for _, proc := range idx.All() {
		k.fds += proc.OpenFiles
	}
	k.index = idx
	return nil
}

// holds reports whether a process of the server held a descriptor of the socket.
func (k *look) holds(inode uint32) bool {
	if k.index == nil || inode == 0 {
		return false
	}
	_, _, ok := k.index.Lookup(inode)
	return ok
}

// connOf is what a look keeps of a socket.
func connOf(s *sockets.Socket) serverConn {
	c := serverConn{local: s.Local, peer: s.Peer, state: s.State, inode: s.Inode, ka: s.Keepalive, seen: time.Now()}
	age, _ := s.SinceReceived() // 0 without tcp_info: now
	c.lastRecv = c.seen.Add(-age)
	return c
}

// look reads the server's descriptors (the walk of its processes' tables), then its side of
// each client's connection, looked up by its addresses (sockets.Lookup: constant time, where a
// dump of the namespace walks the host's whole socket table: about a second per dump while
// another program holds 200,000 sockets). With deep it reads each socket's keepalive through
// the process holding it (pidfd_getfd + getsockopt, sockets.ReadKeepalive, as `keeptune
// sockets --deep` does).
func (p *serverProc) look(ctx context.Context, lk *sockets.Lookup, server netip.AddrPort, clients []netip.AddrPort, deep bool) (*look, error) {
	k := &look{conns: map[netip.AddrPort]serverConn{}, absent: map[netip.AddrPort]time.Time{}, pids: p.pids()}
	if err := k.readDescriptors(ctx); err != nil {
		return nil, err
	}
	var s sockets.Socket
	for _, a := range clients {
		found, err := lk.Find(server, a, true, &s)
		if err != nil {
			return nil, fmt.Errorf("--server-cmd: %w", err)
		}
		if !found {
			k.absent[a] = time.Now()
			continue
		}
		if deep && k.index != nil && s.Inode != 0 {
			if proc, fd, ok := k.index.Lookup(s.Inode); ok {
				s.Owner, s.OwnerFD = proc, int32(fd)
				if err := sockets.ReadKeepalive(&s); err != nil {
					p.deepErr = err
				}
			}
		}
		k.conns[a] = connOf(&s)
	}
	k.end = time.Now()
	return k, nil
}

// runServerCmd is dead-peer (n = 1) and zombie-flood with the user's server: n clients connect
// to it, send --server-send, read what it answers, and vanish (a blackhole both ways); the lab
// watches when the server's processes release each connection's descriptor and when its socket
// leaves the table, against the theory of the keepalive its sockets really use.
func runServerCmd(ctx context.Context, e *env, scenario string, n int) ([]Run, error) {
	send, err := ParseServerSend(e.opts.ServerSend)
	if err != nil {
		return nil, err
	}
	if err := raiseFDLimit(n); err != nil {
		return nil, err
	}
	spec := e.labSpec(nil)
	at := e.opts.DropAt
	if spec.Topology == lab.Direct {
		at = lab.AtReceiver
	}
	l, err := e.newLab(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	// What a server that turns SO_KEEPALIVE on without values gets: this host's sysctls.
	if err := applySysctls(&e.settings, l.Server); err != nil {
		return nil, err
	}
	tl := newTimeline()
	sp, err := startServerCmd(e, l)
	if err != nil {
		return nil, err
	}
	defer sp.stop()
	tl.add("server", fmt.Sprintf("started: %s (pid %d)", sp.command, sp.cmd.Process.Pid))
	target, err := sp.waitListening(ctx, l)
	if err != nil {
		return nil, err
	}
	tl.add("server", "listening on "+target.String())
	e.logf("server: listening on %v; connecting %d client(s)", target, n)

	// The clients: keepalive off (they are about to vanish), each sends the request and reads
	// the first part of the answer, if any.
	var (
		mu       sync.Mutex
		clients  []*net.TCPConn
		closedBy int
	)
	err = connectClients(ctx, l, target, n, func(c *net.TCPConn) error {
		if len(send) > 0 {
			if _, err := c.Write(send); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, rerr := c.Read(make([]byte, 4096)) // the first part of the answer
			c.SetReadDeadline(time.Time{})
			var ne net.Error
			if rerr != nil && !(errors.As(rerr, &ne) && ne.Timeout()) {
				mu.Lock()
				closedBy++
				mu.Unlock()
			}
		}
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("--server-cmd: connect to %v: %w; the server's output:\n%s", target, err, sp.output())
	}
	if closedBy == n {
		return nil, fmt.Errorf("--server-cmd: the server closed every connection right after answering (HTTP/1.0, or no keep-alive?): there is nothing left for vanishing clients to leak; its output:\n%s", sp.output())
	}
	tl.add("client", fmt.Sprintf("%d client(s) connected and sent %d bytes", n, len(send)))

	// Wait until the server holds every connection it did not close.
	lk, err := sockets.NewLookup(sp.ns)
	if err != nil {
		return nil, fmt.Errorf("--server-cmd: %w", err)
	}
	defer lk.Close()
	local := map[netip.AddrPort]bool{}
	var peers []netip.AddrPort
	for _, c := range clients {
		a := c.LocalAddr().(*net.TCPAddr).AddrPort()
		local[a] = true
		peers = append(peers, a)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		k, err := sp.look(ctx, lk, target, peers, false)
		if err != nil {
			return nil, err
		}
		open := 0
		for a := range local {
			if c, ok := k.conns[a]; ok && c.state == sockets.StateEstablished && k.holds(c.inode) {
				open++
			}
		}
		if open >= n-closedBy {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("--server-cmd: the server holds %d of the %d connections it should after 10s; its output:\n%s", open, n-closedBy, sp.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(settle + 100*time.Millisecond) // the answer's last ACKs

	if err := l.Blackhole(lab.Both, at); err != nil {
		return nil, err
	}
	holeAt := time.Now()
	tl.at(holeAt, "lab", "the clients vanish: blackhole both directions at "+at.String())
	first, err := sp.look(ctx, lk, target, peers, true)
	if err != nil {
		return nil, err
	}
	// For each connection: its last received segment, and the looks between which its
	// descriptor was released (relLo, relHi) and its socket left the table (goneLo, goneHi).
	w := map[netip.AddrPort]*watchedConn{}
	sr := &ServerRun{Command: sp.command, PIDs: first.pids, Listen: target.String(), FDsBefore: first.fds, Left: map[string]int{}}
	var ka *keepalive.Effective
	for a, c := range first.conns {
		if !local[a] || !first.holds(c.inode) {
			continue // not one of ours, or closed by the server already
		}
		w[a] = &watchedConn{local: c.local, peer: c.peer, inode: c.inode, last: c.lastRecv, relLo: first.fdsAt, goneLo: c.seen, state: c.state}
		if c.ka.Deep {
			if ka == nil {
				ka = &c.ka.Effective
			} else if c.ka.Effective != *ka {
				sr.KeepaliveMixed = true
			}
		}
	}
	sr.Clients = len(w)
	if len(w) == 0 {
		return nil, fmt.Errorf("--server-cmd: the server closed every connection before the clients vanished (an idle timeout shorter than the lab's setup, about a second?): nothing was left to watch; its output:\n%s", sp.output())
	}
	if ka == nil {
		return nil, fmt.Errorf("--server-cmd: could not read the keepalive options of the server's sockets: %v (pidfd_getfd needs Linux 5.6+ and root)", sp.deepErr)
	}
	s := Settings{Label: "read from the server's socket", Source: "getsockopt through pidfd_getfd",
		Config: keepalive.Config{Idle: ka.Idle, Interval: ka.Interval, Count: ka.Count, UserTimeout: ka.UserTimeout}}
	sr.Keepalive, sr.KeepaliveOn = s, ka.Enabled
	var theory time.Duration
	latest := holeAt
	for _, x := range w {
		latest = later(latest, x.last)
	}
	deadline := holeAt.Add(DefaultServerWait)
	if ka.Enabled {
		theory = s.Detection()
		deadline = latest.Add(AcceptWindow(theory).High + waitMargin(theory))
	}
	if e.opts.ServerWait > 0 {
		deadline = holeAt.Add(e.opts.ServerWait)
	}
	if ka.Enabled {
		e.logf("server: its sockets use keepalive %v; theory: each socket fails %v after its last segment", s, theory)
	} else {
		e.logf("server: its sockets have no keepalive: TCP never tells it the clients vanished; watching up to %v for its own timeouts", time.Until(deadline).Round(time.Second))
	}
	// One look costs a few milliseconds for a handful of connections (the server's descriptor
	// tables and one sock_diag lookup per connection), more for thousands.
	floor := 25 * time.Millisecond
	if len(w) > 100 {
		floor = 100 * time.Millisecond
	}
	sr.Every = 4 * floor
	if ka.Enabled {
		sr.Every = min(max(theory/200, floor), time.Second)
	}
	var series []Sample
	sample := func(k *look) {
		smp := Sample{At: k.end.Sub(holeAt), FDs: k.fds}
		for a, x := range w {
			c, present := k.conns[a]
			if present {
				smp.Inuse++
				x.state = c.state
				x.goneLo = c.seen
			} else if x.goneHi.IsZero() {
				x.goneHi = k.end
				if t, ok := k.absent[a]; ok {
					x.goneHi = t
				}
			}
			if x.relHi.IsZero() {
				if k.holds(x.inode) {
					x.relLo = k.fdsAt
				} else {
					x.relHi = k.fdsAt
				}
			}
			if ka.Enabled && x.last.Add(theory).After(k.end) {
				smp.Theory++
			}
		}
		series = append(series, smp)
	}
	sample(first)
	tick := time.NewTicker(sr.Every)
	defer tick.Stop()
	fds := first.fds
	for time.Now().Before(deadline) {
		// Done when every socket left the table, or when every descriptor is released and the
		// sockets left are the kernel's own (orphans the server closed towards the vanished
		// peer, retransmitting their FIN) and have had orphanWatch to go.
		gone, released := true, true
		var lastRel time.Time
		for _, x := range w {
			gone = gone && !x.goneHi.IsZero()
			released = released && !x.relHi.IsZero()
			lastRel = later(lastRel, x.relHi)
		}
		if gone && released || released && time.Since(lastRel) > orphanWatch {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		var left []netip.AddrPort
		for a, x := range w {
			if x.goneHi.IsZero() {
				left = append(left, a)
			}
		}
		k, err := sp.look(ctx, lk, target, left, false)
		if err != nil {
			return nil, err
		}
		fds = k.fds
		sample(k)
	}
	sr.FDsAfter = fds
	sr.Watched = time.Since(holeAt)
	exitedEarly := false
	select {
	case <-sp.exited:
		exitedEarly = true
	default:
	}
	r := Run{Scenario: scenario, Case: "server " + shortCommand(sp.command), Lab: labDesc(spec, at), Server: sr, Series: series}
	if scenario == "zombie-flood" {
		r.Case = fmt.Sprintf("%d clients, server %s", len(w), shortCommand(sp.command))
	}
	judgeServerRun(&r, theory, w)
	if exitedEarly {
		r.Notes = append(r.Notes, fmt.Sprintf("the server exited during the watch (%v): its exit released what it held", sp.cmd.ProcessState))
	}
	for _, ev := range serverEvents(w) {
		tl.at(ev.at, "server", ev.what)
	}
	r.Timeline = tl.sorted()
	e.logf("%s: %s: %s", scenario, r.Case, runLine(r))
	return []Run{r}, nil
}

// watchedConn is one vanished client's connection as the looks saw it: its last received
// segment, and the looks between which its descriptor was released (relLo, relHi: the last
// look that saw it held, the first that did not) and its socket left the table (goneLo, goneHi).
type watchedConn struct {
	local, peer                  netip.AddrPort
	inode                        uint32
	last                         time.Time
	relLo, relHi, goneLo, goneHi time.Time
	state                        sockets.State
}

// judgeServerRun fills the run from the watch. The kernel verdict is judged on when the sockets
// left the table (with keepalive, the kernel's ETIMEDOUT: it unhashes the socket then), between
// the two looks around it, so the looks' period cannot make a run LATE or EARLY; MEASURED is the
// later look. The server's release of the descriptors (what the goal judges) follows.
func judgeServerRun(r *Run, theory time.Duration, w map[netip.AddrPort]*watchedConn) {
	sr := r.Server
	s := sr.Keepalive
	var rel []time.Duration
	// kernelN sockets left the table by keepalive; kernelMax is the latest of them.
	var kernelN int
	var kernelMax time.Duration
	verdict := Pass
	win := AcceptWindow(theory)
	var react time.Duration
	for _, x := range w {
		if !x.relHi.IsZero() {
			rel = append(rel, x.relHi.Sub(x.last))
		}
		if x.goneHi.IsZero() {
			sr.Left[x.state.String()]++
			continue
		}
		sr.Gone++
		sr.GoneMax = max(sr.GoneMax, x.goneHi.Sub(x.last))
		// The server closed it first when a look saw its descriptor released while the socket
		// was still in the table (it then leaves with the server's FIN or reset, not keepalive).
		if !sr.KeepaliveOn || !x.relHi.IsZero() && x.relHi.Before(x.goneLo) {
			continue
		}
		lo, hi := x.goneLo.Sub(x.last), x.goneHi.Sub(x.last)
		kernelN++
		kernelMax = max(kernelMax, hi)
		switch {
		case lo > win.High:
			verdict = Late
		case hi < win.Low && verdict != Late:
			verdict = Early
		}
		if !x.relHi.IsZero() {
			react = max(react, x.relHi.Sub(x.goneLo))
		}
	}
	sort.Slice(rel, func(i, j int) bool { return rel[i] < rel[j] })
	sr.Released = len(rel)
	if len(rel) > 0 {
		sr.ReleaseMin, sr.ReleaseMedian, sr.ReleaseMax = rel[0], rel[len(rel)/2], rel[len(rel)-1]
	}
	all := len(rel) == len(w)
	if !sr.KeepaliveOn {
		r.Settings = Settings{Label: "keepalive off", Source: "read from the server's socket"}
		r.TheoryRule = "no keepalive on the server's sockets: TCP never tells it that a client vanished; only the server's own timeouts release the connection"
		r.Verdict = Pass // nothing in the kernel to judge
		if len(rel) > 0 {
			r.Measured = dur(sr.ReleaseMax)
		}
	} else {
		r.Settings = s
		r.Theory = dur(theory)
		r.Expected = "all released" // by keepalive (ETIMEDOUT), or earlier by the server's own timeouts
		r.TheoryRule = detectionRule(s) + " (the keepalive read from the server's socket), per connection from its last segment, to its socket's failure"
		r.Verdict = verdict
		switch {
		case kernelN > 0:
			r.Measured = dur(kernelMax)
		case all:
			r.Measured = dur(sr.ReleaseMax)
			r.Notes = append(r.Notes, "the server released every connection by its own timeouts before keepalive could")
		}
		if kernelN > 0 && kernelN < sr.Clients {
			r.Notes = append(r.Notes, fmt.Sprintf("%d of %d connections were released by the server's own timeouts before keepalive", sr.Clients-kernelN, sr.Clients))
		}
		if !all {
			r.Verdict = Late
		}
		if react > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("the server closed each descriptor within %s of the kernel's error (to within a look)", fmtSecs(react)))
		}
	}
	if all {
		r.Outcome = "all released"
	} else {
		r.Outcome = fmt.Sprintf("%d of %d still held after %v", len(w)-len(rel), len(w), sr.Watched.Round(time.Second))
	}
	if sr.KeepaliveMixed {
		r.Notes = append(r.Notes, "the server's sockets do not all use the same keepalive; the theory uses the first one read")
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%s: descriptors released %s to %s after each connection's last segment (median %s; looks every %v, each time the first look that saw it); %d of %d sockets gone from the table",
		sr.Command, fmtSecs(sr.ReleaseMin), fmtSecs(sr.ReleaseMax), fmtSecs(sr.ReleaseMedian), sr.Every, sr.Gone, len(w)))
	if len(sr.Left) > 0 {
		var left []string
		for st, k := range sr.Left {
			left = append(left, fmt.Sprintf("%d in %s", k, st))
		}
		sort.Strings(left)
		r.Notes = append(r.Notes, "sockets left in the table after the watch: "+strings.Join(left, ", ")+
			" (a socket the server closed towards a vanished peer retransmits its FIN until tcp_orphan_retries gives up)")
	}
}

type serverEvent struct {
	at   time.Time
	what string
}

// serverEvents are the timeline's marks: the first and last release, the last socket gone.
func serverEvents(w map[netip.AddrPort]*watchedConn) []serverEvent {
	var firstRel, lastRel, lastGone time.Time
	rel, gone := 0, 0
	for _, x := range w {
		if !x.relHi.IsZero() {
			rel++
			if firstRel.IsZero() || x.relHi.Before(firstRel) {
				firstRel = x.relHi
			}
			lastRel = later(lastRel, x.relHi)
		}
		if !x.goneHi.IsZero() {
			gone++
			lastGone = later(lastGone, x.goneHi)
		}
	}
	var out []serverEvent
	if rel > 0 {
		out = append(out, serverEvent{firstRel, "first descriptor released"}, serverEvent{lastRel, fmt.Sprintf("%d of %d descriptors released", rel, len(w))})
	}
	if gone > 0 {
		out = append(out, serverEvent{lastGone, fmt.Sprintf("%d of %d sockets gone from the table", gone, len(w))})
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func fmtSecs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
