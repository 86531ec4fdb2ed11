package nginx

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// What nginx checks before any module looks at a value (ngx_conf_handler in
// src/core/ngx_conf_file.c): the directive exists, it is allowed in the block it is written in,
// it is (or is not) a block, and it has a number of arguments its declaration allows. The
// declarations come from the nginx binary itself (directives_gen.go, gendirectives.go); the
// generic handlers (ngx_conf_set_flag_slot, _msec_slot, ...) add the value syntax and "is
// duplicate", which are checked here too. nginx reports every one of these at the line of the
// ";" or "{" that ended the directive, and stops at the first.

// directiveSpec is one ngx_command_t.
type directiveSpec struct {
	name, module, so string
	modType, flags   uint64
	// slot is the generic handler ("flag", "msec", "size", ...), "" for a handler of its own.
	slot string
	enum []string
}

// Module types (ngx_module_t.type) and the bits of ngx_command_t.type.
const (
	modCore   = 0x45524f43 // "CORE"
	modConf   = 0x464e4f43 // "CONF": include
	modEvent  = 0x544e5645 // "EVNT"
	modHTTP   = 0x50545448 // "HTTP"
	modStream = 0x4d525453 // "STRM"
	modMail   = 0x4c49414d // "MAIL"

	confBlock = 0x100
	confFlag  = 0x200
	confAny   = 0x400
	conf1More = 0x800
	conf2More = 0x1000

	ctxMain = 0x01000000 // NGX_MAIN_CONF; inside a module's block the bits below mean its levels
	ctxL1   = 0x02000000 // http/stream/mail main, events
	ctxL2   = 0x04000000 // server
	ctxL3   = 0x08000000 // http location, stream upstream
	ctxL4   = 0x10000000 // http upstream
	ctxL5   = 0x20000000 // http if in server
	ctxL6   = 0x40000000 // http if in location
	ctxL7   = 0x80000000 // http limit_except
)

// nginxSourceModules are dynamic modules of nginx's own source tree: official builds have them
// built in, distributions ship them as packages; keeptune does not ask for load_module.
var nginxSourceModules = map[string]bool{
	"ngx_stream_module.so": true, "ngx_mail_module.so": true, "ngx_http_geoip_module.so": true,
	"ngx_stream_geoip_module.so": true, "ngx_http_image_filter_module.so": true,
	"ngx_http_xslt_filter_module.so": true, "ngx_http_perl_module.so": true,
}

// versionedDirectives are directives added to or removed from nginx after the version the
// table was read from (1.22), from nginx's CHANGES: added is the first version that has it,
// removed the first that refuses it.
var versionedDirectives = []struct {
	spec           directiveSpec
	added, removed string
}{
	{directiveSpec{name: "http2", module: "ngx_http_v2_module", modType: modHTTP, flags: ctxL1 | ctxL2 | confFlag, slot: "flag"}, "1.25.1", ""},
	{directiveSpec{name: "http3", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | confFlag, slot: "flag"}, "1.25.0", ""},
	{directiveSpec{name: "http3_hq", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | confFlag, slot: "flag"}, "1.25.0", ""},
	{directiveSpec{name: "http3_max_concurrent_streams", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | 0x2, slot: "num"}, "1.25.0", ""},
	{directiveSpec{name: "http3_stream_buffer_size", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | 0x2, slot: "size"}, "1.25.0", ""},
	{directiveSpec{name: "quic_active_connection_id_limit", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | 0x2, slot: "num"}, "1.25.0", ""},
	{directiveSpec{name: "quic_bpf", module: "ngx_quic_bpf_module", modType: modCore, flags: ctxMain | 0x00010000 | confFlag, slot: "flag"}, "1.25.0", ""},
	{directiveSpec{name: "quic_gso", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | confFlag, slot: "flag"}, "1.25.0", ""},
	{directiveSpec{name: "quic_host_key", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | 0x2}, "1.25.0", ""},
	{directiveSpec{name: "quic_retry", module: "ngx_http_v3_module", modType: modHTTP, flags: ctxL1 | ctxL2 | confFlag, slot: "flag"}, "1.25.0", ""},
	// nginx CHANGES 1.27.4: keepalive_min_timeout and the certificate caches; 1.29.3:
	// add_header_inherit, add_trailer_inherit; 1.29.4: ssl_ech_file. Contexts and argument
	// counts are left generous (any argument count, every level they could appear at): only
	// the version is judged.
	{directiveSpec{name: "keepalive_min_timeout", module: "ngx_http_core_module", modType: modHTTP, flags: ctxL1 | ctxL2 | ctxL3 | conf1More}, "1.27.4", ""},
	{directiveSpec{name: "ssl_object_cache_inheritable", module: "ngx_openssl_cache_module", modType: modCore, flags: ctxMain | conf1More}, "1.27.4", ""},
	{directiveSpec{name: "ssl_certificate_cache", module: "ngx_http_ssl_module", modType: modHTTP, flags: ctxL1 | ctxL2 | conf1More}, "1.27.4", ""},
	{directiveSpec{name: "proxy_ssl_certificate_cache", module: "ngx_http_proxy_module", modType: modHTTP, flags: ctxL1 | ctxL2 | ctxL3 | conf1More}, "1.27.4", ""},
	{directiveSpec{name: "grpc_ssl_certificate_cache", module: "ngx_http_grpc_module", modType: modHTTP, flags: ctxL1 | ctxL2 | ctxL3 | conf1More}, "1.27.4", ""},
	{directiveSpec{name: "uwsgi_ssl_certificate_cache", module: "ngx_http_uwsgi_module", modType: modHTTP, flags: ctxL1 | ctxL2 | ctxL3 | conf1More}, "1.27.4", ""},
	{directiveSpec{name: "add_header_inherit", module: "ngx_http_headers_module", modType: modHTTP, flags: ctxL1 | ctxL2 | ctxL3 | ctxL6 | conf1More}, "1.29.3", ""},
	{directiveSpec{name: "add_trailer_inherit", module: "ngx_http_headers_module", modType: modHTTP, flags: ctxL1 | ctxL2 | ctxL3 | ctxL6 | conf1More}, "1.29.3", ""},
	{directiveSpec{name: "ssl_ech_file", module: "ngx_http_ssl_module", modType: modHTTP, flags: ctxL1 | ctxL2 | conf1More}, "1.29.4", ""},
	{directiveSpec{name: "ssl", module: "ngx_http_ssl_module"}, "", "1.25.1"},
	{directiveSpec{name: "http2_push", module: "ngx_http_v2_module"}, "", "1.25.1"},
	{directiveSpec{name: "http2_push_preload", module: "ngx_http_v2_module"}, "", "1.25.1"},
}

var (
	specsByName = map[string][]*directiveSpec{}
	addedIn     = map[string]string{}
	removedIn   = map[string]string{}
	knownNames  []string
)

func init() {
	for i := range builtinDirectives {
		s := &builtinDirectives[i]
		specsByName[s.name] = append(specsByName[s.name], s)
	}
	for i := range versionedDirectives {
		v := &versionedDirectives[i]
		if v.added != "" {
			specsByName[v.spec.name] = append(specsByName[v.spec.name], &v.spec)
			addedIn[v.spec.name] = v.added
		}
		if v.removed != "" {
			removedIn[v.spec.name] = v.removed
		}
	}
	for n := range specsByName {
		knownNames = append(knownNames, n)
	}
	sort.Strings(knownNames)
}

// vctx is the block a directive is written in, as ngx_conf_handler sees it: the module type
// whose directives apply there and the context bit they must declare. fragment marks a file
// read alone whose block keeptune cannot know: only what holds in every block is checked.
type vctx struct {
	modType, bit uint64
	fragment     bool
}

// validator walks the tree once, in file order, as nginx reads it.
type validator struct {
	version  string   // the server's version, "" when unknown
	loaded   []string // load_module files
	warnings []configs.Warning
}

func (v *validator) warn(d *Directive, module, format string, args ...any) {
	v.warnings = append(v.warnings, configs.Warning{
		Location: model.Location{File: d.File, Line: d.Line}, Module: module, Message: fmt.Sprintf(format, args...),
	})
}

func errAt(d *Directive, hint, format string, args ...any) error {
	line := d.End
	if line == 0 {
		line = d.Line
	}
	return &ParseError{File: d.File, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// topContext decides which block a file's top level is: the main context when it has the
// blocks or directives only a main file has, an http block for a conf.d file of server and
// upstream blocks, a server block for a file of locations, else a fragment.
func topContext(tree []*Directive) (ctx vctx, main bool) {
	hasServer, hasLocation := false, false
	for _, d := range tree {
		switch d.Name {
		case "http", "events", "stream", "mail":
			if d.IsBlock() {
				return vctx{modType: modCore, bit: ctxMain}, true
			}
		case "server", "upstream", "map", "geo", "split_clients":
			if d.IsBlock() {
				hasServer = true
			}
		case "location":
			if d.IsBlock() {
				hasLocation = true
			}
		}
		if specs := specsByName[d.Name]; len(specs) > 0 {
			mainOnly := true
			for _, s := range specs {
				if s.modType != modCore {
					mainOnly = false
				}
			}
			if mainOnly {
				return vctx{modType: modCore, bit: ctxMain}, true
			}
		}
	}
	switch {
	case hasServer && !hasLocation:
		return vctx{modType: modHTTP, bit: ctxL1}, false
	case hasLocation && !hasServer:
		return vctx{modType: modHTTP, bit: ctxL2}, false
	}
	return vctx{fragment: true}, false
}

// validate checks the tree and returns the first error nginx would stop at.
func (v *validator) validate(file string, tree []*Directive) error {
	for _, d := range tree {
		if d.Name == "load_module" && len(d.Args) == 1 {
			v.loaded = append(v.loaded, path.Base(d.Args[0]))
		}
	}
	ctx, main := topContext(tree)
	if err := v.block(tree, ctx); err != nil {
		return err
	}
	if main {
		hasEvents := false
		for _, d := range tree {
			if d.Name == "events" && d.IsBlock() {
				hasEvents = true
			}
		}
		if !hasEvents {
			return &ParseError{File: file, Msg: `no "events" section in configuration`,
				Hint: "nginx refuses a main configuration without one: add events { }"}
		}
	}
	return nil
}

func (v *validator) block(ds []*Directive, ctx vctx) error {
	seen := map[string]bool{}
	for _, d := range ds {
		spec, inner, err := v.directive(d, ctx)
		if err != nil {
			return err
		}
		if spec != nil {
			switch spec.slot {
			case "flag", "msec", "sec", "size", "off", "num", "enum", "str", "path":
				key := spec.module + "/" + d.Name
				if seen[key] {
					return errAt(d, "", "%q directive is duplicate", d.Name)
				}
				seen[key] = true
			}
			if !ctx.fragment && spec.modType == modCore && d.IsBlock() {
				if seen[d.Name] {
					return errAt(d, "", "%q directive is duplicate", d.Name)
				}
				seen[d.Name] = true
			}
		}
		if inner != nil && d.IsBlock() {
			if err := v.block(d.Block, *inner); err != nil {
				return err
			}
			if d.Name == "http" && ctx.modType == modCore {
				if err := v.checkVariables(d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// innerContext is the block a block directive opens, nil when its content is not directives
// keeptune checks (types, map, geo, a third-party module's block).
func innerContext(d *Directive, ctx vctx) *vctx {
	if ctx.fragment {
		switch d.Name {
		case "server", "location", "if", "limit_except", "upstream":
			return &vctx{fragment: true}
		}
		return nil
	}
	c := func(mod, bit uint64) *vctx { return &vctx{modType: mod, bit: bit} }
	switch ctx.modType {
	case modCore:
		switch d.Name {
		case "events":
			return c(modEvent, ctxL1)
		case "http":
			return c(modHTTP, ctxL1)
		case "stream":
			return c(modStream, ctxL1)
		case "mail":
			return c(modMail, ctxL1)
		}
	case modHTTP:
		switch {
		case ctx.bit == ctxL1 && d.Name == "server":
			return c(modHTTP, ctxL2)
		case ctx.bit == ctxL1 && d.Name == "upstream":
			return c(modHTTP, ctxL4)
		case (ctx.bit == ctxL2 || ctx.bit == ctxL3) && d.Name == "location":
			return c(modHTTP, ctxL3)
		case ctx.bit == ctxL2 && d.Name == "if":
			return c(modHTTP, ctxL5)
		case ctx.bit == ctxL3 && d.Name == "if":
			return c(modHTTP, ctxL6)
		case ctx.bit == ctxL3 && d.Name == "limit_except":
			return c(modHTTP, ctxL7)
		}
	case modStream:
		switch {
		case ctx.bit == ctxL1 && d.Name == "server":
			return c(modStream, ctxL2)
		case ctx.bit == ctxL1 && d.Name == "upstream":
			return c(modStream, ctxL3)
		}
	case modMail:
		if ctx.bit == ctxL1 && d.Name == "server" {
			return c(modMail, ctxL2)
		}
	}
	return nil
}

// directive checks one directive and returns the declaration that applies (nil when keeptune
// does not know it) and the block it opens.
func (v *validator) directive(d *Directive, ctx vctx) (*directiveSpec, *vctx, error) {
	name := d.Name
	if removed := removedIn[name]; removed != "" && v.version != "" && configs.VersionAtLeast(v.version, removed) {
		return nil, nil, errAt(d, fmt.Sprintf("removed in nginx %s; the server is %s", removed, v.version), "unknown directive %q", name)
	}
	specs := specsByName[name]
	if len(specs) == 0 {
		if near := configs.Nearest(name, knownNames, false); near != "" {
			return nil, nil, errAt(d, fmt.Sprintf("did you mean %q?", near), "unknown directive %q", name)
		}
		v.warn(d, "", "unknown directive %q: not one of nginx's or of the modules keeptune knows; nginx refuses it unless a module that declares it is built in or loaded (load_module)", name)
		return nil, nil, nil
	}
	if added := addedIn[name]; added != "" {
		if v.version == "" {
			v.warn(d, specs[0].module, "%q needs nginx %s or later; keeptune does not know the server's version (--server-version)", name, added)
		} else if !configs.VersionAtLeast(v.version, added) {
			return nil, nil, errAt(d, fmt.Sprintf("added in nginx %s; the server is %s", added, v.version), "unknown directive %q", name)
		}
	}
	// A directive only third-party modules declare: nginx knows it when that module is loaded.
	var usable []*directiveSpec
	for _, s := range specs {
		if s.so == "" || nginxSourceModules[s.so] || slices.Contains(v.loaded, s.so) {
			usable = append(usable, s)
		}
	}
	if len(usable) == 0 {
		s := specs[0]
		v.warn(d, strings.TrimSuffix(s.so, ".so"), "%q is a directive of the module %s, not of nginx itself: nginx refuses it unless that module is built in or loaded (load_module modules/%s)", name, strings.TrimSuffix(s.so, ".so"), s.so)
		return nil, nil, nil
	}
	if ctx.fragment {
		return v.fragmentDirective(d, usable)
	}
	var matched *directiveSpec
	for _, s := range usable {
		if s.modType != modConf && s.modType != ctx.modType {
			continue
		}
		if s.flags&ctx.bit == 0 && !(s.modType == modConf) {
			continue
		}
		matched = s
		break
	}
	if matched == nil {
		return nil, nil, errAt(d, "", "%q directive is not allowed here", name)
	}
	if err := checkShape(d, matched); err != nil {
		return nil, nil, err
	}
	if err := checkSlot(d, matched); err != nil {
		return nil, nil, err
	}
	return matched, innerContext(d, ctx), nil
}

// fragmentDirective checks a directive of a file whose block is unknown: it must fit one of its
// declarations.
func (v *validator) fragmentDirective(d *Directive, specs []*directiveSpec) (*directiveSpec, *vctx, error) {
	var firstErr error
	for _, s := range specs {
		if err := checkShape(d, s); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		same := true
		for _, o := range specs {
			if o.slot != s.slot {
				same = false
			}
		}
		if same {
			if err := checkSlot(d, s); err != nil {
				return nil, nil, err
			}
		}
		return nil, innerContext(d, vctx{fragment: true}), nil
	}
	return nil, nil, firstErr
}

// checkShape is ngx_conf_handler's test of block and argument count.
func checkShape(d *Directive, s *directiveSpec) error {
	if s.flags&confBlock == 0 && d.IsBlock() {
		return errAt(d, "a \";\" is missing before the block, or the directive takes none", "directive %q is not terminated by \";\"", d.Name)
	}
	if s.flags&confBlock != 0 && !d.IsBlock() {
		return errAt(d, "", "directive %q has no opening \"{\"", d.Name)
	}
	n := len(d.Args)
	ok := false
	switch {
	case s.flags&confAny != 0:
		ok = true
	case s.flags&confFlag != 0:
		ok = n == 1
	case s.flags&conf1More != 0:
		ok = n >= 1
	case s.flags&conf2More != 0:
		ok = n >= 2
	case n > 7:
		ok = false
	default:
		ok = s.flags&(1<<uint(n)) != 0
	}
	if !ok {
		return errAt(d, "", "invalid number of arguments in %q directive", d.Name)
	}
	return nil
}

// checkSlot checks a value the way nginx's generic handlers read it.
func checkSlot(d *Directive, s *directiveSpec) error {
	if len(d.Args) == 0 || tracked(d.Name) {
		return nil // the directives keeptune reads have their own, more specific, checks (check)
	}
	a := d.Args[0]
	invalid := func() error { return errAt(d, "", "%q directive invalid value", d.Name) }
	switch s.slot {
	case "flag":
		if !strings.EqualFold(a, "on") && !strings.EqualFold(a, "off") {
			return errAt(d, "", "invalid value %q in %q directive, it must be \"on\" or \"off\"", a, d.Name)
		}
	case "msec":
		if _, err := ParseTime(a, false); err != nil {
			return invalid()
		}
	case "sec":
		if _, err := ParseTime(a, true); err != nil {
			return invalid()
		}
	case "size", "off":
		if !validSize(a) {
			return invalid()
		}
	case "num":
		if _, err := strconv.ParseUint(a, 10, 63); err != nil {
			return errAt(d, "", "%q directive invalid number", d.Name)
		}
	case "enum":
		for _, e := range s.enum {
			if strings.EqualFold(a, e) {
				return nil
			}
		}
		return errAt(d, "expected one of "+strings.Join(s.enum, ", "), "invalid value %q", a)
	}
	return nil
}

// validSize is ngx_parse_size/ngx_parse_offset: digits with an optional k, m or g.
func validSize(a string) bool {
	if a == "" {
		return false
	}
	switch a[len(a)-1] {
	case 'k', 'K', 'm', 'M', 'g', 'G':
		a = a[:len(a)-1]
	}
	if a == "" {
		return false
	}
	for _, c := range a {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
