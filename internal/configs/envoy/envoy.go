// Package envoy reads an Envoy bootstrap (YAML or JSON) for the settings that decide how long
// Envoy keeps connections and how it finds dead ones, walking the document with gopkg.in/yaml.v3
// so that every value keeps its line (go-control-plane's protos would lose it). Pure over an
// fs.FS. Only static_resources are read: listeners and clusters from xDS are not in the file.
//
// Read, per listener: the HTTP connection manager's common_http_protocol_options (idle_timeout,
// max_connection_duration), stream_idle_timeout, request_timeout, request_headers_timeout,
// http2_protocol_options.connection_keepalive (interval, timeout) and its routes' timeout and
// idle_timeout; the TCP proxy's idle_timeout; the listener's socket_options for SO_KEEPALIVE and
// TCP_KEEPIDLE/INTVL/CNT/TCP_USER_TIMEOUT (accepted sockets inherit them on Linux). Per cluster:
// connect_timeout, upstream_connection_options.tcp_keepalive (keepalive_time, keepalive_interval,
// keepalive_probes), and common_http_protocol_options and http2_protocol_options either in
// typed_extension_protocol_options (envoy.extensions.upstreams.http.v3.HttpProtocolOptions) or in
// their deprecated place on the cluster.
//
// Durations are protobuf JSON durations: a string of seconds with an "s" ("3600s", "0.5s"), or
// {seconds, nanos}; "0s" disables a timeout, reported as a known zero (no limit). The keepalive
// numbers are plain seconds. Defaults (Envoy docs, v1.3x): HTTP idle_timeout 1 h on both sides,
// stream_idle_timeout 5 min, route timeout 15 s, connect_timeout 5 s, no max_connection_duration,
// TCP proxy idle_timeout 1 h; without tcp_keepalive or listener socket options Envoy does not turn
// SO_KEEPALIVE on.
//
// The downstream side is the first listener with an HTTP connection manager (else a TCP proxy);
// the upstream side is the cluster its first route (or the TCP proxy) sends to, else the first
// cluster. The envoy rules look at every listener and cluster.
package envoy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

func init() { configs.Register(Parser{}) }

// Parser is the envoy format for the configs registry.
type Parser struct{}

// Format implements configs.Parser.
func (Parser) Format() string { return "envoy" }

// DefaultPaths implements configs.Parser.
func (Parser) DefaultPaths() []string {
	return []string{"/etc/envoy/envoy.yaml", "/etc/envoy/envoy.json"}
}

// kubernetesManifest matches the apiVersion key that every Kubernetes object starts with.
var kubernetesManifest = regexp.MustCompile(`(?m)^\s*"?apiVersion"?\s*:`)

// Detect implements configs.Parser: a YAML or JSON file with static_resources or Envoy type
// URLs, or one named after Envoy; not a Kubernetes manifest.
func (Parser) Detect(p string, head []byte) bool {
	switch path.Ext(p) {
	case ".yaml", ".yml", ".json":
	default:
		return false
	}
	if kubernetesManifest.Match(head) {
		return false // a ConfigMap that embeds an Envoy configuration is a manifest
	}
	return bytes.Contains(head, []byte("static_resources")) || bytes.Contains(head, []byte("type.googleapis.com/envoy.")) ||
		strings.Contains(path.Base(p), "envoy")
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

// Field is one value read, with where it is.
type Field struct {
	// Key is its path within the listener, route or cluster
	// ("common_http_protocol_options.idle_timeout").
	Key  string
	Raw  string
	Line int
	// Duration or Int holds the value, by the field's type.
	Duration time.Duration
	Int      int
}

// Listener is a listener of static_resources.
type Listener struct {
	Name string
	Line int
	// HCM is true when a filter chain has an HTTP connection manager; TCPProxy when it has a TCP
	// proxy (the first of each is read).
	HCM, TCPProxy bool
	// Fields maps a key to its field: HCM keys, "tcp_proxy.idle_timeout", and
	// "socket_options.SO_KEEPALIVE" and the like.
	Fields map[string]*Field
	// Routes are the HCM's inline routes, in order: the cluster each sends to, and its fields.
	Routes []*Route
	// TCPProxyCluster is the TCP proxy's cluster.
	TCPProxyCluster string
	// Address is where it listens ("0.0.0.0:10000", "[::]:443"), "" when not a socket address.
	Address string
	// Answers counts the HCM's routes that answer without a cluster (redirect, direct_response).
	Answers int
}

// Route is one route of an inline route_config.
type Route struct {
	Cluster string
	Line    int
	Fields  map[string]*Field
}

// Cluster is a cluster of static_resources.
type Cluster struct {
	Name string
	Line int
	// TCPKeepalive is the upstream_connection_options.tcp_keepalive line (0 without it).
	TCPKeepalive int
	Fields       map[string]*Field
}

// Config is what the bootstrap says, for the envoy rules.
type Config struct {
	File      string
	Listeners []*Listener
	Clusters  []*Cluster
	values    []configs.Value
}

// Defaults (Envoy docs: timeouts FAQ; config reference).
const (
	DefaultIdleTimeout       = time.Hour
	DefaultStreamIdleTimeout = 5 * time.Minute
	DefaultRouteTimeout      = 15 * time.Second
	DefaultConnectTimeout    = 5 * time.Second
)

// Parse implements configs.Parser.
func (Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := Parse(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads the bootstrap at p (inside fsys).
func Parse(fsys fs.FS, p string) (c *Config, err error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	file := "/" + p
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var doc yaml.Node
	if err := decode(data, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return nil, &ParseError{File: file, Line: n, Msg: "invalid YAML: " + m[2]}
		}
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	c = &Config{File: file}
	if len(doc.Content) == 0 {
		return c, nil
	}
	w := &walker{c: c}
	if err := w.root(resolve(doc.Content[0])); err != nil {
		return nil, err
	}
	return c, nil
}

// decode guards against a panic in the YAML library on hostile input: it becomes an error.
func decode(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 10; i++ {
		n = n.Alias
	}
	return n
}

func get(n *yaml.Node, key string) (val, k *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1]), n.Content[i]
		}
	}
	return nil, nil
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, x := range n.Content {
		out = append(out, resolve(x))
	}
	return out
}

func scalar(n *yaml.Node, key string) string {
	v, _ := get(n, key)
	if v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

type walker struct{ c *Config }

func (w *walker) errorf(n *yaml.Node, format string, args ...any) error {
	return &ParseError{File: w.c.File, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// duration reads a protobuf JSON duration at key (a dotted path under n) into fields.
func (w *walker) duration(fields map[string]*Field, prefix string, n *yaml.Node, key, block string) error {
	v, k := dig(n, key)
	if v == nil {
		return nil
	}
	d, raw, err := parseDuration(v)
	if err != nil {
		return w.errorf(v, "%s: %v", key, err)
	}
	f := &Field{Key: prefix + key, Raw: raw, Line: k.Line, Duration: d}
	fields[f.Key] = f
	w.c.values = append(w.c.values, configs.Value{Key: f.Key, Value: raw, Block: block, Location: model.Location{File: w.c.File, Line: f.Line}})
	return nil
}

// integer reads a plain number (a protobuf UInt32Value) at key.
func (w *walker) integer(fields map[string]*Field, prefix string, n *yaml.Node, key, block string) error {
	v, k := dig(n, key)
	if v == nil {
		return nil
	}
	if inner, _ := get(v, "value"); inner != nil && v.Kind == yaml.MappingNode {
		v = inner
	}
	i, err := strconv.ParseUint(strings.TrimSpace(v.Value), 10, 32)
	if v.Kind != yaml.ScalarNode || err != nil {
		return w.errorf(v, "%s: expected a whole number of seconds or probes, found %q", key, v.Value)
	}
	f := &Field{Key: prefix + key, Raw: v.Value, Line: k.Line, Int: int(i)}
	fields[f.Key] = f
	w.c.values = append(w.c.values, configs.Value{Key: f.Key, Value: v.Value, Block: block, Location: model.Location{File: w.c.File, Line: f.Line}})
	return nil
}

// dig follows a dotted path of mapping keys.
func dig(n *yaml.Node, key string) (val, k *yaml.Node) {
	for _, part := range strings.Split(key, ".") {
		if n, k = get(n, part); n == nil {
			return nil, nil
		}
	}
	return n, k
}

var durationRe = regexp.MustCompile(`^(\d+)(\.\d{1,9})?s$`)

// parseDuration reads a protobuf JSON duration: "3600s", "0.5s", or {seconds, nanos}.
func parseDuration(v *yaml.Node) (time.Duration, string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		m := durationRe.FindStringSubmatch(strings.TrimSpace(v.Value))
		if m == nil {
			return 0, v.Value, fmt.Errorf("expected a duration in seconds with an \"s\" (\"300s\", \"0.5s\"), found %q", v.Value)
		}
		secs, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second)-1 {
			return 0, v.Value, fmt.Errorf("duration %q is out of range", v.Value)
		}
		d := time.Duration(secs) * time.Second
		if m[2] != "" {
			frac := (m[2][1:] + "000000000")[:9]
			ns, _ := strconv.ParseInt(frac, 10, 64)
			d += time.Duration(ns)
		}
		return d, v.Value, nil
	case yaml.MappingNode:
		var secs, nanos int64
		var err error
		if s := scalar(v, "seconds"); s != "" {
			if secs, err = strconv.ParseInt(s, 10, 64); err != nil || secs < 0 || secs > math.MaxInt64/int64(time.Second)-1 {
				return 0, "", fmt.Errorf("seconds: expected a whole number, found %q", s)
			}
		}
		if s := scalar(v, "nanos"); s != "" {
			if nanos, err = strconv.ParseInt(s, 10, 32); err != nil || nanos < 0 || nanos > 999999999 {
				return 0, "", fmt.Errorf("nanos: expected 0 to 999999999, found %q", s)
			}
		}
		d := time.Duration(secs)*time.Second + time.Duration(nanos)
		return d, fmt.Sprintf("%gs", d.Seconds()), nil
	}
	return 0, "", errors.New("expected a duration such as \"300s\"")
}

const hcmType = "HttpConnectionManager"

func (w *walker) root(root *yaml.Node) error {
	sr, _ := get(root, "static_resources")
	if sr == nil {
		return nil
	}
	ls, _ := get(sr, "listeners")
	for _, l := range seq(ls) {
		if err := w.listener(l); err != nil {
			return err
		}
	}
	cs, _ := get(sr, "clusters")
	for _, c := range seq(cs) {
		if err := w.cluster(c); err != nil {
			return err
		}
	}
	return nil
}

// Socket options Envoy applies to the listening socket (SOL_SOCKET 1, IPPROTO_TCP 6; Linux
// option numbers).
var sockopts = map[[2]int]string{
	{1, 9}: "SO_KEEPALIVE", {6, 4}: "TCP_KEEPIDLE", {6, 5}: "TCP_KEEPINTVL", {6, 6}: "TCP_KEEPCNT", {6, 18}: "TCP_USER_TIMEOUT",
}

func (w *walker) listener(n *yaml.Node) error {
	l := &Listener{Name: scalar(n, "name"), Line: n.Line, Fields: map[string]*Field{}}
	if l.Name == "" {
		l.Name = fmt.Sprintf("#%d", len(w.c.Listeners)+1)
	}
	block := "listener " + l.Name
	if sa, _ := dig(n, "address.socket_address"); sa != nil {
		host, port := scalar(sa, "address"), scalar(sa, "port_value")
		if port != "" {
			l.Address = net.JoinHostPort(host, port)
		}
	}
	opts, _ := get(n, "socket_options")
	for _, o := range seq(opts) {
		level, _ := strconv.Atoi(scalar(o, "level"))
		name, _ := strconv.Atoi(scalar(o, "name"))
		what, ok := sockopts[[2]int{level, name}]
		if !ok {
			continue
		}
		v, k := get(o, "int_value")
		if v == nil {
			continue
		}
		i, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil || i < 0 {
			return w.errorf(v, "socket_options %s: expected int_value to be a whole number, found %q", what, v.Value)
		}
		f := &Field{Key: "socket_options." + what, Raw: v.Value, Line: k.Line, Int: int(i)}
		l.Fields[f.Key] = f
		w.c.values = append(w.c.values, configs.Value{Key: f.Key, Value: v.Value, Block: block, Location: model.Location{File: w.c.File, Line: f.Line}})
	}
	chains, _ := get(n, "filter_chains")
	for _, fc := range seq(chains) {
		filters, _ := get(fc, "filters")
		for _, f := range seq(filters) {
			name := scalar(f, "name")
			tc, _ := get(f, "typed_config")
			typ := scalar(tc, "@type")
			switch {
			case !l.HCM && (strings.HasSuffix(name, "http_connection_manager") || strings.HasSuffix(typ, hcmType)):
				l.HCM = true
				if err := w.hcm(l, tc, block); err != nil {
					return err
				}
			case !l.TCPProxy && (strings.HasSuffix(name, "tcp_proxy") || strings.HasSuffix(typ, "TcpProxy")):
				l.TCPProxy = true
				l.TCPProxyCluster = scalar(tc, "cluster")
				if err := w.duration(l.Fields, "tcp_proxy.", tc, "idle_timeout", block); err != nil {
					return err
				}
			}
		}
	}
	w.c.Listeners = append(w.c.Listeners, l)
	return nil
}

func (w *walker) hcm(l *Listener, tc *yaml.Node, block string) error {
	for _, key := range []string{"common_http_protocol_options.idle_timeout", "common_http_protocol_options.max_connection_duration",
		"stream_idle_timeout", "request_timeout", "request_headers_timeout", "drain_timeout",
		"http2_protocol_options.connection_keepalive.interval", "http2_protocol_options.connection_keepalive.timeout"} {
		if err := w.duration(l.Fields, "", tc, key, block); err != nil {
			return err
		}
	}
	rc, _ := get(tc, "route_config")
	vhs, _ := get(rc, "virtual_hosts")
	for _, vh := range seq(vhs) {
		routes, _ := get(vh, "routes")
		for _, r := range seq(routes) {
			action, _ := get(r, "route")
			if action == nil {
				if redirect, _ := get(r, "redirect"); redirect != nil {
					l.Answers++
				} else if direct, _ := get(r, "direct_response"); direct != nil {
					l.Answers++
				}
				continue
			}
			rt := &Route{Cluster: scalar(action, "cluster"), Line: r.Line, Fields: map[string]*Field{}}
			rblock := block + " route"
			if rt.Cluster != "" {
				rblock += " to " + rt.Cluster
			}
			for _, key := range []string{"timeout", "idle_timeout"} {
				if err := w.duration(rt.Fields, "route.", action, key, rblock); err != nil {
					return err
				}
			}
			l.Routes = append(l.Routes, rt)
		}
	}
	return nil
}

const httpOptionsType = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

func (w *walker) cluster(n *yaml.Node) error {
	c := &Cluster{Name: scalar(n, "name"), Line: n.Line, Fields: map[string]*Field{}}
	if c.Name == "" {
		c.Name = fmt.Sprintf("#%d", len(w.c.Clusters)+1)
	}
	block := "cluster " + c.Name
	if err := w.duration(c.Fields, "", n, "connect_timeout", block); err != nil {
		return err
	}
	if ka, k := dig(n, "upstream_connection_options.tcp_keepalive"); ka != nil {
		c.TCPKeepalive = k.Line
		w.c.values = append(w.c.values, configs.Value{Key: "upstream_connection_options.tcp_keepalive", Value: "present", Block: block, Location: model.Location{File: w.c.File, Line: k.Line}})
		for _, key := range []string{"keepalive_time", "keepalive_interval", "keepalive_probes"} {
			if err := w.integer(c.Fields, "upstream_connection_options.tcp_keepalive.", ka, key, block); err != nil {
				return err
			}
		}
	}
	// The typed extension options win over the deprecated cluster fields when both are there.
	legacy := []string{"common_http_protocol_options.idle_timeout", "common_http_protocol_options.max_connection_duration",
		"http2_protocol_options.connection_keepalive.interval", "http2_protocol_options.connection_keepalive.timeout"}
	for _, key := range legacy {
		if err := w.duration(c.Fields, "", n, key, block); err != nil {
			return err
		}
	}
	ext, _ := dig(n, "typed_extension_protocol_options")
	if opts, _ := get(ext, httpOptionsType); opts != nil {
		for _, key := range []string{"common_http_protocol_options.idle_timeout", "common_http_protocol_options.max_connection_duration"} {
			if err := w.duration(c.Fields, "", opts, key, block); err != nil {
				return err
			}
		}
		for _, base := range []string{"explicit_http_config.http2_protocol_options", "use_downstream_protocol_config.http2_protocol_options", "auto_config.http2_protocol_options"} {
			for _, leaf := range []string{"connection_keepalive.interval", "connection_keepalive.timeout"} {
				tmp := map[string]*Field{}
				if err := w.duration(tmp, "", opts, base+"."+leaf, block); err != nil {
					return err
				}
				for _, f := range tmp {
					f.Key = "http2_protocol_options." + leaf
					c.Fields[f.Key] = f
				}
			}
		}
	}
	w.c.Clusters = append(w.c.Clusters, c)
	return nil
}

func (c *Config) src(f *Field, detail string) model.Source {
	return model.Source{Kind: model.SourceConfig, File: c.File, Line: f.Line, Detail: detail}
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

// dur returns a duration field or Envoy's default.
func (c *Config) dur(fields map[string]*Field, key string, fallback time.Duration, what string) model.Setting[time.Duration] {
	if f := fields[key]; f != nil {
		return model.KnownSetting(f.Duration, c.src(f, ""))
	}
	return model.KnownSetting(fallback, def(what))
}

// Downstream is how the first HTTP (else TCP proxy) listener treats the connections it accepts.
func (c *Config) Downstream() *model.Side {
	l := c.mainListener()
	if l == nil {
		return nil
	}
	return c.ListenerSide(l)
}

// ListenerSide is how a listener treats the connections it accepts (nil for a listener with
// neither an HTTP connection manager nor a TCP proxy: keeptune does not read its filters).
func (c *Config) ListenerSide(l *Listener) *model.Side {
	if !l.HCM && !l.TCPProxy {
		return nil
	}
	s := &model.Side{TCP: c.listenerKeepalive(l)}
	if l.HCM {
		s.Pools = model.KnownSetting(true, def("Envoy keeps client connections open between requests"))
		s.IdleTimeout = c.dur(l.Fields, "common_http_protocol_options.idle_timeout", DefaultIdleTimeout, "Envoy default HTTP idle_timeout 1h")
		s.MaxLifetime = c.dur(l.Fields, "common_http_protocol_options.max_connection_duration", 0, "Envoy default: no max_connection_duration")
		s.ReadTimeout = c.dur(l.Fields, "stream_idle_timeout", DefaultStreamIdleTimeout, "Envoy default stream_idle_timeout 5m")
		if f := l.Fields["http2_protocol_options.connection_keepalive.interval"]; f != nil {
			s.HTTP2Ping = model.KnownSetting(f.Duration, c.src(f, ""))
		}
		return s
	}
	s.IdleTimeout = c.dur(l.Fields, "tcp_proxy.idle_timeout", DefaultIdleTimeout, "Envoy default TCP proxy idle_timeout 1h")
	return s
}

func (c *Config) mainListener() *Listener {
	for _, l := range c.Listeners {
		if l.HCM {
			return l
		}
	}
	for _, l := range c.Listeners {
		if l.TCPProxy {
			return l
		}
	}
	return nil
}

// listenerKeepalive reads SO_KEEPALIVE and the TCP options of a listener's socket_options.
func (c *Config) listenerKeepalive(l *Listener) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	on := l.Fields["socket_options.SO_KEEPALIVE"]
	if on == nil || on.Int == 0 {
		if on != nil {
			k.Enabled = model.KnownSetting(false, c.src(on, ""))
		} else {
			k.Enabled = model.KnownSetting(false, def("Envoy sets no SO_KEEPALIVE on accepted sockets unless the listener's socket_options do"))
		}
		return k
	}
	k.Enabled = model.KnownSetting(true, c.src(on, ""))
	secs := func(key, sysctl string) model.Setting[time.Duration] {
		if f := l.Fields["socket_options."+key]; f != nil && f.Int > 0 {
			return model.KnownSetting(time.Duration(f.Int)*time.Second, c.src(f, ""))
		}
		return model.Setting[time.Duration]{Source: c.src(on, "no "+key+" socket option: the host's "+sysctl)}
	}
	k.Idle = secs("TCP_KEEPIDLE", model.KeyKeepaliveTime)
	k.Interval = secs("TCP_KEEPINTVL", model.KeyKeepaliveIntvl)
	if f := l.Fields["socket_options.TCP_KEEPCNT"]; f != nil && f.Int > 0 {
		k.Count = model.KnownSetting(f.Int, c.src(f, ""))
	} else {
		k.Count.Source = c.src(on, "no TCP_KEEPCNT socket option: the host's "+model.KeyKeepaliveProbes)
	}
	if f := l.Fields["socket_options.TCP_USER_TIMEOUT"]; f != nil {
		k.UserTimeout = model.KnownSetting(time.Duration(f.Int)*time.Millisecond, c.src(f, ""))
	}
	return k
}

// MainCluster returns the cluster the upstream side reports: the one the main listener's first
// route (or TCP proxy) sends to, else the first cluster.
func (c *Config) MainCluster() (*Cluster, *Route) {
	if l := c.mainListener(); l != nil {
		if cl, route := c.target(l); cl != nil {
			return cl, route
		}
	}
	if len(c.Clusters) > 0 {
		return c.Clusters[0], nil
	}
	return nil, nil
}

// ClusterKeepalive is the TCP keepalive of a cluster's upstream sockets.
func (c *Config) ClusterKeepalive(cl *Cluster) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	if cl.TCPKeepalive == 0 {
		k.Enabled = model.KnownSetting(false, def("Envoy turns SO_KEEPALIVE on for upstream connections only with upstream_connection_options.tcp_keepalive"))
		return k
	}
	at := model.Source{Kind: model.SourceConfig, File: c.File, Line: cl.TCPKeepalive}
	k.Enabled = model.KnownSetting(true, at)
	host := func(key, sysctl string) model.Source {
		s := at
		s.Detail = key + " not set: the host's " + sysctl
		return s
	}
	if f := cl.Fields["upstream_connection_options.tcp_keepalive.keepalive_time"]; f != nil && f.Int > 0 {
		k.Idle = model.KnownSetting(time.Duration(f.Int)*time.Second, c.src(f, ""))
	} else {
		k.Idle.Source = host("keepalive_time", model.KeyKeepaliveTime)
	}
	if f := cl.Fields["upstream_connection_options.tcp_keepalive.keepalive_interval"]; f != nil && f.Int > 0 {
		k.Interval = model.KnownSetting(time.Duration(f.Int)*time.Second, c.src(f, ""))
	} else {
		k.Interval.Source = host("keepalive_interval", model.KeyKeepaliveIntvl)
	}
	if f := cl.Fields["upstream_connection_options.tcp_keepalive.keepalive_probes"]; f != nil && f.Int > 0 {
		k.Count = model.KnownSetting(f.Int, c.src(f, ""))
	} else {
		k.Count.Source = host("keepalive_probes", model.KeyKeepaliveProbes)
	}
	return k
}

// Upstream is how Envoy treats connections to the main cluster.
func (c *Config) Upstream() *model.Side {
	cl, route := c.MainCluster()
	if cl == nil {
		return nil
	}
	return c.ClusterSide(cl, route)
}

// ClusterSide is how Envoy treats connections to a cluster; route, when not nil, is the route
// whose timeout bounds the wait for a response.
func (c *Config) ClusterSide(cl *Cluster, route *Route) *model.Side {
	s := &model.Side{
		Pools:          model.KnownSetting(true, def("Envoy pools upstream connections per cluster")),
		IdleTimeout:    c.dur(cl.Fields, "common_http_protocol_options.idle_timeout", DefaultIdleTimeout, "Envoy default HTTP idle_timeout 1h"),
		MaxLifetime:    c.dur(cl.Fields, "common_http_protocol_options.max_connection_duration", 0, "Envoy default: no max_connection_duration"),
		ConnectTimeout: c.dur(cl.Fields, "connect_timeout", DefaultConnectTimeout, "Envoy default connect_timeout 5s"),
		TCP:            c.ClusterKeepalive(cl),
	}
	if route != nil {
		s.ReadTimeout = c.dur(route.Fields, "route.timeout", DefaultRouteTimeout, "Envoy default route timeout 15s")
	}
	if f := cl.Fields["http2_protocol_options.connection_keepalive.interval"]; f != nil {
		s.HTTP2Ping = model.KnownSetting(f.Duration, c.src(f, ""))
	}
	return s
}

// target is the cluster a listener sends to, its first route's or its TCP proxy's (nil when no
// cluster has that name), with that route (nil for a TCP proxy).
func (c *Config) target(l *Listener) (*Cluster, *Route) {
	name, route := l.TCPProxyCluster, (*Route)(nil)
	if l.HCM && len(l.Routes) > 0 {
		route = l.Routes[0]
		name = route.Cluster
	}
	for _, cl := range c.Clusters {
		if cl.Name == name {
			return cl, route
		}
	}
	return nil, route
}

// ListenerSides are every listener (with its own downstream side, and the upstream side of the
// cluster its first route or its TCP proxy sends to) and every cluster (with its upstream
// side), so that rules and chain hops can look at each (a hop selects one by name or port).
func (c *Config) ListenerSides() []configs.Listener {
	var out []configs.Listener
	for _, l := range c.Listeners {
		cl := configs.Listener{Kind: "listener", Name: "listener " + l.Name, Names: []string{l.Name},
			Location: model.Location{File: c.File, Line: l.Line}, Downstream: c.ListenerSide(l)}
		if l.Address != "" {
			cl.Addresses = []string{l.Address}
		}
		if up, route := c.target(l); up != nil {
			cl.Upstream = c.ClusterSide(up, route)
		}
		if l.HCM && len(l.Routes) == 0 && l.Answers > 0 {
			cl.NotServing = "its routes only redirect or answer directly (redirect, direct_response)"
		}
		out = append(out, cl)
	}
	for _, k := range c.Clusters {
		out = append(out, configs.Listener{Kind: "cluster", Name: "cluster " + k.Name, Names: []string{k.Name},
			Location: model.Location{File: c.File, Line: k.Line}, Upstream: c.ClusterSide(k, nil)})
	}
	return out
}

// Configs returns the format-neutral view.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "envoy", File: c.File, Files: []string{c.File}, Values: c.values, Detail: c,
		Downstream: c.Downstream(), Upstream: c.Upstream(), Listeners: c.ListenerSides()}
	if out.Values == nil {
		out.Values = []configs.Value{}
	}
	return out
}
