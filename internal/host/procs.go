package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/procfd"
)

// procInfo is what the /proc walk learns about one process.
type procInfo struct {
	PID        int
	Comm       string
	NetnsInode uint64 // 0 when ns/net could not be read
	nsErr      error

	openFiles int
	fdErr     error

	// Filled by matchTCP (or from Options.TCPByPID).
	tcp    int
	listen []string
}

// walkProcs lists every process under root/proc with the shared descriptor walk (procfd): comm,
// network namespace, open descriptors, and the socket index matchTCP attributes sockets with.
// idx, when not nil, is a walk the caller made already (gather shares one walk between host
// facts and the socket table). Processes that exit during the walk are dropped. The result is
// sorted by PID.
func walkProcs(ctx context.Context, root string, idx *procfd.Index) ([]*procInfo, *procfd.Index, error) {
	if idx == nil {
		var err error
		if idx, err = procfd.Walk(ctx, procfd.Query{ProcRoot: filepath.Join(root, "proc"), AllProcesses: true}); err != nil {
			return nil, nil, err
		}
	}
	all := idx.All()
	out := make([]*procInfo, 0, len(all))
	for _, pp := range all {
		p := &procInfo{PID: pp.PID, Comm: pp.Comm, NetnsInode: pp.NetnsInode, openFiles: pp.OpenFiles, fdErr: pp.FDErr}
		if p.NetnsInode == 0 {
			// The walk stats ns/net; a copied /proc under an injected root has only the link text.
			p.NetnsInode, p.nsErr = readNsLink(filepath.Join(root, "proc", strconv.Itoa(pp.PID)))
		}
		out = append(out, p)
	}
	return out, idx, nil
}

// socketOwners attributes the sockets of a TCP table to the processes in scope that hold them.
type socketOwners struct {
	idx   *procfd.Index
	byPID map[int]*procInfo
}

func newSocketOwners(idx *procfd.Index, procs []*procInfo) *socketOwners {
	o := &socketOwners{idx: idx, byPID: make(map[int]*procInfo, len(procs))}
	for _, p := range procs {
		o.byPID[p.PID] = p
	}
	return o
}

// add counts one TCP socket of the table for its owners.
func (o *socketOwners) add(e *tcpEntry) {
	if e.Inode == 0 || e.Inode > 1<<32-1 {
		return // TIME_WAIT and orphaned sockets belong to no descriptor
	}
	o.idx.Holders(uint32(e.Inode), func(pp *procfd.Process, _ int) {
		p := o.byPID[pp.PID]
		if p == nil {
			return
		}
		p.tcp++
		if e.State == tcpListen {
			p.listen = append(p.listen, e.Local.String())
		}
	})
}

// matchTCP reads the TCP tables of each network namespace once, through the first process of
// the namespace whose /proc/PID/net/tcp can be opened (/proc/PID/net shows PID's namespace), and
// counts each socket for the processes that hold it. A socket is matched whatever namespace its
// holder lives in, so a process that opened sockets in another namespace still gets them.
func matchTCP(root string, idx *procfd.Index, procs []*procInfo) []model.Problem {
	owners := newSocketOwners(idx, procs)
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
