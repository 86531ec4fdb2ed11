package configs

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// Listener is one place a server accepts connections with settings of its own: an nginx server
// block, an HAProxy frontend, listen or backend section, an Apache VirtualHost, an Envoy
// listener or cluster. Each has its own sides; rules and chain hops can look at each.
type Listener struct {
	// Kind is "server" (nginx), "frontend", "listen", "backend" (HAProxy), "virtualhost"
	// (Apache), "listener", "cluster" (Envoy).
	Kind string `json:"kind"`
	// Name is the block as people name it: "server *:443 api.example.com", "frontend fe_http",
	// "VirtualHost *:80".
	Name string `json:"name"`
	// Names are the host names it answers for (server_name, ServerName and ServerAlias); for
	// HAProxy and Envoy, the section's or listener's name.
	Names []string `json:"names,omitempty"`
	// Addresses are where it listens ("*:80", "0.0.0.0:8443", "[::]:443").
	Addresses []string       `json:"addresses,omitempty"`
	Location  model.Location `json:"location"`
	// NotServing says why it answers no request (it only closes or redirects), "" when it serves.
	NotServing string      `json:"not_serving,omitempty"`
	Downstream *model.Side `json:"downstream,omitempty"`
	Upstream   *model.Side `json:"upstream,omitempty"`
}

// Port returns the listener's ports (from its addresses).
func (l Listener) Ports() []int {
	var out []int
	for _, a := range l.Addresses {
		p := a
		if _, port, err := net.SplitHostPort(a); err == nil {
			p = port
		}
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// Selector picks one listener of a configuration for a chain hop: by name (a server_name,
// ServerName, section or listener name) and/or by port.
type Selector struct {
	Name string
	Port int
}

func (s Selector) String() string {
	var parts []string
	if s.Name != "" {
		parts = append(parts, s.Name)
	}
	if s.Port != 0 {
		parts = append(parts, "port "+strconv.Itoa(s.Port))
	}
	return strings.Join(parts, ", ")
}

func (l Listener) matches(s Selector) bool {
	if s.Port != 0 {
		found := false
		for _, p := range l.Ports() {
			found = found || p == s.Port
		}
		if !found {
			return false
		}
	}
	if s.Name == "" {
		return true
	}
	if strings.EqualFold(l.Name, s.Name) {
		return true
	}
	for _, n := range l.Names {
		if strings.EqualFold(n, s.Name) || (strings.HasPrefix(n, "*.") && strings.HasSuffix(strings.ToLower(s.Name), strings.ToLower(n[1:]))) {
			return true
		}
	}
	return false
}

// Select returns the listener a selector names, or an error listing the ones there are.
func (c *Config) Select(s Selector) (*Listener, error) {
	var names []string
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Downstream == nil && l.Upstream == nil {
			continue
		}
		if l.matches(s) {
			return l, nil
		}
		names = append(names, l.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no listener (server block, frontend, VirtualHost, listener) to select %s from", c.File, s)
	}
	return nil, fmt.Errorf("%s: no listener matches %s: expected one of %s", c.File, s, strings.Join(names, "; "))
}

// ChainSides are the sides a chain hop takes from the configuration. With a selector, those of
// the listener it names. Without, the sides of the serving listener whose clients wait the
// least before it closes them (the shortest downstream idle timeout, or one without
// keep-alive), so that a chain check that holds for it holds for the others; the listener is
// named in the values' sources. Files without listeners give Downstream and Upstream.
func (c *Config) ChainSides(s Selector) (down, up *model.Side, err error) {
	if s != (Selector{}) {
		l, err := c.Select(s)
		if err != nil {
			return nil, nil, err
		}
		return named(l.Downstream, l), named(l.Upstream, l), nil
	}
	var worst *Listener
	var worstIdle time.Duration
	serving := 0
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.NotServing != "" || l.Downstream == nil {
			continue
		}
		serving++
		idle, known := idleOf(l.Downstream)
		if !known {
			continue
		}
		if worst == nil || idle < worstIdle {
			worst, worstIdle = l, idle
		}
	}
	if worst == nil || serving < 2 {
		return c.Downstream, c.Upstream, nil
	}
	up = c.Upstream
	if worst.Upstream != nil {
		up = named(worst.Upstream, worst)
	}
	return named(worst.Downstream, worst), up, nil
}

// idleOf is how long a side keeps an idle client: 0 when it does not keep them at all.
func idleOf(s *model.Side) (time.Duration, bool) {
	if s.Pools.Known && !s.Pools.Value {
		return 0, true
	}
	return s.IdleTimeout.Value, s.IdleTimeout.Known
}

// named copies a side with the listener named in the detail of each config value's source.
func named(s *model.Side, l *Listener) *model.Side {
	if s == nil {
		return nil
	}
	out := *s
	tag := func(src *model.Source) {
		if src.Detail == "" {
			src.Detail = l.Name
		} else if !strings.Contains(src.Detail, l.Name) {
			src.Detail = l.Name + ": " + src.Detail
		}
	}
	tag(&out.Pools.Source)
	tag(&out.IdleTimeout.Source)
	tag(&out.MaxLifetime.Source)
	tag(&out.ReadTimeout.Source)
	tag(&out.ConnectTimeout.Source)
	return &out
}
