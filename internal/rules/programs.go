package rules

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/model"
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
		"TCP_USER_TIMEOUT.",
	Source: "Go src/net/tcpsock.go (KeepAliveConfig), src/net/dial.go (defaultTCPKeepAliveIdle/Interval/Count); golang/go#62254",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		p := in.Profile
		nsByInode := map[uint64]model.Namespace{}
		for _, ns := range in.Snapshot.Namespaces {
			nsByInode[ns.Inode] = ns
		}
		for _, proc := range in.Snapshot.Processes {
			if proc.Go == nil {
				continue
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
				msg += fmt.Sprintf(" The namespace is tuned to %s idle (%s): that tuning does not apply here.", human(ns.Keepalive.Idle.Value), ns.Keepalive.Idle.Source)
			}
			ev := []model.Evidence{
				{Name: "Go version", Value: proc.Go.Version, Source: model.Source{Kind: model.SourceLive, Detail: fmt.Sprintf("/proc/%d/exe", proc.PID)}},
				{Name: "Go keepalive (idle/interval/probes)", Value: fmt.Sprintf("%s/%s/%s", human(gk.Idle.Value), human(gk.Interval.Value), count), Source: gk.Idle.Source},
			}
			if proc.Go.Path != "" {
				ev = append(ev, model.Evidence{Name: "main module", Value: proc.Go.Path})
			}
			out = append(out, model.Finding{
				Severity: sev, Subject: who, Message: msg, Evidence: ev,
				Fix: &model.Fix{
					Line: fmt.Sprintf("net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: %s, Interval: %s, Count: %d}}",
						goDuration(p.Idle.Recommended), goDuration(p.Interval.Recommended), p.Probes.Recommended),
					Note: "In the program's source: the same KeepAliveConfig on net.ListenConfig for accepted connections (Go 1.23+), " +
						"or keepalive.Config from github.com/keeptune/keeptune/keepalive, which also sets TCP_USER_TIMEOUT. " +
						"Then verify with keeptune sockets.",
				},
			})
		}
		return out
	},
}

func goDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d * time.Minute", d/time.Minute)
	}
	return fmt.Sprintf("%d * time.Second", d/time.Second)
}
