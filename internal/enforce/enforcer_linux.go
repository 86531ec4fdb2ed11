package enforce

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Enforcer applies, lists and removes policies. It holds no kernel object between calls: what
// is enforced lives in the pins.
type Enforcer struct {
	opts    Options
	pinDir  string
	release string
	layout  kernelLayout
	// levelsKnown is false inside a cgroup namespace, where the depth under the mount is not the
	// kernel's cgroup level: the guard then looks at every level.
	levelsKnown bool
}

const PinDirName = "keeptune"

// Open checks the system (kernel version and BTF, cgroup v2, capabilities, bpffs, in that order)
// and returns an Enforcer. Nothing is loaded or attached yet. needWrite is false for status,
// which only reads the pins.
func Open(opts Options, needWrite bool) (*Enforcer, error) {
	if opts.BPFFS == "" {
		opts.BPFFS = "/sys/fs/bpf"
	}
	if opts.PodLogs == "" {
		opts.PodLogs = "/var/log/pods"
	}
	e := &Enforcer{opts: opts, pinDir: filepath.Join(opts.BPFFS, PinDirName)}
	rel, v, err := kernelRelease()
	if err != nil {
		return nil, fmt.Errorf("reading the kernel version: %w", err)
	}
	e.release = rel
	if v[0] < minKernel[0] || (v[0] == minKernel[0] && v[1] < minKernel[1]) {
		return nil, &MissingError{
			What: fmt.Sprintf("kernel %s is too old: enforce needs Linux %d.%d or later (bpf_setsockopt with SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT; bpf_skc_to_tcp_sock)", rel, minKernel[0], minKernel[1]),
			Hint: "set keepalive in the program or its configuration instead (keeptune audit proposes how), or upgrade the kernel",
		}
	}
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, &MissingError{
			What: fmt.Sprintf("kernel %s has no BTF (/sys/kernel/btf/vmlinux: %v): the program needs it to read the socket's own keepalive values", rel, err),
			Hint: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's since 2021)",
		}
	}
	if e.layout, err = layoutFromBTF(kspec); err != nil {
		return nil, &MissingError{What: fmt.Sprintf("kernel %s: %v", rel, err), Hint: "report this kernel version to keeptune"}
	}
	if e.opts.CgroupRoot == "" {
		mounts, err := readMounts("/proc/self/mountinfo")
		if err != nil {
			return nil, fmt.Errorf("reading mounts: %w", err)
		}
		point, root, ok := cgroup2Mount(mounts)
		if !ok {
			return nil, &MissingError{
				What: "no cgroup v2 hierarchy is mounted (neither unified at /sys/fs/cgroup nor hybrid at /sys/fs/cgroup/unified): sock_ops programs attach to v2 cgroups only",
				Hint: "boot with systemd.unified_cgroup_hierarchy=1, or mount it: mount -t cgroup2 none /sys/fs/cgroup/unified",
			}
		}
		e.opts.CgroupRoot = point
		e.levelsKnown = root == "/" && inInitCgroupNS()
	} else {
		e.levelsKnown = inInitCgroupNS()
	}
	needMount := needWrite && !opts.NoMount && !isBPFFS(opts.BPFFS)
	eff, err := effectiveCaps()
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	if missing := missingCaps(eff, needMount); len(missing) > 0 {
		return nil, &MissingError{
			What:      "enforce needs " + strings.Join(missing, ", "),
			Hint:      "run as root (sudo keeptune enforce ...)",
			Privilege: true,
		}
	}
	if !isBPFFS(opts.BPFFS) {
		if !needWrite {
			return e, nil // status: nothing can be pinned there
		}
		if opts.NoMount {
			return nil, &MissingError{
				What: fmt.Sprintf("%s is not a bpf file system: the policy must be pinned there to outlive this command", opts.BPFFS),
				Hint: fmt.Sprintf("mount it: mount -t bpf bpf %s", opts.BPFFS),
			}
		}
		if err := mountBPFFS(opts.BPFFS); err != nil {
			return nil, &MissingError{What: fmt.Sprintf("%s is not a bpf file system and mounting one failed: %v", opts.BPFFS, err),
				Hint: fmt.Sprintf("mount it: mount -t bpf bpf %s", opts.BPFFS), Privilege: errors.Is(err, os.ErrPermission)}
		}
	}
	return e, nil
}

// PinDir is where the objects are pinned.
func (e *Enforcer) PinDir() string { return e.pinDir }

// CgroupRoot is the v2 hierarchy's mount point.
func (e *Enforcer) CgroupRoot() string { return e.opts.CgroupRoot }

// Resolve finds the cgroup a scope names.
func (e *Enforcer) Resolve(s Scope) (Target, error) {
	var podLogs = os.DirFS(e.opts.PodLogs)
	if _, err := os.Stat(e.opts.PodLogs); err != nil {
		podLogs = nil
	}
	p, err := resolveScope(os.DirFS(e.opts.CgroupRoot), e.opts.CgroupRoot, podLogs, s)
	if err != nil {
		return Target{}, err
	}
	id, err := cgroupID(filepath.Join(e.opts.CgroupRoot, p))
	if err != nil {
		return Target{}, err
	}
	return Target{Path: p, ID: id}, nil
}

// objects are the pinned maps and programs.
type objects struct {
	policy, stats, levels, sides, store *ebpf.Map
	ops, guard                          *ebpf.Program
}

func (o *objects) Close() {
	for _, c := range []interface{ Close() error }{o.policy, o.stats, o.levels, o.sides, o.store, o.ops, o.guard} {
		if c != nil && !isNilCloser(c) {
			c.Close()
		}
	}
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *ebpf.Map:
		return v == nil
	case *ebpf.Program:
		return v == nil
	}
	return false
}

func (e *Enforcer) pin(name string) string { return filepath.Join(e.pinDir, name) }
func (e *Enforcer) linkDir() string        { return filepath.Join(e.pinDir, "links") }
func (e *Enforcer) linkPin(kind string, id uint64) string {
	return filepath.Join(e.linkDir(), fmt.Sprintf("%s-%d", kind, id))
}

// loadPinned opens what an earlier apply pinned; ok is false when nothing is pinned.
func (e *Enforcer) loadPinned() (o *objects, ok bool, err error) {
	if _, err := os.Stat(e.pin(progSockOpsName)); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	o = &objects{}
	fail := func(err error) (*objects, bool, error) {
		o.Close()
		return nil, true, fmt.Errorf("opening the objects pinned under %s: %w (hint: keeptune enforce detach removes them)", e.pinDir, err)
	}
	for _, m := range []struct {
		dst  **ebpf.Map
		name string
	}{{&o.policy, mapPolicyName}, {&o.stats, mapStatsName}, {&o.levels, mapLevelsName}, {&o.sides, mapSidesName}, {&o.store, mapStoreName}} {
		if *m.dst, err = ebpf.LoadPinnedMap(e.pin(m.name), nil); err != nil {
			return fail(err)
		}
	}
	if o.policy.ValueSize() != policyValueSize || o.stats.ValueSize() != numCounters*8 || o.store.ValueSize() != storeValueSize {
		return fail(errors.New("pinned by a keeptune with another map layout"))
	}
	if o.ops, err = ebpf.LoadPinnedProgram(e.pin(progSockOpsName), nil); err != nil {
		return fail(err)
	}
	if o.guard, err = ebpf.LoadPinnedProgram(e.pin(progGuardName), nil); err != nil {
		return fail(err)
	}
	return o, true, nil
}

// create loads the programs and maps and pins them. On error nothing is left pinned.
func (e *Enforcer) create() (o *objects, err error) {
	// Only the program needs HZ (status and detach do not): it is looked up when it is loaded.
	if e.layout.HZ == 0 {
		hz, err := kernelHZ(e.release)
		if err != nil {
			return nil, &MissingError{What: fmt.Sprintf("kernel %s: %v", e.release, err),
				Hint: "the program compares the sockets' keepalive times (kept in jiffies) with the policy: make the kernel configuration readable (CONFIG_IKCONFIG_PROC, or /boot/config-" + e.release + ") or /proc/timer_list"}
		}
		e.layout.HZ = int32(hz)
	}
	coll, err := ebpf.NewCollection(spec(e.layout))
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("kernel %s refused the program: %v (hint: run with a kernel of Linux %d.%d or later with BTF; report this kernel to keeptune)", e.release, err, minKernel[0], minKernel[1])
		}
		return nil, fmt.Errorf("loading the programs on kernel %s: %w", e.release, err)
	}
	defer coll.Close()
	defer func() {
		if err != nil {
			os.RemoveAll(e.pinDir)
		}
	}()
	if err := os.MkdirAll(e.linkDir(), 0o700); err != nil {
		return nil, err
	}
	for name, m := range coll.Maps {
		if err := m.Pin(e.pin(name)); err != nil {
			return nil, fmt.Errorf("pinning %s: %w", name, err)
		}
	}
	for name, p := range coll.Programs {
		if err := p.Pin(e.pin(name)); err != nil {
			return nil, fmt.Errorf("pinning %s: %w", name, err)
		}
	}
	o = &objects{}
	o.policy, o.stats, o.levels, o.sides = coll.DetachMap(mapPolicyName), coll.DetachMap(mapStatsName), coll.DetachMap(mapLevelsName), coll.DetachMap(mapSidesName)
	o.store = coll.DetachMap(mapStoreName)
	o.ops, o.guard = coll.DetachProgram(progSockOpsName), coll.DetachProgram(progGuardName)
	return o, nil
}

// Apply enforces p on the target cgroup, replacing its earlier policy. On any error the earlier
// state is restored, and when this call created the objects, nothing stays pinned.
func (e *Enforcer) Apply(t Target, p Policy) (err error) {
	if err := p.Validate(); err != nil {
		return err
	}
	unlock, err := e.lock()
	if err != nil {
		return err
	}
	defer unlock()
	o, existed, err := e.loadPinned()
	if err != nil {
		return err
	}
	if !existed {
		if o, err = e.create(); err != nil {
			return err
		}
	}
	defer o.Close()
	prev, hadPrev := lookupPolicy(o.policy, t.ID)
	defer func() {
		if err == nil {
			return
		}
		if !existed {
			os.RemoveAll(e.pinDir)
			return
		}
		if hadPrev {
			_ = o.policy.Put(t.ID, prev)
		} else {
			_ = o.policy.Delete(t.ID)
			_ = o.stats.Delete(t.ID)
		}
		_ = e.reconcile(o, 0)
	}()
	if err := o.policy.Put(t.ID, policyValue(p)); err != nil {
		return fmt.Errorf("writing the policy: %w", err)
	}
	if !hadPrev {
		zero := make([][]byte, ebpfPossibleCPUs())
		for i := range zero {
			zero[i] = make([]byte, numCounters*8)
		}
		if err := o.stats.Put(t.ID, zero); err != nil {
			return fmt.Errorf("creating the counters: %w", err)
		}
	}
	// A new policy starts its counters at zero: the kernel keeps a cgroup's storage, counters
	// included, for as long as the map and the cgroup live, also after its link went.
	var fresh uint64
	if !hadPrev {
		fresh = t.ID
	}
	return e.reconcile(o, fresh)
}

func ebpfPossibleCPUs() int {
	n, err := ebpf.PossibleCPU()
	if err != nil || n < 1 {
		return runtime.NumCPU()
	}
	return n
}

func lookupPolicy(m *ebpf.Map, id uint64) ([]byte, bool) {
	var v []byte
	if err := m.Lookup(id, &v); err != nil {
		return nil, false
	}
	return v, true
}

// policies lists the policy map.
func policies(m *ebpf.Map) (map[uint64]Policy, error) {
	out := map[uint64]Policy{}
	var id uint64
	var v []byte
	it := m.Iterate()
	for it.Next(&id, &v) {
		p, err := decodePolicy(v)
		if err != nil {
			return nil, err
		}
		out[id] = p
	}
	return out, it.Err()
}

// linkPlan decides which cgroups carry a link: a sock_ops link on every enforced cgroup (each
// link has its own storage, which holds its cgroup's policy; a link runs for the whole subtree,
// the nearest enforced cgroup's first), a guard link on every force-mode cgroup with no
// force-mode ancestor (the guard finds the nearest policy itself).
func linkPlan(paths map[uint64]string, pols map[uint64]Policy) (ops, guard map[uint64]bool) {
	ops, guard = map[uint64]bool{}, map[uint64]bool{}
	for id, p := range paths {
		ops[id] = true
		if pols[id].Mode != ModeForce {
			continue
		}
		guardCovered := false
		for other, q := range paths {
			if other != id && isAncestor(q, p) && pols[other].Mode == ModeForce {
				guardCovered = true
			}
		}
		if !guardCovered {
			guard[id] = true
		}
	}
	return ops, guard
}

// reconcile makes the links and the levels mask match the policy map: policies of cgroups that
// no longer exist are dropped, missing links attached and pinned (first, so that no cgroup is
// ever uncovered), surplus links removed.
func (e *Enforcer) reconcile(o *objects, fresh uint64) error {
	pols, err := policies(o.policy)
	if err != nil {
		return fmt.Errorf("reading the policies: %w", err)
	}
	all := cgroupPaths(e.opts.CgroupRoot)
	paths := map[uint64]string{}
	for id := range pols {
		if p, ok := all[id]; ok {
			paths[id] = p
		} else {
			_ = o.policy.Delete(id)
			_ = o.stats.Delete(id)
			delete(pols, id)
		}
	}
	opsWant, guardWant := linkPlan(paths, pols)
	have, err := e.pinnedLinks()
	if err != nil {
		return err
	}
	attach := func(kind string, id uint64, prog *ebpf.Program, at ebpf.AttachType) error {
		if have[kind][id] {
			return nil
		}
		l, err := link.AttachCgroup(link.CgroupOptions{Path: filepath.Join(e.opts.CgroupRoot, paths[id]), Attach: at, Program: prog})
		if err != nil {
			return fmt.Errorf("attaching %s to cgroup %s: %w", prog, paths[id], err)
		}
		defer l.Close()
		if err := l.Pin(e.linkPin(kind, id)); err != nil {
			return fmt.Errorf("pinning the link of %s: %w (this kernel may lack cgroup bpf_link, Linux 5.7)", paths[id], err)
		}
		return nil
	}
	for id := range opsWant {
		if err := attach("ops", id, o.ops, ebpf.AttachCGroupSockOps); err != nil {
			return err
		}
	}
	for id := range guardWant {
		if err := attach("guard", id, o.guard, ebpf.AttachCGroupSetsockopt); err != nil {
			return err
		}
	}
	for kind, ids := range have {
		want := opsWant
		if kind == "guard" {
			want = guardWant
		}
		for id := range ids {
			if !want[id] {
				// Removing the pin drops the last reference: the kernel detaches the link.
				if err := os.Remove(e.linkPin(kind, id)); err != nil {
					return fmt.Errorf("removing a link: %w", err)
				}
			}
		}
	}
	if err := e.writeStorage(o, paths, pols, fresh); err != nil {
		return err
	}
	var mask uint64
	for _, p := range paths {
		lvl := strings.Count(p, "/")
		if !e.levelsKnown || lvl >= guardLevels {
			mask = 1<<guardLevels - 1
			break
		}
		mask |= 1 << lvl
	}
	if err := o.levels.Put(uint32(0), mask); err != nil {
		return fmt.Errorf("writing the levels: %w", err)
	}
	return nil
}

// writeStorage writes every enforced cgroup's id and policy into the storage of its sock_ops
// link, on every CPU, keeping the counters there (those of fresh, a new policy, start at zero).
// A count the program makes between the read and the write is lost; nothing else is.
func (e *Enforcer) writeStorage(o *objects, paths map[uint64]string, pols map[uint64]Policy, fresh uint64) error {
	cpus := ebpfPossibleCPUs()
	for id, p := range paths {
		nested := false
		for other, q := range paths {
			if other != id && isAncestor(p, q) {
				nested = true
				break
			}
		}
		pv := policyValue(pols[id])
		if nested {
			ne := binary.NativeEndian
			ne.PutUint32(pv[offFlags:], ne.Uint32(pv[offFlags:])|flagNested)
		}
		var perCPU [][]byte
		if err := o.store.Lookup(id, &perCPU); err != nil || len(perCPU) != cpus || id == fresh {
			perCPU = make([][]byte, cpus)
		}
		for i := range perCPU {
			if len(perCPU[i]) != storeValueSize {
				perCPU[i] = make([]byte, storeValueSize)
			}
			binary.NativeEndian.PutUint64(perCPU[i][stoCgroup:], id)
			copy(perCPU[i][stoPolicy:stoCounters], pv)
		}
		if err := o.store.Update(id, perCPU, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("writing the policy of %s into its link's storage: %w", p, err)
		}
	}
	return nil
}

// storedCounters reads the counters in the storage of the cgroup's sock_ops link.
func storedCounters(m *ebpf.Map, id uint64) Counters {
	var perCPU [][]byte
	if err := m.Lookup(id, &perCPU); err != nil {
		return Counters{}
	}
	for i, b := range perCPU {
		if len(b) == storeValueSize {
			perCPU[i] = b[stoCounters:]
		}
	}
	return decodeCounters(perCPU)
}

// pinnedLinks lists links/KIND-ID.
func (e *Enforcer) pinnedLinks() (map[string]map[uint64]bool, error) {
	out := map[string]map[uint64]bool{"ops": {}, "guard": {}}
	entries, err := os.ReadDir(e.linkDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, en := range entries {
		kind, idStr, ok := strings.Cut(en.Name(), "-")
		id, err := strconv.ParseUint(idStr, 10, 64)
		if !ok || err != nil || out[kind] == nil {
			continue
		}
		out[kind][id] = true
	}
	return out, nil
}

// Status reads the pins. With nothing pinned it returns an empty Status.
func (e *Enforcer) Status() (Status, error) {
	st := Status{PinDir: e.pinDir, Kernel: e.release, Programs: []ProgramRef{}, Entries: []Entry{}}
	if !isBPFFS(e.opts.BPFFS) {
		return st, nil
	}
	o, ok, err := e.loadPinned()
	if err != nil || !ok {
		return st, err
	}
	defer o.Close()
	for _, p := range []*ebpf.Program{o.ops, o.guard} {
		info, err := p.Info()
		if err != nil {
			return st, err
		}
		id, _ := info.ID()
		st.Programs = append(st.Programs, ProgramRef{Name: info.Name, ID: uint32(id), Type: p.Type().String()})
	}
	pols, err := policies(o.policy)
	if err != nil {
		return st, err
	}
	all := cgroupPaths(e.opts.CgroupRoot)
	links, err := e.pinnedLinks()
	if err != nil {
		return st, err
	}
	pathOf := func(id uint64) string {
		if p, ok := all[id]; ok {
			return p
		}
		return fmt.Sprintf("(removed cgroup %d)", id)
	}
	for id, p := range pols {
		en := Entry{Target: Target{Path: pathOf(id), ID: id}, Policy: p}
		_, en.Exists = all[id]
		var perCPU [][]byte
		if err := o.stats.Lookup(id, &perCPU); err == nil {
			en.Counters = decodeCounters(perCPU) // the guard's
		}
		en.Counters = en.Counters.add(storedCounters(o.store, id)) // the sock_ops program's
		// Every enforced cgroup has its own sock_ops link (its storage holds the policy).
		if links["ops"][id] && en.Exists {
			en.Link = en.Path
		}
		// The guard serving a force-mode cgroup is the one on the nearest guarded cgroup at or
		// above it.
		if p.Mode == ModeForce {
			for lid := range links["guard"] {
				if lp, ok := all[lid]; ok && (lp == en.Path || isAncestor(lp, en.Path)) && len(lp) > len(en.Guard) {
					en.Guard = lp
				}
			}
		}
		st.Entries = append(st.Entries, en)
	}
	sort.Slice(st.Entries, func(i, j int) bool { return st.Entries[i].Path < st.Entries[j].Path })
	return st, nil
}

// Detach removes the target's policy (and the links only it needed); with t nil, or when no
// policy remains, it removes everything keeptune pinned: programs, links, maps and the directory.
// It reports whether anything was enforced on the target.
func (e *Enforcer) Detach(t *Target) (bool, error) {
	if !isBPFFS(e.opts.BPFFS) {
		return false, nil
	}
	unlock, err := e.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := os.Stat(e.pinDir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if t == nil {
		return true, e.removeAll()
	}
	o, ok, err := e.loadPinned()
	if err != nil {
		return false, err
	}
	if !ok {
		return false, e.removeAll()
	}
	defer o.Close()
	_, had := lookupPolicy(o.policy, t.ID)
	if had {
		if err := o.policy.Delete(t.ID); err != nil {
			return true, err
		}
		_ = o.stats.Delete(t.ID)
	}
	pols, err := policies(o.policy)
	if err != nil {
		return had, err
	}
	if len(pols) == 0 {
		o.Close()
		return had, e.removeAll()
	}
	return had, e.reconcile(o, 0)
}

// lockWait is how long Apply and Detach wait for another keeptune's Apply or Detach on the same
// bpffs to finish.
var lockWait = 30 * time.Second

// lock serialises Apply and Detach between processes: both read the pins, change the maps and
// links, and may create or remove the pin directory, so two at once could lose a policy (each
// sees an empty policy map and the second's pinning fails and removes the first's objects) or
// leave a link without a policy. The lock is flock(2) on the bpffs mount point itself (not on
// the pin directory, which Detach removes): it is per bpf file system, so sandboxes with their
// own bpffs do not wait for each other, and the kernel releases it when the process exits, so a
// killed keeptune leaves no stale lock.
func (e *Enforcer) lock() (unlock func(), err error) {
	fd, err := unix.Open(e.opts.BPFFS, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s to lock it: %w", e.opts.BPFFS, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil // closing the last descriptor releases the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			unix.Close(fd)
			return nil, fmt.Errorf("locking %s: %w", e.opts.BPFFS, err)
		}
		if time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("another keeptune enforce apply or detach has held the lock on %s for %s (hint: wait for it to finish; `fuser -v %s` names it)",
				e.opts.BPFFS, lockWait, e.opts.BPFFS)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeAll unpins everything. Unlinking a pin drops its reference; links detach and programs
// and maps are freed once nothing else holds them.
func (e *Enforcer) removeAll() error {
	if err := os.RemoveAll(e.pinDir); err != nil {
		return fmt.Errorf("removing %s: %w", e.pinDir, err)
	}
	return nil
}

// Netns returns the network namespace (inode) the target's processes live in, and keeptune's
// own; a cgroup without processes is taken to share keeptune's.
func (e *Enforcer) Netns(t Target) (netns, own uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return 0, 0, err
	}
	own = st.Ino
	netns = own
	_ = filepath.WalkDir(filepath.Join(e.opts.CgroupRoot, t.Path), func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			var ns unix.Stat_t
			if unix.Stat("/proc/"+f+"/ns/net", &ns) == nil {
				netns = ns.Ino
				return filepath.SkipAll
			}
		}
		return nil
	})
	return netns, own, nil
}
