package haproxy

import (
	"fmt"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// Defaults of HAProxy that keeptune relies on (configuration manual, doc/configuration.txt).
const (
	// DefaultPoolPurgeDelay is the server parameter pool-purge-delay's default ("The default is
	// 5s").
	DefaultPoolPurgeDelay = 5 * time.Second
	// purgeRounds is how many pool-purge-delay periods an idle server connection survives after
	// its last use when nothing else needs it. The manual only says "each <delay> interval, half
	// of the idle connections are closed"; HAProxy estimates the connections it needs from the
	// previous periods (srv_cleanup_idle_conns), and a single idle connection was measured to
	// close after 3 periods on HAProxy 2.6 (15 s with the default, 3 s with 1s; the integration
	// test checks it). Busier pools decay over more periods: this is a lower bound for them.
	purgeRounds = 3
)

func src(loc model.Location) model.Source {
	return model.Source{Kind: model.SourceConfig, File: loc.File, Line: loc.Line}
}

func def(detail string) model.Source {
	return model.Source{Kind: model.SourceRuntimeDefault, Detail: detail}
}

func withDetail(s model.Source, detail string) model.Source {
	if s.Detail != "" {
		s.Detail += "; " + detail
	} else {
		s.Detail = detail
	}
	return s
}

// Backend returns the backend (or listen) section of that name.
func (c *Config) Backend(name string) *Proxy {
	for _, p := range c.Proxies {
		if p.Name == name && p.IsBackend() {
			return p
		}
	}
	return nil
}

// FrontProxy is the proxy whose client side keeptune reports as the downstream side: the first
// frontend or listen section (nil when there is none).
func (c *Config) FrontProxy() *Proxy {
	for _, p := range c.Proxies {
		if p.IsFrontend() {
			return p
		}
	}
	return nil
}

// BackProxy is the proxy whose server side keeptune reports as the upstream side: the front
// proxy itself when it is a listen section, else its default_backend, else the first backend
// (or listen) section.
func (c *Config) BackProxy() *Proxy {
	fe := c.FrontProxy()
	if fe != nil && fe.Kind == "listen" {
		return fe
	}
	if fe != nil && fe.DefaultBackend != "" {
		if be := c.Backend(fe.DefaultBackend); be != nil {
			return be
		}
	}
	for _, p := range c.Proxies {
		if p.IsBackend() {
			return p
		}
	}
	return nil
}

// modeStrength orders the HTTP connection modes: close beats server-close beats keep-alive
// (manual section 4, the frontend/backend matrix).
func modeStrength(m string) int {
	switch m {
	case "httpclose":
		return 2
	case "http-server-close":
		return 1
	}
	return 0
}

// httpMode is the connection mode in force for a frontend and a backend together.
func httpMode(a, b *Settings) model.Setting[string] {
	out := model.KnownSetting("http-keep-alive", def("HAProxy default: keep-alive mode (option http-keep-alive)"))
	for _, s := range []*Settings{a, b} {
		if s != nil && s.HTTPMode.Known && modeStrength(s.HTTPMode.Value) > modeStrength(out.Value) {
			out = s.HTTPMode
		}
	}
	return out
}

// sideOf is the section and settings a side is read from: a proxy, or the last defaults
// section when the configuration has no proxy of that kind (Debian's stock haproxy.cfg has
// none: the side is then what a proxy added after the defaults would get).
type sideOf struct {
	sec   *Section
	st    *Settings
	proxy *Proxy
	note  string
}

func (c *Config) front() *sideOf {
	if fe := c.FrontProxy(); fe != nil {
		return &sideOf{sec: fe.Section, st: &fe.Settings, proxy: fe}
	}
	if n := len(c.Defaults); n > 0 {
		d := c.Defaults[n-1]
		return &sideOf{sec: d.Section, st: &d.Settings, note: "no frontend or listen section: what one added after the last defaults section gets"}
	}
	return nil
}

func (c *Config) back() *sideOf {
	if be := c.BackProxy(); be != nil {
		return &sideOf{sec: be.Section, st: &be.Settings, proxy: be}
	}
	if n := len(c.Defaults); n > 0 {
		d := c.Defaults[n-1]
		return &sideOf{sec: d.Section, st: &d.Settings, note: "no backend or listen section: what one added after the last defaults section gets"}
	}
	return nil
}

// noLimit is a known zero (no limit) pointing at the section that leaves a timeout unset.
func noLimit(sec *Section, detail string) model.Setting[time.Duration] {
	return model.KnownSetting(time.Duration(0), withDetail(src(sec.Location), detail))
}

// timeoutOrNone returns a timeout in force, or a known "no limit" when it is unset or 0 (an
// unknown value stays unknown).
func timeoutOrNone(so *sideOf, kind string) model.Setting[time.Duration] {
	if t, ok := so.st.Timeout(kind); ok {
		return t
	}
	if t, set := so.st.Timeouts[kind]; set && !t.Known {
		return t
	}
	if t, set := so.st.Timeouts[kind]; set {
		return model.KnownSetting(time.Duration(0), withDetail(t.Source, "timeout "+kind+" 0: no timeout"))
	}
	return noLimit(so.sec, "timeout "+kind+" not set: no timeout")
}

// Downstream is how HAProxy treats client connections on the front proxy (FrontProxy, or the
// last defaults section when there is no frontend or listen).
//
// In HTTP mode the keep-alive idle timeout is timeout http-keep-alive; unset, timeout
// http-request applies, and with both unset timeout client (manual, "timeout http-keep-alive":
// "If this parameter is not set, the 'http-request' timeout applies, and if both are not set,
// 'timeout client' still applies at the lower level"; mux_h1.c h1_set_idle_expiration). No
// timeout at all is no limit. httpclose (in the frontend or its backend) closes every client
// connection after its response. In TCP mode the connection is a tunnel: timeout tunnel of the
// backend (or listen) applies once it is set, else timeout client.
//
// TCP keepalive on accepted sockets is option clitcpka (or tcpka) with clitcpka-idle, -intvl
// and -cnt; the ones not written are the host's sysctls and stay unknown.
func (c *Config) Downstream() *model.Side { return c.downstreamOf(c.front()) }

func (c *Config) downstreamOf(so *sideOf) *model.Side {
	if so == nil {
		return nil
	}
	st := so.st
	side := &model.Side{}
	var be *Proxy
	if so.proxy != nil {
		be = so.proxy
		if so.proxy.Kind == "frontend" {
			be = c.Backend(so.proxy.DefaultBackend)
		}
	}
	side.ReadTimeout = timeoutOrNone(so, "client")
	if st.IsHTTP() {
		var beSt *Settings
		if be != nil {
			beSt = &be.Settings
		}
		mode := httpMode(st, beSt)
		if mode.Value == "httpclose" {
			side.Pools = model.KnownSetting(false, withDetail(mode.Source, "option httpclose: every connection closes after its response"))
		} else {
			side.Pools = model.KnownSetting(true, mode.Source)
		}
		side.IdleTimeout = noLimit(so.sec, "no timeout http-keep-alive, http-request or client: idle keep-alive connections never time out")
		for i, kind := range []string{"http-keep-alive", "http-request", "client"} {
			t, set := st.Timeouts[kind]
			if !set || (t.Known && t.Value <= 0) {
				continue
			}
			switch {
			case !t.Known || i == 0:
				side.IdleTimeout = t
			case i == 1:
				side.IdleTimeout = model.KnownSetting(t.Value, withDetail(t.Source,
					"timeout http-keep-alive not set: timeout http-request applies to idle keep-alive connections (HAProxy manual, timeout http-keep-alive)"))
			default:
				side.IdleTimeout = model.KnownSetting(t.Value, withDetail(t.Source,
					"timeout http-keep-alive and http-request not set: timeout client applies to idle keep-alive connections (HAProxy manual, timeout http-keep-alive)"))
			}
			break
		}
	} else {
		idle := model.Setting[time.Duration]{}
		if be != nil {
			if t, ok := be.Settings.Timeout("tunnel"); ok {
				idle = model.KnownSetting(t.Value, withDetail(t.Source, "mode tcp: timeout tunnel applies to established connections"))
			}
		}
		if !idle.Known {
			idle = side.ReadTimeout
		}
		side.IdleTimeout = idle
	}
	side.TCP = keepalive(st.CliTCPKA, st.CliKA, "clitcpka", so.sec)
	side.TCP.UserTimeout = model.KnownSetting(time.Duration(0), def("HAProxy sets no TCP_USER_TIMEOUT on accepted sockets without bind ... tcp-ut"))
	if so.proxy != nil && len(so.proxy.Binds) > 0 && so.proxy.Binds[0].UserTimeout.Known {
		side.TCP.UserTimeout = so.proxy.Binds[0].UserTimeout
	}
	if so.note != "" {
		annotate(side, so.note)
	}
	return side
}

// Upstream is how HAProxy treats server connections of the back proxy (BackProxy, or the last
// defaults section when there is no backend or listen).
//
// Pools: in HTTP mode idle server connections are reused (http-reuse safe is the default) unless
// option http-server-close or httpclose (in the frontend or the backend) closes them after each
// response, or pool-max-conn 0 / pool-purge-delay 0 keep none. HAProxy has no idle timeout for
// pooled connections (timeout server does not apply to them): they are closed by the purge every
// pool-purge-delay (5 s by default); keeptune reports 3 purge periods, what one idle connection
// lives (see purgeRounds). With http-reuse never a server connection stays private to its client
// connection and idles as long as that one. In TCP mode there is no reuse.
//
// Read and connect timeouts are timeout server and timeout connect (no limit when unset);
// TCP keepalive is option srvtcpka (or tcpka) with srvtcpka-idle, -intvl and -cnt.
func (c *Config) Upstream() *model.Side { return c.upstreamOf(c.back(), c.FrontProxy()) }

// upstreamOf is the server side of so, as reached from the frontend fe (nil: none known).
func (c *Config) upstreamOf(so *sideOf, fe *Proxy) *model.Side {
	if so == nil {
		return nil
	}
	st := so.st
	side := &model.Side{}
	side.ReadTimeout = timeoutOrNone(so, "server")
	side.ConnectTimeout = timeoutOrNone(so, "connect")
	var params ServerParams
	if so.proxy != nil && len(so.proxy.Servers) > 0 {
		params = so.proxy.Servers[0].Params
	} else {
		params = st.DefaultServer
	}
	if !st.IsHTTP() {
		from := st.Mode.Source
		if !st.Mode.Known {
			from = def("HAProxy default: mode tcp")
		}
		side.Pools = model.KnownSetting(false, withDetail(from, "mode tcp: one server connection per client connection"))
	} else {
		var feSt *Settings
		if fe != nil && so.proxy != nil {
			feSt = &fe.Settings
		}
		mode := httpMode(feSt, st)
		reuse := st.HTTPReuse
		if !reuse.Known {
			reuse = model.KnownSetting("safe", def("HAProxy default: http-reuse safe"))
		}
		purge := params.PurgeDelay
		if !purge.Known {
			purge = model.KnownSetting(DefaultPoolPurgeDelay, def("HAProxy default: pool-purge-delay 5s"))
		}
		switch {
		case mode.Value != "http-keep-alive":
			side.Pools = model.KnownSetting(false, withDetail(mode.Source, "option "+mode.Value+": the server connection closes after each response"))
		case params.MaxConn.Known && params.MaxConn.Value == 0:
			side.Pools = model.KnownSetting(false, withDetail(params.MaxConn.Source, "pool-max-conn 0: no idle server connection is kept"))
		case purge.Value == 0:
			side.Pools = model.KnownSetting(false, withDetail(purge.Source, "pool-purge-delay 0: no idle server connection is kept"))
		case reuse.Value == "never":
			side.Pools = model.KnownSetting(true, withDetail(reuse.Source, "http-reuse never: a server connection is reused only by its own client connection"))
			var feSide *sideOf
			if fe != nil {
				feSide = &sideOf{sec: fe.Section, st: &fe.Settings, proxy: fe}
			}
			if down := c.downstreamOf(feSide); down != nil && down.IdleTimeout.Known {
				side.IdleTimeout = model.KnownSetting(down.IdleTimeout.Value, withDetail(down.IdleTimeout.Source,
					"http-reuse never: the server connection idles as long as its client connection"))
			}
		default:
			side.Pools = model.KnownSetting(true, reuse.Source)
			side.IdleTimeout = model.KnownSetting(purgeRounds*purge.Value, withDetail(purge.Source, fmt.Sprintf(
				"idle server connections are purged, not timed out: one idle connection lives %d pool-purge-delay periods (measured on HAProxy 2.6)", purgeRounds)))
		}
	}
	side.TCP = keepalive(st.SrvTCPKA, st.SrvKA, "srvtcpka", so.sec)
	side.TCP.UserTimeout = model.KnownSetting(time.Duration(0), def("HAProxy sets no TCP_USER_TIMEOUT on server sockets without server ... tcp-ut"))
	if params.UserTimeout.Known {
		side.TCP.UserTimeout = params.UserTimeout
	}
	if so.note != "" {
		annotate(side, so.note)
	}
	return side
}

// keepalive turns an option and its timings into KeepaliveSettings. Timings not written are
// the host's sysctls: unknown here, with a source that says so.
func keepalive(on model.Setting[bool], ka KeepaliveTimes, option string, sec *Section) model.KeepaliveSettings {
	var k model.KeepaliveSettings
	switch {
	case !on.Known:
		k.Enabled = model.KnownSetting(false, def("HAProxy default: no option "+option+" or tcpka: SO_KEEPALIVE off"))
		return k
	case !on.Value:
		k.Enabled = model.KnownSetting(false, on.Source)
		return k
	}
	k.Enabled = on
	host := func(kw, sysctl string) model.Source {
		return withDetail(on.Source, kw+" not set: host sysctls ("+sysctl+")")
	}
	whole := func(s model.Setting[time.Duration]) model.Setting[time.Duration] {
		// HAProxy passes whole seconds to TCP_KEEPIDLE/TCP_KEEPINTVL, and 0 means "not set".
		s.Value = s.Value.Truncate(time.Second)
		return s
	}
	if ka.Idle.Known && ka.Idle.Value >= time.Second {
		k.Idle = whole(ka.Idle)
	} else {
		k.Idle = model.Setting[time.Duration]{Source: host(option+"-idle", "net.ipv4.tcp_keepalive_time")}
	}
	if ka.Interval.Known && ka.Interval.Value >= time.Second {
		k.Interval = whole(ka.Interval)
	} else {
		k.Interval = model.Setting[time.Duration]{Source: host(option+"-intvl", "net.ipv4.tcp_keepalive_intvl")}
	}
	if ka.Count.Known && ka.Count.Value > 0 {
		k.Count = ka.Count
	} else {
		k.Count = model.Setting[int]{Source: host(option+"-cnt", "net.ipv4.tcp_keepalive_probes")}
	}
	return k
}

// annotate adds a remark to the source of every value of a side.
func annotate(s *model.Side, note string) {
	for _, d := range []*model.Setting[time.Duration]{&s.IdleTimeout, &s.ReadTimeout, &s.ConnectTimeout} {
		if d.Known {
			d.Source = withDetail(d.Source, note)
		}
	}
}

// relevant says which statements keeptune lists as values (the ones that decide keepalive and
// timeouts), and how many of their words make the key.
func relevant(w []string) (key string, n int, ok bool) {
	if (w[0] == "no" || w[0] == "default") && len(w) > 2 && w[1] == "option" {
		return w[0] + " option " + w[2], 3, isKeepaliveOption(w[2])
	}
	switch w[0] {
	case "timeout":
		if len(w) > 1 {
			return "timeout " + w[1], 2, true
		}
	case "option":
		if len(w) > 1 {
			return "option " + w[1], 2, isKeepaliveOption(w[1])
		}
	case "mode", "http-reuse", "clitcpka-idle", "clitcpka-intvl", "clitcpka-cnt",
		"srvtcpka-idle", "srvtcpka-intvl", "srvtcpka-cnt":
		return w[0], 1, true
	}
	return "", 0, false
}

func isKeepaliveOption(name string) bool {
	switch name {
	case "http-keep-alive", "http-server-close", "httpclose", "forceclose", "tcpka", "clitcpka", "srvtcpka":
		return true
	}
	return false
}

// Values lists the statements that decide keepalive and timeouts, with the section they are in.
func (c *Config) Values() []configs.Value {
	var out []configs.Value
	for _, s := range c.Sections {
		for _, d := range s.Directives {
			key, n, ok := relevant(d.Words)
			if !ok {
				continue
			}
			out = append(out, configs.Value{Key: key, Value: strings.Join(d.Words[n:], " "), Block: s.Title(), Location: d.Location})
		}
	}
	return out
}

// Configs turns the configuration into the registry's form.
func (c *Config) Configs() *configs.Config {
	out := &configs.Config{Format: "haproxy", Files: c.Files, Values: c.Values(), Detail: c}
	if len(c.Files) > 0 {
		out.File = c.Files[0]
	}
	out.Downstream = c.Downstream()
	out.Upstream = c.Upstream()
	out.Listeners = c.Listeners()
	out.Warnings = c.Warnings
	return out
}

// Listeners are every frontend, listen and backend section with its own sides: a frontend's
// downstream side and the upstream side of its default backend; a backend's upstream side as
// the first frontend sending to it by default reaches it.
func (c *Config) Listeners() []configs.Listener {
	var out []configs.Listener
	for _, p := range c.Proxies {
		l := configs.Listener{Kind: p.Kind, Name: p.Kind + " " + p.Name, Names: []string{p.Name}, Location: p.Section.Location}
		for _, b := range p.Binds {
			l.Addresses = append(l.Addresses, b.Address)
		}
		own := &sideOf{sec: p.Section, st: &p.Settings, proxy: p}
		if p.IsFrontend() {
			l.Downstream = c.downstreamOf(own)
			be := p
			if p.Kind == "frontend" {
				be = c.Backend(p.DefaultBackend)
			}
			if be != nil {
				l.Upstream = c.upstreamOf(&sideOf{sec: be.Section, st: &be.Settings, proxy: be}, p)
			}
		} else {
			var fe *Proxy
			for _, f := range c.Proxies {
				if f.Kind == "frontend" && f.DefaultBackend == p.Name {
					fe = f
					break
				}
			}
			l.Upstream = c.upstreamOf(own, fe)
		}
		out = append(out, l)
	}
	return out
}
