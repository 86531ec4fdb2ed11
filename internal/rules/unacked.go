package rules

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
)

var unackedTimeout = Rule{
	ID: "KT201", Name: "unacked-data-timeout", Severity: model.SeverityWarning,
	Title: "Long hang on unacknowledged data (tcp_retries2)",
	What: "Computes how long the kernel retransmits unacknowledged data before giving up, from " +
		"tcp_retries2 (RTO doubling from 200 ms up to 120 s; 15 gives a budget of 924.6 s), and compares it " +
		"with the profile's limit, and states when the kernel really gives up on a low-latency path: it " +
		"counts the budget from the first RTO retransmission (after a tail loss probe and one RTO, 204 ms " +
		"each) and checks it only when a retransmission timer fires, so 15 ends the connection 928.9 s after " +
		"the write (the schedule `keeptune drill unacked-data` measures, docs/drill.md). A longer RTT only " +
		"makes it later.",
	Why: "Keepalive does not run while data is in flight: when the peer vanishes mid-request " +
		"the connection hangs for the whole retransmission budget, about 15 min 25 s by default, " +
		"whatever the keepalive settings (pgbouncer#138; Cloudflare, \"When TCP sockets refuse to die\").",
	Fix: "Lower net.ipv4.tcp_retries2 to the profile's value (8 gives about 102 s, the RFC 1122 " +
		"minimum of 100 s), or better, have programs set TCP_USER_TIMEOUT per socket slightly below " +
		"their read timeout (the keepalive library's UserTimeout).",
	Source: "net/ipv4/tcp_timer.c retransmits_timed_out; Documentation/networking/ip-sysctl.rst tcp_retries2; RFC 1122 4.2.3.5",
	Check: func(in *Input) []model.Finding {
		var out []model.Finding
		p := in.Profile
		for _, ns := range in.Snapshot.Namespaces {
			s, r, ok := sysctlInt(ns.Sysctls, model.KeyRetries2)
			if !ok {
				continue
			}
			budget := kernel.UnackedTimeout(int(r))
			if budget <= p.MaxUnackedTimeout {
				continue
			}
			rt := kernel.LowLatency()
			hang, _ := rt.GiveUp(int(r), 0)
			out = append(out, model.Finding{
				Severity: model.SeverityWarning, Subject: subject(ns, model.KeyRetries2), Namespace: nsLabel(ns),
				Message: fmt.Sprintf("With tcp_retries2 = %d a connection whose peer vanished while data was in flight hangs until the kernel gives up "+
					"%s after the write on a low-latency path, later with a longer RTT (keepalive does not run while data is unacknowledged); "+
					"its budget of %s is more than the %s profile allows, %s.",
					r, human(hang), human(budget), p.Name, human(p.MaxUnackedTimeout)),
				Evidence: []model.Evidence{evidence(s),
					{Name: "retransmission budget", Value: human(budget) + " (counted from the first retransmission, checked when one fires)"},
					{Name: "kernel gives up", Value: human(hang) + " after the write: " + rt.Rule(int(r), 0) + " (keeptune drill unacked-data measures it)"},
					{Name: "profile " + p.Name + " allows", Value: human(p.MaxUnackedTimeout), Source: model.Source{Kind: model.SourceProfile, Detail: p.Source}}},
				Location: model.LocationOf(s.Source),
				Fix: withNote(sysctlFixFromPlan(in, ns, setting{sysctl: s, proposed: fmt.Sprint(p.Retries2)}),
					fmt.Sprintf("tcp_retries2 = %d gives up %s after the write on a low-latency path (budget %s). Programs can bound this per socket instead with TCP_USER_TIMEOUT, slightly below their read timeout.",
						p.Retries2, human(giveUp(p.Retries2)), human(kernel.UnackedTimeout(p.Retries2)))),
			})
		}
		return out
	},
}

// withNote appends a sentence to a fix's note.
func withNote(f *model.Fix, note string) *model.Fix {
	if f.Note != "" {
		f.Note += " "
	}
	f.Note += note
	return f
}

// giveUp is when the kernel gives up on unacknowledged data on a low-latency path.
func giveUp(retries2 int) time.Duration {
	t, _ := kernel.LowLatency().GiveUp(retries2, 0)
	return t
}
