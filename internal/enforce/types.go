package enforce

import "errors"

// MissingError says what the system lacks for enforce: the kernel version, a kernel feature, a
// mount or a capability. Privilege is true when running with more privilege would fix it.
type MissingError struct {
	What      string
	Hint      string
	Privilege bool
}

func (e *MissingError) Error() string { return e.What }

// ErrPrivilege matches (errors.Is) every MissingError about a capability.
var ErrPrivilege = errors.New("needs privilege")

// Is makes errors.Is(err, ErrPrivilege) true for a capability error.
func (e *MissingError) Is(target error) bool { return target == ErrPrivilege && e.Privilege }

// Options say where the system's pieces are. The zero value finds them.
type Options struct {
	// BPFFS is where the bpf file system is (or is to be) mounted: /sys/fs/bpf by default. The
	// objects are pinned in its "keeptune" directory.
	BPFFS string
	// CgroupRoot is the mount point of the cgroup v2 hierarchy; found in /proc/self/mountinfo
	// when empty.
	CgroupRoot string
	// NoMount forbids mounting bpffs at BPFFS when it is not mounted.
	NoMount bool
	// PodLogs is the kubelet's pod log directory, /var/log/pods by default (for Scope.Pod).
	PodLogs string
}

// PinDirName is the directory under bpffs that holds everything keeptune pins.

// Target is a resolved cgroup.
type Target struct {
	Path string `json:"cgroup"`    // in the v2 hierarchy: /system.slice/nginx.service
	ID   uint64 `json:"cgroup_id"` // the kernel's cgroup id
}

// Entry is one enforced cgroup in Status.
type Entry struct {
	Target
	// Exists is false when the cgroup was removed since (its policy goes at the next apply or
	// detach).
	Exists bool   `json:"exists"`
	Policy Policy `json:"-"`
	// Link says which cgroup's sock_ops link serves this one: itself (every enforced cgroup has
	// its own link), empty when the link is missing.
	Link string `json:"link"`
	// Guard is the cgroup whose setsockopt guard covers this one, empty when none (default mode).
	Guard    string   `json:"guard"`
	Counters Counters `json:"counters"`
}

// ProgramRef names one loaded program.
type ProgramRef struct {
	Name string `json:"name"`
	ID   uint32 `json:"id"`
	Type string `json:"type"`
}

// Status is what is enforced where.
type Status struct {
	PinDir   string       `json:"pin_dir"`
	Kernel   string       `json:"kernel"`
	Programs []ProgramRef `json:"programs"`
	Entries  []Entry      `json:"policies"`
}
