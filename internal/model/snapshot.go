package model

import "time"

// Snapshot is everything keeptune learned about one host in one run. Fact sources fill it; rules
// only read it. It is also the "facts" part of the JSON report, so its field names are part of
// the documented output (docs/json.md).
type Snapshot struct {
	Host HostInfo `json:"host"`
	// Namespaces holds the network namespaces audited. The first one is the namespace keeptune
	// runs in; more are present with --all-netns.
	Namespaces []Namespace `json:"namespaces"`
	// Global holds the sysctls that are not per network namespace (fs.file-max, fs.nr_open,
	// nf_conntrack_max on the host).
	Global []Sysctl `json:"global"`
	// SysctlFiles are the sysctl configuration files in the order systemd-sysctl and
	// `sysctl --system` apply them.
	SysctlFiles []string `json:"sysctl_files"`
	// Conflicts are keys that more than one file sets to different values.
	Conflicts []SysctlConflict `json:"sysctl_conflicts"`
	// Processes are the processes that own TCP sockets (or listen), as far as they are visible.
	Processes []Process `json:"processes"`
	// Sockets sums up the live TCP sockets of each process (audit reads them with sock_diag).
	Sockets []SocketStats `json:"sockets"`
	// Problems are the facts that could not be read, and why.
	Problems []Problem `json:"problems"`
}

// HostInfo identifies the host and the run.
type HostInfo struct {
	Hostname string    `json:"hostname"`
	Kernel   string    `json:"kernel"`
	Root     string    `json:"root"` // "/" or the injected root the facts were read from
	Euid     int       `json:"euid"`
	TakenAt  time.Time `json:"taken_at"`
}

// Namespace is one network namespace and the per-namespace facts read inside it.
type Namespace struct {
	// Inode identifies the namespace (the number in net:[4026531840]).
	Inode uint64 `json:"inode"`
	// Name is how people know it: "host", an `ip netns` name, or the processes in it.
	Name string `json:"name"`
	// Current is true for the namespace keeptune itself runs in.
	Current bool `json:"current"`
	// PIDs lists a few processes in the namespace (the first ones found), to name and enter it.
	PIDs      []int             `json:"pids,omitempty"`
	Sysctls   []Sysctl          `json:"sysctls"`
	Keepalive KeepaliveSettings `json:"keepalive"`
	Conntrack *Conntrack        `json:"conntrack,omitempty"`
}

// Sysctl is one kernel setting: its live value and every file that sets it.
type Sysctl struct {
	Key string `json:"key"` // dotted name, net.ipv4.tcp_keepalive_time
	// Value is the live value from /proc/sys with whitespace normalised; empty when unreadable.
	Value    string `json:"value"`
	Readable bool   `json:"readable"`
	// Default is the kernel's default where it is fixed and known ("" when it depends on the
	// machine, like fs.file-max).
	Default string `json:"default,omitempty"`
	// Source says where the live value comes from.
	Source Source `json:"source"`
	// Assignments are the lines that set the key, in the order procps `sysctl --system`
	// applies them (the last wins; Winner); systemd-sysctl applies the same ones without the
	// ProcpsOnly lines (SystemdWinner). Only the current (host) namespace is set by these files.
	Assignments []SysctlAssignment `json:"assignments,omitempty"`
}

// Winner returns the assignment procps `sysctl --system` applies last, or nil: the value in
// force after the command keeptune recommends to apply files.
func (s Sysctl) Winner() *SysctlAssignment {
	if len(s.Assignments) == 0 {
		return nil
	}
	return &s.Assignments[len(s.Assignments)-1]
}

// SystemdWinner returns the assignment systemd-sysctl applies last (the value in force after
// boot on a systemd host), or nil: the last one outside procps' /etc/sysctl.conf pass.
func (s Sysctl) SystemdWinner() *SysctlAssignment {
	for i := len(s.Assignments) - 1; i >= 0; i-- {
		if !s.Assignments[i].ProcpsOnly {
			return &s.Assignments[i]
		}
	}
	return nil
}

// SysctlAssignment is one `key = value` line in a sysctl configuration file.
type SysctlAssignment struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Value string `json:"value"`
	// Text is the line as written (without surrounding whitespace), for tools that delete or
	// replace it only if it still reads so.
	Text string `json:"text,omitempty"`
	// IgnoreErrors is the leading '-' of systemd's syntax: a failure to set it is not an error.
	IgnoreErrors bool `json:"ignore_errors,omitempty"`
	// ProcpsOnly marks a line of /etc/sysctl.conf in procps' last pass: `sysctl --system`
	// applies /etc/sysctl.conf after every sysctl.d file (again, when a sysctl.d link such as
	// Debian's 99-sysctl.conf applied it already); systemd-sysctl does not.
	ProcpsOnly bool `json:"procps_only,omitempty"`
}

// SysctlConflict is a key set to different values by more than one file.
type SysctlConflict struct {
	Key         string             `json:"key"`
	Assignments []SysctlAssignment `json:"assignments"` // in application order: the last wins
}

// Conntrack is the connection-tracking state of a namespace, present only when nf_conntrack is
// loaded.
type Conntrack struct {
	EstablishedTimeout Setting[time.Duration] `json:"established_timeout"`
	Max                Setting[int]           `json:"max"`
	Count              Setting[int]           `json:"count"`
}

// Process is a process that owns sockets.
type Process struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	Exe  string `json:"exe,omitempty"`
	// Unit is the systemd unit the process runs in ("nginx.service"), from /proc/PID/cgroup.
	Unit string `json:"unit,omitempty"`
	// NetnsInode is the network namespace the process lives in.
	NetnsInode uint64 `json:"netns_inode"`
	// Listening lists the TCP ports it listens on ("0.0.0.0:80", "[::]:443").
	Listening []string `json:"listening,omitempty"`
	// TCPSockets counts its TCP sockets (all states, listeners included).
	TCPSockets int `json:"tcp_sockets"`
	// NofileSoft and NofileHard are its RLIMIT_NOFILE (-1 means unlimited).
	NofileSoft Setting[int64] `json:"nofile_soft"`
	NofileHard Setting[int64] `json:"nofile_hard"`
	// OpenFiles is how many descriptors it holds (when its fd table was readable).
	OpenFiles int `json:"open_files,omitempty"`
	// Go is set when the binary is a Go program.
	Go *GoBinary `json:"go,omitempty"`
}

// GoBinary describes a Go program found through debug/buildinfo.
type GoBinary struct {
	Version string `json:"version"` // go1.22.3
	Path    string `json:"path,omitempty"`
	// Keepalive is what the Go runtime puts on its sockets unless the program says otherwise.
	Keepalive KeepaliveSettings `json:"keepalive"`
}

// Problem is a fact keeptune could not read: what, why, and what would let it.
type Problem struct {
	What string `json:"what"`
	Err  string `json:"error"`
	// Sysctl is the dotted key of the sysctl that could not be read, when the fact is one
	// (net.ipv4.tcp_retries2): what a program matches on, while What is written for people.
	Sysctl string `json:"sysctl,omitempty"`
	// Needs names the privilege that would read it ("root", "CAP_SYS_PTRACE"), if one would.
	Needs string `json:"needs,omitempty"`
	// Location is set when the problem is in a file keeptune read (a garbled sysctl.d line).
	Location *Location `json:"location,omitempty"`
}

// Lookup returns the sysctl with the given key from a list.
func Lookup(list []Sysctl, key string) (Sysctl, bool) {
	for _, s := range list {
		if s.Key == key {
			return s, true
		}
	}
	return Sysctl{}, false
}

// SocketStats sums up one process's live TCP sockets (from sock_diag), for the audit.
type SocketStats struct {
	PID        int    `json:"pid"`
	Comm       string `json:"comm"`
	NetnsInode uint64 `json:"netns_inode"`
	// Established counts connected sockets (ESTABLISHED, CLOSE_WAIT and the closing states).
	Established int `json:"established"`
	// KeepaliveOn and KeepaliveOff count connected sockets by SO_KEEPALIVE, as far as it can be
	// told (a pending retransmission hides the keepalive timer).
	KeepaliveOn  int `json:"keepalive_on"`
	KeepaliveOff int `json:"keepalive_off"`
	// CloseWaitLeaks counts sockets in CLOSE_WAIT for longer than the threshold: the peer
	// closed, the program never did. OldestCloseWait is the longest (a lower bound).
	CloseWaitLeaks  int           `json:"close_wait_leaks"`
	OldestCloseWait time.Duration `json:"oldest_close_wait"`
	// IdleNoKeepalive counts established sockets idle beyond the threshold with keepalive off;
	// LongestIdle is the longest of them.
	IdleNoKeepalive int           `json:"idle_without_keepalive"`
	LongestIdle     time.Duration `json:"longest_idle"`
	// SilentPeers counts sockets whose peer does not answer (keepalive probes or retransmissions
	// out).
	SilentPeers int `json:"silent_peers"`
	// Sampled counts the sockets whose keepalive options were read from the socket itself (root);
	// Overridden how many of those the program set itself (values differ from the namespace's
	// sysctls), and Override the values of the first one.
	Sampled    int                `json:"sampled"`
	Overridden int                `json:"overridden"`
	Override   *KeepaliveSettings `json:"override,omitempty"`
	// Cgroup is the process's cgroup v2 path; Enforced names the `keeptune enforce` policy that
	// covers its new connections ("CGROUP: keepalive 60s/10s/6, user timeout 120s, force mode"),
	// empty when none does.
	Cgroup   string `json:"cgroup,omitempty"`
	Enforced string `json:"enforced,omitempty"`
}
