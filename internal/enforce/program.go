package enforce

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Names of the objects keeptune creates; every one starts with "keeptune_" so that status,
// detach and the tests can tell them from other programs (the kernel keeps 15 characters).
const (
	progSockOpsName = "keeptune_ops"
	progGuardName   = "keeptune_guard"
	mapPolicyName   = "keeptune_policy"
	mapStatsName    = "keeptune_stats"
	mapLevelsName   = "keeptune_levels"
	mapSidesName    = "keeptune_sides"
	mapStoreName    = "keeptune_store"
	objectPrefix    = "keeptune_"
)

// maxPolicies bounds the policy and stats maps: one entry per enforced cgroup.
const maxPolicies = 4096

// walkDepth is how many cgroups the sock_ops program looks at, from the socket's own cgroup
// upwards, to find the nearest one with a policy, where enforced cgroups lie inside each other.
// It bounds how deep below an enforced cgroup that has enforced cgroups inside it a socket may be.
const walkDepth = 16

// guardLevels is how many cgroup levels the setsockopt guard can look at (cgroup levels counted
// from the root of the v2 hierarchy, the root being level 0).
const guardLevels = 32

// uapi constants (include/uapi/linux/bpf.h, socket.h, tcp.h, in.h).
const (
	sockOpsActiveEstablishedCB  = 4 // BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB
	sockOpsPassiveEstablishedCB = 5 // BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB

	solSocket      = 1  // SOL_SOCKET
	soKeepalive    = 9  // SO_KEEPALIVE
	solTCP         = 6  // SOL_TCP == IPPROTO_TCP
	tcpKeepidle    = 4  // TCP_KEEPIDLE
	tcpKeepintvl   = 5  // TCP_KEEPINTVL
	tcpKeepcnt     = 6  // TCP_KEEPCNT
	tcpUserTimeout = 18 // TCP_USER_TIMEOUT

	tcpStateClose  = 7  // TCP_CLOSE: a socket not connected yet
	tcpStateListen = 10 // TCP_LISTEN

	bpfFNoPrealloc        = 1 // BPF_F_NO_PREALLOC
	bpfSkStorageGetCreate = 1 // BPF_SK_STORAGE_GET_F_CREATE
)

// Offsets in the programs' context structures (uapi, stable ABI; a test checks them against the
// kernel's BTF).
const (
	ctxSockOpsOp = 0   // struct bpf_sock_ops.op
	ctxSockOpsSk = 184 // struct bpf_sock_ops.sk

	ctxSockoptSk     = 0  // struct bpf_sockopt.sk
	ctxSockoptVal    = 8  // .optval
	ctxSockoptValEnd = 16 // .optval_end
	ctxSockoptLevel  = 24 // .level
	ctxSockoptName   = 28 // .optname
	ctxSockoptOptlen = 32 // .optlen (writable: 0 keeps the caller's buffer)

	bpfSockProtocol = 12 // struct bpf_sock.protocol
	bpfSockState    = 72 // struct bpf_sock.state
)

// Stack slots of the sock_ops program (offsets from R10).
const (
	stKey    = -8  // u64 cgroup id, the key of both maps
	stOptval = -16 // int handed to bpf_setsockopt
	stResult = -24 // bits: resSet, resLeft, resError
	stSide   = -32 // flagConnect or flagAccept
)

const (
	resSet   = 1
	resLeft  = 2
	resError = 4
)

// spec returns the maps and programs as a collection for this kernel's layout.
func spec(l kernelLayout) *ebpf.CollectionSpec {
	return &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			mapPolicyName: {Name: mapPolicyName, Type: ebpf.Hash, KeySize: 8, ValueSize: policyValueSize, MaxEntries: maxPolicies},
			mapStatsName:  {Name: mapStatsName, Type: ebpf.PerCPUHash, KeySize: 8, ValueSize: numCounters * 8, MaxEntries: maxPolicies},
			mapLevelsName: {Name: mapLevelsName, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1},
			// Per-CPU cgroup storage (Linux 4.20; keyed by the cgroup id alone since 5.9): the
			// kernel gives every cgroup the sock_ops program is attached to its own, freed
			// with the link; apply writes the cgroup's id and policy into it.
			mapStoreName: {Name: mapStoreName, Type: ebpf.PerCPUCGroupStorage, KeySize: 8, ValueSize: storeValueSize},
			// Socket storage (freed with the socket): the side a force-mode policy of one side
			// marked a connection with, for the guard. The kernel wants BTF for its key and value.
			mapSidesName: {Name: mapSidesName, Type: ebpf.SkStorage, KeySize: 4, ValueSize: 4, Flags: bpfFNoPrealloc,
				Key: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}, Value: &btf.Int{Name: "unsigned int", Size: 4}},
		},
		Programs: map[string]*ebpf.ProgramSpec{
			progSockOpsName: {Name: progSockOpsName, Type: ebpf.SockOps, AttachType: ebpf.AttachCGroupSockOps,
				Instructions: sockOpsInstructions(l), License: "Dual MIT/GPL"},
			progGuardName: {Name: progGuardName, Type: ebpf.CGroupSockopt, AttachType: ebpf.AttachCGroupSetsockopt,
				Instructions: guardInstructions(), License: "Dual MIT/GPL"},
		},
	}
}

// sockOpsInstructions is the sock_ops program. At ACTIVE_ESTABLISHED_CB (a connection this
// cgroup opened has completed its handshake) and PASSIVE_ESTABLISHED_CB (one it will accept has),
// it takes the policy of the cgroup its link is attached to from the link's storage (standing
// back when the socket has a nearer enforced cgroup, whose own link ran first) and, for each value the
// policy sets, reads what the socket holds now: zero in tcp_sock means the program never set it
// (the kernel then falls back to the namespace's sysctl). Default mode sets only those; force
// mode also replaces values looser than the policy. Then SO_KEEPALIVE, which starts the timer
// with the values just set. It counts what it did per cgroup and always returns 1.
//
// It runs before the program gets the connection back from connect(2) or accept(2), so a
// program that sets its own values afterwards (Go's net package does) overrides them unless the
// guard is on.
func sockOpsInstructions(l kernelLayout) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, ctxSockOpsOp, asm.Word),
		asm.JEq.Imm(asm.R2, sockOpsActiveEstablishedCB, "active"),
		asm.JEq.Imm(asm.R2, sockOpsPassiveEstablishedCB, "passive"),
		asm.Ja.Label("out"),
		asm.StoreImm(asm.RFP, stSide, flagConnect, asm.Word).WithSymbol("active"),
		asm.Ja.Label("socket"),
		asm.StoreImm(asm.RFP, stSide, flagAccept, asm.Word).WithSymbol("passive"),
		// R7 = the tcp_sock, through BTF (bpf_skc_to_tcp_sock, Linux 5.9).
		asm.LoadMem(asm.R1, asm.R6, ctxSockOpsSk, asm.DWord).WithSymbol("socket"),
		asm.JEq.Imm(asm.R1, 0, "out"),
		asm.FnSkcToTcpSock.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R7, asm.R0),
		// R9 = the storage of the enforced cgroup this link is attached to, this CPU's copy:
		// its id, its policy and its counters. bpf_get_local_storage reads it from the run's
		// context: no map lookup and no walk through the socket's cgroup, which cost this
		// program most of its time when it looked the policy up by cgroup id.
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapStoreName),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnGetLocalStorage.Call(),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.LoadMem(asm.R1, asm.R9, stoPolicy+offFlags, asm.Word),
		asm.And.Imm(asm.R1, flagNested),
		asm.JNE.Imm(asm.R1, 0, "walk"),
		// No enforced cgroup below this one: it is the socket's nearest.
		asm.Mov.Reg(asm.R8, asm.R9).WithSymbol("nearest"),
		asm.Add.Imm(asm.R8, stoPolicy),
		asm.Add.Imm(asm.R9, stoCounters),
		asm.Ja.Label("policy"),
		// An enforced cgroup lies below this one, and its own link runs before this one for
		// its sockets (a cgroup's programs run before its ancestors'): find the socket's
		// nearest enforced cgroup, and act only when it is this one. R8 = the socket's cgroup
		// (sk->sk_cgrp_data.cgroup).
		asm.LoadMem(asm.R8, asm.R7, l.SkCgroup, asm.DWord).WithSymbol("walk"),
	}
	// Walk up from the socket's cgroup to the nearest one with a policy.
	for i := 0; i < walkDepth; i++ {
		insns = append(insns,
			asm.JEq.Imm(asm.R8, 0, "out"),
			asm.LoadMem(asm.R1, asm.R8, l.CgroupKn, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, "out"),
			asm.LoadMem(asm.R1, asm.R1, l.KernfsID, asm.DWord),
			asm.StoreMem(asm.RFP, stKey, asm.R1, asm.DWord),
			asm.LoadMapPtr(asm.R1, 0).WithReference(mapPolicyName),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stKey),
			asm.FnMapLookupElem.Call(),
			asm.JNE.Imm(asm.R0, 0, "found"),
			asm.LoadMem(asm.R1, asm.R8, l.CgroupParentCSS, asm.DWord),
			asm.JEq.Imm(asm.R1, 0, "out"),
			asm.LoadMem(asm.R8, asm.R1, l.CSSCgroup, asm.DWord),
		)
	}
	insns = append(insns,
		asm.Ja.Label("out"),
		asm.LoadMem(asm.R1, asm.RFP, stKey, asm.DWord).WithSymbol("found"),
		asm.LoadMem(asm.R2, asm.R9, stoCgroup, asm.DWord),
		asm.JEq.Reg(asm.R1, asm.R2, "nearest"),
		asm.Ja.Label("out"),
		// R8 = the policy, R9 = the counters. Does the policy cover this side?
		asm.LoadMem(asm.R1, asm.R8, offFlags, asm.Word).WithSymbol("policy"),
		asm.LoadMem(asm.R2, asm.RFP, stSide, asm.Word),
		asm.And.Reg(asm.R1, asm.R2),
		asm.JEq.Imm(asm.R1, 0, "out"),
		// Force mode on one side only: mark the connection with its side, so that the guard,
		// which cannot tell an accepted connection from an opened one, polices only this side's.
		asm.LoadMem(asm.R1, asm.R8, offFlags, asm.Word),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, flagConnect|flagAccept),
		asm.JEq.Imm(asm.R2, flagConnect|flagAccept, "fields"),
		asm.And.Imm(asm.R1, flagForce),
		asm.JEq.Imm(asm.R1, 0, "fields"),
		asm.LoadMem(asm.R2, asm.R6, ctxSockOpsSk, asm.DWord),
		asm.JEq.Imm(asm.R2, 0, "fields"),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapSidesName),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, bpfSkStorageGetCreate),
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, "fields"),
		asm.LoadMem(asm.R1, asm.RFP, stSide, asm.Word),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.Word),
		asm.StoreImm(asm.RFP, stResult, 0, asm.Word).WithSymbol("fields"),
	)
	// The policy holds what the options take (seconds, a count, milliseconds); the socket holds
	// idle and interval in jiffies (the seconds times HZ), so force mode scales the policy's
	// seconds before it compares.
	fields := []struct {
		name    string
		polOff  int16
		sockOff int16
		size    asm.Size
		optname int32
		scale   int32
	}{
		{"idle", offIdle, l.KeepaliveTime, asm.Word, tcpKeepidle, l.HZ},
		{"intvl", offIntvl, l.KeepaliveIntvl, asm.Word, tcpKeepintvl, l.HZ},
		{"cnt", offCnt, l.KeepaliveProbes, asm.Byte, tcpKeepcnt, 1},
		{"uto", offUserTO, l.UserTimeout, asm.Word, tcpUserTimeout, 1},
	}
	for _, f := range fields {
		set, left, next := f.name+"_set", f.name+"_left", f.name+"_next"
		insns = append(insns,
			asm.LoadMem(asm.R2, asm.R8, f.polOff, asm.Word),
			asm.JEq.Imm(asm.R2, 0, next),
			asm.LoadMem(asm.R3, asm.R7, f.sockOff, f.size),
			asm.JEq.Imm(asm.R3, 0, set),
			asm.LoadMem(asm.R4, asm.R8, offFlags, asm.Word),
			asm.And.Imm(asm.R4, flagForce),
			asm.JEq.Imm(asm.R4, 0, left),
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Mul.Imm(asm.R4, f.scale),
			asm.JLE.Reg(asm.R3, asm.R4, left),
			asm.StoreMem(asm.RFP, stOptval, asm.R2, asm.Word).WithSymbol(set),
		)
		insns = append(insns, setsockopt(solTCP, f.optname, next)...)
		insns = append(insns, labeled(left, markResult(resLeft))...)
		insns = append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol(next))
	}
	// SO_KEEPALIVE last: turning it on arms the timer with the idle time just set.
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.R8, offFlags, asm.Word),
		asm.And.Imm(asm.R1, flagKeepalive),
		asm.JEq.Imm(asm.R1, 0, "count"),
		asm.LoadMem(asm.R1, asm.R7, l.SkFlags, asm.DWord),
		asm.RSh.Imm(asm.R1, l.SockKeepopen),
		asm.And.Imm(asm.R1, 1),
		asm.JNE.Imm(asm.R1, 0, "ka_left"),
		asm.StoreImm(asm.RFP, stOptval, 1, asm.Word),
	)
	insns = append(insns, setsockopt(solSocket, soKeepalive, "count")...)
	insns = append(insns, labeled("ka_left", markResult(resLeft))...)
	// Count, in the storage's counters (R9).
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.RFP, stResult, asm.Word).WithSymbol("count"),
		asm.Mov.Imm(asm.R3, 1),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, resSet),
		asm.JEq.Imm(asm.R2, 0, "count_left"),
		asm.LoadMem(asm.R2, asm.RFP, stSide, asm.Word),
		asm.JEq.Imm(asm.R2, flagConnect, "count_connect"),
		asm.AddAtomic.Mem(asm.R9, asm.R3, asm.DWord, ctrAccept*8),
		asm.Ja.Label("count_left"),
		asm.AddAtomic.Mem(asm.R9, asm.R3, asm.DWord, ctrConnect*8).WithSymbol("count_connect"),
		asm.Mov.Reg(asm.R2, asm.R1).WithSymbol("count_left"),
		asm.And.Imm(asm.R2, resLeft),
		asm.JEq.Imm(asm.R2, 0, "count_error"),
		asm.AddAtomic.Mem(asm.R9, asm.R3, asm.DWord, ctrAlreadySet*8),
		asm.Mov.Reg(asm.R2, asm.R1).WithSymbol("count_error"),
		asm.And.Imm(asm.R2, resError),
		asm.JEq.Imm(asm.R2, 0, "out"),
		asm.AddAtomic.Mem(asm.R9, asm.R3, asm.DWord, ctrErrors*8),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	)
	return insns
}

// setsockopt calls bpf_setsockopt(ctx, level, optname, &stack[stOptval], 4), records the result
// and jumps to next.
func setsockopt(level, optname int32, next string) asm.Instructions {
	ok := fmt.Sprintf("ok_%d_%d", level, optname)
	return append(asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, level),
		asm.Mov.Imm(asm.R3, optname),
		asm.Mov.Reg(asm.R4, asm.RFP),
		asm.Add.Imm(asm.R4, stOptval),
		asm.Mov.Imm(asm.R5, 4),
		asm.FnSetsockopt.Call(),
		asm.JEq.Imm(asm.R0, 0, ok),
	}, append(append(markResult(resError), asm.Ja.Label(next)),
		append(labeled(ok, markResult(resSet)), asm.Ja.Label(next))...)...)
}

// labeled puts symbol on the first instruction.
func labeled(symbol string, insns asm.Instructions) asm.Instructions {
	insns[0] = insns[0].WithSymbol(symbol)
	return insns
}

// markResult ORs bit into the result slot (three instructions).
func markResult(bit int32) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.RFP, stResult, asm.Word),
		asm.Or.Imm(asm.R1, bit),
		asm.StoreMem(asm.RFP, stResult, asm.R1, asm.Word),
	}
}

// guard kinds: which option a setsockopt call sets.
const (
	kindKeepalive = iota + 1
	kindIdle
	kindIntvl
	kindCnt
	kindUserTimeout
)

// guardInstructions is the cgroup/setsockopt program of force mode (Linux 5.3). It sees every
// setsockopt(2) a process of the cgroup makes on a TCP socket before the kernel does, and
// rewrites the value in place: SO_KEEPALIVE 0 becomes 1, a TCP_KEEPIDLE, TCP_KEEPINTVL or
// TCP_KEEPCNT above the policy becomes the policy's value, and TCP_USER_TIMEOUT 0 (none) or above
// the policy becomes the policy's. The call then succeeds: the program sees success and, when it
// reads the option back, the policy's value. Tighter values and every other option pass
// untouched, with optlen set to 0 so that the kernel reads the caller's buffer itself instead of
// allocating a copy of the program's (kernel/bpf/cgroup.c, __cgroup_bpf_run_filter_setsockopt;
// Linux 5.8 and later). The policy is the nearest enforced cgroup of the calling process (its own cgroup
// first, then bpf_get_current_ancestor_cgroup_id over the levels that have policies); side=accept applies
// to listening sockets and side=connect to sockets not connected yet; a connection is policed
// under a policy of both sides, and under a policy of one side when the sock_ops program marked
// it with that side (keeptune_sides): connections established before the policy are not.
func guardInstructions() asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R1, asm.R6, ctxSockoptSk, asm.DWord),
		asm.LoadMem(asm.R2, asm.R1, bpfSockProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, solTCP, "allow"),
		asm.LoadMem(asm.R9, asm.R1, bpfSockState, asm.Word),
		asm.LoadMem(asm.R2, asm.R6, ctxSockoptLevel, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, ctxSockoptName, asm.Word),
		asm.JEq.Imm(asm.R2, solTCP, "tcp"),
		asm.JNE.Imm(asm.R2, solSocket, "allow"),
		asm.JNE.Imm(asm.R3, soKeepalive, "allow"),
		asm.Mov.Imm(asm.R7, kindKeepalive),
		asm.Ja.Label("lookup"),
		asm.Mov.Imm(asm.R7, kindIdle).WithSymbol("tcp"),
		asm.JEq.Imm(asm.R3, tcpKeepidle, "lookup"),
		asm.Mov.Imm(asm.R7, kindIntvl),
		asm.JEq.Imm(asm.R3, tcpKeepintvl, "lookup"),
		asm.Mov.Imm(asm.R7, kindCnt),
		asm.JEq.Imm(asm.R3, tcpKeepcnt, "lookup"),
		asm.Mov.Imm(asm.R7, kindUserTimeout),
		asm.JEq.Imm(asm.R3, tcpUserTimeout, "lookup"),
		asm.Ja.Label("allow"),
		// Fast path: the calling process's own cgroup has the policy (the usual case).
		asm.FnGetCurrentCgroupId.Call().WithSymbol("lookup"),
		asm.StoreMem(asm.RFP, stKey, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapPolicyName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stKey),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "found"),
		// R8 = bit mask of the cgroup levels that have a policy.
		asm.StoreImm(asm.RFP, stKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapLevelsName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "allow"),
		asm.LoadMem(asm.R8, asm.R0, 0, asm.DWord),
	}
	// Deepest level first: the nearest enforced cgroup wins.
	for lvl := guardLevels - 1; lvl >= 0; lvl-- {
		skip := fmt.Sprintf("level_%d", lvl)
		insns = append(insns,
			asm.Mov.Reg(asm.R1, asm.R8),
			asm.RSh.Imm(asm.R1, int32(lvl)),
			asm.And.Imm(asm.R1, 1),
			asm.JEq.Imm(asm.R1, 0, skip),
			asm.Mov.Imm(asm.R1, int32(lvl)),
			asm.FnGetCurrentAncestorCgroupId.Call(),
			asm.JEq.Imm(asm.R0, 0, skip),
			asm.StoreMem(asm.RFP, stKey, asm.R0, asm.DWord),
			asm.LoadMapPtr(asm.R1, 0).WithReference(mapPolicyName),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, stKey),
			asm.FnMapLookupElem.Call(),
			asm.JNE.Imm(asm.R0, 0, "found"),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(skip),
		)
	}
	insns = append(insns,
		asm.Ja.Label("allow"),
		asm.Mov.Reg(asm.R8, asm.R0).WithSymbol("found"),
		asm.LoadMem(asm.R1, asm.R8, offFlags, asm.Word),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, flagForce),
		asm.JEq.Imm(asm.R2, 0, "allow"),
		// Side: a listener belongs to accept, an unconnected socket to connect.
		asm.JNE.Imm(asm.R9, tcpStateListen, "not_listen"),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, flagAccept),
		asm.JEq.Imm(asm.R2, 0, "allow"),
		asm.Ja.Label("value"),
		asm.JNE.Imm(asm.R9, tcpStateClose, "connected").WithSymbol("not_listen"),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, flagConnect),
		asm.JEq.Imm(asm.R2, 0, "allow"),
		asm.Ja.Label("value"),
		// A connection: every one under a policy of both sides; under a policy of one side only
		// those the sock_ops program marked with that side when they were established.
		asm.Mov.Reg(asm.R2, asm.R1).WithSymbol("connected"),
		asm.And.Imm(asm.R2, flagConnect|flagAccept),
		asm.JEq.Imm(asm.R2, flagConnect|flagAccept, "value"),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapSidesName),
		asm.LoadMem(asm.R2, asm.R6, ctxSockoptSk, asm.DWord),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, "allow"),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word),
		asm.LoadMem(asm.R1, asm.R8, offFlags, asm.Word),
		asm.And.Reg(asm.R2, asm.R1),
		asm.JEq.Imm(asm.R2, 0, "allow"),
		// R2 = optval, checked to hold an int; R5 = the value the program passes.
		asm.LoadMem(asm.R2, asm.R6, ctxSockoptVal, asm.DWord).WithSymbol("value"),
		asm.LoadMem(asm.R3, asm.R6, ctxSockoptValEnd, asm.DWord),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 4),
		asm.JGT.Reg(asm.R4, asm.R3, "allow"),
		asm.LoadMem(asm.R5, asm.R2, 0, asm.Word),
		asm.JEq.Imm(asm.R7, kindKeepalive, "keepalive"),
		asm.JEq.Imm(asm.R7, kindIdle, "idle"),
		asm.JEq.Imm(asm.R7, kindIntvl, "intvl"),
		asm.JEq.Imm(asm.R7, kindCnt, "cnt"),
		// TCP_USER_TIMEOUT: 0 means none, the loosest of all.
		asm.LoadMem(asm.R4, asm.R8, offUserTO, asm.Word),
		asm.JEq.Imm(asm.R4, 0, "allow"),
		asm.JSLT.Imm32(asm.R5, 0, "allow"),
		asm.JEq.Imm(asm.R5, 0, "rewrite"),
		asm.JLE.Reg(asm.R5, asm.R4, "allow"),
		asm.Ja.Label("rewrite"),
		asm.And.Imm(asm.R1, flagKeepalive).WithSymbol("keepalive"),
		asm.JEq.Imm(asm.R1, 0, "allow"),
		asm.JNE.Imm(asm.R5, 0, "allow"),
		asm.Mov.Imm(asm.R4, 1),
		asm.Ja.Label("rewrite"),
		asm.LoadMem(asm.R4, asm.R8, offIdle, asm.Word).WithSymbol("idle"),
		asm.Ja.Label("cap"),
		asm.LoadMem(asm.R4, asm.R8, offIntvl, asm.Word).WithSymbol("intvl"),
		asm.Ja.Label("cap"),
		asm.LoadMem(asm.R4, asm.R8, offCnt, asm.Word).WithSymbol("cnt"),
		// A value above the policy's is capped; zero or negative is the kernel's to refuse.
		asm.JEq.Imm(asm.R4, 0, "allow").WithSymbol("cap"),
		asm.JSLE.Imm32(asm.R5, 0, "allow"),
		asm.JLE.Reg(asm.R5, asm.R4, "allow"),
		asm.StoreMem(asm.R2, 0, asm.R4, asm.Word).WithSymbol("rewrite"),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapStatsName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "done"),
		asm.Mov.Imm(asm.R3, 1),
		asm.AddAtomic.Mem(asm.R0, asm.R3, asm.DWord, ctrGuard*8),
		asm.Ja.Label("done"),
		// Unchanged: optlen 0 tells the kernel to use the caller's own buffer. Left as it was,
		// the kernel would copy the program's view of optval into a fresh allocation for its
		// setsockopt handler (kmalloc, memcpy, kfree on every setsockopt the cgroup makes).
		asm.Mov.Imm(asm.R1, 0).WithSymbol("allow"),
		asm.StoreMem(asm.R6, ctxSockoptOptlen, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("done"),
		asm.Return(),
	)
	return insns
}
