package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

var goRuntimeKeepalive = Rule{
	ID: "KT601", Name: "go-ignores-sysctls", Severity: model.SeverityWarning,
	Title: "Go program: keepalive sysctls do not apply",
	What: "Finds processes with TCP sockets whose binary is a Go program (debug/buildinfo on " +
		"/proc/PID/exe) and states the keepalive its sockets get from the Go runtime.",
	Why: "Go's net package enables keepalive on every socket it dials or accepts with 15 s idle and " +
		"15 s interval (and, since Go 1.23, 9 probes) unless the program says otherwise, so the " +
		"host's keepalive sysctls never reach it. Warning when this namespace's sysctls were tuned " +
		"(set by a file or at run time) and differ: the tuning does not do what its author thinks; " +
		"info otherwise.",
	Fix: "Set keepalive in the program: net.Dialer / net.ListenConfig KeepAliveConfig (Go 1.23+) with " +
		"the profile's values, or github.com/keeptune/keeptune/keepalive, which also sets " +
		"TCP_USER_TIMEOUT. Where the program cannot be changed, `keeptune enforce apply --cgroup ...` " +
		"puts the policy on its cgroup's connections with a BPF program (TCP_USER_TIMEOUT, and keepalive " +
		"where the code turns it off; Go's own values stay where they are tighter).",
	Source: "Go src/net/tcpsock.go (KeepAliveConfig), src/net/dial.go (defaultTCPKeepAliveIdle/Interval/Count); golang/go#62254",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		p := in.Profile
		nsByInode := map[uint64]model.Namespace{}
		for _, ns := range in.Snapshot.Namespaces {
			nsByInode[ns.Inode] = ns
		}
		for _, proc := range in.Snapshot.Processes {
			if proc.Go == nil || isKeeptune(proc) {
				continue // keeptune's responder turns keepalive off on purpose
			}
			gk := proc.Go.Keepalive
			ns, haveNS := nsByInode[proc.NetnsInode]
			sev := model.SeverityInfo
			tuned := haveNS && ns.Keepalive.Idle.Known && ns.Keepalive.Idle.Source.Kind != model.SourceKernelDefault &&
				gk.Idle.Known && ns.Keepalive.Idle.Value != gk.Idle.Value
			if tuned {
				sev = model.SeverityWarning
			}
			count := "the namespace's tcp_keepalive_probes"
			if gk.Count.Known {
				count = fmt.Sprint(gk.Count.Value)
			}
			who := fmt.Sprintf("process %s (pid %d)", proc.Comm, proc.PID)
			msg := fmt.Sprintf("%s is a Go program (%s): Go enables keepalive on every TCP socket with %s idle, %s interval and %s probes "+
				"unless the program sets its own, so this host's keepalive sysctls do not reach it.",
				who, proc.Go.Version, human(gk.Idle.Value), human(gk.Interval.Value), count)
			if tuned {
				msg += fmt.Sprintf(" The namespace's tcp_keepalive_time is set to %s (%s): that setting does not apply here.", human(ns.Keepalive.Idle.Value), ns.Keepalive.Idle.Source)
			}
			ev := []model.Evidence{
				{Name: "Go version", Value: proc.Go.Version, Source: model.Source{Kind: model.SourceLive, Detail: fmt.Sprintf("/proc/%d/exe", proc.PID)}},
				{Name: "Go keepalive (idle/interval/probes)", Value: fmt.Sprintf("%s/%s/%s", human(gk.Idle.Value), human(gk.Interval.Value), count), Source: gk.Idle.Source},
			}
			if proc.Go.Path != "" {
				ev = append(ev, model.Evidence{Name: "main module", Value: proc.Go.Path})
			}
			note := "In the program's source: the same KeepAliveConfig on net.ListenConfig for accepted connections (Go 1.23+), " +
				"or keepalive.Config from github.com/keeptune/keeptune/keepalive, which also sets TCP_USER_TIMEOUT. " +
				"Then verify with keeptune sockets."
			if enforced := enforcedOf(in.Snapshot, proc.PID); enforced != "" {
				msg += " keeptune enforce covers its new connections (" + enforced + ")."
				ev = append(ev, model.Evidence{Name: "keeptune enforce", Value: enforced, Source: model.Source{Kind: model.SourceLive, Detail: "/sys/fs/bpf/keeptune"}})
			} else {
				note += " If the program cannot be changed: " + enforceCommand(in.Snapshot, proc.PID, p) +
					" gives every new connection of its cgroup TCP_USER_TIMEOUT (Go never sets one) and keeps keepalive on where the code " +
					"turns it off; Go's own 15s/15s/9 stay where they are tighter than the policy (enforce never loosens a value). " +
					"Check with keeptune enforce status and keeptune sockets --deep."
			}
			out = append(out, model.Finding{
				Severity: sev, Subject: who, Message: msg, Evidence: ev,
				Fix: &model.Fix{
					Line: fmt.Sprintf("net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: %s, Interval: %s, Count: %d}}",
						goDuration(p.Idle.Recommended), goDuration(p.Interval.Recommended), p.Probes.Recommended),
					Note: note,
				},
			})
		}
		return out
	},
}

// enforcedOf is the keeptune enforce policy covering pid's connections, from the socket summary.
func enforcedOf(snap *model.Snapshot, pid int) string {
	for _, st := range snap.Sockets {
		if st.PID == pid {
			return st.Enforced
		}
	}
	return ""
}

// enforceCommand is the `keeptune enforce apply` that gives pid's cgroup the profile's values.
func enforceCommand(snap *model.Snapshot, pid int, p model.Profile) string {
	cg := fmt.Sprintf("$(awk -F: '$1==0{print $3}' /proc/%d/cgroup)", pid)
	for _, st := range snap.Sockets {
		if st.PID == pid && st.Cgroup != "" {
			cg = st.Cgroup
		}
	}
	// enforce refuses the root cgroup (it would cover every process of the host): a process
	// there needs a cgroup of its own first, and the command names a placeholder for it.
	first := ""
	if cg == "/" {
		first = "run it in a cgroup of its own first (it runs in the root cgroup, on which keeptune enforce refuses to act: " +
			"that would cover every process of the host; a systemd unit, a container or systemd-run --scope gives it one), then "
		cg = "CGROUP"
	}
	cmd := first + fmt.Sprintf("sudo keeptune enforce apply --cgroup %s --idle %ds --intvl %ds --probes %d", cg,
		int(p.Idle.Recommended/time.Second), int(p.Interval.Recommended/time.Second), p.Probes.Recommended)
	if p.MaxUnackedTimeout > 0 {
		cmd += fmt.Sprintf(" --user-timeout %ds", int(p.MaxUnackedTimeout/time.Second))
	}
	return cmd + " --mode force"
}

func goDuration(d time.Duration) string { return plan.GoDuration(d) }

var closeWaitLeak = Rule{
	ID: "KT602", Name: "close-wait-leak", Severity: model.SeverityWarning,
	Title: "Process leaks connections in CLOSE_WAIT",
	What: "Counts, per process, sockets in CLOSE_WAIT for longer than 60 s (the peer closed its " +
		"side, the program never called close), from the live socket table.",
	Why: "CLOSE_WAIT never ends by itself: no kernel timer reclaims it. Each one holds a descriptor " +
		"and buffers until the program closes it, usually a missing close on an error path or a " +
		"pool that never notices the server hung up; the count grows until the process hits its " +
		"descriptor limit.",
	Fix:    "Close the connection in the program when a read returns EOF (and on every error path); restart the process to reclaim the sockets now. `keeptune sockets --state close-wait --pid PID` lists them.",
	Source: "RFC 793 state diagram (CLOSE_WAIT waits for the application's close); tcp(7)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		for _, st := range in.Snapshot.Sockets {
			if st.CloseWaitLeaks == 0 {
				continue
			}
			who, ns := socketOwner(in.Snapshot, st)
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: who, Namespace: ns,
				Message: fmt.Sprintf("%s holds %s in CLOSE_WAIT, the oldest for at least %s: the peer closed and the program never did.",
					who, count(st.CloseWaitLeaks, "connection"), human(st.OldestCloseWait.Round(time.Second))),
				Evidence: []model.Evidence{{Name: "CLOSE_WAIT older than 60s", Value: fmt.Sprint(st.CloseWaitLeaks), Source: sockDiag},
					{Name: "connections", Value: fmt.Sprint(st.Established), Source: sockDiag}},
				Fix: &model.Fix{Note: fmt.Sprintf("Fix the program so it closes connections whose peer closed (read returns EOF). "+
					"List them: keeptune sockets --state close-wait --pid %d", st.PID)},
			})
		}
		return out
	},
}

var sockDiag = model.Source{Kind: model.SourceSocket, Detail: "sock_diag"}

var idleWithoutKeepalive = Rule{
	ID: "KT603", Name: "idle-without-keepalive", Severity: model.SeverityWarning,
	Title: "Long-idle connections without keepalive",
	What: "Counts, per process, established connections idle for more than 300 s in both directions " +
		"with SO_KEEPALIVE off, from the live socket table.",
	Why: "Nothing will ever notice if the peer of such a connection vanishes or a NAT on the path " +
		"forgets it: the connection stays until the program writes to it (and then hangs for " +
		"tcp_retries2) or restarts. These are the zombies that fill pools and descriptor tables.",
	Fix: "Enable keepalive on the program's sockets (SO_KEEPALIVE with the profile's values, e.g. " +
		"the keepalive library, or the server's own option), or close idle connections sooner.",
	Source: "tcp(7) SO_KEEPALIVE; RFC 1122 4.2.3.6",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		p := in.Profile
		for _, st := range in.Snapshot.Sockets {
			if st.IdleNoKeepalive == 0 {
				continue
			}
			who, ns := socketOwner(in.Snapshot, st)
			msg := fmt.Sprintf("%s has %s idle for more than 5m without keepalive (the longest %s): a peer that vanished is never noticed.",
				who, count(st.IdleNoKeepalive, "connection"), human(st.LongestIdle.Round(time.Second)))
			note := fmt.Sprintf("In the program or its server configuration (the profile %s's values). List them: keeptune sockets --no-keepalive --idle '>5m' --pid %d", p.Name, st.PID)
			if st.Enforced != "" {
				msg += " keeptune enforce covers the process's new connections (" + st.Enforced + "): these are older than the policy, or the program turned keepalive off after connect (default mode lets it)."
			} else {
				note += ". If the program cannot be changed: " + enforceCommand(in.Snapshot, st.PID, p) + " (a BPF program gives its cgroup's new connections keepalive)"
			}
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: who, Namespace: ns,
				Message: msg,
				Evidence: []model.Evidence{{Name: "idle > 5m, keepalive off", Value: fmt.Sprint(st.IdleNoKeepalive), Source: sockDiag},
					{Name: "keepalive on / off", Value: fmt.Sprintf("%d / %d of %d", st.KeepaliveOn, st.KeepaliveOff, st.Established), Source: sockDiag}},
				Fix: &model.Fix{
					Line: fmt.Sprintf("setsockopt SO_KEEPALIVE=1, TCP_KEEPIDLE=%d, TCP_KEEPINTVL=%d, TCP_KEEPCNT=%d",
						int64(p.Idle.Recommended/time.Second), int64(p.Interval.Recommended/time.Second), p.Probes.Recommended),
					Note: note,
				},
			})
		}
		return out
	},
}

var keepaliveOverride = Rule{
	ID: "KT604", Name: "socket-keepalive-override", Severity: model.SeverityWarning,
	Title: "Program sets its own keepalive outside the profile",
	What: "With root, reads the keepalive options of a sample of each process's sockets " +
		"(pidfd_getfd + getsockopt) and reports programs that set values different from their " +
		"namespace's sysctls; warning when the program's detection time is outside the profile, " +
		"info otherwise.",
	Why: "Values a program sets itself win over the sysctls: tuning the host does nothing for it. " +
		"That is fine when the program's values are right, and a silent gap when they are not.",
	Fix:    "Change the values where the program sets them (its configuration or code); keeptune sockets --deep --pid PID shows them per socket.",
	Source: "tcp(7) TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT; pidfd_getfd(2)",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		p := in.Profile
		goProcs := map[int]model.Process{}
		for _, proc := range in.Snapshot.Processes {
			if proc.Go != nil {
				goProcs[proc.PID] = proc
			}
		}
		for _, st := range in.Snapshot.Sockets {
			if st.Overridden == 0 || st.Override == nil {
				continue
			}
			k := *st.Override
			if proc, ok := goProcs[st.PID]; ok && (isKeeptune(proc) || sameKeepalive(k, proc.Go.Keepalive)) {
				// The Go runtime set these, not the program: KT601 owns that cause (one finding
				// per cause), and "change them where the program sets them" would be wrong.
				continue
			}
			d, ok := k.DetectionTime()
			sev := model.SeverityInfo
			minDetection := kernel.DeadPeerDetection(p.Idle.Min, p.Interval.Min, p.Probes.Min, 0)
			if ok && (d > p.MaxDetection || d < minDetection) {
				sev = model.SeverityWarning
			}
			who, ns := socketOwner(in.Snapshot, st)
			values := fmt.Sprintf("%s/%s/%d", human(k.Idle.Value), human(k.Interval.Value), k.Count.Value)
			if k.UserTimeout.Known && k.UserTimeout.Value > 0 {
				values += ", TCP_USER_TIMEOUT " + human(k.UserTimeout.Value)
			}
			msg := fmt.Sprintf("%s sets its own keepalive on %d of the %d sockets read (%s, dead peers detected after %s); the namespace's sysctls do not apply to them.",
				who, st.Overridden, st.Sampled, values, human(d))
			if sev == model.SeverityWarning {
				msg += fmt.Sprintf(" The %s profile wants %s to %s.", p.Name, human(minDetection), human(p.MaxDetection))
			}
			out = append(out, model.Finding{
				Severity: sev, Subject: who, Namespace: ns, Message: msg,
				Evidence: []model.Evidence{{Name: "keepalive idle/interval/probes", Value: values, Source: k.Idle.Source},
					{Name: "sockets read / set by the program", Value: fmt.Sprintf("%d / %d", st.Sampled, st.Overridden), Source: sockDiag}},
				Fix: &model.Fix{Note: fmt.Sprintf("Change them where %s sets them. Per socket: keeptune sockets --deep --pid %d", st.Comm, st.PID)},
			})
		}
		return out
	},
}

// count renders "1 connection", "4 connections".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// keeptuneModule is keeptune's own Go module: its responder disables keepalive on purpose and
// must not be reported as a program that forgot it.
const keeptuneModule = "github.com/keeptune/keeptune"

func isKeeptune(p model.Process) bool {
	return p.Go != nil && (p.Go.Path == keeptuneModule || strings.HasPrefix(p.Go.Path, keeptuneModule+"/"))
}

// sameKeepalive reports whether a socket's keepalive is exactly the Go runtime's defaults.
func sameKeepalive(sock, rt model.KeepaliveSettings) bool {
	return sock.Idle.Known && rt.Idle.Known && sock.Idle.Value == rt.Idle.Value &&
		sock.Interval.Known && rt.Interval.Known && sock.Interval.Value == rt.Interval.Value &&
		(!rt.Count.Known || (sock.Count.Known && sock.Count.Value == rt.Count.Value))
}

// socketOwner names the process of a socket summary, and the network namespace its sockets live
// in when that is not keeptune's own (audit --all-netns reads every namespace's sockets).
func socketOwner(snap *model.Snapshot, st model.SocketStats) (who, netns string) {
	who = fmt.Sprintf("process %s (pid %d)", st.Comm, st.PID)
	for _, ns := range snap.Namespaces {
		if ns.Inode == st.NetnsInode {
			if ns.Current {
				return who, ""
			}
			netns = nsLabel(ns)
			return who + " in network namespace " + netns, netns
		}
	}
	if st.NetnsInode == 0 || len(snap.Namespaces) == 0 {
		return who, ""
	}
	netns = nsLabel(model.Namespace{Inode: st.NetnsInode})
	return who + " in network namespace " + netns, netns
}
