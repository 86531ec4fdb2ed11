package drill

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// http-keepalive-race: a proxy pools keep-alive connections to a backend. When the backend
// closes an idle connection (its keep-alive idle timeout) while the proxy still keeps it for
// reuse (its pool idle timeout is longer), a request the proxy sends on it before it has seen
// the backend's FIN meets a closed socket: a reset, and a 502 for the client. The fix is a
// backend idle timeout above the pool's (rule KT701). The drill runs both with real proxies
// (nginx, HAProxy) and counts failed requests per 1,000.

// Proxies the scenario can run.
var Proxies = []string{"nginx", "haproxy"}

// Defaults of http-keepalive-race: Node.js's keepAliveTimeout (5 s) behind nginx's upstream
// keepalive_timeout (60 s), the classic pair.
const (
	DefaultBackendIdle = 5 * time.Second
	DefaultPoolIdle    = 60 * time.Second
	DefaultRequests    = 200
	// raceLanes is how many independent proxy pools (one upstream each) the load generator
	// drives at once, so a run sweeps its gaps in a fraction of the time.
	raceLanes = 8
	// raceSpan is how far above the backend's idle timeout the gaps reach: past the lab's
	// late FIN (one RTO, at least 200 ms), after which the proxy has seen the close.
	raceSpan  = 400 * time.Millisecond
	raceBelow = 100 * time.Millisecond
	// racePort is the first of the proxy's lane ports; the backend listens on backendPort.
	racePort    = 8100
	backendPort = 9000
)

// HTTPRace is what the load generator counted for one case.
type HTTPRace struct {
	Proxy       string
	BackendIdle time.Duration // as run in the lab (scaled)
	PoolIdle    time.Duration
	Requests    int
	Status5xx   int // 502 and other 5xx answers from the proxy
	NoAnswer    int // requests that got no HTTP answer (reset or closed connection)
	GapMin      time.Duration
	GapMax      time.Duration
	// HeldFINs is how many backend FINs the lab's middlebox held back (the emulated latency).
	HeldFINs uint64
}

// Failures are the requests that failed: a 5xx answer or none.
func (h HTTPRace) Failures() int { return h.Status5xx + h.NoAnswer }

// PerThousand is failures per 1,000 requests.
func (h HTTPRace) PerThousand() float64 {
	if h.Requests == 0 {
		return 0
	}
	return round3(1000 * float64(h.Failures()) / float64(h.Requests))
}

// raceCase is one case of http-keepalive-race: the backend's and the pool's idle timeouts and
// the idle gaps before each request, in lab time.
type raceCase struct {
	name          string
	backend, pool time.Duration
	gaps          []time.Duration
	ref           bool
}

// raceCases are the cases the drill runs, in order: the configuration as given, and (when the
// backend's idle is not above the pool's) the fix, a reference case. Estimate times them too.
func raceCases(o Options) []raceCase {
	n := time.Duration(max(o.TimeScale, 1))
	b, p := o.BackendIdle/n, o.PoolIdle/n
	cases := []raceCase{{
		name:    fmt.Sprintf("%s: backend idle %v, pool idle %v (as configured)", o.Proxy, o.BackendIdle, o.PoolIdle),
		backend: b,
		pool:    p,
		gaps:    raceGaps(o.Requests, b-raceBelow, min(b+raceSpan, p-raceBelow/2)),
	}}
	if b <= p {
		fix := raceFixIdle(o.Proxy, o.PoolIdle)
		// The fix is tested at the configured case's gaps, and from just below the pool's idle
		// timeout (where the proxy gives its connections up) to past the fixed backend's.
		gaps := append(raceGaps(o.Requests/2, b-raceBelow, min(b+raceSpan, p-raceBelow/2)),
			raceGaps(o.Requests-o.Requests/2, p-raceBelow, fix/n+raceSpan/2)...)
		cases = append(cases, raceCase{fmt.Sprintf("%s: the fix: backend idle %v above pool idle %v", o.Proxy, fix, o.PoolIdle), fix / n, p, gaps, true})
	}
	return cases
}

// raceLaneTime is how long a case's slowest lane spends idling through its gaps: the lanes
// run at once, each taking every raceLanes-th gap.
func raceLaneTime(gaps []time.Duration) time.Duration {
	var longest time.Duration
	for lane := range raceLanes {
		var d time.Duration
		for i := lane; i < len(gaps); i += raceLanes {
			d += gaps[i]
		}
		longest = max(longest, d)
	}
	return longest
}

// raceSetup is what a case costs besides its gaps: the lab, the proxy's and the backend's
// start, each lane's first request (measured: 0.1-0.3 s per case with nginx and HAProxy).
const raceSetup = 100 * time.Millisecond

// raceGaps spreads n idle gaps evenly over [lo, hi], in an order that visits the range
// many times (so each lane covers all of it).
func raceGaps(n int, lo, hi time.Duration) []time.Duration {
	if n <= 0 {
		return nil
	}
	lo = max(lo, 10*time.Millisecond)
	hi = max(hi, lo)
	out := make([]time.Duration, n)
	// A stride coprime with n walks the sorted gaps in a scattered order.
	stride := 1
	for _, s := range []int{7, 11, 13, 17, 19, 23} {
		if gcd(s, n) == 1 && s < n {
			stride = s
			break
		}
	}
	for i := range n {
		k := (i * stride) % n
		if n == 1 {
			out[i] = lo
			continue
		}
		out[i] = lo + time.Duration(float64(hi-lo)*float64(k)/float64(n-1))
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// raceFixIdle is the backend idle timeout of the fix: above the longest the proxy keeps an
// idle pooled connection, by a margin (10 %, at least 200 ms in the lab). nginx closes a
// pooled connection keepalive_timeout after its last use. HAProxy has no idle timeout for
// server connections: every pool-purge-delay it closes half of the idle connections beyond
// its estimate of the connections needed, an estimate that halves with each purge while they
// idle, so a lone idle connection outlives two purges and goes at the third (measured in the
// lab: with twice the delay, requests still failed).
func raceFixIdle(proxy string, pool time.Duration) time.Duration {
	keep := pool
	if proxy == "haproxy" {
		keep = 3 * pool
	}
	return keep + max(pool/10, 200*time.Millisecond)
}

// nginxConfig is a complete nginx configuration: one upstream and one server per lane, each
// upstream pooling keep-alive connections (keepalive_timeout = pool idle) to the backend.
func nginxConfig(dir string, listen, backend netip.Addr, lanes int, pool time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "user root;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n", dir, dir)
	b.WriteString("events { worker_connections 1024; }\nhttp {\n  access_log off;\n")
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s/%s;\n", k, dir, k)
	}
	for i := range lanes {
		fmt.Fprintf(&b, "  upstream lane%d {\n    server %s;\n    keepalive 4;\n    keepalive_timeout %dms;\n  }\n",
			i, netip.AddrPortFrom(backend, backendPort), pool.Milliseconds())
		fmt.Fprintf(&b, "  server {\n    listen %s;\n    location / {\n      proxy_pass http://lane%d;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }\n  }\n",
			netip.AddrPortFrom(listen, uint16(racePort+i)), i)
	}
	b.WriteString("}\n")
	return b.String()
}

// haproxyConfig is a complete HAProxy configuration: one frontend and backend per lane,
// reusing idle server connections (http-reuse always) that are purged after the pool idle
// (pool-purge-delay).
func haproxyConfig(listen, backend netip.Addr, lanes int, pool time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn 1000\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout http-keep-alive %dms\n  http-reuse always\n", pool.Milliseconds())
	for i := range lanes {
		fmt.Fprintf(&b, "frontend lane%d\n  bind %s\n  default_backend lane%d\n", i, bindAddr(netip.AddrPortFrom(listen, uint16(racePort+i))), i)
		fmt.Fprintf(&b, "backend lane%d\n  server app %s pool-purge-delay %dms\n", i, bindAddr(netip.AddrPortFrom(backend, backendPort)), pool.Milliseconds())
	}
	return b.String()
}

// bindAddr writes an address the way HAProxy wants it (IPv6 without brackets, ADDR:PORT).
func bindAddr(a netip.AddrPort) string {
	if a.Addr().Is6() {
		return a.Addr().String() + ":" + fmt.Sprint(a.Port())
	}
	return a.String()
}
