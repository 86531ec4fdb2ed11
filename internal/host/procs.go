package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// procInfo is what the /proc walk learns about one process.
type procInfo struct {
	PID        int
	Comm       string
	NetnsInode uint64 // 0 when ns/net could not be read
	nsErr      error

	sockets   []uint64 // socket inodes of its descriptors, sorted, unique
	openFiles int
	fdErr     error

	// Filled by matchTCP.
	tcp    int
	listen []string
}

// walkProcs reads every process directory under root/proc: comm and network namespace, and for
// the processes fds selects also the socket inodes of their descriptors. Processes that exit
// during the walk are dropped. The result is sorted by PID.
func walkProcs(ctx context.Context, root string, fds func(*procInfo) bool) ([]*procInfo, error) {
	procDir := filepath.Join(root, "proc")
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil, err
	}
	var (
		out  []*procInfo
		scan fdScanner
	)
	for i, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		dir := filepath.Join(procDir, e.Name())
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil && isGone(err) {
			continue
		}
		p := &procInfo{PID: pid, Comm: strings.TrimSuffix(string(comm), "\n")}
		p.NetnsInode, p.nsErr = readNsLink(dir)
		if fds(p) {
			p.sockets, p.openFiles, p.fdErr = scan.scan(filepath.Join(dir, "fd"), nil)
			if p.fdErr != nil && isGone(p.fdErr) {
				continue
			}
			slices.Sort(p.sockets)
			p.sockets = slices.Compact(p.sockets)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// socketOwners maps a socket inode to the processes holding it. Most sockets have one owner;
// a listener shared by forked workers has several.
type socketOwners struct {
	one  map[uint64]*procInfo
	more map[uint64][]*procInfo
}

func newSocketOwners(procs []*procInfo) *socketOwners {
	n := 0
	for _, p := range procs {
		n += len(p.sockets)
	}
	o := &socketOwners{one: make(map[uint64]*procInfo, n), more: map[uint64][]*procInfo{}}
	for _, p := range procs {
		for _, ino := range p.sockets {
			if prev, ok := o.one[ino]; ok {
				if o.more[ino] == nil {
					o.more[ino] = []*procInfo{prev}
				}
				o.more[ino] = append(o.more[ino], p)
				continue
			}
			o.one[ino] = p
		}
	}
	return o
}

// add counts one TCP socket of the table for its owners.
func (o *socketOwners) add(e *tcpEntry) {
	if e.Inode == 0 {
		return // TIME_WAIT and orphaned sockets belong to no descriptor
	}
	p, ok := o.one[e.Inode]
	if !ok {
		return
	}
	owners := o.more[e.Inode]
	if owners == nil {
		owners = []*procInfo{p}
	}
	for _, p := range owners {
		p.tcp++
		if e.State == tcpListen {
			p.listen = append(p.listen, e.Local.String())
		}
	}
}

// matchTCP reads the TCP tables of each network namespace once, through the first process of
// the namespace whose /proc/PID/net/tcp can be opened (/proc/PID/net shows PID's namespace), and
// counts each socket for the processes that hold it. A socket is matched whatever namespace its
// holder lives in, so a process that opened sockets in another namespace still gets them.
func matchTCP(root string, procs []*procInfo) []model.Problem {
	owners := newSocketOwners(procs)
	if len(owners.one) == 0 {
		return nil
	}
	var probs []model.Problem
	done := map[uint64]bool{}
	for _, p := range procs {
		if p.NetnsInode == 0 || done[p.NetnsInode] {
			continue
		}
		var firstErr error
		ok := false
		for _, table := range []string{"tcp", "tcp6"} {
			path := filepath.Join(root, "proc", strconv.Itoa(p.PID), "net", table)
			f, err := os.Open(path)
			if err != nil {
				if firstErr == nil && !isGone(err) {
					firstErr = err
				}
				continue // tcp6 is absent when IPv6 is disabled
			}
			err = parseProcNetTCP(f, owners.add)
			f.Close()
			if err != nil {
				probs = append(probs, readProblem("TCP sockets ("+path+")", err))
			}
			ok = true
		}
		if ok {
			done[p.NetnsInode] = true
		} else if firstErr != nil {
			probs = append(probs, readProblem(fmt.Sprintf("TCP sockets of network namespace net:[%d]", p.NetnsInode), firstErr))
			done[p.NetnsInode] = true
		}
	}
	for _, p := range procs {
		slices.Sort(p.listen)
		p.listen = slices.Compact(p.listen)
	}
	return probs
}

// processFacts turns the processes that hold TCP sockets into model.Processes: executable,
// systemd unit, RLIMIT_NOFILE, and Go runtime defaults. probes gives the tcp_keepalive_probes of a network
// namespace for Go programs older than 1.23. Descriptor tables and executables that could not be
// read for lack of privilege are counted into one Problem each rather than one per process.
func processFacts(ctx context.Context, root string, procs []*procInfo, probes func(uint64) model.Setting[int]) ([]model.Process, []model.Problem, error) {
	var (
		out       []model.Process
		probs     []model.Problem
		fdDenied  []string // "pid 1 (init)": named in the problem when there are few
		exeDenied int
		gos       = goCache{}
	)
	for i, p := range procs {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if p.fdErr != nil && isPermission(p.fdErr) {
			fdDenied = append(fdDenied, fmt.Sprintf("%d %s", p.PID, p.Comm))
		}
		if p.tcp == 0 {
			continue
		}
		dir := filepath.Join(root, "proc", strconv.Itoa(p.PID))
		mp := model.Process{
			PID: p.PID, Comm: p.Comm, NetnsInode: p.NetnsInode,
			Listening: p.listen, TCPSockets: p.tcp, OpenFiles: p.openFiles,
		}
		exePath := filepath.Join(dir, "exe")
		exe, exeErr := os.Readlink(exePath)
		switch {
		case exeErr == nil:
			mp.Exe = strings.TrimSuffix(exe, " (deleted)")
			g, err := gos.read(exePath)
			if err != nil && isPermission(err) {
				exeDenied++
			}
			if g != nil {
				gb := *g
				gb.Keepalive = goKeepalive(gb.Version, probes(p.NetnsInode))
				mp.Go = &gb
			}
		case isPermission(exeErr):
			exeDenied++
		}
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
			mp.Unit = systemdUnit(b)
		}
		limitsPath := filepath.Join(dir, "limits")
		if b, err := os.ReadFile(limitsPath); err == nil {
			if soft, hard, ok := parseNofile(b); ok {
				src := model.Source{Kind: model.SourceLive, Detail: "/proc/" + strconv.Itoa(p.PID) + "/limits"}
				mp.NofileSoft = model.KnownSetting(soft, src)
				mp.NofileHard = model.KnownSetting(hard, src)
			} else {
				probs = append(probs, model.Problem{What: "RLIMIT_NOFILE of pid " + strconv.Itoa(p.PID),
					Err: limitsPath + ": no readable \"Max open files\" row"})
			}
		} else if !isGone(err) {
			probs = append(probs, readProblem("RLIMIT_NOFILE of pid "+strconv.Itoa(p.PID)+" ("+limitsPath+")", err))
		}
		out = append(out, mp)
	}
	if len(fdDenied) > 0 {
		what := "the file descriptors of " + plural(len(fdDenied), "process", "processes")
		if len(fdDenied) <= 3 {
			what += " (pid " + strings.Join(fdDenied, ", pid ") + ")"
		}
		probs = append(probs, deniedProblem(what,
			"their sockets cannot be attributed to them", "attribute their sockets"))
	}
	if exeDenied > 0 {
		probs = append(probs, deniedProblem("the executables of "+plural(exeDenied, "process", "processes"),
			"Go programs among them cannot be recognised", "recognise them"))
	}
	return out, probs, nil
}

// goCache remembers what readGoBinary found per executable file, so that a hundred workers of
// one binary are parsed once.
type goCache map[string]goCacheEntry

type goCacheEntry struct {
	g   *model.GoBinary
	err error
}

func (c goCache) read(exePath string) (*model.GoBinary, error) {
	key := exeKey(exePath)
	if e, ok := c[key]; ok && key != "" {
		return e.g, e.err
	}
	g, err := readGoBinary(exePath)
	if key != "" {
		c[key] = goCacheEntry{g, err}
	}
	return g, err
}

// deniedProblem is the aggregated Problem for /proc entries of other processes that could not
// be read. As root the refusal comes from elsewhere (a security module, a process in a user
// namespace keeptune has no privilege over), and root is not the advice.
func deniedProblem(what, consequence, purpose string) model.Problem {
	if os.Geteuid() == 0 {
		return model.Problem{What: what, Err: "permission denied even to root (a security module or a " +
			"user namespace keeptune is not privileged in protects them): " + consequence}
	}
	return model.Problem{What: what, Needs: "CAP_SYS_PTRACE",
		Err: "permission denied: " + consequence + "; run as root or with CAP_SYS_PTRACE to " + purpose}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
