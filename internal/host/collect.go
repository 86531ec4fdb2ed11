package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/netns"
	"github.com/keeptune/keeptune/internal/procfd"
)

// Options says where and how widely Collect looks.
type Options struct {
	// Root is "/" for the live system (the default when empty). Tests and offline audits point it
	// at a tree holding proc/sys/..., proc/PID/..., etc/sysctl.d/... and run/netns/...; symlinks
	// in the configuration are then resolved inside that tree. Other network namespaces can only
	// be entered on the live system.
	Root string
	// AllNetns audits every network namespace in use (entering them needs root: setns needs
	// CAP_SYS_ADMIN, and seeing other users' namespaces CAP_SYS_PTRACE). Without it only the
	// namespace keeptune runs in is audited, and only its processes are reported.
	AllNetns bool
	// Procs is a descriptor walk the caller made already (procfd.Walk with AllProcesses, every
	// socket recorded), shared with the socket table so that one audit walks each fd table
	// once. nil: Collect walks root/proc itself.
	Procs *procfd.Index
	// TCPByPID, when set, is what each process holds of the TCP socket tables, read by the
	// caller (with sock_diag, in the pass that sums up the sockets); Collect then does not read
	// /proc/PID/net/tcp.
	TCPByPID map[int]ProcessTCP
}

// ProcessTCP is one process's share of the TCP socket tables: how many sockets it holds and the
// addresses it listens on.
type ProcessTCP struct {
	Sockets   int
	Listening []string
}

// Collect gathers the facts of one host. It returns an error only when nothing can be read
// (no proc/sys under the root) or ctx ends; every fact that cannot be read becomes a
// model.Problem in the snapshot.
func Collect(ctx context.Context, opts Options) (*model.Snapshot, error) {
	root := opts.Root
	if root == "" {
		root = "/"
	}
	root = filepath.Clean(root)
	live := root == "/"
	if fi, err := os.Stat(filepath.Join(root, "proc/sys")); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("cannot read host facts: %s: %w (is procfs mounted? does the root point at a copy of a host with proc/ and etc/?)",
			filepath.Join(root, "proc/sys"), err)
	}
	c := &collector{
		ctx:  ctx,
		root: root,
		live: live,
		opts: opts,
		snap: &model.Snapshot{
			Namespaces:  []model.Namespace{},
			Global:      []model.Sysctl{},
			SysctlFiles: []string{},
			Conflicts:   []model.SysctlConflict{},
			Processes:   []model.Process{},
			Problems:    []model.Problem{},
		},
	}
	if err := c.run(); err != nil {
		return nil, err
	}
	return c.snap, nil
}

// collector holds one run of Collect.
type collector struct {
	ctx  context.Context
	root string
	live bool
	opts Options
	snap *model.Snapshot
	kv   kernelVersion
	cfg  *sysctlConfig
}

func (c *collector) problems(p ...model.Problem) { c.snap.Problems = append(c.snap.Problems, p...) }

func (c *collector) run() error {
	info, probs := hostInfo(c.root)
	c.snap.Host = info
	c.problems(probs...)
	c.kv = parseKernelRelease(info.Kernel)

	// The sysctl configuration, in the order it is applied at boot.
	c.cfg = loadSysctlConfig(os.DirFS(c.root))
	c.snap.SysctlFiles = append(c.snap.SysctlFiles, c.cfg.Files...)
	c.snap.Conflicts = append(c.snap.Conflicts, c.cfg.conflicts(knownKeys())...)
	c.problems(c.cfg.Problems...)

	// Network namespaces: the current one, the processes', the pinned ones.
	current, err := readNsLink(filepath.Join(c.root, "proc/self"))
	if err != nil {
		c.problems(readProblem("the current network namespace", err))
	}
	pid1, _ := readNsLink(filepath.Join(c.root, "proc/1")) // often unreadable: only a hint
	// Processes whose namespace cannot be read stay in scope, so that they count in the
	// Problem about descriptors that could not be read.
	inScope := func(p *procInfo) bool { return c.opts.AllNetns || p.NetnsInode == current || p.NetnsInode == 0 }
	procs, idx, err := walkProcs(c.ctx, c.root, c.opts.Procs)
	if err != nil {
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		c.problems(readProblem("processes ("+filepath.Join(c.root, "proc")+")", err))
	}
	pinned, probs := readPinnedNetns(c.root, c.live)
	c.problems(probs...)
	probes, err := c.namespaces(groupNetns(procs, pinned, current, pid1, c.kv))
	if err != nil {
		return err
	}

	// Processes with TCP sockets in the audited namespaces.
	var scoped []*procInfo
	for _, p := range procs {
		if inScope(p) {
			scoped = append(scoped, p)
		}
	}
	if c.opts.TCPByPID != nil {
		for _, p := range scoped {
			t := c.opts.TCPByPID[p.PID]
			p.tcp = t.Sockets
			p.listen = slices.Compact(slices.Sorted(slices.Values(t.Listening)))
		}
	} else if idx != nil {
		c.problems(matchTCP(c.root, idx, scoped)...)
	}
	lookup := func(ino uint64) model.Setting[int] {
		if s, ok := probes[ino]; ok {
			return s
		}
		return model.Setting[int]{Source: model.Source{Detail: fmt.Sprintf(
			"tcp_keepalive_probes of the process's network namespace net:[%d] was not read", ino)}}
	}
	out, probs, err := processFacts(c.ctx, c.root, scoped, lookup)
	if err != nil {
		return err
	}
	c.snap.Processes = append(c.snap.Processes, out...)
	c.problems(probs...)
	return nil
}

// notAuditedHint is why the other namespaces were not read and what reads them: root already
// needs only the flag (telling root to "run as root" sent people looking for a missing privilege).
func notAuditedHint(euid int) string {
	if euid == 0 {
		return "not audited: add --all-netns"
	}
	return "not audited: run as root with --all-netns"
}

// namespaces reads the sysctls of the current namespace, the global ones, and with AllNetns
// those of every other namespace in all. It returns the tcp_keepalive_probes of each namespace
// read, for the Go programs living there.
func (c *collector) namespaces(all []*netnsInfo) (map[uint64]model.Setting[int], error) {
	// The configuration files apply to the current namespace only.
	here := readSysctls(procSys{dir: filepath.Join(c.root, "proc/sys")}, c.kv, c.cfg, true, "")
	c.snap.Global = append(c.snap.Global, here.global...)
	c.problems(here.problems...)
	conntrackMax := intSetting(here.global, model.KeyConntrackMax)
	if conntrackMax.Known {
		conntrackMax.Source.Detail = "global: nf_conntrack_max of the initial network namespace applies to all"
	}

	audited := all
	if !c.opts.AllNetns {
		audited = all[:0:0]
		for _, n := range all {
			if n.Current {
				audited = append(audited, n)
			}
		}
		if others := len(all) - len(audited); others > 0 {
			p := model.Problem{
				What: "the sysctls of " + plural(others, "other network namespace", "other network namespaces") + " in use",
				Err:  notAuditedHint(os.Geteuid()),
			}
			if os.Geteuid() != 0 {
				p.Needs = "root"
			}
			c.problems(p)
		}
	}

	probes := map[uint64]model.Setting[int]{}
	canEnter := c.live && os.Geteuid() == 0
	notEntered := 0
	for _, n := range audited {
		if err := c.ctx.Err(); err != nil {
			return nil, err
		}
		n.readHint(c.root)
		ns := model.Namespace{Inode: n.Inode, Name: n.name(), Current: n.Current, PIDs: n.pids()}
		r, ok := here, n.Current
		switch {
		case n.Current:
		case canEnter:
			r, ok = c.readOther(n, ns.Name)
		default:
			notEntered++
		}
		if ok {
			ns.Sysctls = r.sysctls
			ns.Keepalive = keepaliveOf(r.sysctls)
			if r.conntrack {
				ns.Conntrack = conntrackOf(r.sysctls, conntrackMax)
			}
			probes[n.Inode] = ns.Keepalive.Count
		}
		c.snap.Namespaces = append(c.snap.Namespaces, ns)
	}

	switch {
	case notEntered > 0 && !c.live:
		c.problems(model.Problem{
			What: "the sysctls of " + plural(notEntered, "other network namespace", "other network namespaces"),
			Err:  "not read: namespaces can only be entered on the live system, not under the root " + c.root,
		})
	case c.opts.AllNetns && c.live && !canEnter:
		// Without root, other users' namespaces are not even visible (ptrace access mode checks
		// on /proc/PID/ns), so say so even when none was found.
		c.problems(model.Problem{
			What: "the sysctls of network namespaces other than the current one",
			Err: fmt.Sprintf("not read (%d others visible; those of other users' processes are hidden): entering a "+
				"network namespace needs root (CAP_SYS_ADMIN for setns, CAP_SYS_PTRACE to see other users' namespaces)",
				notEntered),
			Needs: "root",
		})
	}
	return probes, nil
}

// readOther enters a namespace other than the current one and reads its sysctls. The
// configuration files do not apply there: systemd-sysctl ran in the host namespace.
func (c *collector) readOther(n *netnsInfo, name string) (sysctlReading, bool) {
	var (
		r       sysctlReading
		lastErr error
	)
	for _, path := range n.entryPaths(c.root) {
		lastErr = netns.DoInode(path, n.Inode, func() error {
			r = readSysctls(procSys{dir: "/proc/sys"}, c.kv, nil, false, name)
			return nil
		})
		if lastErr == nil {
			c.problems(r.problems...)
			return r, true
		}
		if errors.Is(lastErr, netns.ErrRestore) {
			break
		}
	}
	p := model.Problem{What: fmt.Sprintf("the sysctls of network namespace %s (net:[%d])", name, n.Inode)}
	if lastErr == nil {
		lastErr = errors.New("no process or /run/netns file to enter it through")
	}
	p.Err = lastErr.Error()
	if isPermission(lastErr) {
		p.Needs = "CAP_SYS_ADMIN"
	}
	c.problems(p)
	return r, false
}
