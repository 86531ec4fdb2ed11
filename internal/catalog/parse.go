package catalog

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keeptune/keeptune/internal/kernel"
	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/textfmt"
	"github.com/keeptune/keeptune/internal/yamlx"
)

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Keys a catalog file may use, in the order docs list them.
var (
	entryKeys = []string{"name", "aliases", "title", "kind", "layer", "idle_timeout", "refreshed_by",
		"on_expiry", "http2_ping_refreshes", "idle_timeout_both_sides", "downstream", "upstream", "source", "verified", "notes"}
	middleboxOnly = []string{"layer", "idle_timeout", "refreshed_by", "on_expiry", "http2_ping_refreshes", "idle_timeout_both_sides"}
	sideKeys      = []string{"idle_timeout", "pools", "tcp", "read_timeout", "connect_timeout", "max_lifetime", "grpc", "http2_ping"}
	tcpKeys       = []string{"enabled", "idle", "interval", "count", "user_timeout"}
	grpcKeys      = []string{"time", "timeout", "permit_without_stream", "min_time"}
	kinds         = []string{string(KindMiddlebox), string(KindSoftware)}
	refreshes     = []string{string(model.RefreshAnySegment), string(model.RefreshPayload), "unknown"}
	expiries      = []string{string(model.ExpirySilent), string(model.ExpiryReset), string(ExpiryClose), "unknown"}
)

// Parse reads a catalog document and validates it. Every error names file:line:column and what
// was expected, the same way chain files and profiles report theirs, because the same people
// will read them. Entries come back sorted by name.
func Parse(file string, data []byte) ([]Entry, error) {
	root, err := yamlx.Parse(file, data)
	if err != nil {
		return nil, err
	}
	var list *yaml.Node
	err = yamlx.Mapping(file, root, []string{"entries"}, func(_ string, _, v *yaml.Node) error {
		list = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	if list == nil {
		return nil, yamlx.Errorf(file, root, `missing key "entries": expected a list of catalog entries`)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, yamlx.Errorf(file, list, "entries: expected a list of catalog entries (lines starting with \"- \")")
	}
	var out []Entry
	taken := map[string]string{} // lower-cased name or alias → the entry that has it
	for _, n := range list.Content {
		e, err := parseEntry(file, n)
		if err != nil {
			return nil, err
		}
		for i, key := range append([]string{e.Name}, e.Aliases...) {
			if owner, dup := taken[strings.ToLower(key)]; dup {
				what := "name"
				if i > 0 {
					what = "alias"
				}
				return nil, yamlx.Errorf(file, n, "entry %q: %s %q is already used by entry %q", e.Name, what, key, owner)
			}
			taken[strings.ToLower(key)] = e.Name
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func parseEntry(file string, n *yaml.Node) (Entry, error) {
	e := Entry{Line: n.Line}
	nodes := map[string]*yaml.Node{}
	keyNodes := map[string]*yaml.Node{}
	err := yamlx.Mapping(file, n, entryKeys, func(key string, k, v *yaml.Node) error {
		nodes[key], keyNodes[key] = v, k
		return nil
	})
	if err != nil {
		return e, err
	}
	require := func(key, what string) (*yaml.Node, error) {
		if v := nodes[key]; v != nil {
			return v, nil
		}
		label := "entry"
		if e.Name != "" {
			label = fmt.Sprintf("entry %q", e.Name)
		}
		return nil, yamlx.Errorf(file, n, "%s: missing key %q: expected %s", label, key, what)
	}

	v, err := require("name", "a kebab-case name such as aws-alb")
	if err != nil {
		return e, err
	}
	if e.Name, err = yamlx.String(file, v); err != nil {
		return e, err
	}
	if !kebab.MatchString(e.Name) {
		return e, yamlx.Errorf(file, v, "name %q: expected kebab-case (lower-case letters, digits and single dashes, like aws-alb)", e.Name)
	}
	if v := nodes["aliases"]; v != nil {
		if e.Aliases, err = parseAliases(file, e.Name, v); err != nil {
			return e, err
		}
	}
	if v, err = require("title", "a title for people"); err != nil {
		return e, err
	}
	if e.Title, err = nonEmpty(file, v, "title"); err != nil {
		return e, err
	}
	if v, err = require("kind", "middlebox or software"); err != nil {
		return e, err
	}
	kind, err := enum(file, v, "kind", kinds)
	if err != nil {
		return e, err
	}
	e.Kind = Kind(kind)
	if v, err = require("source", "a citation a person can follow: document and URL, or repository file"); err != nil {
		return e, err
	}
	if e.Source, err = nonEmpty(file, v, "source"); err != nil {
		return e, err
	}
	if v, err = require("verified", "true or false: were the values checked against the source?"); err != nil {
		return e, err
	}
	if e.Verified, err = boolean(file, v, "verified"); err != nil {
		return e, err
	}
	if v := nodes["notes"]; v != nil {
		if e.Notes, err = yamlx.String(file, v); err != nil {
			return e, err
		}
		e.Notes = strings.TrimSpace(e.Notes)
	}

	if e.Kind == KindSoftware {
		for _, key := range middleboxOnly {
			if nodes[key] != nil {
				return e, yamlx.Errorf(file, keyNodes[key], "entry %q: %q is for middleboxes; a software entry describes its downstream and upstream sides", e.Name, key)
			}
		}
		if nodes["downstream"] == nil && nodes["upstream"] == nil {
			return e, yamlx.Errorf(file, n, "entry %q: a software entry needs a downstream side, an upstream side or both", e.Name)
		}
	} else {
		if err := parseMiddlebox(file, n, nodes, &e); err != nil {
			return e, err
		}
		if nodes["downstream"] != nil {
			return e, yamlx.Errorf(file, keyNodes["downstream"], "entry %q: a middlebox's own fields describe the connections it accepts; only a layer 7 middlebox has an upstream side", e.Name)
		}
		if nodes["upstream"] != nil && e.Layer != 7 {
			return e, yamlx.Errorf(file, keyNodes["upstream"], "entry %q: only a layer 7 middlebox opens its own connections (upstream); this one is layer %d", e.Name, e.Layer)
		}
	}
	if v := nodes["downstream"]; v != nil {
		if e.down, err = parseSide(file, "downstream", v); err != nil {
			return e, err
		}
	}
	if v := nodes["upstream"]; v != nil {
		if e.up, err = parseSide(file, "upstream", v); err != nil {
			return e, err
		}
	}
	return e, nil
}

// parseMiddlebox reads the fields every middlebox must state. Layer and idle timeout are
// required; refreshed_by and on_expiry are required too but may say "unknown": the author has
// to decide, so that a missing line cannot pass for knowledge.
func parseMiddlebox(file string, n *yaml.Node, nodes map[string]*yaml.Node, e *Entry) error {
	missing := func(key, what string) error {
		return yamlx.Errorf(file, n, "middlebox %q: missing key %q: expected %s", e.Name, key, what)
	}
	v := nodes["layer"]
	if v == nil {
		return missing("layer", "4 (forwards TCP segments) or 7 (terminates TCP)")
	}
	layer, err := yamlx.Int(file, v, 4, 7)
	if err != nil || (layer != 4 && layer != 7) {
		return yamlx.Errorf(file, v, "layer: expected 4 (forwards TCP segments) or 7 (terminates TCP), found %s", v.Value)
	}
	e.Layer = layer

	v = nodes["idle_timeout"]
	if v == nil {
		return missing("idle_timeout", "{default: ..., min: ..., max: ...} or unknown")
	}
	if e.IdleTimeout, err = parseRange(file, v); err != nil {
		return err
	}

	v = nodes["refreshed_by"]
	if v == nil {
		return missing("refreshed_by", strings.Join(refreshes, ", "))
	}
	s, err := enum(file, v, "refreshed_by", refreshes)
	if err != nil {
		return err
	}
	if s != "unknown" {
		e.RefreshedBy = model.Refresh(s)
	}

	v = nodes["on_expiry"]
	if v == nil {
		return missing("on_expiry", strings.Join(expiries, ", "))
	}
	if s, err = enum(file, v, "on_expiry", expiries); err != nil {
		return err
	}
	if s != "unknown" {
		e.OnExpiry = model.Expiry(s)
	}

	if v := nodes["http2_ping_refreshes"]; v != nil {
		b, err := boolean(file, v, "http2_ping_refreshes")
		if err != nil {
			return err
		}
		e.HTTP2PingRefreshes = &b
	}
	if v := nodes["idle_timeout_both_sides"]; v != nil {
		b, err := boolean(file, v, "idle_timeout_both_sides")
		if err != nil {
			return err
		}
		e.IdleTimeoutBothSides = b
	}
	return nil
}

// parseRange reads {default, min, max}: default is required, the bounds are what the vendor
// lets operators configure. A default outside its own range is a typo, caught here.
func parseRange(file string, n *yaml.Node) (*Range, error) {
	if n.Kind == yaml.ScalarNode && n.Value == "unknown" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, yamlx.Errorf(file, n, "idle_timeout: expected {default: ..., min: ..., max: ...} or unknown, found %q", n.Value)
	}
	var r Range
	var defNode, minNode, maxNode *yaml.Node
	err := yamlx.Mapping(file, n, []string{"default", "min", "max"}, func(key string, _, v *yaml.Node) error {
		d, err := yamlx.Duration(file, v)
		if err != nil {
			return err
		}
		switch key {
		case "default":
			r.Default, defNode = d, v
		case "min":
			r.Min, minNode = d, v
		case "max":
			r.Max, maxNode = d, v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if defNode == nil {
		return nil, yamlx.Errorf(file, n, `idle_timeout: missing key "default": expected the idle timeout in force when nobody configures it`)
	}
	if minNode != nil && maxNode != nil && r.Min > r.Max {
		return nil, yamlx.Errorf(file, minNode, "idle_timeout: min %s is greater than max %s", textfmt.Setting(r.Min), textfmt.Setting(r.Max))
	}
	if minNode != nil && r.Default < r.Min {
		return nil, yamlx.Errorf(file, defNode, "idle_timeout: default %s is below min %s", textfmt.Setting(r.Default), textfmt.Setting(r.Min))
	}
	if maxNode != nil && r.Default > r.Max {
		return nil, yamlx.Errorf(file, defNode, "idle_timeout: default %s is above max %s", textfmt.Setting(r.Default), textfmt.Setting(r.Max))
	}
	return &r, nil
}

func parseSide(file, name string, n *yaml.Node) (*side, error) {
	s := &side{}
	err := yamlx.Mapping(file, n, sideKeys, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "idle_timeout":
			s.idle, err = duration(file, v, name+"."+key, true, false)
		case "pools":
			s.pools, err = boolState(file, v, name+"."+key)
		case "read_timeout":
			s.read, err = duration(file, v, name+"."+key, true, false)
		case "connect_timeout":
			s.connect, err = duration(file, v, name+"."+key, true, false)
		case "max_lifetime":
			s.lifetime, err = duration(file, v, name+"."+key, true, false)
		case "http2_ping":
			s.h2ping, err = duration(file, v, name+"."+key, true, false)
		case "tcp":
			err = parseTCP(file, name+".tcp", v, s)
		case "grpc":
			s.grpc, err = parseGRPC(file, name+".grpc", v)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(s.statedRows()) == 0 {
		return nil, yamlx.Errorf(file, n, "%s: states no value: leave the side out instead", name)
	}
	return s, nil
}

func parseTCP(file, path string, n *yaml.Node, s *side) error {
	return yamlx.Mapping(file, n, tcpKeys, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "enabled":
			s.tcpEnabled, err = boolState(file, v, path+"."+key)
		case "idle":
			s.tcpIdle, err = duration(file, v, path+"."+key, false, true)
		case "interval":
			s.tcpInterval, err = duration(file, v, path+"."+key, false, true)
		case "count":
			s.tcpCount, err = count(file, v, path+"."+key)
		case "user_timeout":
			s.tcpUserTimeout, err = duration(file, v, path+"."+key, true, false)
		}
		return err
	})
}

func parseGRPC(file, path string, n *yaml.Node) (*grpcSpec, error) {
	g := &grpcSpec{}
	err := yamlx.Mapping(file, n, grpcKeys, func(key string, _, v *yaml.Node) error {
		var err error
		switch key {
		case "time":
			g.time, err = duration(file, v, path+"."+key, true, false)
		case "timeout":
			g.timeout, err = duration(file, v, path+"."+key, false, false)
		case "permit_without_stream":
			g.permit, err = boolState(file, v, path+"."+key)
		case "min_time":
			g.minTime, err = duration(file, v, path+"."+key, false, false)
		}
		return err
	})
	return g, err
}

// duration reads a duration with a unit, or the keywords "none" (no such limit) and "os" (the
// operating system's value applies) where the field allows them.
func duration(file string, n *yaml.Node, path string, allowNone, allowOS bool) (durVal, error) {
	if n.Kind == yaml.ScalarNode {
		switch {
		case n.Value == "none" && allowNone:
			return durVal{st: none}, nil
		case n.Value == "os" && allowOS:
			return durVal{st: osDefault}, nil
		}
	}
	d, err := yamlx.Duration(file, n)
	if err != nil {
		extra := ""
		switch {
		case allowNone:
			extra = ` or "none"`
		case allowOS:
			extra = ` or "os"`
		}
		return durVal{}, fmt.Errorf("%w (%s: a duration with a unit%s)", err, path, extra)
	}
	return durVal{d: d, st: stated}, nil
}

// count reads a keepalive probe count: 1-127 (the kernel's MAX_TCP_KEEPCNT) or "os".
func count(file string, n *yaml.Node, path string) (intVal, error) {
	if n.Kind == yaml.ScalarNode && n.Value == "os" {
		return intVal{st: osDefault}, nil
	}
	c, err := yamlx.Int(file, n, 1, kernel.MaxKeepCnt)
	if err != nil {
		return intVal{}, fmt.Errorf(`%w (%s: a probe count or "os")`, err, path)
	}
	return intVal{n: c, st: stated}, nil
}

func boolState(file string, n *yaml.Node, path string) (boolVal, error) {
	b, err := boolean(file, n, path)
	if err != nil {
		return boolVal{}, err
	}
	return boolVal{b: b, st: stated}, nil
}

// boolean accepts YAML's true and false only: "yes" and "on" are strings in YAML 1.2 and would
// read differently to different people.
func boolean(file string, n *yaml.Node, path string) (bool, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b, nil
		}
	}
	return false, yamlx.Errorf(file, n, "%s: expected true or false, found %s", path, describe(n))
}

func enum(file string, n *yaml.Node, path string, allowed []string) (string, error) {
	s, err := yamlx.String(file, n)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	if near := yamlx.Nearest(s, allowed); near != "" {
		return "", yamlx.Errorf(file, n, "%s: unknown value %q: did you mean %q? (expected one of %s)", path, s, near, strings.Join(allowed, ", "))
	}
	return "", yamlx.Errorf(file, n, "%s: unknown value %q: expected one of %s", path, s, strings.Join(allowed, ", "))
}

func nonEmpty(file string, n *yaml.Node, path string) (string, error) {
	s, err := yamlx.String(file, n)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", yamlx.Errorf(file, n, "%s: expected a non-empty value", path)
	}
	return s, nil
}

func parseAliases(file, name string, n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, yamlx.Errorf(file, n, "aliases: expected a list such as [alb, application-lb], found %s", describe(n))
	}
	var out []string
	for _, a := range n.Content {
		s, err := yamlx.String(file, a)
		if err != nil {
			return nil, err
		}
		if !kebab.MatchString(s) {
			return nil, yamlx.Errorf(file, a, "alias %q: expected kebab-case (lower-case letters, digits and single dashes)", s)
		}
		if s == name {
			return nil, yamlx.Errorf(file, a, "alias %q repeats the entry's name", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "nothing"
}
