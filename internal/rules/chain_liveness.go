package rules

import (
	"fmt"
	"time"

	"github.com/keeptune/keeptune/internal/chain"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/plan"
	"github.com/keeptune/keeptune/internal/textfmt"
)

// The liveness mechanisms of a chain beyond idle timeouts (chain.go): TCP_USER_TIMEOUT against a
// hop's keepalive and read timeout (KT705), gRPC keepalive against the peer's enforcement policy
// (KT706), HTTP/2 PING through a layer-7 balancer that ignores it (KT707), and silent-drop
// middleboxes with no keepalive before them (KT708).

var chainUserTimeout = Rule{
	ID: "KT705", Name: "user-timeout-mismatch", Severity: model.SeverityWarning,
	Title: "TCP_USER_TIMEOUT cuts keepalive short or outlasts the read timeout",
	What: "For every hop side with TCP_USER_TIMEOUT set: where keepalive is on, the user timeout " +
		"should be at least idle + interval × count; and it should be below the side's read timeout.",
	Why: "With TCP_USER_TIMEOUT set the kernel ignores the probe count and kills an idle connection " +
		"at the first keepalive timer at or after the user timeout: a shorter one silently shortens " +
		"the keepalive you configured. Above the application's read timeout it never fires first, " +
		"so a dead peer surfaces as an application timeout instead of a clean ETIMEDOUT (pgbouncer#138; " +
		"Cloudflare, \"When TCP sockets refuse to die\").",
	Fix:    "Set TCP_USER_TIMEOUT to idle + interval × count or a little more, and below the read timeout.",
	Source: "tcp(7) TCP_USER_TIMEOUT; net/ipv4/tcp_timer.c tcp_keepalive_timer",
	Check: func(in *Input) []model.Finding {
		if in.Chain == nil {
			return nil
		}
		var out []model.Finding
		for i := range in.Chain.Hops {
			h := &in.Chain.Hops[i]
			for _, side := range []struct {
				name string
				s    *model.Side
			}{{"downstream", h.Downstream}, {"upstream", h.Upstream}} {
				s := side.s
				if s == nil || !s.TCP.UserTimeout.Known || s.TCP.UserTimeout.Value <= 0 {
					continue
				}
				uto := s.TCP.UserTimeout
				base := model.Finding{
					Severity: model.SeverityWarning, Subject: fmt.Sprintf("%s %s", h.Name, side.name), Hops: []string{h.Name},
					Location: at(uto.Source, h),
				}
				k := s.TCP
				if k.Enabled.Known && k.Enabled.Value && k.Idle.Known && k.Interval.Known && k.Count.Known {
					full := k.Idle.Value + k.Interval.Value*time.Duration(k.Count.Value)
					if uto.Value < full {
						f := base
						actual := kernel.DeadPeerDetection(k.Idle.Value, k.Interval.Value, k.Count.Value, uto.Value)
						f.Message = fmt.Sprintf("%s TCP_USER_TIMEOUT of %s is shorter than its keepalive cycle (%s + %d × %s = %s): "+
							"the kernel kills an idle connection at %s, after fewer probes than configured.",
							textfmt.Possessive(h.Name), human(uto.Value), human(k.Idle.Value), k.Count.Value, human(k.Interval.Value), human(full), human(actual))
						f.Evidence = []model.Evidence{{Name: "user timeout", Value: human(uto.Value), Source: uto.Source},
							{Name: "keepalive idle", Value: human(k.Idle.Value), Source: k.Idle.Source},
							{Name: "keepalive interval", Value: human(k.Interval.Value), Source: k.Interval.Source},
							{Name: "keepalive count", Value: fmt.Sprint(k.Count.Value), Source: k.Count.Source}}
						f.Fix = chainFix(in, &model.Fix{Key: h.Name + "." + side.name + ".user_timeout", Current: human(uto.Value), Proposed: human(full),
							Line: fmt.Sprintf("user_timeout: %ds", int64(full/time.Second))}, h.Name+"."+side.name+"."+plan.KeyUserTimeout)
						out = append(out, f)
					}
				}
				if rt, ok := chain.Limited(s.ReadTimeout); ok && uto.Value >= rt {
					f := base
					proposed := s.ReadTimeout.Value - max(s.ReadTimeout.Value/10, time.Second)
					f.Message = fmt.Sprintf("%s TCP_USER_TIMEOUT of %s is not below its read timeout of %s: the application gives up first, "+
						"and a dead peer shows as a generic timeout instead of ETIMEDOUT from the kernel.", textfmt.Possessive(h.Name), human(uto.Value), human(s.ReadTimeout.Value))
					f.Evidence = []model.Evidence{{Name: "user timeout", Value: human(uto.Value), Source: uto.Source},
						{Name: "read timeout", Value: human(s.ReadTimeout.Value), Source: s.ReadTimeout.Source}}
					f.Fix = chainFix(in, &model.Fix{Key: h.Name + "." + side.name + ".user_timeout", Current: human(uto.Value), Proposed: human(proposed),
						Line: fmt.Sprintf("user_timeout: %dms", proposed.Milliseconds())}, h.Name+"."+side.name+"."+plan.KeyUserTimeout)
					out = append(out, f)
				}
			}
		}
		return out
	},
}

var chainGRPC = Rule{
	ID: "KT706", Name: "grpc-keepalive-policy", Severity: model.SeverityError,
	Title: "gRPC client pings faster than the server allows",
	What: "For every segment where both ends speak gRPC: the client's keepalive Time must be at " +
		"least the server's EnforcementPolicy.MinTime (grpc-go default 5 min), and a client that " +
		"pings without active streams (PermitWithoutStream) needs a server that permits it.",
	Why: "A server that receives pings too often or without streams answers GOAWAY with " +
		"ENHANCE_YOUR_CALM \"too_many_pings\" and closes the connection: every client reconnects, " +
		"often in a storm (grpc-go#2202).",
	Fix:    "Raise the client's keepalive Time to the server's MinTime or more, or lower the server's MinTime; make PermitWithoutStream agree.",
	Source: "grpc-go keepalive package docs (EnforcementPolicy, ClientParameters); gRFC A8 (client-side keepalive); grpc-go#2202",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		c, s := seg.Opener.Side.GRPC, seg.Acceptor.Side.GRPC
		if c == nil || s == nil {
			return out
		}
		o, a := seg.Opener, seg.Acceptor
		hops := hopNames(in.Chain, o.Index, a.Index)
		if c.Time.Known && c.Time.Value > 0 && s.MinTime.Known && c.Time.Value < s.MinTime.Value {
			out = append(out, model.Finding{
				Severity: model.SeverityError, Subject: fmt.Sprintf("%s -> %s", o.Name(), a.Name()), Hops: hops,
				Message: fmt.Sprintf("%s pings every %s, but %s enforces a minimum of %s between pings: it answers GOAWAY too_many_pings and drops the connection.",
					describeHop(o.Hop), human(c.Time.Value), describeHop(a.Hop), human(s.MinTime.Value)),
				Evidence: []model.Evidence{{Name: o.Name() + " keepalive time", Value: human(c.Time.Value), Source: c.Time.Source},
					{Name: a.Name() + " enforcement MinTime", Value: human(s.MinTime.Value), Source: s.MinTime.Source}},
				Location: at(c.Time.Source, o.Hop),
				Fix: chainFix(in, &model.Fix{Key: o.Name() + ".upstream.grpc.time", Current: human(c.Time.Value), Proposed: human(s.MinTime.Value),
					Line: fmt.Sprintf("keepalive.ClientParameters{Time: %s} (grpc-go)", goDuration(s.MinTime.Value)),
					Note: fmt.Sprintf("Or lower %s keepalive.EnforcementPolicy{MinTime: ...} to %s or less.", textfmt.Possessive(a.Name()), human(c.Time.Value))}, o.Name()+".upstream."+plan.KeyGRPCTime),
			})
		}
		if c.PermitWithoutStream.Known && c.PermitWithoutStream.Value && s.PermitWithoutStream.Known && !s.PermitWithoutStream.Value {
			out = append(out, model.Finding{
				Severity: model.SeverityError, Subject: fmt.Sprintf("%s -> %s", o.Name(), a.Name()), Hops: hops,
				Message: fmt.Sprintf("%s pings with no active stream (PermitWithoutStream), but %s does not permit it: idle connections get GOAWAY too_many_pings.",
					describeHop(o.Hop), describeHop(a.Hop)),
				Evidence: []model.Evidence{{Name: o.Name() + " PermitWithoutStream", Value: "true", Source: c.PermitWithoutStream.Source},
					{Name: a.Name() + " PermitWithoutStream", Value: "false", Source: s.PermitWithoutStream.Source}},
				Location: at(s.PermitWithoutStream.Source, a.Hop),
				Fix: chainFix(in, &model.Fix{Key: a.Name() + ".downstream.grpc.permit_without_stream", Current: "false", Proposed: "true",
					Line: "keepalive.EnforcementPolicy{PermitWithoutStream: true} (grpc-go server)",
					Note: "Or stop the client from pinging without streams."}, a.Name()+".downstream."+plan.KeyPermitWithoutStream),
			})
		}
		return out
	}),
}

var chainHTTP2Ping = Rule{
	ID: "KT707", Name: "http2-ping-through-l7", Severity: model.SeverityWarning,
	Title: "HTTP/2 PING does not keep a layer-7 balancer's idle timer alive",
	What: "For every segment that ends at a layer-7 balancer whose idle timer ignores HTTP/2 PING " +
		"(AWS ALB), flags an opener that relies on HTTP/2 or gRPC pings to keep connections open " +
		"longer than the balancer's idle timeout.",
	Why: "The balancer closes the connection after its idle timeout although pings flowed, so " +
		"long-lived idle streams and pooled HTTP/2 connections are cut (okhttp#3261: LVS dropped " +
		"idle HTTP/2 after 90 s; ALB's idle timeout counts only data).",
	Fix:    "Keep idle connections shorter than the balancer's timeout, raise the balancer's idle timeout, or send application data (a heartbeat message) instead of PINGs.",
	Source: "AWS ALB docs (HTTP/2 PING frames do not reset the idle timeout); okhttp#3261",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		a, o := seg.Acceptor, seg.Opener
		if a.L7 == nil || !a.L7.HTTP2PingRefreshes.Known || a.L7.HTTP2PingRefreshes.Value {
			return out
		}
		ping := o.Side.HTTP2Ping
		if o.Side.GRPC != nil && o.Side.GRPC.Time.Known {
			ping = o.Side.GRPC.Time
		}
		limit := a.Side.IdleTimeout.Value
		if !ping.Known || ping.Value >= limit {
			return out // no pings, or pings too rare to look like keepalive: KT701/KT702 judge idle
		}
		if idle, ok := chain.Limited(o.Side.IdleTimeout); ok && idle < limit {
			return out // the opener closes idle connections before the balancer does
		}
		out = append(out, model.Finding{
			Severity: model.SeverityWarning, Subject: fmt.Sprintf("%s -> %s", o.Name(), a.Name()), Hops: hopNames(in.Chain, o.Index, a.Index),
			Message: fmt.Sprintf("%s sends pings every %s to keep connections open, but %s counts only data against its %s idle timeout: "+
				"it closes connections that carried nothing but pings.", describeHop(o.Hop), human(ping.Value), describeHop(a.Hop), human(limit)),
			Evidence: []model.Evidence{{Name: o.Name() + " ping interval", Value: human(ping.Value), Source: ping.Source},
				{Name: a.Name() + " idle timeout", Value: human(limit), Source: a.Side.IdleTimeout.Source},
				{Name: a.Name() + " counts HTTP/2 PING", Value: "no", Source: a.L7.HTTP2PingRefreshes.Source}},
			Location: at(ping.Source, o.Hop),
			Fix: &model.Fix{Key: a.Name() + ".idle_timeout",
				Note: fmt.Sprintf("Close idle connections in %s before %s, raise %s idle timeout above the longest expected silence, or send a small application heartbeat instead of PINGs.",
					o.Name(), human(limit), textfmt.Possessive(a.Name()))},
		})
		return out
	}),
}

var chainSilentDrop = Rule{
	ID: "KT708", Name: "silent-drop-without-keepalive", Severity: model.SeverityError,
	Title: "Silent-drop middlebox with no keepalive before it",
	What: "For every segment through a middlebox that drops forgotten flows silently (no reset), " +
		"flags the segment when neither end enables TCP keepalive and connections can stay silent " +
		"past the middlebox's timeout (see KT702 for what bounds silence). Tracking tables included.",
	Why: "Without keepalive nobody learns that the middlebox forgot the flow: the next request is " +
		"retransmitted into the void for ~15 min (tcp_retries2), an idle reader waits forever. " +
		"Azure Load Balancer without \"TCP reset on idle\" and AWS Gateway LB behave this way; " +
		"database and message-queue connections are the usual victims.",
	Fix:    "Enable TCP keepalive at one end with an idle time below the middlebox's timeout minus the margin, or turn on the middlebox's reset on idle.",
	Source: "Azure Load Balancer TCP reset on idle docs; AWS Gateway Load Balancer docs",
	Check: eachSegment(func(in *Input, seg chain.Segment) []model.Finding {
		var out []model.Finding
		o, a := seg.Opener, seg.Acceptor
		for _, mi := range seg.Middleboxes {
			mh := &in.Chain.Hops[mi]
			mb := mh.Middlebox
			if !silentDropCase(seg, mb) || !chain.MayIdlePast(seg, mb.IdleTimeout.Value) {
				continue
			}
			proposed := chain.KeepaliveLimit(mb.IdleTimeout.Value)
			out = append(out, model.Finding{
				Severity: model.SeverityError, Subject: fmt.Sprintf("%s -> %s", o.Name(), a.Name()), Hops: hopNames(in.Chain, o.Index, a.Index),
				Message: fmt.Sprintf("%s drops flows idle for %s without telling anyone, and neither %s nor %s sends keepalive probes: "+
					"an idle connection through it hangs instead of failing.", describeHop(mh), human(mb.IdleTimeout.Value), o.Name(), a.Name()),
				Evidence: []model.Evidence{{Name: mh.Name + " idle timeout", Value: human(mb.IdleTimeout.Value), Source: mb.IdleTimeout.Source},
					{Name: mh.Name + " on expiry", Value: string(mb.OnExpiry.Value), Source: mb.OnExpiry.Source},
					{Name: "TCP keepalive on the segment", Value: keepaliveSummary(seg)}},
				Location: at(mb.IdleTimeout.Source, mh),
				Fix: chainFix(in, directiveFix(&model.Fix{Key: a.Name() + ".downstream.tcp_keepalive.idle", Proposed: human(proposed)},
					a.Hop, "downstream", "keepalive", proposed),
					a.Name()+".downstream."+plan.KeyKeepaliveIdle, a.Name()+".downstream."+plan.KeyKeepalive,
					o.Name()+".upstream."+plan.KeyKeepaliveIdle, o.Name()+".upstream."+plan.KeyKeepalive),
			})
		}
		return out
	}),
}
