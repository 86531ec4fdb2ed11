// Package apache reads Apache httpd configurations: the directives that decide how long httpd
// keeps client connections and how mod_proxy treats backend connections, with everything the
// main file includes, pure over an fs.FS, every value with its file:line. No httpd parser
// module is obtainable, so this reader follows httpd 2.4's own rules (server/config.c,
// server/util.c, the core and mod_proxy documentation) and is checked against apache2 -t.
//
// What it reads:
//
//   - Lines as ap_cfg_getline reads them: "\" at the end of a line continues it, runs of blanks
//     shrink to one, "#" starts a comment only at the start of a line. Arguments are split like
//     ap_getword_conf (blanks; "..." or '...' quoting with \" or \' inside). Directive names are
//     case-insensitive. ${VAR} is replaced from Define'd variables, then Options.Env; an unknown
//     variable stays as written, with a note. Without Options.Env (nil: keeptune lint cannot know
//     the service's environment) a keep-alive directive, worker parameter or Include that needs
//     an unknown variable is not interpreted (its value is unknown) rather than an error.
//   - Include and IncludeOptional with a file, a directory (every file in it and below, in byte
//     order) or wildcards in any path component ("*" does not match a leading dot); relative
//     paths resolve against ServerRoot (the ServerRoot directive, else Options.ServerRoot, else
//     the main file's directory). Include fails when nothing matches, IncludeOptional does not.
//     Sections must close in the file that opens them, as in httpd.
//   - Conditional sections: <IfModule> is true for the modules of the LoadModule lines read
//     before it plus the ones Debian's apache2 has built in (core, so, watchdog, http_core,
//     log_config, logio, version, unixd), by identifier (ssl_module) or file name (mod_ssl.c);
//     <IfDefine> for the names in Options.Defines and Define lines read before it; <IfFile>
//     tests the path in the fs.FS; <IfVersion> uses Options.Version when given. What keeptune
//     cannot know (<IfVersion> without a version or with a regular expression, <IfDirective>,
//     <IfSection>) counts as true, negations as false, with a note and the same remark in the
//     source of every value read inside. <Macro> bodies are not read (mod_macro is not expanded).
//   - Scoping sections (<VirtualHost>, <Directory>, <Location>, <Files>, <Proxy>, <If>, their
//     *Match forms, <Limit>, and any other section) give each directive its context. KeepAlive,
//     KeepAliveTimeout, MaxKeepAliveRequests, Timeout, ProxyTimeout and RequestReadTimeout are
//     server-level: inside a directory-level section they are an error, as in httpd.
//   - KeepAlive (On/Off), KeepAliveTimeout (an interval: seconds, or with ms, mi, h), Timeout,
//     ProxyTimeout and MaxKeepAliveRequests (read with atoi, as httpd 2.4 does: "500ms" is 500
//     seconds), RequestReadTimeout (kept as written), LoadModule (the MPM), Define/UnDefine,
//     ServerRoot, and mod_proxy workers: ProxyPass, ProxyPassMatch, BalancerMember (inside
//     <Proxy balancer://...> or naming the balancer) and ProxySet with the keepalive=, ttl=,
//     timeout=, connectiontimeout=, disablereuse= and enablereuse= parameters.
//
// Errors name file:line and what was expected: a section not closed or closed with the wrong
// name, a missing ">", a section without its arguments, a nested <VirtualHost>, a server-level
// directive inside a directory-level section, a wrong argument count, KeepAlive not On/Off, a
// KeepAliveTimeout in the wrong format, worker parameters httpd rejects (ttl or timeout below 1,
// keepalive/disablereuse not On/Off, a malformed connectiontimeout, a parameter without "="), an
// Include that matches nothing, an include cycle. Directives keeptune does not interpret are
// kept without judgement.
//
// The sides a chain hop takes (Config.Downstream, Config.Upstream) are the first virtual host
// (or the main server) and the first ProxyPass worker; see their docs.
package apache

import (
	"bytes"
	"io/fs"
	"path"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
)

func init() { configs.Register(Parser{}) }

// Parser is the apache format for the configs registry. Its Options apply to every parse.
type Parser struct{ Options Options }

// Format implements configs.Parser.
func (Parser) Format() string { return "apache" }

// WithVars implements configs.VarsParser: the environment for ${VAR} (Debian's envvars) and the
// names httpd gets with -D, for <IfDefine>.
func (p Parser) WithVars(v configs.Vars) configs.Parser {
	if v.Env != nil {
		p.Options.Env = v.Env
	}
	p.Options.Defines = append(p.Options.Defines, v.Defines...)
	if v.Version != "" {
		p.Options.Version = v.Version
	}
	if v.Prefix != "" {
		p.Options.ServerRoot = v.Prefix
	}
	p.Options.Tree = v.Tree
	return p
}

// DefaultPaths implements configs.Parser: Debian's and RHEL's main files.
func (Parser) DefaultPaths() []string {
	return []string{"/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"}
}

// detectWords are directive and section names only httpd configurations start lines with.
// Names other formats share are left out: include (nginx, Redis, PostgreSQL), timeout (Redis),
// keepalive as a Python assignment (gunicorn) is excluded by the "=" test below.
var detectWords = map[string]bool{
	"serverroot": true, "loadmodule": true, "keepalive": true, "keepalivetimeout": true,
	"maxkeepaliverequests": true, "proxypass": true, "proxypassmatch": true, "proxytimeout": true,
	"documentroot": true, "errorlog": true, "customlog": true, "servername": true, "serveralias": true,
	"includeoptional": true, "<virtualhost": true, "<directory": true, "<ifmodule": true,
	"<ifdefine": true, "<location": true, "<files": true, "<proxy": true,
}

// Detect implements configs.Parser: apache2.conf or httpd.conf, or a file whose first lines
// start with a directive or section only httpd has (a line ending in ";" or "{", or with an
// "=" after the name, belongs to another format).
func (Parser) Detect(p string, head []byte) bool {
	switch path.Base(p) {
	case "apache2.conf", "httpd.conf":
		return true
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		f := strings.Fields(strings.ToLower(string(line)))
		if len(f) < 2 || !detectWords[strings.TrimSuffix(f[0], ">")] {
			continue
		}
		last := f[len(f)-1]
		if strings.HasSuffix(last, ";") || strings.HasSuffix(last, "{") || strings.HasPrefix(f[1], "=") {
			continue
		}
		return true
	}
	return false
}

// Parse implements configs.Parser with the parser's Options.
func (pr Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := pr.Options.Parse(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}
