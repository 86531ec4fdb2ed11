package haproxy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// What HAProxy checks of every line before it reads a value (cfgparse.c, cfgparse-listen.c,
// cfgparse-global.c): the keyword exists in the section ("unknown keyword 'timout' in
// 'backend' section; did you mean 'timeout' maybe ?"), it is allowed there (the defaults
// column of the manual's keywords matrix is enforced: "'bind' not allowed in 'defaults'
// section"; "(!)" keywords only in named defaults), it was not removed ("the 'contimeout'
// directive is not supported anymore since HAProxy 2.1"), and an option exists and may be
// negated. The tables come from HAProxy's manual and binary (keywords_gen.go).

// removedKeyword is a keyword HAProxy refuses since a version, with what replaces it.
type removedKeyword struct{ since, use string }

var removedProxyKeywords = map[string]removedKeyword{
	"contimeout": {"2.1", "timeout connect"}, "clitimeout": {"2.1", "timeout client"}, "srvtimeout": {"2.1", "timeout server"},
	"redispatch": {"2.1", "option redispatch"}, "block": {"2.1", "http-request deny"},
	"reqadd": {"2.1", "http-request add-header"}, "reqdel": {"2.1", "http-request del-header"},
	"reqidel": {"2.1", "http-request del-header"}, "reqrep": {"2.1", "http-request replace-header or replace-uri"},
	"reqirep": {"2.1", "http-request replace-header or replace-uri"}, "reqdeny": {"2.1", "http-request deny"},
	"reqideny": {"2.1", "http-request deny"}, "reqallow": {"2.1", "http-request allow"}, "reqiallow": {"2.1", "http-request allow"},
	"reqpass": {"2.1", "nothing (remove it)"}, "reqipass": {"2.1", "nothing (remove it)"},
	"reqtarpit": {"2.1", "http-request tarpit"}, "reqitarpit": {"2.1", "http-request tarpit"},
	"reqsetbe": {"2.1", "use_backend"}, "reqisetbe": {"2.1", "use_backend"},
	"rspadd": {"2.1", "http-response add-header"}, "rspdel": {"2.1", "http-response del-header"},
	"rspidel": {"2.1", "http-response del-header"}, "rsprep": {"2.1", "http-response replace-header"},
	"rspirep": {"2.1", "http-response replace-header"}, "rspdeny": {"2.1", "http-response deny"},
	"rspideny":    {"2.1", "http-response deny"},
	"monitor-net": {"2.4", "http-request return status 200 if { src NET }"},
}

var removedOptions = map[string]removedKeyword{
	"forceclose": {"2.0", "option httpclose"}, "http-tunnel": {"2.1", "nothing (remove it)"},
	"http-use-htx": {"2.1", "nothing (remove it)"},
}

var removedGlobalKeywords = map[string]removedKeyword{
	"nbproc": {"2.5", "nbthread (threads are used automatically)"},
}

// oldTimeoutKeywords read as the timeouts they were before HAProxy 2.1 removed them, when the
// server is known to be older.
var oldTimeoutKeywords = map[string]string{"contimeout": "connect", "clitimeout": "client", "srvtimeout": "server"}

var (
	proxyFirstWords []string // every keyword a proxy section may start a line with
	proxyFirst      = map[string]bool{}
	globalList      []string
	optionNames     []string
)

func init() {
	for k := range proxyMatrix {
		w := strings.Fields(k)[0]
		if !proxyFirst[w] {
			proxyFirst[w] = true
			proxyFirstWords = append(proxyFirstWords, w)
		}
		if w == "option" {
			optionNames = append(optionNames, strings.TrimPrefix(k, "option "))
		}
	}
	for k := range registeredProxyKeywords {
		if !proxyFirst[k] {
			proxyFirst[k] = true
			proxyFirstWords = append(proxyFirstWords, k)
		}
	}
	for k := range globalKeywords {
		globalList = append(globalList, k)
	}
	sort.Strings(proxyFirstWords)
	sort.Strings(globalList)
	sort.Strings(optionNames)
}

// versionKnownOld says how an unknown keyword counts: an error when the server is known to be
// of the series the tables describe (2.6) or older, a warning when it is unknown or newer (a
// later HAProxy may have the keyword).
func (p *parser) versionKnownOld() bool {
	return configs.SeriesAtMost(p.o.Version, keywordsVersion, 2)
}

func (p *parser) warn(loc model.Location, format string, a ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, configs.Warning{Location: loc, Message: fmt.Sprintf(format, a...)})
}

// unknown reports a keyword HAProxy does not know: an error with a did-you-mean for a
// near-miss or when the server is known to be no newer than the tables, else a warning.
func (p *parser) unknown(loc model.Location, what, kw, section string, known []string) error {
	near := configs.Nearest(kw, known, false)
	if near != "" || p.versionKnownOld() {
		pe := &ParseError{File: loc.File, Line: loc.Line, Msg: fmt.Sprintf("unknown %s '%s' in '%s' section", what, kw, section)}
		if near != "" {
			pe.Hint = fmt.Sprintf("did you mean '%s'?", near)
		}
		return pe
	}
	p.warn(loc, "unknown %s '%s' in '%s' section: not one of HAProxy %s's; HAProxy refuses it unless a later version has it (give --server-version)", what, kw, section, keywordsVersion)
	return nil
}

// checkKeyword checks one line of a global, defaults, frontend, backend or listen section.
func (p *parser) checkKeyword(words []string, loc model.Location) error {
	s := p.cur
	fail := func(hint, format string, a ...any) error {
		return &ParseError{File: loc.File, Line: loc.Line, Msg: fmt.Sprintf(format, a...), Hint: hint}
	}
	removed := func(kw string, r removedKeyword, what string) error {
		if p.o.Version != "" && !configs.VersionAtLeast(p.o.Version, r.since) {
			return nil
		}
		return fail("use "+r.use, "the '%s' %s is not supported anymore since HAProxy %s", kw, what, r.since)
	}
	kw := words[0]
	switch s.Kind {
	case "global":
		if r, ok := removedGlobalKeywords[kw]; ok {
			return removed(kw, r, "keyword")
		}
		if !globalKeywords[kw] {
			return p.unknown(loc, "keyword", kw, "global", globalList)
		}
		return nil
	case "defaults", "frontend", "backend", "listen":
	default:
		return nil
	}
	negated := false
	if (kw == "no" || kw == "default") && len(words) > 1 {
		negated, words = true, words[1:]
		kw = words[0]
	}
	if r, ok := removedProxyKeywords[kw]; ok {
		if _, old := oldTimeoutKeywords[kw]; old && p.o.Version != "" && !configs.VersionAtLeast(p.o.Version, r.since) {
			return nil
		}
		return removed(kw, r, "directive")
	}
	if !proxyFirst[kw] {
		return p.unknown(loc, "keyword", kw, s.Kind, proxyFirstWords)
	}
	key := kw
	if len(words) > 1 {
		if _, ok := proxyMatrix[kw+" "+words[1]]; ok {
			key = kw + " " + words[1]
		}
	}
	if kw == "option" {
		if len(words) < 2 {
			return fail("", "'option' expects an option name")
		}
		if r, ok := removedOptions[words[1]]; ok {
			return removed("option "+words[1], r, "option")
		}
		if key == "option" {
			return p.unknown(loc, "option", words[1], s.Kind, optionNames)
		}
	}
	cols, ok := proxyMatrix[key]
	if !ok {
		return nil // a registered keyword the matrix does not list: no restriction known
	}
	if err := p.checkParams(words, loc, s.Kind); err != nil {
		return err
	}
	if negated && !strings.Contains(strings.Join(cols[:], " "), "(*)") {
		return fail("", "negation/default is not supported for %s", key)
	}
	col := map[string]int{"defaults": 0, "frontend": 1, "listen": 2, "backend": 3}[s.Kind]
	switch c := cols[col]; {
	case strings.HasPrefix(c, "-") && s.Kind == "defaults":
		return fail("", "'%s' not allowed in 'defaults' section", key)
	case strings.HasPrefix(c, "X (!)") && s.Kind == "defaults" && s.Name == "":
		return fail("name the defaults section (defaults NAME) and have the proxies use it with 'from NAME'", "'%s' not allowed in anonymous 'defaults' section", key)
	case strings.HasPrefix(c, "-"):
		p.warn(loc, "'%s' ignored: a %s section has no use for it (HAProxy warns and ignores it)", key, s.Kind)
	}
	return nil
}

// timeParams are the bind and server parameters whose argument is a time (HAProxy's
// parse_time_err: digits with an optional unit), the ones a typo there would silently change.
var timeParams = map[string]bool{
	"inter": true, "fastinter": true, "downinter": true, "agent-inter": true, "slowstart": true,
	"pool-purge-delay": true, "tcp-ut": true,
}

// variadicParams take a variable number of arguments (haproxy -dKcfg shows "+-1"): keeptune
// stops checking the line after one.
var variadicParams = map[string]bool{"source": true}

var bindParamNames, serverParamNames []string

func init() {
	for k := range bindParamArgs {
		bindParamNames = append(bindParamNames, k)
	}
	for k := range serverParamArgs {
		serverParamNames = append(serverParamNames, k)
	}
	sort.Strings(bindParamNames)
	sort.Strings(serverParamNames)
}

// checkParams checks the parameters of a bind, server, default-server or server-template line
// as HAProxy's bind and server keyword parsers do: every parameter is a known keyword (unknown
// ones: an error for a near-miss or a server no newer than the tables, else a warning), has its
// arguments, and a time where a time is expected.
func (p *parser) checkParams(words []string, loc model.Location, section string) error {
	kw := words[0]
	first := map[string]int{"bind": 2, "server": 3, "default-server": 1, "server-template": 4}[kw]
	if first == 0 || len(words) < first {
		return nil // a missing address or name is the line's own error, reported elsewhere
	}
	for _, w := range words {
		if strings.Contains(w, "$") {
			return nil // an unresolved variable may stand for parameters
		}
	}
	table, names, what := serverParamArgs, serverParamNames, "'"+strings.Join(words[:first], " ")+"'"
	if kw == "bind" {
		table, names = bindParamArgs, bindParamNames
	}
	fail := func(format string, a ...any) error {
		return &ParseError{File: loc.File, Line: loc.Line, Msg: what + " in section '" + section + "': " + fmt.Sprintf(format, a...)}
	}
	for i := first; i < len(words); i++ {
		w := words[i]
		n, ok := table[w]
		if !ok {
			near := configs.Nearest(w, names, false)
			if near != "" || p.versionKnownOld() {
				pe := fail("unknown keyword '%s'", w)
				if near != "" {
					pe.(*ParseError).Hint = fmt.Sprintf("did you mean '%s'?", near)
				}
				return pe
			}
			p.warn(loc, "%s in section '%s': unknown keyword '%s': not one of HAProxy %s's %s parameters; HAProxy refuses it unless a later version (or a build with more options) has it (give --server-version)", what, section, w, keywordsVersion, kw)
			return nil
		}
		if variadicParams[w] {
			return nil
		}
		if i+n >= len(words) && n > 0 {
			return fail("'%s' expects %s as argument", w, map[bool]string{true: "a time", false: "a value"}[timeParams[w]])
		}
		if timeParams[w] {
			if _, err := parseTime(words[i+1], time.Millisecond); err != nil {
				return fail("'%s': %v", w, err)
			}
		}
		i += n
	}
	return nil
}
