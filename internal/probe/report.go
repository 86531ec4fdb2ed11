package probe

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/textfmt"
)

// JSONResult is the stable JSON form of a Result (docs/probe.md). Durations are seconds.
type JSONResult struct {
	Target string `json:"target"`
	// Found is false when no connection died up to max_idle_s: idle_timeout_s and the
	// bracket's upper end are then null.
	Found            bool        `json:"found"`
	IdleTimeoutS     *float64    `json:"idle_timeout_s"`
	BracketS         [2]*float64 `json:"bracket_s"`
	PrecisionS       float64     `json:"precision_s"`
	FailureMode      *string     `json:"failure_mode"`
	KeepaliveRefresh *bool       `json:"keepalive_refresh"`
	ServerRefresh    *bool       `json:"server_refresh"`
	WallS            float64     `json:"wall_s"`
	Connections      int         `json:"connections"`
	RTTMs            float64     `json:"rtt_ms"`
	ReplyTimeoutS    float64     `json:"reply_timeout_s"`
	MaxIdleS         float64     `json:"max_idle_s"`
	SeenAs           string      `json:"seen_as"`
	ResponderIdleCap float64     `json:"responder_idle_cap_s"`
	Disagreements    int         `json:"disagreements"`
	Notes            []string    `json:"notes"`
	Tests            []JSONTest  `json:"tests"`
	// Chain is set when --write-chain wrote the result into a chain file.
	Chain *JSONChain `json:"chain,omitempty"`
	// HTTP is the URL of an HTTP run (--http): idle_timeout_s is the layer-7 balancer's.
	HTTP string `json:"http,omitempty"`
}

// JSONTest is one tested idle length.
type JSONTest struct {
	Conn    int     `json:"conn"`
	Role    string  `json:"role"`
	IdleS   float64 `json:"idle_s"`
	AtS     float64 `json:"at_s"`
	Outcome string  `json:"outcome"`
	// HeardS is, for an answer, how long the responder had heard nothing.
	HeardS *float64 `json:"responder_heard_s,omitempty"`
}

// JSONChain says what was written into a chain file.
type JSONChain struct {
	File   string   `json:"file"`
	Hop    string   `json:"hop"`
	Set    []string `json:"set"`
	Backup string   `json:"backup"`
}

func secs(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }

func ptr[T any](v T) *T { return &v }

// JSON returns the result's JSON form.
func (r *Result) JSON() JSONResult {
	j := JSONResult{Target: r.Target.String(), Found: r.Found, PrecisionS: secs(r.Precision),
		KeepaliveRefresh: r.KeepaliveRefresh, ServerRefresh: r.ServerRefresh, WallS: secs(r.Wall),
		Connections: r.Connections, RTTMs: float64(r.RTT.Round(time.Microsecond)) / float64(time.Millisecond),
		ReplyTimeoutS: secs(r.ReplyTimeout), MaxIdleS: secs(r.MaxIdle), ResponderIdleCap: secs(r.ResponderIdleCap),
		Disagreements: r.Disagreements, Notes: r.Notes, Tests: []JSONTest{}, HTTP: r.HTTP}
	if r.SeenAs.IsValid() {
		j.SeenAs = r.SeenAs.String()
	}
	if j.Notes == nil {
		j.Notes = []string{}
	}
	j.BracketS[0] = ptr(secs(r.Lo))
	if r.Found {
		j.IdleTimeoutS = ptr(secs(r.IdleTimeout))
		j.BracketS[1] = ptr(secs(r.Hi))
	}
	if r.FailureMode != "" {
		j.FailureMode = ptr(string(r.FailureMode))
	}
	for _, t := range r.Tests {
		jt := JSONTest{Conn: t.Conn, Role: t.Role, IdleS: secs(t.Idle), AtS: secs(t.At), Outcome: string(t.Outcome)}
		if t.Outcome == Alive {
			jt.HeardS = ptr(secs(t.Heard))
		}
		j.Tests = append(j.Tests, jt)
	}
	return j
}

// WriteText writes the result for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-16s %s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&b, "path to %v\n\n", r.Target)
	if r.Found {
		line("idle timeout", "%s  (an idle flow survived %s and died at %s; precision %s)",
			textfmt.Measured(r.IdleTimeout), textfmt.Measured(r.Lo), textfmt.Measured(r.Hi), textfmt.Measured(r.Precision))
		line("on expiry", "%s", expiryText(r.FailureMode))
		line("server traffic", "%s", refreshText(r.ServerRefresh,
			"the responder's bytes alone keep the flow: yes (the middlebox counts traffic in both directions)",
			"the responder's bytes alone keep the flow: no (only traffic from the client side refreshes it)"))
		line("TCP keepalive", "%s", refreshText(r.KeepaliveRefresh,
			"keepalive probes alone keep the flow: yes (a connection-tracking NAT or layer-4 balancer)",
			"keepalive probes alone keep the flow: no (a layer-7 balancer or proxy: only data counts)"))
	} else {
		line("idle timeout", "none found: flows idle for %s survived (the longest tested, --max-idle)", textfmt.Measured(r.Lo))
	}
	if r.SeenAs.IsValid() {
		line("seen as", "%v by the responder", r.SeenAs)
	}
	line("measured in", "%s with %d connections (RTT %v, reply timeout %s)", textfmt.Measured(r.Wall), r.Connections,
		r.RTT.Round(10*time.Microsecond), textfmt.Measured(r.ReplyTimeout))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Found {
		if s := keepBelow(r.Lo); s > 0 {
			how := "TCP keepalive (idle + interval)"
			if r.KeepaliveRefresh != nil && !*r.KeepaliveRefresh {
				how = "application-level pings (TCP keepalive does not count here)"
			}
			next := fmt.Sprintf("idle connections through this path need %s more often than every %s", how, textfmt.Measured(s))
			if r.HTTP != "" {
				next = fmt.Sprintf("clients and connection pools must send a request on an idle keep-alive connection, or close it, within %s "+
					"(a pool idle timeout below it; TCP keepalive does not count at a layer-7 balancer)", textfmt.Measured(s))
			}
			if !r.ChainWritten {
				next += "; write the result into the chain file with --write-chain FILE --hop NAME so `keeptune audit` and `keeptune lint` check it"
			}
			fmt.Fprintf(&b, "\nnext: %s\n", next)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// keepBelow is the longest interval between refreshes that leaves the margin the chain
// rules ask for (KT702-KT704): 10 % of the timeout and at least 10 s. Below about 11 s that
// margin leaves nothing; there a refresh must leave within 10 % of the timeout below it (at
// least a second short of it), and a few hundred milliseconds at the very least.
func keepBelow(lo time.Duration) time.Duration {
	if d := lo - max(lo/10, 10*time.Second); d >= time.Second {
		return d
	}
	return max(min(lo-lo/10, lo-time.Second), lo/2, 100*time.Millisecond).Truncate(100 * time.Millisecond)
}

func refreshText(v *bool, yes, no string) string {
	switch {
	case v == nil:
		return "not measured"
	case *v:
		return yes
	}
	return no
}

func expiryText(o Outcome) string {
	switch o {
	case Silent:
		return "silent drop: packets of a forgotten flow vanish; both ends hang until their own timeouts"
	case Reset:
		return "RST: the middlebox answers a forgotten flow with a reset; the sender gets an error at once"
	case Closed:
		return "FIN: the middlebox closes idle connections itself; both ends see the close at once"
	}
	return "unknown"
}
