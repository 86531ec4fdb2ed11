package model

import "time"

// HopType says what a hop of a chain is.
type HopType string

const (
	// HopClient opens connections (a browser, a mobile app, a service calling another).
	HopClient HopType = "client"
	// HopMiddlebox forwards connections without terminating HTTP: a NAT, a firewall, an L4 or
	// L7 load balancer run by someone else, described by its idle timeout and behaviour.
	HopMiddlebox HopType = "middlebox"
	// HopProxy accepts connections on one side and opens its own on the other (nginx, HAProxy,
	// Envoy, pgbouncer): keepalive is per hop and does not cross it.
	HopProxy HopType = "proxy"
	// HopServer is the application at the end of the chain.
	HopServer HopType = "server"
)

// Refresh says which traffic resets a middlebox's idle timer.
type Refresh string

const (
	// RefreshAnySegment: any TCP segment, keepalive probes included (conntrack-based NATs, L4
	// load balancers such as AWS NLB).
	RefreshAnySegment Refresh = "any-segment"
	// RefreshPayload: only segments that carry data (L7 load balancers such as AWS ALB: TCP
	// keepalive probes and, for some, HTTP/2 PINGs do not count).
	RefreshPayload Refresh = "payload"
)

// Expiry says what a middlebox does with a packet of a flow it has forgotten.
type Expiry string

const (
	// ExpirySilent: the packet is dropped and nobody is told: the endpoints find out only by
	// their own timeouts (a hang).
	ExpirySilent Expiry = "silent-drop"
	// ExpiryReset: the middlebox answers with a TCP reset: the endpoints get an error at once.
	ExpiryReset Expiry = "rst"
	// ExpiryClose: a layer-7 balancer closes both connections itself when the idle timeout
	// passes (FIN): the endpoints see the close at once.
	ExpiryClose Expiry = "close"
)

// Middlebox is what a NAT, firewall or load balancer does to idle flows.
type Middlebox struct {
	IdleTimeout Setting[time.Duration] `json:"idle_timeout"`
	// Layer is 4 (forwards TCP segments, keepalive probes pass through) or 7 (terminates TCP
	// and HTTP on both sides).
	Layer       Setting[int]     `json:"layer"`
	RefreshedBy Setting[Refresh] `json:"refreshed_by"`
	OnExpiry    Setting[Expiry]  `json:"on_expiry"`
	// HTTP2PingRefreshes: whether HTTP/2 PING frames keep an L7 balancer's idle timer alive.
	HTTP2PingRefreshes Setting[bool] `json:"http2_ping_refreshes"`
}

// Side is how a software hop treats connections on one side: the connections it accepts
// (downstream side, facing the client) or the ones it opens (upstream side, facing the next hop).
//
// For the timeouts (IdleTimeout, ReadTimeout, ConnectTimeout, MaxLifetime) a known zero means
// "no limit": the software never closes the connection for that reason (pgbouncer's
// client_idle_timeout = 0, Go's Transport.IdleConnTimeout = 0).
type Side struct {
	// IdleTimeout is the HTTP keep-alive idle timeout: on the downstream side how long the hop
	// keeps an idle client connection open (nginx keepalive_timeout, Node keepAliveTimeout); on
	// the upstream side how long it keeps an idle pooled connection for reuse (nginx upstream
	// keepalive_timeout, Go Transport.IdleConnTimeout, OkHttp's 5 min).
	IdleTimeout Setting[time.Duration] `json:"idle_timeout"`
	// Pools is true when the side reuses connections across requests (keep-alive pooling).
	Pools Setting[bool] `json:"pools"`
	// TCP is the TCP keepalive and TCP_USER_TIMEOUT on this side's sockets.
	TCP KeepaliveSettings `json:"tcp"`
	// ReadTimeout is how long the hop waits for the other end to send something before it
	// gives up on a request.
	ReadTimeout Setting[time.Duration] `json:"read_timeout"`
	// ConnectTimeout is how long it waits for a connection to be established (upstream side).
	ConnectTimeout Setting[time.Duration] `json:"connect_timeout"`
	// MaxLifetime closes connections after this long whatever their activity (nginx
	// keepalive_time, Envoy max_connection_duration).
	MaxLifetime Setting[time.Duration] `json:"max_lifetime"`
	// GRPC holds gRPC keepalive settings where the side speaks gRPC.
	GRPC *GRPCKeepalive `json:"grpc,omitempty"`
	// HTTP2Ping is the interval of HTTP/2 PING frames the side sends on idle connections.
	HTTP2Ping Setting[time.Duration] `json:"http2_ping"`
}

// GRPCKeepalive holds gRPC's keepalive parameters (grpc-go keepalive.ClientParameters,
// ServerParameters and EnforcementPolicy).
type GRPCKeepalive struct {
	// Time is the interval of client pings (zero and unknown mean "never").
	Time    Setting[time.Duration] `json:"time"`
	Timeout Setting[time.Duration] `json:"timeout"`
	// PermitWithoutStream: client side, ping without active RPCs; server side, allow that.
	PermitWithoutStream Setting[bool] `json:"permit_without_stream"`
	// MinTime is the server's EnforcementPolicy.MinTime: a client pinging more often gets
	// GOAWAY ENHANCE_YOUR_CALM ("too_many_pings").
	MinTime Setting[time.Duration] `json:"min_time"`
}

// Hop is one element of a chain.
type Hop struct {
	Name string  `json:"name"`
	Type HopType `json:"type"`
	// Catalog, Runtime and Config name where the hop's defaults and values come from.
	Catalog string `json:"catalog,omitempty"`
	Runtime string `json:"runtime,omitempty"`
	Config  string `json:"config,omitempty"`
	// Declared is where the hop is written in the chain file.
	Declared Location `json:"declared"`
	// Local is true for a hop that runs on the audited host (`local: true`): audit fills the
	// keepalive values its sockets take from the host's sysctls (when the software enables
	// keepalive without setting them).
	Local bool `json:"local,omitempty"`

	// Middlebox is set for middlebox hops.
	Middlebox *Middlebox `json:"middlebox,omitempty"`
	// Downstream and Upstream are set for software hops (client: upstream only; server:
	// downstream only; proxy: both).
	Downstream *Side `json:"downstream,omitempty"`
	Upstream   *Side `json:"upstream,omitempty"`
}

// Chain is the path connections take, from the client side to the application.
type Chain struct {
	File              string `json:"file"`
	Profile           string `json:"profile,omitempty"`
	ExpectConnections int    `json:"expect_connections,omitempty"`
	Hops              []Hop  `json:"hops"`
}
