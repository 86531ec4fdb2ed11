package chain

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/catalog"
	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/yamlx"
)

// DefaultPaths are where audit looks for a chain file when none is given, in order.
var DefaultPaths = []string{"keeptune.yaml", "/etc/keeptune/keeptune.yaml"}

// Spec is a parsed chain file: every hop with its references (catalog or runtime entry,
// `config:` path and where it is written) and the values written on the hop itself, nothing
// resolved yet. Parse does no I/O; Resolve layers catalog, configuration and the hop's values.
type Spec struct {
	File              string
	Profile           string
	ExpectConnections int
	Hops              []HopSpec
}

// HopSpec is one parsed hop.
type HopSpec struct {
	// Hop holds the identity: name, type, catalog/runtime/config names, where it is declared,
	// local. Resolve fills its values.
	Hop model.Hop
	// ConfigAt is where the hop's `config:` value is written (zero without one).
	ConfigAt model.Location
	// Listener is the listener `config: {file: ..., server: NAME, port: N}` names.
	Listener ListenerRef

	entry          *catalog.Entry
	ownMiddlebox   *model.Middlebox
	ownDown, ownUp *model.Side
}

// Sources are what Resolve layers under the values a chain file writes.
type Sources struct {
	// Config reads a hop's `config:` file (the path as written) and returns the sides it
	// describes. nil: a hop with `config:` cannot be resolved (an error at its line).
	Config func(path string) (downstream, upstream *model.Side, err error)
	// ConfigListener reads the sides of one listener of a `config:` file, for hops that name
	// one (config: {file: ..., server: NAME, port: N}).
	ConfigListener func(path string, l ListenerRef) (downstream, upstream *model.Side, err error)
	// ConfigFormat, when set, names the format of a hop's `config:` file (nginx, haproxy, ...):
	// a hop without `runtime:` takes it, so its fixes are written in that server's directives.
	ConfigFormat func(path string) string
	// Host, when set, is the network namespace hops marked `local: true` run in: its keepalive
	// sysctls fill the values their sockets leave to the OS (ApplyHost).
	Host *model.Namespace
}

// Resolve builds the chain: for every hop the catalog's values, then its configuration file's,
// then the values written on the hop, each keeping its source; then, with Sources.Host, what
// local hops take from the host. A configuration that cannot be read is an error at the
// `config:` line.
func (s *Spec) Resolve(src Sources) (*model.Chain, error) {
	c := &model.Chain{File: s.File, Profile: s.Profile, ExpectConnections: s.ExpectConnections}
	for i := range s.Hops {
		h, err := s.Hops[i].resolve(src)
		if err != nil {
			return nil, err
		}
		c.Hops = append(c.Hops, h)
	}
	if src.Host != nil {
		ApplyHost(c, *src.Host)
	}
	return c, nil
}

// catalogSides returns fresh copies of the sides the hop's catalog entry documents, or empty
// sides (every value unknown) where the hop names no entry or the entry leaves a side out.
func (hs *HopSpec) catalogSides() (down, up *model.Side) {
	down, up = &model.Side{}, &model.Side{}
	if hs.entry != nil {
		if d := hs.entry.Downstream(); d != nil {
			down = d
		}
		if u := hs.entry.Upstream(); u != nil {
			up = u
		}
	}
	return down, up
}

func (hs *HopSpec) resolve(src Sources) (model.Hop, error) {
	h := hs.Hop
	if h.Type == model.HopMiddlebox {
		mb := &model.Middlebox{}
		if hs.entry != nil {
			mb = hs.entry.Middlebox()
		}
		overlayMiddlebox(mb, hs.ownMiddlebox)
		h.Middlebox = mb
		if mb.Layer.Known && mb.Layer.Value == 7 {
			// A layer-7 balancer can keep clients and backends idle for different times
			// (GCP's external ALB: 610 s towards clients, 600 s towards backends).
			down, up := hs.catalogSides()
			// The hop's idle_timeout is the balancer's own setting: it is the client side's,
			// and where one setting governs both sides (AWS) the target side's too.
			if own := hs.ownMiddlebox; own != nil && own.IdleTimeout.Known {
				down.IdleTimeout = own.IdleTimeout
				if hs.entry != nil && hs.entry.IdleTimeoutBothSides {
					up.IdleTimeout = own.IdleTimeout
				}
			}
			overlay(down, hs.ownDown)
			overlay(up, hs.ownUp)
			h.Downstream, h.Upstream = down, up
		}
		return h, nil
	}
	down, up := hs.catalogSides()
	if h.Config != "" && h.Runtime == "" && src.ConfigFormat != nil {
		h.Runtime = src.ConfigFormat(h.Config)
	}
	if h.Config != "" {
		at := hs.ConfigAt
		if src.Config == nil {
			return h, &yamlx.PosError{File: at.File, Line: at.Line, Column: at.Column,
				Msg: fmt.Sprintf("config %s: configuration files are not read here: write the hop's values in the chain file", h.Config)}
		}
		var d, u *model.Side
		var err error
		if hs.Listener != (ListenerRef{}) {
			if src.ConfigListener == nil {
				return h, &yamlx.PosError{File: at.File, Line: at.Line, Column: at.Column,
					Msg: fmt.Sprintf("config %s: listeners cannot be picked here: drop server:/port:", h.Config)}
			}
			d, u, err = src.ConfigListener(h.Config, hs.Listener)
		} else {
			d, u, err = src.Config(h.Config)
		}
		if err != nil {
			return h, &yamlx.PosError{File: at.File, Line: at.Line, Column: at.Column, Msg: fmt.Sprintf("config %s: %v", h.Config, err)}
		}
		overlay(down, d)
		overlay(up, u)
	}
	overlay(down, hs.ownDown)
	overlay(up, hs.ownUp)
	if h.Type != model.HopClient {
		h.Downstream = down
	}
	if h.Type != model.HopServer {
		h.Upstream = up
	}
	return h, nil
}

// Find returns the first chain file of DefaultPaths that exists, or "".
func Find() string {
	for _, p := range DefaultPaths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Parse reads a chain document without reading anything else: catalog names are checked against
// the embedded catalog, `config:` paths are kept as references for Resolve. Every error is a
// *yamlx.PosError naming file:line:column and what was expected.
func Parse(file string, data []byte) (*Spec, error) {
	root, err := yamlx.Parse(file, data)
	if err != nil {
		return nil, err
	}
	c := &Spec{File: file}
	var chainNode *yaml.Node
	err = yamlx.Mapping(file, root, []string{"profile", "expect", "chain"}, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "profile":
			c.Profile, err = yamlx.String(file, v)
		case "expect":
			err = yamlx.Mapping(file, v, []string{"connections"}, func(_ string, _, v *yaml.Node) error {
				var err error
				c.ExpectConnections, err = yamlx.Int(file, v, 1, 1<<30)
				return err
			})
		case "chain":
			chainNode = v
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if chainNode == nil {
		return nil, yamlx.Errorf(file, root, "missing key \"chain\": expected a list of hops from the client side to the application")
	}
	if chainNode.Kind != yaml.SequenceNode {
		return nil, yamlx.Errorf(file, chainNode, "chain: expected a list of hops (- {name: ..., type: ...})")
	}
	if len(chainNode.Content) == 0 {
		return nil, yamlx.Errorf(file, chainNode, "chain: empty: expected at least two hops, from the client side to the application")
	}
	names := map[string]bool{}
	for _, n := range chainNode.Content {
		h, err := parseHop(file, n)
		if err != nil {
			return nil, err
		}
		if names[h.Hop.Name] {
			return nil, yamlx.Errorf(file, n, "hop name %q used twice: names identify hops in findings", h.Hop.Name)
		}
		names[h.Hop.Name] = true
		c.Hops = append(c.Hops, h)
	}
	if len(c.Hops) < 2 {
		return nil, yamlx.Errorf(file, chainNode, "chain: one hop: expected at least two, from the client side to the application")
	}
	return c, nil
}

var hopKeys = []string{"name", "type", "catalog", "runtime", "config", "local",
	// middlebox values
	"idle_timeout", "layer", "refreshed_by", "on_expiry", "http2_ping_refreshes",
	// software: the natural side's values (server: downstream, client: upstream)
	"http_keepalive_timeout", "pool_idle_timeout", "pools", "tcp_keepalive", "user_timeout",
	"read_timeout", "connect_timeout", "max_lifetime", "http2_ping", "grpc",
	// software: explicit sides
	"downstream", "upstream"}

var sideKeys = []string{"idle_timeout", "http_keepalive_timeout", "pool_idle_timeout", "pools", "tcp_keepalive",
	"user_timeout", "read_timeout", "connect_timeout", "max_lifetime", "http2_ping", "grpc"}

var middleboxKeys = []string{"idle_timeout", "layer", "refreshed_by", "on_expiry", "http2_ping_refreshes"}

func parseHop(file string, n *yaml.Node) (HopSpec, error) {
	hs := HopSpec{Hop: model.Hop{Declared: model.Location{File: file, Line: n.Line, Column: n.Column}}}
	h := &hs.Hop
	if n.Kind != yaml.MappingNode {
		return hs, yamlx.Errorf(file, n, "expected a hop: a mapping like {name: edge, catalog: aws-alb}")
	}
	// First pass: identity keys, which decide how the others are read.
	values := map[string][2]*yaml.Node{}
	err := yamlx.Mapping(file, n, hopKeys, func(key string, k, v *yaml.Node) error {
		values[key] = [2]*yaml.Node{k, v}
		return nil
	})
	if err != nil {
		return hs, err
	}
	str := func(key string) (string, error) {
		if kv, ok := values[key]; ok {
			return yamlx.String(file, kv[1])
		}
		return "", nil
	}
	if h.Name, err = str("name"); err != nil {
		return hs, err
	}
	if h.Name == "" {
		return hs, yamlx.Errorf(file, n, "hop without a name: expected name: (it identifies the hop in findings)")
	}
	typ, err := str("type")
	if err != nil {
		return hs, err
	}
	if h.Catalog, err = str("catalog"); err != nil {
		return hs, err
	}
	if h.Runtime, err = str("runtime"); err != nil {
		return hs, err
	}
	if kv, ok := values["config"]; ok {
		if h.Config, hs.Listener, err = configKey(file, kv[1]); err != nil {
			return hs, err
		}
		hs.ConfigAt = model.Location{File: file, Line: kv[1].Line, Column: kv[1].Column}
	}
	if kv, ok := values["local"]; ok {
		if h.Local, err = boolean(file, kv[1]); err != nil {
			return hs, err
		}
	}

	// Defaults from the catalog or runtime.
	var entry *catalog.Entry
	for _, key := range []string{"catalog", "runtime"} {
		name := h.Catalog
		if key == "runtime" {
			name = h.Runtime
		}
		if name == "" {
			continue
		}
		if entry != nil {
			return hs, yamlx.Errorf(file, values[key][0], "a hop takes its defaults from one of catalog: or runtime:, not both")
		}
		e, ok := catalog.Lookup(name)
		if !ok {
			msg := fmt.Sprintf("unknown %s %q: see `keeptune catalog` for the list", key, name)
			if near := yamlx.Nearest(name, catalog.Names()); near != "" {
				msg = fmt.Sprintf("unknown %s %q: did you mean %q? (see `keeptune catalog`)", key, name, near)
			}
			return hs, yamlx.Errorf(file, values[key][1], "%s", msg)
		}
		if key == "catalog" && e.Kind != catalog.KindMiddlebox {
			return hs, yamlx.Errorf(file, values[key][1], "%q is software, not a middlebox: write runtime: %s", name, name)
		}
		if key == "runtime" && e.Kind == catalog.KindMiddlebox {
			return hs, yamlx.Errorf(file, values[key][1], "%q is a middlebox, not software: write catalog: %s", name, name)
		}
		entry = &e
	}

	switch {
	case typ != "":
		switch model.HopType(typ) {
		case model.HopClient, model.HopMiddlebox, model.HopProxy, model.HopServer:
			h.Type = model.HopType(typ)
		default:
			return hs, yamlx.Errorf(file, values["type"][1], "unknown type %q: expected client, middlebox, proxy or server", typ)
		}
	case entry != nil && entry.Kind == catalog.KindMiddlebox:
		h.Type = model.HopMiddlebox
	default:
		return hs, yamlx.Errorf(file, n, "hop %q: expected type: client, middlebox, proxy or server (or catalog: NAME for a middlebox)", h.Name)
	}
	if h.Type == model.HopMiddlebox && h.Runtime != "" {
		return hs, yamlx.Errorf(file, values["runtime"][0], "a middlebox takes catalog:, not runtime:")
	}
	if h.Type != model.HopMiddlebox && h.Catalog != "" {
		return hs, yamlx.Errorf(file, values["catalog"][0], "catalog: names middleboxes; for software write runtime:")
	}

	if h.Type == model.HopMiddlebox {
		for key, kv := range values {
			if !contains(middleboxKeys, key) && !contains([]string{"name", "type", "catalog", "local", "downstream", "upstream"}, key) {
				return hs, yamlx.Errorf(file, kv[0], "%q does not apply to a middlebox: expected one of %s", key, strings.Join(middleboxKeys, ", "))
			}
		}
		own := &model.Middlebox{}
		if err := applyMiddlebox(file, values, own); err != nil {
			return hs, err
		}
		// A layer-7 balancer's sides: the connections it accepts from clients (downstream) and
		// the ones it pools towards its targets (upstream), each settable where they differ.
		for _, which := range []string{"downstream", "upstream"} {
			kv, ok := values[which]
			if !ok {
				continue
			}
			layer := own.Layer
			if !layer.Known && entry != nil {
				layer = entry.Middlebox().Layer
			}
			if !layer.Known || layer.Value != 7 {
				return hs, yamlx.Errorf(file, kv[0], "%s: a layer-4 middlebox forwards segments and has no sides: give it idle_timeout: only", which)
			}
			side := &model.Side{}
			if err := yamlx.Mapping(file, kv[1], sideKeys, func(key string, _, v *yaml.Node) error {
				return applySideKey(file, key, v, side)
			}); err != nil {
				return hs, err
			}
			if which == "downstream" {
				hs.ownDown = side
			} else {
				hs.ownUp = side
			}
		}
		if !own.IdleTimeout.Known && (entry == nil || !entry.Middlebox().IdleTimeout.Known) {
			return hs, yamlx.Errorf(file, n, "middlebox %q has no idle timeout: expected catalog: NAME or idle_timeout: DURATION", h.Name)
		}
		hs.entry, hs.ownMiddlebox = entry, own
		return hs, nil
	}

	// Software hops.
	for _, key := range middleboxKeys {
		if kv, ok := values[key]; ok && key != "idle_timeout" {
			return hs, yamlx.Errorf(file, kv[0], "%q applies to middleboxes only", key)
		}
	}
	// The hop's own values; Resolve puts them over the catalog's and the configuration's.
	down, up := &model.Side{}, &model.Side{}
	hs.entry, hs.ownDown, hs.ownUp = entry, down, up
	// Flat keys describe the natural side; a proxy has two and must say which.
	natural := down
	switch h.Type {
	case model.HopClient:
		natural = up
	case model.HopProxy:
		natural = nil
	}
	for key, kv := range values {
		if !contains(sideKeys, key) {
			continue
		}
		if natural == nil {
			return hs, yamlx.Errorf(file, kv[0], "a proxy has two sides: put %q under downstream: (connections it accepts) or upstream: (connections it opens)", key)
		}
		if err := applySideKey(file, key, kv[1], natural); err != nil {
			return hs, err
		}
	}
	for _, which := range []string{"downstream", "upstream"} {
		kv, ok := values[which]
		if !ok {
			continue
		}
		if (h.Type == model.HopClient && which == "downstream") || (h.Type == model.HopServer && which == "upstream") {
			return hs, yamlx.Errorf(file, kv[0], "a %s has no %s side", h.Type, which)
		}
		side := down
		if which == "upstream" {
			side = up
		}
		if err := yamlx.Mapping(file, kv[1], sideKeys, func(key string, _, v *yaml.Node) error {
			return applySideKey(file, key, v, side)
		}); err != nil {
			return hs, err
		}
	}
	return hs, nil
}

func applyMiddlebox(file string, values map[string][2]*yaml.Node, mb *model.Middlebox) error {
	for key, kv := range values {
		v := kv[1]
		src := chainSource(file, v)
		switch key {
		case "idle_timeout":
			d, err := yamlx.Duration(file, v)
			if err != nil {
				return err
			}
			mb.IdleTimeout = model.KnownSetting(d, src)
		case "layer":
			l, err := yamlx.Int(file, v, 4, 7)
			if err != nil || (l != 4 && l != 7) {
				return yamlx.Errorf(file, v, "expected layer 4 or 7, found %q", v.Value)
			}
			mb.Layer = model.KnownSetting(l, src)
		case "refreshed_by":
			s, err := enum(file, v, string(model.RefreshAnySegment), string(model.RefreshPayload))
			if err != nil {
				return err
			}
			mb.RefreshedBy = model.KnownSetting(model.Refresh(s), src)
		case "on_expiry":
			s, err := enum(file, v, string(model.ExpirySilent), string(model.ExpiryReset), string(model.ExpiryClose))
			if err != nil {
				return err
			}
			mb.OnExpiry = model.KnownSetting(model.Expiry(s), src)
		case "http2_ping_refreshes":
			b, err := boolean(file, v)
			if err != nil {
				return err
			}
			mb.HTTP2PingRefreshes = model.KnownSetting(b, src)
		}
	}
	return nil
}

func applySideKey(file, key string, v *yaml.Node, s *model.Side) error {
	src := chainSource(file, v)
	dur := func(dst *model.Setting[time.Duration]) error {
		if v.Kind == yaml.ScalarNode && v.Value == "none" && key != "http2_ping" {
			*dst = model.KnownSetting(time.Duration(0), src) // no limit (model.Side)
			return nil
		}
		d, err := yamlx.Duration(file, v)
		if err != nil {
			return err
		}
		*dst = model.KnownSetting(d, src)
		return nil
	}
	switch key {
	case "idle_timeout", "http_keepalive_timeout", "pool_idle_timeout":
		return dur(&s.IdleTimeout)
	case "pools":
		b, err := boolean(file, v)
		if err != nil {
			return err
		}
		s.Pools = model.KnownSetting(b, src)
	case "user_timeout":
		return dur(&s.TCP.UserTimeout)
	case "read_timeout":
		return dur(&s.ReadTimeout)
	case "connect_timeout":
		return dur(&s.ConnectTimeout)
	case "max_lifetime":
		return dur(&s.MaxLifetime)
	case "http2_ping":
		return dur(&s.HTTP2Ping)
	case "tcp_keepalive":
		return applyKeepalive(file, v, &s.TCP)
	case "grpc":
		if s.GRPC == nil {
			s.GRPC = &model.GRPCKeepalive{}
		}
		g := s.GRPC
		return yamlx.Mapping(file, v, []string{"time", "timeout", "permit_without_stream", "min_time"}, func(key string, _, v *yaml.Node) error {
			src := chainSource(file, v)
			if key == "permit_without_stream" {
				b, err := boolean(file, v)
				if err != nil {
					return err
				}
				g.PermitWithoutStream = model.KnownSetting(b, src)
				return nil
			}
			d, err := yamlx.Duration(file, v)
			if err != nil {
				return err
			}
			switch key {
			case "time":
				g.Time = model.KnownSetting(d, src)
			case "timeout":
				g.Timeout = model.KnownSetting(d, src)
			case "min_time":
				g.MinTime = model.KnownSetting(d, src)
			}
			return nil
		})
	}
	return nil
}

// applyKeepalive reads `tcp_keepalive: off`, `tcp_keepalive: on` or
// `tcp_keepalive: {idle: 60s, interval: 10s, count: 5}` (a mapping implies enabled).
func applyKeepalive(file string, v *yaml.Node, k *model.KeepaliveSettings) error {
	src := chainSource(file, v)
	if v.Kind == yaml.ScalarNode {
		b, err := boolean(file, v)
		if err != nil {
			return yamlx.Errorf(file, v, "tcp_keepalive: expected on, off or {idle: ..., interval: ..., count: ...}, found %q", v.Value)
		}
		k.Enabled = model.KnownSetting(b, src)
		return nil
	}
	k.Enabled = model.KnownSetting(true, src)
	return yamlx.Mapping(file, v, []string{"enabled", "idle", "interval", "count"}, func(key string, _, v *yaml.Node) error {
		src := chainSource(file, v)
		switch key {
		case "enabled":
			b, err := boolean(file, v)
			if err != nil {
				return err
			}
			k.Enabled = model.KnownSetting(b, src)
		case "count":
			n, err := yamlx.Int(file, v, 1, kernel.MaxKeepCnt)
			if err != nil {
				return err
			}
			k.Count = model.KnownSetting(n, src)
		default:
			d, err := yamlx.Duration(file, v)
			if err != nil {
				return err
			}
			if d%time.Second != 0 || d > kernel.MaxKeepIdle {
				return yamlx.Errorf(file, v, "expected whole seconds from 1s to %ds (the kernel's unit and limit), found %s", kernel.MaxKeepIdle/time.Second, v.Value)
			}
			if key == "idle" {
				k.Idle = model.KnownSetting(d, src)
			} else {
				k.Interval = model.KnownSetting(d, src)
			}
		}
		return nil
	})
}

// overlay copies the known values of from onto to.
func overlay(to, from *model.Side) {
	if from == nil {
		return
	}
	set := func(dst *model.Setting[time.Duration], src model.Setting[time.Duration]) {
		if src.Known {
			*dst = src
		}
	}
	set(&to.IdleTimeout, from.IdleTimeout)
	set(&to.ReadTimeout, from.ReadTimeout)
	set(&to.ConnectTimeout, from.ConnectTimeout)
	set(&to.MaxLifetime, from.MaxLifetime)
	set(&to.HTTP2Ping, from.HTTP2Ping)
	set(&to.TCP.Idle, from.TCP.Idle)
	set(&to.TCP.Interval, from.TCP.Interval)
	set(&to.TCP.UserTimeout, from.TCP.UserTimeout)
	if from.TCP.Count.Known {
		to.TCP.Count = from.TCP.Count
	}
	if from.TCP.Enabled.Known {
		to.TCP.Enabled = from.TCP.Enabled
	}
	if from.Pools.Known {
		to.Pools = from.Pools
	}
	if from.GRPC != nil {
		if to.GRPC == nil {
			g := *from.GRPC
			to.GRPC = &g
		} else {
			g := *to.GRPC
			set(&g.Time, from.GRPC.Time)
			set(&g.Timeout, from.GRPC.Timeout)
			set(&g.MinTime, from.GRPC.MinTime)
			if from.GRPC.PermitWithoutStream.Known {
				g.PermitWithoutStream = from.GRPC.PermitWithoutStream
			}
			to.GRPC = &g
		}
	}
}

// overlayMiddlebox copies the known values of from onto to.
func overlayMiddlebox(to, from *model.Middlebox) {
	if from == nil {
		return
	}
	if from.IdleTimeout.Known {
		to.IdleTimeout = from.IdleTimeout
	}
	if from.Layer.Known {
		to.Layer = from.Layer
	}
	if from.RefreshedBy.Known {
		to.RefreshedBy = from.RefreshedBy
	}
	if from.OnExpiry.Known {
		to.OnExpiry = from.OnExpiry
	}
	if from.HTTP2PingRefreshes.Known {
		to.HTTP2PingRefreshes = from.HTTP2PingRefreshes
	}
}

func chainSource(file string, n *yaml.Node) model.Source {
	return model.Source{Kind: model.SourceChainFile, File: file, Line: n.Line}
}

func enum(file string, n *yaml.Node, allowed ...string) (string, error) {
	s, err := yamlx.String(file, n)
	if err != nil {
		return "", err
	}
	if contains(allowed, s) {
		return s, nil
	}
	msg := fmt.Sprintf("expected one of %s, found %q", strings.Join(allowed, ", "), s)
	if near := yamlx.Nearest(s, allowed); near != "" {
		msg = fmt.Sprintf("expected one of %s, found %q: did you mean %q?", strings.Join(allowed, ", "), s, near)
	}
	return "", yamlx.Errorf(file, n, "%s", msg)
}

func boolean(file string, n *yaml.Node) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "on", "yes":
			return true, nil
		case "false", "off", "no":
			return false, nil
		}
	}
	return false, yamlx.Errorf(file, n, "expected true or false (on/off), found %s", n.Value)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Resolved parses and resolves a chain document whose values are all in the document (no hop
// reads a `config:` file and none takes the host's sysctls): examples, tests, documents built
// in memory.
func Resolved(file string, data []byte) (*model.Chain, error) {
	spec, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	return spec.Resolve(Sources{})
}
