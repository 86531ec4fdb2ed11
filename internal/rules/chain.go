package rules

import (
	"fmt"
	"github.com/keeptune/keeptune/internal/textfmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
)

// eachSegment makes a chain rule's Check from a check of one segment: nothing without a chain.
func eachSegment(check func(in *Input, seg chain.Segment) []model.Finding) func(*Input) []model.Finding {
	return func(in *Input) []model.Finding {
		if in.Chain == nil {
			return nil
		}
		var out []model.Finding
		for _, seg := range chain.Segments(in.Chain) {
			out = append(out, check(in, seg)...)
		}
		return out
	}
}

// at returns where a value was set, or the hop's declaration when it comes from elsewhere.
func at(src model.Source, h *model.Hop) *model.Location {
	if src.Kind == model.SourceChainFile || src.Kind == model.SourceConfig {
		if l := model.LocationOf(src); l != nil {
			return l
		}
	}
	d := h.Declared
	return &d
}

func hopNames(c *model.Chain, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, c.Hops[i].Name)
	}
	return out
}

func describeHop(h *model.Hop) string {
	switch {
	case h.Catalog != "":
		return fmt.Sprintf("%s (%s)", h.Name, h.Catalog)
	case h.Runtime != "":
		return fmt.Sprintf("%s (%s)", h.Name, h.Runtime)
	}
	return h.Name
}

var chainPoolRace = Rule{
	ID: "KT701", Name: "backend-idle-below-pool", Severity: model.SeverityError,
	Title: "Backend closes idle connections before the hop that pools them",
	What: "For every connection segment whose opener reuses connections (a layer-7 balancer, a " +
		"proxy's upstream pool, a client pool), compares the acceptor's keep-alive idle timeout with " +
		"the opener's pool idle timeout. The acceptor must wait at least 1 s longer.",
	Why: "When the backend closes an idle connection just as the balancer reuses it, the request " +
		"meets a closed socket: the balancer answers 502 (ALB, GCP " +
		"backend_connection_closed_before_data_sent_to_client), a client library gets ECONNRESET. " +
		"Node's 5 s keepAliveTimeout behind a 60 s ALB is the classic case " +
		"(PublicMapping/districtbuilder#448).",
	Fix: "Raise the backend's keep-alive idle timeout above the pool's (keeptune proposes the pool's " +
		"idle plus 5 s or 2%, rounded up to 5 s: 65 s behind a 60 s ALB), or shorten the pool's.",
	Source: "AWS ELB docs (ALB: configure backend keep-alive longer than the idle timeout); GCP external ALB docs (backend keep-alive 600 s: keep backends above it)",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		o, a := seg.Opener, seg.Acceptor
		backend, backendLimited := chain.Limited(a.Side.IdleTimeout)
		if !o.Side.Pools.Known || !o.Side.Pools.Value || !o.Side.IdleTimeout.Known || !backendLimited {
			return out
		}
		if a.Side.Pools.Known && !a.Side.Pools.Value {
			return out // the backend closes every connection after its response: nothing to reuse
		}
		pool, poolLimited := chain.Limited(o.Side.IdleTimeout)
		poolText := human(pool)
		if !poolLimited {
			poolText = "ever (no idle timeout)"
		} else if backend >= pool+chain.PoolRaceMargin {
			return out
		}
		f := model.Finding{
			Severity: model.SeverityError,
			Subject:  fmt.Sprintf("%s -> %s", o.Name(), a.Name()),
			Hops:     hopNames(in.Chain, o.Index, a.Index),
			Message: fmt.Sprintf("%s closes idle keep-alive connections after %s, but %s keeps them for reuse for %s: "+
				"a request sent on a connection the backend is closing fails (502 from a balancer, ECONNRESET in a client).",
				describeHop(a.Hop), human(backend), describeHop(o.Hop), poolText),
			Evidence: []model.Evidence{
				{Name: a.Name() + " keep-alive idle timeout", Value: human(backend), Source: a.Side.IdleTimeout.Source},
				{Name: o.Name() + " pool idle timeout", Value: poolText, Source: o.Side.IdleTimeout.Source},
			},
			Location: at(a.Side.IdleTimeout.Source, a.Hop),
		}
		shorter := backend - chain.PoolRaceMargin - max(time.Second, backend/10)
		// Raise the backend when the pool's idle time is a few minutes at most (a balancer's
		// 60 s): otherwise (Envoy's 1 h) shortening the pool is the sane change.
		if poolLimited && pool <= 5*time.Minute {
			proposed := chain.BackendIdleAbove(pool)
			line, where := directive(a.Hop, "downstream", "idle", proposed)
			f.Fix = &model.Fix{
				Key: a.Name() + ".downstream.idle_timeout", Current: human(backend), Proposed: human(proposed),
				Line: line,
				Note: fmt.Sprintf("%s Or shorten %s pool idle timeout to %s or less.", where, textfmt.Possessive(o.Name()), human(max(shorter, time.Second))),
			}
		} else {
			proposed := max(shorter, time.Second)
			line, where := directive(o.Hop, "upstream", "idle", proposed)
			f.Fix = &model.Fix{
				Key: o.Name() + ".upstream.idle_timeout", Current: poolText, Proposed: human(proposed),
				Line: line,
				Note: fmt.Sprintf("%s Or raise %s keep-alive idle timeout above %s pool idle timeout.", where, textfmt.Possessive(a.Name()), textfmt.Possessive(o.Name())),
			}
		}
		f.Fix = chainFix(in, f.Fix, a.Name()+".downstream."+plan.KeyIdleTimeout, o.Name()+".upstream."+plan.KeyIdleTimeout)
		out = append(out, f)
		return out
	}),
}

// refreshedByKeepalive reports whether TCP keepalive at either end of a segment keeps a layer-4
// middlebox's flow alive: the middlebox counts any segment, and a probe leaves before it expires.
func refreshedByKeepalive(seg chain.Segment, mb *model.Middlebox) bool {
	if mb.RefreshedBy.Known && mb.RefreshedBy.Value == model.RefreshPayload {
		return false
	}
	for _, e := range []chain.Endpoint{seg.Opener, seg.Acceptor} {
		if idle, known, on := e.KeepaliveOn(); on && known && idle < mb.IdleTimeout.Value {
			return true
		}
	}
	return false
}

func expiryWords(mb *model.Middlebox) (string, model.Severity) {
	switch {
	case mb.OnExpiry.Known && (mb.OnExpiry.Value == model.ExpiryReset || mb.OnExpiry.Value == model.ExpiryClose):
		return "fails at once with a reset or a closed connection (retried only if the client knows the request is idempotent)", model.SeverityWarning
	case mb.OnExpiry.Known && mb.OnExpiry.Value == model.ExpirySilent:
		return "hangs (the middlebox drops it silently and the sender retransmits until tcp_retries2 gives up, ~15 min by default)", model.SeverityError
	}
	return "is dropped, silently (a hang of up to ~15 min) or with a reset: nothing says which", model.SeverityError
}

var chainMiddleboxForgets = Rule{
	ID: "KT702", Name: "idle-outlives-middlebox", Severity: model.SeverityError,
	Title: "Connections stay idle longer than a NAT's or balancer's idle timeout",
	What: "For every segment through a layer-4 middlebox (NAT gateway, L4 balancer, firewall), " +
		"compares the longest the connection can carry no data (the pool idle timeout, the " +
		"acceptor's keep-alive idle timeout, read timeouts during slow requests) with the " +
		"middlebox's idle timeout, unless TCP keepalive at either end refreshes it in time. " +
		"Connection-tracking tables (conntrack, IPVS, kube-proxy) are KT704's; silent drops with " +
		"no keepalive at all are KT708's.",
	Why: "The middlebox forgets a flow idle longer than its timeout while both ends still hold the " +
		"connection. The next request on it fails with a reset, or hangs when the middlebox drops " +
		"silently (Signal-Android#10874: OkHttp's 5 min pool behind a 1 min server side; " +
		"psf/requests#3808: AWS NAT Gateway's 350 s).",
	Fix: "Shorten the pool idle timeout below the middlebox's timeout minus keeptune's probe margin " +
		"(10%, at least 10 s), or enable TCP keepalive at one end with an idle time below it.",
	Source: "AWS VPC NAT gateway troubleshooting (350 s, RST); Azure Load Balancer TCP idle timeout docs (silent unless TCP reset is enabled)",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		for _, mi := range seg.Middleboxes {
			mh := &in.Chain.Hops[mi]
			mb := mh.Middlebox
			if chain.IsTrackingTable(mh) || silentDropCase(seg, mb) || refreshedByKeepalive(seg, mb) || !chain.MayIdlePast(seg, mb.IdleTimeout.Value) {
				continue
			}
			out = append(out, idleFinding(in, seg, mi))
		}
		return out
	}),
}

// idleFinding says that connections on a segment outlive a middlebox's idle timeout.
func idleFinding(in *Input, seg chain.Segment, mi int) model.Finding {
	c := in.Chain
	o, a := seg.Opener, seg.Acceptor
	mh := &c.Hops[mi]
	mb := mh.Middlebox
	t := mb.IdleTimeout.Value
	words, sev := expiryWords(mb)
	proposed := chain.KeepaliveLimit(t)
	ev := []model.Evidence{{Name: mh.Name + " idle timeout", Value: human(t), Source: mb.IdleTimeout.Source}}
	var who string
	loc := at(mb.IdleTimeout.Source, mh)
	line, where := directive(a.Hop, "downstream", "keepalive", proposed)
	fix := &model.Fix{Key: a.Name() + ".downstream.tcp_keepalive.idle", Proposed: human(proposed),
		Line: line,
		Note: fmt.Sprintf("%s Or enable keepalive at the other end (%s), or raise %s idle timeout above the longest silence.", where, o.Name(), textfmt.Possessive(mh.Name))}
	if pool, ok := chain.Limited(o.Side.IdleTimeout); o.Side.Pools.Known && o.Side.Pools.Value && o.Side.IdleTimeout.Known && (!ok || pool >= t) {
		poolText := human(pool)
		if !ok {
			poolText = "ever (no idle timeout)"
		}
		who = fmt.Sprintf("%s keeps idle pooled connections for %s", describeHop(o.Hop), poolText)
		ev = append(ev, model.Evidence{Name: o.Name() + " pool idle timeout", Value: poolText, Source: o.Side.IdleTimeout.Source})
		loc = at(o.Side.IdleTimeout.Source, o.Hop)
		line, where := directive(o.Hop, "upstream", "idle", proposed)
		kaLine, kaWhere := plan.Directive(o.Hop, "upstream", "keepalive", proposed)
		fix = &model.Fix{Key: o.Name() + ".upstream.idle_timeout", Current: human(o.Side.IdleTimeout.Value), Proposed: human(proposed),
			Line: line,
			Note: fmt.Sprintf("%s Or enable TCP keepalive on the pooled sockets: `%s` (%s).", where, strings.ReplaceAll(kaLine, "\n", "; "), kaWhere)}
	} else if d, bounded := chain.Silence(seg); bounded {
		who = fmt.Sprintf("connections from %s to %s can stay silent for up to %s", o.Name(), a.Name(), human(d))
		for _, e := range []chain.Endpoint{o, a} {
			if s := e.Side; s.IdleTimeout.Known {
				ev = append(ev, model.Evidence{Name: e.Name() + " idle timeout", Value: human(s.IdleTimeout.Value), Source: s.IdleTimeout.Source})
			}
			if s := e.Side; s.ReadTimeout.Known {
				ev = append(ev, model.Evidence{Name: e.Name() + " read timeout", Value: human(s.ReadTimeout.Value), Source: s.ReadTimeout.Source})
			}
		}
		if up := a.Hop.Upstream; up != nil && up.ReadTimeout.Known {
			ev = append(ev, model.Evidence{Name: a.Name() + " upstream read timeout", Value: human(up.ReadTimeout.Value), Source: up.ReadTimeout.Source})
		}
	} else {
		who = fmt.Sprintf("%s keeps idle connections with no known limit", describeHop(a.Hop))
	}
	ev = append(ev, model.Evidence{Name: "TCP keepalive on the segment", Value: keepaliveSummary(seg)})
	return model.Finding{
		Severity: sev,
		Subject:  fmt.Sprintf("%s -> %s", o.Name(), a.Name()),
		Hops:     hopNames(c, o.Index, a.Index),
		Message: fmt.Sprintf("%s, but %s forgets idle flows after %s and nothing refreshes it; the next packet on such a connection %s.",
			who, describeHop(mh), human(t), words),
		Evidence: ev,
		Location: loc,
		Fix: chainFix(in, fix, a.Name()+".downstream."+plan.KeyKeepaliveIdle, a.Name()+".downstream."+plan.KeyKeepalive,
			o.Name()+".upstream."+plan.KeyKeepaliveIdle, o.Name()+".upstream."+plan.KeyKeepalive, o.Name()+".upstream."+plan.KeyIdleTimeout),
	}
}

func keepaliveSummary(seg chain.Segment) string {
	var parts []string
	for _, e := range []chain.Endpoint{seg.Opener, seg.Acceptor} {
		idle, known, on := e.KeepaliveOn()
		switch {
		case !on && e.Side.TCP.Enabled.Known:
			parts = append(parts, e.Name()+": off")
		case !on:
			parts = append(parts, e.Name()+": not known to be on")
		case known:
			parts = append(parts, fmt.Sprintf("%s: first probe after %s", e.Name(), human(idle)))
		default:
			parts = append(parts, e.Name()+": on, idle unknown")
		}
	}
	return strings.Join(parts, "; ")
}

// silentDropCase reports whether KT708 (rather than KT702/KT704) owns a middlebox on a segment:
// it drops silently, and no end sends keepalive probes at all.
func silentDropCase(seg chain.Segment, mb *model.Middlebox) bool {
	_, _, oOn := seg.Opener.KeepaliveOn()
	_, _, aOn := seg.Acceptor.KeepaliveOn()
	return mb.OnExpiry.Known && mb.OnExpiry.Value == model.ExpirySilent && !oOn && !aOn
}

var chainProbeTooLate = Rule{
	ID: "KT703", Name: "keepalive-after-middlebox-expiry", Severity: model.SeverityError,
	Title: "First keepalive probe leaves after a middlebox forgot the flow",
	What: "For every segment end with TCP keepalive on, compares the idle time before the first probe " +
		"with the idle timeout of each layer-4 middlebox on that segment that counts probes, minus " +
		"keeptune's margin (10% of the timeout, at least 10 s), where connections can idle that long. " +
		"Keepalive is per segment: a proxy's or an L7 balancer's probes never reach the hop beyond it.",
	Why: "Keepalive keeps a NAT or L4 balancer entry alive only if a probe passes before the entry " +
		"expires. With the kernel's 7200 s default the first probe comes long after AWS NLB (350 s) " +
		"or Azure LB (240 s) forgot the flow: the probe itself is dropped or reset and the connection " +
		"dies (psf/requests#3808; istio#36499).",
	Fix: "Set the keepalive idle time of that end below the middlebox's timeout minus the margin " +
		"(keeptune proposes it rounded down to whole minutes: 300 s behind a 350 s NLB).",
	Source: "RFC 1122 4.2.3.6; AWS NLB idle timeout docs (350 s, keepalive probes reset it)",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		for _, mi := range seg.Middleboxes {
			mh := &in.Chain.Hops[mi]
			mb := mh.Middlebox
			if chain.IsTrackingTable(mh) || (mb.RefreshedBy.Known && mb.RefreshedBy.Value == model.RefreshPayload) || !chain.MayIdlePast(seg, mb.IdleTimeout.Value) {
				continue
			}
			limit := mb.IdleTimeout.Value - chain.ProbeMargin(mb.IdleTimeout.Value)
			for _, e := range []chain.Endpoint{seg.Opener, seg.Acceptor} {
				idle, known, on := e.KeepaliveOn()
				if !on || !known || idle <= limit {
					continue
				}
				out = append(out, probeFinding(in, seg, e, mi, idle, limit))
			}
		}
		return out
	}),
}

func probeFinding(in *Input, seg chain.Segment, e chain.Endpoint, mi int, idle, limit time.Duration) model.Finding {
	c := in.Chain
	mh := &c.Hops[mi]
	mb := mh.Middlebox
	side := "upstream"
	if e.Index == seg.Acceptor.Index {
		side = "downstream"
	}
	proposed := chain.RoundDownFriendly(limit)
	from, to := min(e.Index, mi), max(e.Index, mi)
	return model.Finding{
		Severity: model.SeverityError,
		Subject:  fmt.Sprintf("%s -> %s", c.Hops[from].Name, c.Hops[to].Name),
		Hops:     hopNames(c, from, to),
		Message: fmt.Sprintf("%s sends its first keepalive probe after %s idle, but %s forgets idle flows after %s (margin: probes must leave by %s): "+
			"the probe arrives too late to keep the connection.", describeHop(e.Hop), human(idle), describeHop(mh), human(mb.IdleTimeout.Value), human(limit)),
		Evidence: []model.Evidence{
			{Name: e.Name() + " keepalive idle", Value: human(idle), Source: e.Side.TCP.Idle.Source},
			{Name: mh.Name + " idle timeout", Value: human(mb.IdleTimeout.Value), Source: mb.IdleTimeout.Source},
		},
		Location: at(e.Side.TCP.Idle.Source, e.Hop),
		Fix: probeFix(in, e, side, directiveFix(&model.Fix{
			Key: e.Name() + "." + side + ".tcp_keepalive.idle", Current: human(idle), Proposed: human(proposed),
		}, e.Hop, side, "keepalive", proposed)),
	}
}

// probeFix is the plan's answer to a probe that leaves too late: the side's keepalive idle, or
// for a hop whose sockets take the host's timers, the host's tcp_keepalive_time.
func probeFix(in *Input, e chain.Endpoint, side string, fallback *model.Fix) *model.Fix {
	if e.Hop.Local && e.Side.TCP.Idle.Source.Kind != model.SourceChainFile && e.Side.TCP.Idle.Source.Kind != model.SourceConfig {
		if f, ok := planFix(in, currentNamespace(in.Snapshot), model.KeyKeepaliveTime); ok {
			return f
		}
	}
	return chainFix(in, fallback, e.Name()+"."+side+"."+plan.KeyKeepaliveIdle)
}

var chainTrackingTable = Rule{
	ID: "KT704", Name: "tracking-table-below-idle", Severity: model.SeverityError,
	Title: "Connection tracking or IPVS forgets flows the applications keep",
	What: "For every Linux connection-tracking middlebox on a segment (nf_conntrack, IPVS/LVS, " +
		"kube-proxy, Docker swarm VIPs), checks that its established timeout is at least the " +
		"keepalive idle time of the ends that probe and at least the application's idle timeouts " +
		"(the opener's pool and the acceptor's keep-alive), unless keepalive refreshes it in time.",
	Why: "An IPVS entry that expires after 900 s under an Envoy that keeps connections for 1 h " +
		"(kubermatic/kubelb#539), or Docker swarm's 900 s under long-lived database connections " +
		"(moby#31208): the next packet meets no entry and the connection hangs or is reset. An " +
		"OkHttp user reports an LVS erasing idle connections after 90 s (square/okhttp#3261).",
	Fix: "Raise the table's established timeout (ipvsadm --set TCP TCPFIN UDP; " +
		"net.netfilter.nf_conntrack_tcp_timeout_established) above the application idle, or enable " +
		"TCP keepalive below the table's timeout at one end (nginx: listen ... so_keepalive=60s::).",
	Source: "ipvsadm(8) --set; Documentation/networking/nf_conntrack-sysctl.rst; kubermatic/kubelb#539; moby#31208",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		for _, mi := range seg.Middleboxes {
			mh := &in.Chain.Hops[mi]
			if !chain.IsTrackingTable(mh) {
				continue
			}
			mb := mh.Middlebox
			t := mb.IdleTimeout.Value
			// Keepalive that probes too late for the table.
			limit := t - chain.ProbeMargin(t)
			for _, e := range []chain.Endpoint{seg.Opener, seg.Acceptor} {
				if idle, known, on := e.KeepaliveOn(); on && known && idle > limit && chain.MayIdlePast(seg, t) {
					out = append(out, probeFinding(in, seg, e, mi, idle, limit))
				}
			}
			if silentDropCase(seg, mb) || refreshedByKeepalive(seg, mb) || !chain.MayIdlePast(seg, t) {
				continue
			}
			out = append(out, idleFinding(in, seg, mi))
		}
		return out
	}),
}

// directive is plan.Directive for a fix: the line to paste, and where it goes as a sentence
// for the fix's note.
func directive(h *model.Hop, side, key string, d time.Duration) (line, where string) {
	line, w := plan.Directive(h, side, key, d)
	return line, w + "."
}

// directiveFix fills a fix's line and note from plan.Directive.
func directiveFix(f *model.Fix, h *model.Hop, side, key string, d time.Duration) *model.Fix {
	f.Line, f.Note = directive(h, side, key, d)
	return f
}
