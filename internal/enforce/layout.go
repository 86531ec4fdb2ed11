package enforce

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// kernelLayout holds the offsets of the kernel structure fields the sock_ops program reads,
// found in the running kernel's BTF (/sys/kernel/btf/vmlinux) when the program is built. This is
// CO-RE done by hand: the instructions are generated for this kernel's layout, so the same
// keeptune binary runs on any kernel that has the fields.
type kernelLayout struct {
	// struct tcp_sock, from the start of the socket.
	KeepaliveTime, KeepaliveIntvl, KeepaliveProbes int16 // u32, u32, u8
	UserTimeout                                    int16 // inet_conn.icsk_user_timeout, u32
	SkFlags                                        int16 // sk_flags, unsigned long
	SkCgroup                                       int16 // sk_cgrp_data.cgroup, struct cgroup *
	// SockKeepopen is the bit of sk_flags that SO_KEEPALIVE sets (enum sock_flags).
	SockKeepopen int32
	// struct cgroup: its kernfs node and its parent (self.parent, a css; css.cgroup leads back).
	CgroupKn, CgroupParentCSS, CSSCgroup int16
	// struct kernfs_node: the id that is the cgroup id (the inode number of its directory).
	KernfsID int16
	// HZ is the kernel's tick rate: keepalive_time and keepalive_intvl are in jiffies. It is
	// not in the BTF; create sets it from kernelHZ before it loads the program.
	HZ int32
}

// fieldSpec names a field by its path from a structure, with the size the program loads. path
// may list alternatives separated by "|", for fields that moved between kernel versions.
type fieldSpec struct {
	strct, path string
	size        uint32
}

// layoutFromBTF finds every field; an error names the first one missing.
func layoutFromBTF(spec *btf.Spec) (kernelLayout, error) {
	var l kernelLayout
	fields := []struct {
		dst *int16
		f   fieldSpec
	}{
		{&l.KeepaliveTime, fieldSpec{"tcp_sock", "keepalive_time", 4}},
		{&l.KeepaliveIntvl, fieldSpec{"tcp_sock", "keepalive_intvl", 4}},
		{&l.KeepaliveProbes, fieldSpec{"tcp_sock", "keepalive_probes", 1}},
		{&l.UserTimeout, fieldSpec{"tcp_sock", "inet_conn.icsk_user_timeout", 4}},
		// sk_flags moved into sock_common as skc_flags in Linux 6.x (a #define keeps the name).
		{&l.SkFlags, fieldSpec{"tcp_sock", "inet_conn.icsk_inet.sk.__sk_common.skc_flags|inet_conn.icsk_inet.sk.sk_flags", 8}},
		{&l.SkCgroup, fieldSpec{"tcp_sock", "inet_conn.icsk_inet.sk.sk_cgrp_data.cgroup", 8}},
		{&l.CgroupKn, fieldSpec{"cgroup", "kn", 8}},
		{&l.CgroupParentCSS, fieldSpec{"cgroup", "self.parent", 8}},
		{&l.CSSCgroup, fieldSpec{"cgroup_subsys_state", "cgroup", 8}},
		{&l.KernfsID, fieldSpec{"kernfs_node", "id", 8}},
	}
	for _, f := range fields {
		off, err := fieldOffset(spec, f.f)
		if err != nil {
			return kernelLayout{}, err
		}
		*f.dst = off
	}
	var flags *btf.Enum
	if err := spec.TypeByName("sock_flags", &flags); err != nil {
		return kernelLayout{}, fmt.Errorf("kernel BTF: enum sock_flags: %w", err)
	}
	found := false
	for _, v := range flags.Values {
		if v.Name == "SOCK_KEEPOPEN" {
			l.SockKeepopen, found = int32(v.Value), true
		}
	}
	if !found || l.SockKeepopen < 0 || l.SockKeepopen > 63 {
		return kernelLayout{}, errors.New("kernel BTF: enum sock_flags has no usable SOCK_KEEPOPEN")
	}
	return l, nil
}

// fieldOffset walks a dotted path through structures (and anonymous unions and structures on
// the way) and returns the byte offset of the last field, checking its size.
func fieldOffset(spec *btf.Spec, f fieldSpec) (int16, error) {
	if alts := strings.Split(f.path, "|"); len(alts) > 1 {
		var first error
		for _, alt := range alts {
			off, err := fieldOffset(spec, fieldSpec{f.strct, alt, f.size})
			if err == nil {
				return off, nil
			}
			if first == nil {
				first = err
			}
		}
		return 0, first
	}
	var st *btf.Struct
	if err := spec.TypeByName(f.strct, &st); err != nil {
		return 0, fmt.Errorf("kernel BTF: struct %s: %w", f.strct, err)
	}
	var typ btf.Type = st
	var off uint32
	for _, name := range strings.Split(f.path, ".") {
		m, base, ok := findMember(typ, name)
		if !ok {
			return 0, fmt.Errorf("kernel BTF: struct %s has no field %s", f.strct, f.path)
		}
		if m.BitfieldSize != 0 {
			return 0, fmt.Errorf("kernel BTF: %s.%s is a bit field", f.strct, f.path)
		}
		off += base + m.Offset.Bytes()
		typ = btf.UnderlyingType(m.Type)
	}
	size, err := btf.Sizeof(typ)
	if err != nil {
		return 0, fmt.Errorf("kernel BTF: size of %s.%s: %w", f.strct, f.path, err)
	}
	if uint32(size) != f.size {
		return 0, fmt.Errorf("kernel BTF: %s.%s has %d bytes, the program reads %d", f.strct, f.path, size, f.size)
	}
	if off > 1<<15-1 {
		return 0, fmt.Errorf("kernel BTF: %s.%s at offset %d is out of reach of one load", f.strct, f.path, off)
	}
	return int16(off), nil
}

// findMember finds a named member of a structure or union, looking into anonymous members; base
// is the offset of the anonymous member that holds it.
func findMember(t btf.Type, name string) (btf.Member, uint32, bool) {
	var members []btf.Member
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	default:
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, 0, true
		}
	}
	for _, m := range members {
		if m.Name != "" {
			continue
		}
		if inner, base, ok := findMember(m.Type, name); ok {
			return inner, base + m.Offset.Bytes(), true
		}
	}
	return btf.Member{}, 0, false
}
