package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
)

// sysctlSpec is a sysctl keeptune reads and what it knows about the kernel's default.
type sysctlSpec struct {
	key string
	// global keys are not per network namespace (they go to Snapshot.Global).
	global bool
	// conntrack keys exist only while nf_conntrack is loaded.
	conntrack bool
	// def returns the kernel default for a kernel version, "" when it is not fixed (it depends
	// on memory or is a counter) or the version is unknown.
	def func(kernelVersion) string
}

func fixed(v string) func(kernelVersion) string { return func(kernelVersion) string { return v } }

func noDefault(kernelVersion) string { return "" }

// sysctlSpecs lists the keys in the order they are reported. Defaults are from the kernel
// sources: net/ipv4/tcp_ipv4.c tcp_sk_init (keepalive 7200/75/9 from include/net/tcp.h
// TCP_KEEPALIVE_TIME/INTVL/PROBES, tcp_retries2 TCP_RETR2 15, tcp_fin_timeout TCP_FIN_TIMEOUT
// 60 s, tcp_syn_retries TCP_SYN_RETRIES 6 since 3.7, 5 before), net/core/net_namespace.c
// (somaxconn SOMAXCONN: 4096 since 5.4, 128 before), nf_conntrack_proto_tcp.c (established
// 5 days = 432000 s), fs/file.c (nr_open 1024*1024). tcp_max_syn_backlog, file-max and
// nf_conntrack_max are sized from memory at boot, so they have no fixed default.
var sysctlSpecs = []sysctlSpec{
	{key: model.KeyKeepaliveTime, def: fixed(strconv.Itoa(int(kernel.DefaultKeepIdle / time.Second)))},
	{key: model.KeyKeepaliveIntvl, def: fixed(strconv.Itoa(int(kernel.DefaultKeepIntvl / time.Second)))},
	{key: model.KeyKeepaliveProbes, def: fixed(strconv.Itoa(kernel.DefaultKeepCnt))},
	{key: model.KeyRetries2, def: fixed(strconv.Itoa(kernel.DefaultRetries2))},
	{key: model.KeyFinTimeout, def: fixed("60")},
	{key: model.KeySynRetries, def: func(k kernelVersion) string {
		switch {
		case k.atLeast(3, 7):
			return "6"
		case k.ok:
			return "5"
		}
		return ""
	}},
	{key: model.KeySomaxconn, def: func(k kernelVersion) string {
		switch {
		case k.atLeast(5, 4):
			return "4096"
		case k.ok:
			return "128"
		}
		return ""
	}},
	{key: model.KeyMaxSynBacklog, def: noDefault},
	{key: model.KeyConntrackEstablished, conntrack: true, def: fixed("432000")},
	{key: model.KeyConntrackCount, conntrack: true, def: noDefault},
	{key: model.KeyFileMax, global: true, def: noDefault},
	{key: model.KeyNrOpen, global: true, def: fixed("1048576")},
	{key: model.KeyConntrackMax, global: true, conntrack: true, def: noDefault},
}

// knownKeys are the keys of sysctlSpecs, for conflict detection through globs.
func knownKeys() []string {
	keys := make([]string, len(sysctlSpecs))
	for i, s := range sysctlSpecs {
		keys[i] = s.key
	}
	return keys
}

// procSys reads a /proc/sys tree: read returns the raw content of one key.
type procSys struct {
	dir string // "/proc/sys" or Root/proc/sys
}

func (p procSys) path(key string) string { return filepath.Join(p.dir, keyPath(key)) }

func (p procSys) read(key string) (string, error) {
	b, err := os.ReadFile(p.path(key))
	if err != nil {
		return "", err
	}
	return normalizeValue(string(b)), nil
}

// sysctlReading is what one pass over a namespace's /proc/sys found.
type sysctlReading struct {
	sysctls   []model.Sysctl // per-namespace keys
	global    []model.Sysctl // global keys (read only when asked)
	conntrack bool           // nf_conntrack is loaded (its sysctls exist)
	problems  []model.Problem
}

// readSysctls reads the keys of sysctlSpecs from one /proc/sys. cfg is the sysctl configuration
// that applies to this namespace, nil for namespaces no file reaches (every namespace but the
// one systemd-sysctl ran in). where names the namespace in Problems ("" for the current one).
// Global keys are read only when withGlobal is set.
func readSysctls(ps procSys, kv kernelVersion, cfg *sysctlConfig, withGlobal bool, where string) sysctlReading {
	var r sysctlReading
	_, err := os.Stat(ps.path(model.KeyConntrackMax))
	r.conntrack = err == nil
	for _, spec := range sysctlSpecs {
		if spec.conntrack && !r.conntrack || spec.global && !withGlobal {
			continue
		}
		s := model.Sysctl{Key: spec.key, Default: spec.def(kv)}
		v, err := ps.read(spec.key)
		if err == nil {
			s.Value, s.Readable = v, true
		} else {
			what := fmt.Sprintf("sysctl %s (%s)", spec.key, ps.path(spec.key))
			if where != "" {
				what += " in network namespace " + where
			}
			p := readProblem(what, err)
			p.Sysctl = spec.key
			if errors.Is(err, fs.ErrNotExist) {
				p.Err = "not present on this kernel: " + err.Error()
			}
			r.problems = append(r.problems, p)
		}
		if cfg != nil {
			s.Assignments = cfg.assignments(spec.key)
		}
		s.Source = sysctlSource(s, cfg != nil)
		if spec.global {
			r.global = append(r.global, s)
		} else {
			r.sysctls = append(r.sysctls, s)
		}
	}
	return r
}

// sysctlSource says where a live value comes from. filesApply is true for the namespace the
// sysctl configuration files were applied to at boot (the host's, where systemd-sysctl runs);
// in any other namespace a value that is not the kernel default was written by whoever set the
// namespace up (a container runtime, an orchestrator, `ip netns exec sysctl -w`).
func sysctlSource(s model.Sysctl, filesApply bool) model.Source {
	if !s.Readable {
		return model.Source{}
	}
	if filesApply {
		if w := s.Winner(); w != nil {
			if valuesEqual(w.Value, s.Value) {
				return model.Source{Kind: model.SourceSysctlFile, File: w.File, Line: w.Line}
			}
			// systemd-sysctl at boot leaves out procps' last pass over /etc/sysctl.conf.
			if sw := s.SystemdWinner(); sw != nil && valuesEqual(sw.Value, s.Value) {
				return model.Source{Kind: model.SourceSysctlFile, File: sw.File, Line: sw.Line,
					Detail: fmt.Sprintf("as systemd-sysctl applies it; sysctl --system would apply %s:%d = %s last", w.File, w.Line, w.Value)}
			}
			if s.Default != "" && valuesEqual(s.Default, s.Value) {
				// Nobody set the live value: it is what the kernel starts with, and the file that
				// should have changed it is not in effect. "Set at run time" would send people
				// looking for a sysctl -w that never happened.
				return model.Source{Kind: model.SourceKernelDefault, Detail: fmt.Sprintf(
					"%s:%d sets %s but is not in effect: never applied since boot, or reset", w.File, w.Line, w.Value)}
			}
			return model.Source{Kind: model.SourceRuntime, Detail: fmt.Sprintf(
				"differs from %s:%d which sets %s: changed at run time or the file was never applied",
				w.File, w.Line, w.Value)}
		}
	}
	switch {
	case s.Default == "":
		return model.Source{Kind: model.SourceLive}
	case valuesEqual(s.Default, s.Value):
		return model.Source{Kind: model.SourceKernelDefault}
	case filesApply:
		return model.Source{Kind: model.SourceRuntime}
	default:
		return model.Source{Kind: model.SourceRuntime, Detail: "set inside this network namespace; " +
			"host sysctl files do not reach it"}
	}
}

// keepaliveOf builds a namespace's KeepaliveSettings from its sysctls. The values are seconds
// (tcp_keepalive_time/intvl) and a count (tcp_keepalive_probes). Enabled stays unknown: the
// sysctls only give the values a socket uses once its program turns SO_KEEPALIVE on, and
// nothing turns it on namespace-wide. UserTimeout is known to be unset: no sysctl sets
// TCP_USER_TIMEOUT, only a program can, per socket.
func keepaliveOf(sysctls []model.Sysctl) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	k.Idle = secondsSetting(sysctls, model.KeyKeepaliveTime)
	k.Interval = secondsSetting(sysctls, model.KeyKeepaliveIntvl)
	k.Count = intSetting(sysctls, model.KeyKeepaliveProbes)
	k.UserTimeout = model.KnownSetting(time.Duration(0), model.Source{Kind: model.SourceKernelDefault,
		Detail: "no sysctl sets TCP_USER_TIMEOUT; a program sets it per socket"})
	return k
}

// conntrackOf builds the Conntrack facts of a namespace: the established timeout and the count
// are per namespace, the maximum is global (max is the value from the initial namespace).
func conntrackOf(sysctls []model.Sysctl, max model.Setting[int]) *model.Conntrack {
	return &model.Conntrack{
		EstablishedTimeout: secondsSetting(sysctls, model.KeyConntrackEstablished),
		Max:                max,
		Count:              intSetting(sysctls, model.KeyConntrackCount),
	}
}

func secondsSetting(list []model.Sysctl, key string) model.Setting[time.Duration] {
	n := intSetting(list, key)
	return model.Setting[time.Duration]{Value: time.Duration(n.Value) * time.Second, Known: n.Known, Source: n.Source}
}

func intSetting(list []model.Sysctl, key string) model.Setting[int] {
	s, ok := model.Lookup(list, key)
	if !ok || !s.Readable {
		return model.Setting[int]{}
	}
	n, err := strconv.Atoi(s.Value)
	if err != nil {
		return model.Setting[int]{Source: s.Source}
	}
	return model.KnownSetting(n, s.Source)
}
