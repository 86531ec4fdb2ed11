// Package haproxy reads HAProxy configuration files: the sections, timeouts and options that
// decide how long HAProxy keeps client and server connections and how it finds dead peers,
// pure over an fs.FS, every value with its file:line. No HAProxy parser module is obtainable,
// so this is a line-based reader written from HAProxy's configuration manual
// (doc/configuration.txt, sections 2 to 4) and checked against haproxy -c of HAProxy 2.6.
//
// What it reads:
//
//   - Lines are split as HAProxy does (manual 2.2): words separated by unprotected blanks, "#"
//     comments, backslash escapes (\ , \#, \\, \', \", \n, \r, \t, \xNN), "weak" double quotes
//     and 'strong' single quotes.
//   - Environment variables (manual 2.3) expand inside double quotes only: $VAR, ${VAR},
//     ${VAR-default}, ${VAR[*]}. The environment comes from Options.Env; a variable not in it is
//     kept as written ("${VAR}") and noted (Config.Notes). Without Options.Env (nil) the
//     environment is unknown (keeptune lint cannot know the service's), and a statement whose
//     value needs an unknown variable is not interpreted: a timeout set from "${T}" is set to an
//     unknown value (not missing, not an error).
//   - Conditional blocks (manual 2.4): .if, .elif, .else, .endif, nested. keeptune evaluates
//     integers, "!", "&&", "||", parentheses, defined(VAR) (from Options.Env), streq() and
//     strneq() (when their variables are known), feature(NAME) (from Options.Features) and
//     version_atleast()/version_before() (from Options.Version). A condition it cannot decide
//     (unknown environment, features or version, an unknown predicate) counts as possibly true:
//     keeptune reads the first branch that may be taken and skips the others, and says so in a
//     Note and in the source of every value read in that branch. .alert in a branch read is an error (HAProxy refuses to start); .diag, .notice and
//     .warning are ignored.
//   - Sections: global, defaults (named, and "defaults NAME from OTHER"), frontend, backend and
//     listen ("from NAME", HAProxy 2.4+), and the other section keywords (userlist, peers,
//     resolvers, mailers, program, http-errors, ring, log-forward, cache, fcgi-app, ...) whose
//     contents are kept but not interpreted. A proxy inherits from the defaults section it names
//     with "from", else from the last one before it; a defaults section starts from HAProxy's
//     built-in settings, or from the one it names.
//   - In defaults, frontend, backend and listen: mode; timeout client, server, connect,
//     http-keep-alive, http-request, tunnel, client-fin, server-fin (and the other kinds);
//     option http-keep-alive, http-server-close, httpclose, tcpka, clitcpka, srvtcpka with their
//     "no" and "default" forms; clitcpka-idle/-intvl/-cnt and srvtcpka-idle/-intvl/-cnt;
//     http-reuse; bind ... tcp-ut; server/default-server pool-purge-delay, pool-max-conn and
//     tcp-ut; default_backend and use_backend. Times follow manual 2.5: a number with an optional
//     unit us, ms, s, m, h, d, milliseconds by default for timeouts and seconds for the tcpka
//     idle and interval keywords (as their manual entries say).
//   - Several files, as "haproxy -f A -f DIR": ParseFiles reads them in order, a directory
//     standing for its *.cfg files in C-locale order; every file starts outside any section.
//
// Errors name file:line and what was expected: a keyword out of any section, a proxy section
// without a name, an unknown "from" defaults, an unknown timeout kind, a missing argument, a bad
// time value, an unknown mode or http-reuse value, unmatched quotes, .elif/.else/.endif without
// .if and .if without .endif. Keywords keeptune does not follow are kept without judgement
// (HAProxy knows hundreds).
//
// The sides a chain hop takes (Config.Downstream and Config.Upstream) are those of the first
// frontend or listen section and of the backend it sends to by default; see their docs for how
// each value follows from the configuration.
package haproxy

import (
	"bytes"
	"io/fs"
	"path"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
)

func init() { configs.Register(Parser{}) }

// Parser is the haproxy format for the configs registry. Its Options apply to every parse.
type Parser struct{ Options Options }

// Format implements configs.Parser.
func (Parser) Format() string { return "haproxy" }

// WithVars implements configs.VarsParser: the environment "${VAR}" expands from (taken as the
// whole environment of the HAProxy process, so defined(VAR) is decided too).
func (p Parser) WithVars(v configs.Vars) configs.Parser {
	if v.Env != nil {
		p.Options.Env = v.Env
	}
	if v.Version != "" {
		p.Options.Version = v.Version
	}
	return p
}

// DefaultPaths implements configs.Parser: where Debian, Ubuntu, RHEL and the upstream packages
// install the configuration.
func (Parser) DefaultPaths() []string { return []string{"/etc/haproxy/haproxy.cfg"} }

// Detect implements configs.Parser: a file named haproxy.cfg, or a .cfg file (or one under a
// haproxy directory) whose first lines start a section with an HAProxy section keyword.
func (Parser) Detect(p string, head []byte) bool {
	base := path.Base(p)
	if base == "haproxy.cfg" {
		return true
	}
	if !strings.HasSuffix(base, ".cfg") && !strings.Contains(p, "/haproxy/") {
		return false
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "global", "defaults", "frontend", "backend", "listen":
			// "listen" also starts nginx lines ("listen 80;"): those end in ";".
			return !strings.HasSuffix(f[len(f)-1], ";") && !strings.HasSuffix(f[len(f)-1], "{")
		}
	}
	return false
}

// Parse implements configs.Parser with the parser's Options. A directory path reads its *.cfg
// files (see Options.ParseFiles).
func (pr Parser) Parse(fsys fs.FS, p string) (*configs.Config, error) {
	c, err := pr.Options.ParseFiles(fsys, p)
	if err != nil {
		return nil, err
	}
	return c.Configs(), nil
}
