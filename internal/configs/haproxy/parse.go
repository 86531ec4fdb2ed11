package haproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// Options say what keeptune knows about the HAProxy process beyond its files.
type Options struct {
	// Env is the environment of the HAProxy process: "${VAR}" expands from it and defined(VAR)
	// tests it. nil means the environment is unknown: variables stay literal (with a note) and
	// defined() is undecided. A non-nil map is taken as the whole environment.
	Env map[string]string
	// Features are the features "haproxy -vv" lists with a "+" (OPENSSL, LUA, ...) for
	// feature(); nil means unknown.
	Features []string
	// Version is the HAProxy version ("2.6.12") for version_atleast() and version_before();
	// "" means unknown.
	Version string
}

// ParseFiles reads the given configuration files as "haproxy -f P1 -f P2 ..." does, with no
// environment known. See Options.ParseFiles.
func ParseFiles(fsys fs.FS, paths ...string) (*Config, error) {
	return Options{}.ParseFiles(fsys, paths...)
}

// ParseFiles reads the given paths (inside fsys, relative: fs.FS rules; a leading "/" is
// dropped) in order, as the -f options of haproxy do: a directory stands for the regular files
// in it whose names end in ".cfg" and do not start with ".", in C-locale (byte) order. Sections
// and the "last defaults" carry on from one file to the next, but every file starts outside any
// section and must close its .if blocks.
func (o Options) ParseFiles(fsys fs.FS, paths ...string) (*Config, error) {
	p := &parser{o: &o, fsys: fsys, cfg: &Config{}, named: map[string]*Defaults{}}
	if len(paths) == 0 {
		return nil, errors.New("haproxy: no configuration file given")
	}
	for _, arg := range paths {
		name := path.Clean(strings.TrimPrefix(arg, "/"))
		files, err := p.expand(name)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := p.file(f); err != nil {
				return nil, err
			}
		}
	}
	return p.cfg, nil
}

// expand turns a -f argument into files: a directory gives its *.cfg files.
func (p *parser) expand(name string) ([]string, error) {
	st, err := fs.Stat(p.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", name, unwrapPath(err))
	}
	if !st.IsDir() {
		return []string{name}, nil
	}
	entries, err := fs.ReadDir(p.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", name, unwrapPath(err))
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".cfg") {
			continue
		}
		full := path.Join(name, n)
		if st, err := fs.Stat(p.fsys, full); err != nil || !st.Mode().IsRegular() {
			continue
		}
		out = append(out, full)
	}
	sort.Strings(out) // C locale: byte order, what scandir(alphasort) gives under LC_ALL=C
	return out, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type parser struct {
	o     *Options
	fsys  fs.FS
	cfg   *Config
	last  *Defaults            // the last defaults section: what a proxy without "from" inherits
	named map[string]*Defaults // defaults sections by name
	// cur is the section being read and its settings (defaults or proxy), nil outside any.
	cur      *Section
	settings *Settings
	proxy    *Proxy
	// guess is set while reading a branch taken on an undecided condition: values read there
	// carry it in their source.
	guess string
}

// condLevel is one open .if block.
type condLevel struct {
	loc      model.Location
	parentOn bool // the lines around the block are read
	on       bool // the current branch is read
	taken    bool // a branch was taken (true or undecided): later ones are skipped
	sawElse  bool
	// guess says why the branch being read was taken without being decided ("" when decided).
	guess string
}

var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "resolvers": true, "mailers": true, "program": true,
	"http-errors": true, "ring": true, "log-forward": true, "cache": true, "fcgi-app": true,
	"crt-store": true, "traces": true, "acme": true,
}

func (p *parser) file(name string) error {
	data, err := fs.ReadFile(p.fsys, name)
	if err != nil {
		return fmt.Errorf("/%s: %w", name, unwrapPath(err))
	}
	file := "/" + name
	p.cfg.Files = append(p.cfg.Files, file)
	p.cur, p.settings, p.proxy = nil, nil, nil // a file always starts outside any section
	lx := &lexer{env: p.lookupEnv}
	var conds []*condLevel
	active := func() bool { return len(conds) == 0 || conds[len(conds)-1].on }
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		loc := model.Location{File: file, Line: i + 1}
		if i == len(lines)-1 && line != "" {
			// HAProxy 2.6 refuses a file whose last line has no LF (it may have been truncated);
			// earlier versions read it.
			if p.o.Version == "" || configs.VersionAtLeast(p.o.Version, "2.6") {
				return &ParseError{File: file, Line: loc.Line, Msg: fmt.Sprintf("Missing LF on last line, file might have been truncated at position %d", len(line)+1),
					Hint: "end the file with a newline"}
			}
			p.warn(loc, "missing LF on last line: HAProxy 2.6 and later refuse the file")
		}
		fail := func(format string, a ...any) error {
			return &ParseError{File: file, Line: loc.Line, Msg: fmt.Sprintf(format, a...)}
		}
		lx.unresolved = nil
		words, err := lx.words(line)
		if err != nil {
			return fail("%v", err)
		}
		if len(words) == 0 {
			continue
		}
		if strings.HasPrefix(words[0], ".") {
			switch words[0] {
			case ".if", ".elif":
				var v tri
				var why []string
				on := active()
				if words[0] == ".elif" {
					if len(conds) == 0 {
						return fail(".elif without a matching .if")
					}
					if conds[len(conds)-1].sawElse {
						return fail(".elif after .else: expected .endif")
					}
					on = conds[len(conds)-1].parentOn
				}
				if on && (words[0] == ".if" || !conds[len(conds)-1].taken) {
					v, why, err = p.o.evalCond(strings.Join(words[1:], " "), lx.unresolved)
					if err != nil {
						return fail("%s: %v", words[0], err)
					}
					if v == triUnknown {
						p.note("condition", loc, fmt.Sprintf("%s %s: condition not decidable (%s): keeptune reads the first branch that may be taken",
							words[0], strings.Join(words[1:], " "), strings.Join(why, "; ")))
					}
				}
				guess := ""
				if v == triUnknown {
					guess = fmt.Sprintf("inside %s %s (line %d), which keeptune could not decide and read as true", words[0], strings.Join(words[1:], " "), loc.Line)
				}
				if words[0] == ".if" {
					l := &condLevel{loc: loc, parentOn: on}
					l.on = on && v != triFalse
					l.taken = l.on
					l.guess = guess
					conds = append(conds, l)
					continue
				}
				l := conds[len(conds)-1]
				l.on = l.parentOn && !l.taken && v != triFalse
				l.taken = l.taken || l.on
				l.guess = guess
			case ".else":
				if len(conds) == 0 {
					return fail(".else without a matching .if")
				}
				l := conds[len(conds)-1]
				if l.sawElse {
					return fail("a second .else in the .if block opened at line %d: expected .endif", l.loc.Line)
				}
				l.sawElse = true
				l.on = l.parentOn && !l.taken
				l.taken = true
				l.guess = ""
			case ".endif":
				if len(conds) == 0 {
					return fail(".endif without a matching .if")
				}
				conds = conds[:len(conds)-1]
			case ".diag", ".notice", ".warning":
			case ".alert":
				if active() {
					return fail(".alert %q: HAProxy refuses to start on an active .alert", strings.Join(words[1:], " "))
				}
			default:
				if active() {
					return fail("unknown directive %q: expected .if, .elif, .else, .endif, .diag, .notice, .warning or .alert", words[0])
				}
			}
			continue
		}
		if !active() {
			continue
		}
		for _, n := range lx.unresolved {
			p.note("environment", loc, fmt.Sprintf("environment variable %s is not known: its reference is kept as written", n))
		}
		p.guess = ""
		for _, l := range conds {
			if l.guess != "" {
				p.guess = l.guess
			}
		}
		if sectionKeywords[words[0]] {
			if err := p.section(words, loc); err != nil {
				return fail("%v", err)
			}
			continue
		}
		if p.cur == nil {
			pe := &ParseError{File: file, Line: loc.Line, Msg: fmt.Sprintf("unknown keyword '%s' out of section: expected a section keyword (global, defaults, frontend, backend, listen, ...) first", words[0])}
			var sections []string
			for k := range sectionKeywords {
				sections = append(sections, k)
			}
			sort.Strings(sections)
			if near := configs.Nearest(words[0], sections, false); near != "" {
				pe.Hint = fmt.Sprintf("did you mean '%s'?", near)
			}
			return pe
		}
		if err := p.checkKeyword(words, loc); err != nil {
			return err
		}
		d := Directive{Words: words, Location: loc}
		p.cur.Directives = append(p.cur.Directives, d)
		if p.settings != nil {
			if n := dependsOn(words, lx.unresolved); n != "" {
				p.note("value", loc, fmt.Sprintf("%q depends on the unknown environment variable %s: keeptune did not read it", d.Line(), n))
				if len(words) > 2 && words[0] == "timeout" {
					// The timeout is set, to a value keeptune does not know.
					p.settings.Timeouts[words[1]] = model.Setting[time.Duration]{Source: model.Source{Kind: model.SourceConfig,
						File: loc.File, Line: loc.Line, Detail: "depends on the unknown environment variable " + n}}
				}
				continue
			}
			if err := p.apply(d); err != nil {
				return fail("%v", err)
			}
		}
	}
	if len(conds) > 0 {
		l := conds[len(conds)-1]
		return &ParseError{File: file, Line: l.loc.Line, Msg: ".if without a matching .endif before the end of the file"}
	}
	return nil
}

func (p *parser) lookupEnv(name string) (string, bool) {
	if p.o.Env == nil {
		return "", false
	}
	v, ok := p.o.Env[name]
	return v, ok
}

func (p *parser) note(kind string, loc model.Location, text string) {
	p.cfg.Notes = append(p.cfg.Notes, Note{Kind: kind, Location: loc, Text: text})
}

// dependsOn returns the first unknown variable a statement's words still refer to, among the
// words keeptune interprets (the address of a bind or server line is kept as written).
func dependsOn(words, unresolved []string) string {
	skip := map[string]int{"bind": 1, "server": 2, "server-template": 3}[words[0]]
	for _, n := range unresolved {
		for i, w := range words {
			if skip > 0 && i == skip {
				continue
			}
			if strings.Contains(w, "$"+n) || strings.Contains(w, "${"+n) {
				return n
			}
		}
	}
	return ""
}

// section starts a new section.
func (p *parser) section(words []string, loc model.Location) error {
	kind := words[0]
	s := &Section{Kind: kind, Location: loc}
	p.cfg.Sections = append(p.cfg.Sections, s)
	p.cur, p.settings, p.proxy = s, nil, nil
	args := words[1:]
	switch kind {
	case "defaults", "frontend", "backend", "listen":
	default:
		if len(args) > 0 {
			s.Name = args[0]
		}
		return nil
	}
	if kind != "defaults" || (len(args) > 0 && args[0] != "from") {
		if len(args) == 0 || args[0] == "" {
			return fmt.Errorf("'%s' expects <name> as argument", kind)
		}
		s.Name, args = args[0], args[1:]
	}
	if len(args) > 0 {
		if args[0] != "from" {
			return fmt.Errorf("unexpected argument %q after '%s': expected 'from <defaults name>' or nothing", args[0], s.Title())
		}
		if len(args) < 2 || args[1] == "" {
			return fmt.Errorf("'from' expects the name of a defaults section")
		}
		if len(args) > 2 {
			return fmt.Errorf("unexpected argument %q after 'from %s'", args[2], args[1])
		}
		s.From = args[1]
	}
	var parent *Defaults
	if s.From != "" {
		parent = p.named[s.From]
		if parent == nil {
			return fmt.Errorf("defaults section %q not found: 'from' must name a defaults section defined before", s.From)
		}
	} else if kind != "defaults" {
		parent = p.last
	}
	var st Settings
	if parent != nil {
		st = parent.Settings.clone()
	} else {
		st = Settings{Timeouts: map[string]model.Setting[time.Duration]{}}
	}
	if kind == "defaults" {
		d := &Defaults{Section: s, Parent: parent, Settings: st}
		p.cfg.Defaults = append(p.cfg.Defaults, d)
		p.last = d
		if s.Name != "" {
			p.named[s.Name] = d
		}
		p.settings = &d.Settings
		return nil
	}
	px := &Proxy{Section: s, Defaults: parent, Settings: st}
	p.cfg.Proxies = append(p.cfg.Proxies, px)
	p.proxy, p.settings = px, &px.Settings
	return nil
}

var timeoutKinds = map[string]bool{
	"client": true, "server": true, "connect": true, "check": true, "queue": true,
	"http-keep-alive": true, "http-request": true, "tarpit": true, "tunnel": true,
	"client-fin": true, "server-fin": true, "client-hs": true,
}

// apply reads one statement of a defaults, frontend, backend or listen section.
func (p *parser) apply(d Directive) error {
	w := d.Words
	s := p.settings
	src := model.Source{Kind: model.SourceConfig, File: d.Location.File, Line: d.Location.Line, Detail: p.guess}
	prefix := ""
	if (w[0] == "no" || w[0] == "default") && len(w) > 1 {
		prefix, w = w[0], w[1:]
	}
	switch w[0] {
	case "mode":
		if len(w) < 2 {
			return errors.New("'mode' expects one of 'tcp' or 'http'")
		}
		switch w[1] {
		case "tcp", "http", "log", "spop":
		default:
			return fmt.Errorf("'mode' expects one of 'tcp' or 'http', found %q", w[1])
		}
		s.Mode = model.KnownSetting(w[1], src)
	case "contimeout", "clitimeout", "srvtimeout":
		// Only reached for a server older than 2.1 (checkKeyword refuses them otherwise):
		// "contimeout 5000" was "timeout connect 5000".
		return p.apply(Directive{Words: append([]string{"timeout", oldTimeoutKeywords[w[0]]}, w[1:]...), Location: d.Location})
	case "timeout":
		if len(w) < 2 {
			return errors.New("'timeout' expects a kind (client, server, connect, http-keep-alive, http-request, tunnel, client-fin, server-fin, ...) and a value")
		}
		if !timeoutKinds[w[1]] {
			return fmt.Errorf("'timeout' supports client, server, connect, check, queue, http-keep-alive, http-request, tarpit, tunnel, client-fin and server-fin (got %q)", w[1])
		}
		if len(w) < 3 {
			return fmt.Errorf("'timeout %s' expects a time value (milliseconds by default, or with a unit: 30s, 1m)", w[1])
		}
		if len(w) > 3 {
			return fmt.Errorf("'timeout %s': unexpected extra argument %q after the value %q", w[1], w[3], w[2])
		}
		v, err := parseTime(w[2], time.Millisecond)
		if err != nil {
			return fmt.Errorf("'timeout %s': %v", w[1], err)
		}
		s.Timeouts[w[1]] = model.KnownSetting(v, src)
	case "option":
		if len(w) < 2 {
			return errors.New("'option' expects an option name")
		}
		p.option(prefix, w[1], src)
	case "clitcpka-idle", "clitcpka-intvl", "srvtcpka-idle", "srvtcpka-intvl":
		if len(w) < 2 {
			return fmt.Errorf("'%s' expects a time value (seconds by default)", w[0])
		}
		v, err := parseTime(w[1], time.Second)
		if err != nil {
			return fmt.Errorf("'%s': %v", w[0], err)
		}
		ka := &s.CliKA
		if strings.HasPrefix(w[0], "srv") {
			ka = &s.SrvKA
		}
		if strings.HasSuffix(w[0], "-idle") {
			ka.Idle = model.KnownSetting(v, src)
		} else {
			ka.Interval = model.KnownSetting(v, src)
		}
	case "clitcpka-cnt", "srvtcpka-cnt":
		if len(w) < 2 {
			return fmt.Errorf("'%s' expects a number of probes", w[0])
		}
		n, err := strconv.Atoi(w[1])
		if err != nil || n < 0 {
			return fmt.Errorf("'%s' expects a number of probes, found %q", w[0], w[1])
		}
		if strings.HasPrefix(w[0], "srv") {
			s.SrvKA.Count = model.KnownSetting(n, src)
		} else {
			s.CliKA.Count = model.KnownSetting(n, src)
		}
	case "http-reuse":
		if len(w) < 2 {
			return errors.New("'http-reuse' expects one of never, safe, aggressive or always")
		}
		switch w[1] {
		case "never", "safe", "aggressive", "always":
		default:
			return fmt.Errorf("'http-reuse' expects one of never, safe, aggressive or always, found %q", w[1])
		}
		s.HTTPReuse = model.KnownSetting(w[1], src)
	case "default-server":
		return serverParams(w[1:], &s.DefaultServer, src)
	case "bind":
		if p.proxy == nil {
			return nil
		}
		if len(w) < 2 {
			return errors.New("'bind' expects an address")
		}
		b := Bind{Address: w[1], Location: d.Location}
		for i := 2; i < len(w); i++ {
			if w[i] != "tcp-ut" {
				continue
			}
			if i+1 >= len(w) {
				return errors.New("'bind': 'tcp-ut' expects a time value")
			}
			v, err := parseTime(w[i+1], time.Millisecond)
			if err != nil {
				return fmt.Errorf("'bind': 'tcp-ut': %v", err)
			}
			b.UserTimeout = model.KnownSetting(v, src)
			i++
		}
		p.proxy.Binds = append(p.proxy.Binds, b)
	case "server", "server-template":
		if p.proxy == nil {
			return nil // HAProxy rejects servers in defaults; not keeptune's concern
		}
		need := 3
		if w[0] == "server-template" {
			need = 4
		}
		if len(w) < need {
			return fmt.Errorf("'%s' expects a name and an address", w[0])
		}
		srv := Server{Name: w[1], Address: w[need-1], Location: d.Location, Params: s.DefaultServer}
		if err := serverParams(w[need:], &srv.Params, src); err != nil {
			return err
		}
		p.proxy.Servers = append(p.proxy.Servers, srv)
	case "default_backend":
		if p.proxy != nil && len(w) > 1 {
			p.proxy.DefaultBackend = w[1]
		}
	case "use_backend":
		if p.proxy != nil && len(w) > 1 {
			p.proxy.UseBackends = append(p.proxy.UseBackends, w[1])
		}
	}
	return nil
}

// option applies "option NAME", "no option NAME" and "default option NAME" for the options
// keeptune follows.
func (p *parser) option(prefix, name string, src model.Source) {
	s := p.settings
	switch name {
	case "http-keep-alive", "http-server-close", "httpclose", "forceclose":
		if name == "forceclose" {
			name = "httpclose" // an alias removed in HAProxy 2.0
		}
		switch prefix {
		case "":
			s.HTTPMode = model.KnownSetting(name, src)
		default:
			// "no option X" leaves X only when X is the mode in force (cfgparse-listen.c);
			// "default option X" restores the default mode.
			if prefix == "default" || (s.HTTPMode.Known && s.HTTPMode.Value == name) {
				s.HTTPMode = model.KnownSetting("http-keep-alive", src)
			}
		}
	case "tcpka", "clitcpka", "srvtcpka":
		on := prefix == ""
		val := model.KnownSetting(on, src)
		if prefix == "default" {
			val = model.Setting[bool]{}
		}
		if name != "srvtcpka" {
			s.CliTCPKA = val
		}
		if name != "clitcpka" {
			s.SrvTCPKA = val
		}
	}
}

// serverParams reads pool-purge-delay, pool-max-conn and tcp-ut among server parameters.
func serverParams(args []string, pp *ServerParams, src model.Source) error {
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "pool-purge-delay":
			if i+1 >= len(args) {
				return errors.New("'pool-purge-delay' expects a time value")
			}
			v, err := parseTime(args[i+1], time.Millisecond)
			if err != nil {
				return fmt.Errorf("'pool-purge-delay': %v", err)
			}
			pp.PurgeDelay = model.KnownSetting(v, src)
			i++
		case "pool-max-conn":
			if i+1 >= len(args) {
				return errors.New("'pool-max-conn' expects a number")
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n < -1 {
				return fmt.Errorf("'pool-max-conn' expects a number (-1 for no limit), found %q", args[i+1])
			}
			pp.MaxConn = model.KnownSetting(n, src)
			i++
		case "tcp-ut":
			if i+1 >= len(args) {
				return errors.New("'tcp-ut' expects a time value")
			}
			v, err := parseTime(args[i+1], time.Millisecond)
			if err != nil {
				return fmt.Errorf("'tcp-ut': %v", err)
			}
			pp.UserTimeout = model.KnownSetting(v, src)
			i++
		}
	}
	return nil
}
