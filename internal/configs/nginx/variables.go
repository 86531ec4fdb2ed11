package nginx

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
)

// Variables, as nginx checks them. Every variable a configuration reads in the http block gets
// an index while the block is parsed; when the block ends, ngx_http_variables_init_vars
// (src/http/ngx_http_variables.c) looks each one up among the variables modules declare (the
// table below, read from nginx itself: genvariables.go), the prefixes ($http_*, $arg_*,
// $cookie_*, ...) and the ones the configuration defines (set, map, geo, split_clients, ...),
// and refuses the configuration with `unknown "NAME" variable` for the first it cannot find.
// nginx names no file or line; keeptune names the first directive that reads it.

// variablesSeries is the nginx series builtinVariables were read from (variables_gen.go: 1.22.1):
// a server of that series or older refuses any other name.
const variablesSeries = "1.22"

// variablesAddedAfter are variables of nginx versions after the table's (1.22), from nginx's
// CHANGES: a configuration that reads one needs that version.
var variablesAddedAfter = map[string]string{
	"proxy_protocol_tlv_": "1.23.2", // prefix
	"request_port":        "1.29.3",
	"is_request_port":     "1.29.3",
	"ssl_sigalg":          "1.29.3",
	"ssl_client_sigalg":   "1.29.3",
}

// geoipVariables are those of ngx_http_geoip_module, a module of nginx's own source that
// Debian builds as a dynamic module (nginx docs, ngx_http_geoip_module "Embedded Variables").
var geoipVariables = []string{
	"geoip_area_code", "geoip_city", "geoip_city_continent_code", "geoip_city_country_code",
	"geoip_city_country_code3", "geoip_city_country_name", "geoip_country_code", "geoip_country_code3",
	"geoip_country_name", "geoip_dma_code", "geoip_latitude", "geoip_longitude", "geoip_org",
	"geoip_postal_code", "geoip_region", "geoip_region_name",
}

var (
	knownVariables   = map[string]bool{}
	variablePrefixes []string
	variableNames    []string
)

func init() {
	for _, v := range append(append([]string{}, builtinVariables...), geoipVariables...) {
		if strings.HasSuffix(v, "_") {
			variablePrefixes = append(variablePrefixes, v)
			continue
		}
		knownVariables[v] = true
		variableNames = append(variableNames, v)
	}
}

// variableRef is one variable a directive reads.
type variableRef struct {
	name string
	d    *Directive
}

var (
	varRef       = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z_][A-Za-z0-9_]*))`)
	namedCapture = regexp.MustCompile(`\(\?(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)')`)
)

// refsIn returns the variables a complex value reads ($name, ${name}; $1 is a capture).
func refsIn(s string, d *Directive, out []variableRef) []variableRef {
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		name := m[1] + m[2]
		if name == "" || (name[0] >= '0' && name[0] <= '9') {
			continue
		}
		out = append(out, variableRef{strings.ToLower(name), d})
	}
	return out
}

// valueArgs returns the arguments of a directive that nginx compiles as complex values (the
// ones that can read variables), for the directives keeptune checks; other directives' "$"
// are taken literally by nginx or belong to regular expressions.
func valueArgs(d *Directive) []string {
	a := d.Args
	from := func(i int) []string {
		if i < len(a) {
			return a[i:]
		}
		return nil
	}
	at := func(i int) []string {
		if i < len(a) {
			return a[i : i+1]
		}
		return nil
	}
	switch d.Name {
	case "set", "auth_request_set":
		return at(1)
	case "proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "root", "alias",
		"proxy_cache_key", "fastcgi_cache_key", "uwsgi_cache_key", "scgi_cache_key", "limit_req_zone",
		"limit_conn_zone", "proxy_set_body", "map", "split_clients", "hash":
		return at(0)
	case "proxy_set_header", "grpc_set_header", "fastcgi_param", "uwsgi_param", "scgi_param", "add_header", "add_trailer", "rewrite":
		return at(1)
	case "try_files", "index", "sub_filter", "proxy_cache_bypass", "proxy_no_cache", "fastcgi_cache_bypass",
		"fastcgi_no_cache", "uwsgi_cache_bypass", "uwsgi_no_cache", "scgi_cache_bypass", "scgi_no_cache":
		return a
	case "return", "error_page":
		if len(a) > 0 {
			return a[len(a)-1:]
		}
	case "log_format":
		var out []string
		for _, s := range from(1) {
			if !strings.HasPrefix(s, "escape=") {
				out = append(out, s)
			}
		}
		return out
	case "access_log":
		var out []string
		if len(a) > 0 && a[0] != "off" {
			out = append(out, a[0])
		}
		for _, s := range from(1) {
			if strings.HasPrefix(s, "if=") {
				out = append(out, s)
			}
		}
		return out
	case "if":
		// The first operand is a variable; what follows = or != is a value; ~ takes a regex.
		var out []string
		for i, s := range a {
			if i == 0 || (i == 1 && a[0] == "(") {
				out = append(out, strings.TrimSuffix(strings.TrimPrefix(s, "("), ")"))
			}
			if (s == "=" || s == "!=") && i+1 < len(a) {
				out = append(out, strings.TrimSuffix(a[i+1], ")"))
			}
		}
		return out
	}
	return nil
}

// definedBy returns the variable a directive defines, "" for none.
func definedBy(d *Directive) string {
	a := d.Args
	name := ""
	switch d.Name {
	case "set", "perl_set", "js_set", "js_var", "auth_request_set":
		name = d.Arg(0)
	case "map", "split_clients":
		name = d.Arg(1)
	case "geo":
		name = a[len(a)-1:][0]
	}
	if !strings.HasPrefix(name, "$") {
		return ""
	}
	return strings.ToLower(strings.Trim(name[1:], "{}"))
}

// httpVariables collects what an http block defines and reads, in file order.
func httpVariables(ds []*Directive, defined map[string]bool, refs []variableRef) []variableRef {
	for _, d := range ds {
		if len(d.Args) > 0 {
			if v := definedBy(d); v != "" {
				defined[v] = true
			}
		}
		for _, a := range d.Args {
			for _, m := range namedCapture.FindAllStringSubmatch(a, -1) {
				defined[strings.ToLower(m[1]+m[2])] = true
			}
		}
		for _, a := range valueArgs(d) {
			refs = refsIn(a, d, refs)
		}
		switch d.Name {
		case "types", "geo", "split_clients", "charset_map", "match":
			continue // their entries are literal values
		case "map":
			for _, e := range d.Block {
				if e.Name == "hostnames" || e.Name == "volatile" || e.Name == "include" {
					continue
				}
				for _, a := range e.Args {
					refs = refsIn(a, e, refs)
				}
				for _, m := range namedCapture.FindAllStringSubmatch(e.Name, -1) {
					defined[strings.ToLower(m[1]+m[2])] = true
				}
			}
			continue
		}
		refs = httpVariables(d.Block, defined, refs)
	}
	return refs
}

// knownVariable reports whether nginx (the table's version) declares the variable.
func knownVariable(name string) bool {
	if knownVariables[name] {
		return true
	}
	for _, p := range variablePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// checkVariables is ngx_http_variables_init_vars for an http block: the first variable read
// that nobody declares is an error, unless the configuration loads a module keeptune does not
// know or has a directive it does not know (either may declare it): then it is a warning.
func (v *validator) checkVariables(http *Directive) error {
	defined := map[string]bool{}
	refs := httpVariables(http.Block, defined, nil)
	uncertain := len(v.warnings) > 0
	for _, so := range v.loaded {
		if !nginxSourceModules[so] {
			uncertain = true
		}
	}
	for _, r := range refs {
		if defined[r.name] || knownVariable(r.name) {
			continue
		}
		if added := addedVariable(r.name); added != "" {
			switch {
			case v.version == "":
				v.warn(r.d, "", "$%s needs nginx %s or later; keeptune does not know the server's version (--server-version)", r.name, added)
				continue
			case configs.VersionAtLeast(v.version, added):
				continue
			}
			return errAt(r.d, fmt.Sprintf("added in nginx %s; the server is %s", added, v.version), "unknown %q variable", r.name)
		}
		if uncertain || (v.version != "" && !configs.SeriesAtMost(v.version, variablesSeries, 2)) {
			v.warn(r.d, "", "unknown variable $%s: no directive of this configuration defines it and nginx %s does not declare it; nginx refuses it (unknown \"%s\" variable) unless a module this configuration loads or a later nginx declares it", r.name, variablesSeries, r.name)
			continue
		}
		hint := "nginx checks every variable once the http block is read: define it (set, map, geo) or use one nginx declares (nginx.org/en/docs/varindex.html)"
		names := append(slices.Clone(variableNames), keys(defined)...)
		if near := configs.Nearest(r.name, names, false); near != "" {
			hint = fmt.Sprintf("did you mean $%s? ", near) + hint
		}
		return errAt(r.d, hint, "unknown %q variable", r.name)
	}
	return nil
}

func addedVariable(name string) string {
	for k, ver := range variablesAddedAfter {
		if name == k || (strings.HasSuffix(k, "_") && strings.HasPrefix(name, k)) {
			return ver
		}
	}
	return ""
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
