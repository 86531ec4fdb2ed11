package enforce

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// Side says which connections of a cgroup get the policy.
type Side string

// The sides: connections the cgroup's programs open (connect), accept, or both.
const (
	SideConnect Side = "connect"
	SideAccept  Side = "accept"
	SideBoth    Side = "both"
)

// ParseSide reads --side.
func ParseSide(s string) (Side, error) {
	switch Side(s) {
	case SideConnect, SideAccept, SideBoth:
		return Side(s), nil
	case "":
		return SideBoth, nil
	}
	return "", fmt.Errorf("--side %q: want connect, accept or both", s)
}

// Mode says how far the policy goes against what the program itself sets.
type Mode string

const (
	// ModeDefault fills in only the values the program left unset when the connection is
	// established; whatever the program sets later wins.
	ModeDefault Mode = "default"
	// ModeForce also replaces values looser than the policy at establishment and installs the
	// setsockopt guard: the program can no longer turn keepalive off or loosen a value past the
	// policy (it may still tighten one).
	ModeForce Mode = "force"
)

// ParseMode reads --mode.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeDefault, ModeForce:
		return Mode(s), nil
	case "":
		return ModeDefault, nil
	}
	return "", fmt.Errorf("--mode %q: want default or force", s)
}

// Policy is what one cgroup's TCP connections get. A zero value field is not enforced: the
// socket keeps what its program (or the namespace's sysctl) gives it.
type Policy struct {
	// Idle, Interval and Probes are TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT. Any of them
	// set also turns SO_KEEPALIVE on.
	Idle, Interval time.Duration
	Probes         int
	// UserTimeout is TCP_USER_TIMEOUT: how long sent data may stay unacknowledged.
	UserTimeout time.Duration
	Side        Side
	Mode        Mode
}

// Keepalive reports whether the policy turns SO_KEEPALIVE on.
func (p Policy) Keepalive() bool { return p.Idle > 0 || p.Interval > 0 || p.Probes > 0 }

// Validate checks the values against what the kernel accepts (package kernel's limits), so that no bpf_setsockopt call
// fails later on every connection.
func (p Policy) Validate() error {
	var errs []string
	secs := func(name string, d, max time.Duration) {
		switch {
		case d < 0:
			errs = append(errs, fmt.Sprintf("%s %s is negative", name, d))
		case d > 0 && d < time.Second:
			errs = append(errs, fmt.Sprintf("%s %s: the kernel counts it in whole seconds (at least 1s)", name, d))
		case d%time.Second != 0:
			errs = append(errs, fmt.Sprintf("%s %s: the kernel counts it in whole seconds", name, d))
		case d > max:
			errs = append(errs, fmt.Sprintf("%s %s is above the kernel's limit of %s", name, d, max))
		}
	}
	secs("--idle", p.Idle, kernel.MaxKeepIdle)
	secs("--intvl", p.Interval, kernel.MaxKeepIntvl)
	if p.Probes < 0 || p.Probes > kernel.MaxKeepCnt {
		errs = append(errs, fmt.Sprintf("--probes %d: the kernel accepts 1 to %d", p.Probes, kernel.MaxKeepCnt))
	}
	switch {
	case p.UserTimeout < 0:
		errs = append(errs, fmt.Sprintf("--user-timeout %s is negative", p.UserTimeout))
	case p.UserTimeout%time.Millisecond != 0:
		errs = append(errs, fmt.Sprintf("--user-timeout %s: the kernel counts it in milliseconds", p.UserTimeout))
	case p.UserTimeout > kernel.MaxUserTimeout:
		errs = append(errs, fmt.Sprintf("--user-timeout %s is above the kernel's limit of %s", p.UserTimeout, kernel.MaxUserTimeout))
	}
	if !p.Keepalive() && p.UserTimeout == 0 && len(errs) == 0 {
		errs = append(errs, "the policy sets nothing: give --idle, --intvl, --probes, --user-timeout, --profile or --plan")
	}
	if _, err := ParseSide(string(p.Side)); err != nil {
		errs = append(errs, err.Error())
	}
	if _, err := ParseMode(string(p.Mode)); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// String renders the policy the way status prints it.
func (p Policy) String() string {
	var parts []string
	if p.Keepalive() {
		v := func(d time.Duration) string {
			if d == 0 {
				return "-"
			}
			return textfmt.Setting(d)
		}
		c := "-"
		if p.Probes > 0 {
			c = fmt.Sprint(p.Probes)
		}
		parts = append(parts, fmt.Sprintf("keepalive %s/%s/%s", v(p.Idle), v(p.Interval), c))
	}
	if p.UserTimeout > 0 {
		parts = append(parts, "user timeout "+textfmt.Setting(p.UserTimeout))
	}
	return strings.Join(parts, ", ")
}

// The policy as the BPF programs read it: the value of the policy map, keyed by cgroup id.
// Layout (little-endian on the host's byte order, 6 x u32):
//
//	flags, idle (s), intvl (s), cnt, user_timeout (ms), reserved
const policyValueSize = 24

// Flag bits of policyValue.flags.
const (
	flagConnect   = 1 << 0 // act on connections the cgroup opens (ACTIVE_ESTABLISHED_CB)
	flagAccept    = 1 << 1 // act on connections the cgroup accepts (PASSIVE_ESTABLISHED_CB)
	flagForce     = 1 << 2 // replace looser values, and the guard is on
	flagKeepalive = 1 << 3 // turn SO_KEEPALIVE on
	// flagNested is set in the storage's copy of a policy (never in the policy map) when an
	// enforced cgroup lies below this one: the sock_ops program then checks which enforced
	// cgroup is the socket's nearest.
	flagNested = 1 << 4
)

// The value of the storage map (keeptune_store), which the kernel keeps per attached cgroup and
// per CPU (every CPU's copy holds the same id and policy; each CPU counts in its own):
//
//	cgroup id (u64), policy (policyValueSize bytes, flags with flagNested), counters (numCounters x u64)
const (
	stoCgroup      = 0
	stoPolicy      = 8
	stoCounters    = stoPolicy + policyValueSize
	storeValueSize = stoCounters + numCounters*8
)

// Offsets of the fields in the policy value.
const (
	offFlags   = 0
	offIdle    = 4
	offIntvl   = 8
	offCnt     = 12
	offUserTO  = 16
	offReserve = 20
)

// policyValue encodes p for the policy map.
func policyValue(p Policy) []byte {
	var flags uint32
	switch p.Side {
	case SideConnect:
		flags |= flagConnect
	case SideAccept:
		flags |= flagAccept
	default:
		flags |= flagConnect | flagAccept
	}
	if p.Mode == ModeForce {
		flags |= flagForce
	}
	if p.Keepalive() {
		flags |= flagKeepalive
	}
	b := make([]byte, policyValueSize)
	ne := binary.NativeEndian
	ne.PutUint32(b[offFlags:], flags)
	ne.PutUint32(b[offIdle:], uint32(p.Idle/time.Second))
	ne.PutUint32(b[offIntvl:], uint32(p.Interval/time.Second))
	ne.PutUint32(b[offCnt:], uint32(p.Probes))
	ne.PutUint32(b[offUserTO:], uint32(p.UserTimeout/time.Millisecond))
	return b
}

// decodePolicy reads a policy map value back.
func decodePolicy(b []byte) (Policy, error) {
	if len(b) != policyValueSize {
		return Policy{}, fmt.Errorf("policy value has %d bytes, want %d", len(b), policyValueSize)
	}
	ne := binary.NativeEndian
	flags := ne.Uint32(b[offFlags:])
	p := Policy{
		Idle:        time.Duration(ne.Uint32(b[offIdle:])) * time.Second,
		Interval:    time.Duration(ne.Uint32(b[offIntvl:])) * time.Second,
		Probes:      int(ne.Uint32(b[offCnt:])),
		UserTimeout: time.Duration(ne.Uint32(b[offUserTO:])) * time.Millisecond,
		Mode:        ModeDefault,
	}
	switch flags & (flagConnect | flagAccept) {
	case flagConnect:
		p.Side = SideConnect
	case flagAccept:
		p.Side = SideAccept
	default:
		p.Side = SideBoth
	}
	if flags&flagForce != 0 {
		p.Mode = ModeForce
	}
	return p, nil
}

// Counters are the per-cgroup counts the programs keep, per CPU and summed on read: the sock_ops
// program's in its link's storage, the guard's rewrites in the stats map.
type Counters struct {
	// Connect and Accept count connections the sock_ops program gave at least one value to.
	Connect uint64 `json:"connect"`
	Accept  uint64 `json:"accept"`
	// AlreadySet counts connections on which at least one value was left as the program had
	// set it (default mode), or tighter than the policy (force mode).
	AlreadySet uint64 `json:"already_set"`
	// GuardRewrites counts setsockopt calls the guard rewrote (force mode).
	GuardRewrites uint64 `json:"guard_rewrites"`
	// Errors counts bpf_setsockopt calls the kernel refused.
	Errors uint64 `json:"errors"`
}

// Counter slots in the stats map value (u64 each).
const (
	ctrConnect = iota
	ctrAccept
	ctrAlreadySet
	ctrGuard
	ctrErrors
	numCounters
)

// add sums two sets of counters.
func (c Counters) add(d Counters) Counters {
	return Counters{Connect: c.Connect + d.Connect, Accept: c.Accept + d.Accept, AlreadySet: c.AlreadySet + d.AlreadySet,
		GuardRewrites: c.GuardRewrites + d.GuardRewrites, Errors: c.Errors + d.Errors}
}

func decodeCounters(perCPU [][]byte) Counters {
	var sum [numCounters]uint64
	for _, b := range perCPU {
		for i := 0; i < numCounters && (i+1)*8 <= len(b); i++ {
			sum[i] += binary.NativeEndian.Uint64(b[i*8:])
		}
	}
	return Counters{Connect: sum[ctrConnect], Accept: sum[ctrAccept], AlreadySet: sum[ctrAlreadySet], GuardRewrites: sum[ctrGuard], Errors: sum[ctrErrors]}
}
