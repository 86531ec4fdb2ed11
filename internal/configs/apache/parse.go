package apache

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keeptune/keeptune/internal/model"
)

// Options say what keeptune knows about the httpd process beyond its files.
type Options struct {
	// ServerRoot is the directory relative Include paths resolve against, as httpd -d sets it
	// (absolute, "/etc/apache2"). A ServerRoot directive in the files overrides it from where it
	// appears. Empty means the directory of the main file (right for Debian's apache2.conf, whose
	// ServerRoot is compiled in as /etc/apache2; RHEL's httpd.conf sets ServerRoot itself).
	ServerRoot string
	// Defines are the names given with -D (apache2ctl passes none by default; Debian's init
	// adds none either). Define directives in the files add to them.
	Defines []string
	// Env is the environment of the httpd process for ${VAR} (Debian's envvars sets
	// APACHE_RUN_DIR, APACHE_LOG_DIR, ...). Unknown variables stay as written, with a note.
	Env map[string]string
	// Version is the httpd version ("2.4.62") for <IfVersion>; "" means unknown.
	Version string
	// Tree is the repository directory the files are read from (lint --root), "" on the host:
	// an absolute Include of a file the tree does not have is then a warning.
	Tree string
}

// Parse reads an httpd configuration with no options (see Options.Parse).
func Parse(fsys fs.FS, p string) (*Config, error) { return Options{}.Parse(fsys, p) }

// maxIncludeDepth is httpd's AP_MAX_INCLUDE_DEPTH.
const maxIncludeDepth = 128

// Parse reads the configuration at p (inside fsys: relative, fs.FS rules; a leading "/" is
// dropped) and everything it includes.
func (o Options) Parse(fsys fs.FS, p string) (*Config, error) {
	p = path.Clean(strings.TrimPrefix(p, "/"))
	r := &reader{o: &o, fsys: fsys, cfg: &Config{}, defines: map[string]string{}, macros: map[string]*macro{}}
	r.root = path.Dir(p)
	if o.ServerRoot != "" {
		r.root = path.Clean(strings.TrimPrefix(o.ServerRoot, "/"))
	}
	for _, d := range o.Defines {
		r.defines[d] = ""
	}
	r.cfg.Main = &Server{Name: "main server", Directives: map[string]*Directive{}, Unknown: map[string]bool{}}
	r.server = r.cfg.Main
	if err := r.file(p); err != nil {
		return nil, err
	}
	r.applyProxySet()
	r.cfg.ServerRoot = "/" + r.root
	if r.root == "." {
		r.cfg.ServerRoot = "/"
	}
	return r.cfg, nil
}

type reader struct {
	o       *Options
	fsys    fs.FS
	cfg     *Config
	root    string            // ServerRoot, fs-relative
	defines map[string]string // Define'd names and values
	open    []string          // files being read (include chain)
	scopes  []scope           // scoping sections around the current line, across includes
	server  *Server           // main server or the virtual host being read
	sets    []*Directive      // ProxySet lines, applied once all workers are known
	guesses []string          // the undecided conditional sections around the current line
	macros  map[string]*macro // mod_macro definitions, by lower-case name
	using   []string          // the macros being expanded (Use inside Use)
}

// scope is an open scoping section (VirtualHost, Directory, Location, Proxy, ...).
type scope struct {
	name    string // as httpd documents it: "VirtualHost", "Location"
	display string // "Location /app"
	arg     string
}

// frame is a section open in the file being read.
type frame struct {
	name     string // as written
	loc      model.Location
	active   bool // its contents apply
	isScope  bool // it pushed a scope
	isServer bool // a VirtualHost: restore the main server at its end
	guessed  bool // a conditional section read on a guess: pop r.guesses at its end
}

func (r *reader) note(kind string, loc model.Location, format string, a ...any) {
	r.cfg.Notes = append(r.cfg.Notes, Note{Kind: kind, Location: loc, Text: fmt.Sprintf(format, a...)})
}

func (r *reader) lookup(name string) (string, bool) {
	if v, ok := r.defines[name]; ok {
		return v, true
	}
	if r.o.Env != nil {
		v, ok := r.o.Env[name]
		return v, ok
	}
	return "", false
}

// file reads one file. Sections must close in the file that opens them (httpd parses every
// file with its own ap_build_config).
func (r *reader) file(p string) error {
	for _, o := range r.open {
		if o == p {
			return fmt.Errorf("/%s includes itself (through %s)", p, strings.Join(prefixAll(r.open), " -> "))
		}
	}
	if len(r.open) >= maxIncludeDepth {
		return fmt.Errorf("includes nested more than %d deep", maxIncludeDepth)
	}
	data, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		return fmt.Errorf("could not open configuration file /%s: %w", p, unwrapPath(err))
	}
	r.open = append(r.open, p)
	defer func() { r.open = r.open[:len(r.open)-1] }()
	file := "/" + p
	r.cfg.Files = append(r.cfg.Files, file)
	var frames []*frame
	active := func() bool { return len(frames) == 0 || frames[len(frames)-1].active }
	var collecting *macro // a <Macro> being defined: its lines are kept, not read
	var process func(ll logicalLine) error
	process = func(ll logicalLine) error {
		loc := model.Location{File: file, Line: ll.line}
		fail := func(format string, a ...any) error {
			return &ParseError{File: file, Line: ll.line, Msg: fmt.Sprintf(format, a...)}
		}
		text := ll.text
		if collecting != nil {
			lower := strings.ToLower(text)
			switch {
			case strings.HasPrefix(lower, "</macro"):
				r.macros[strings.ToLower(collecting.name)] = collecting
				collecting = nil
			case strings.HasPrefix(lower, "<macro ") || lower == "<macro>":
				return fail("macro '%s' (defined on line %d of \"%s\"): nested macro definition is not allowed", collecting.name, collecting.loc.Line, collecting.loc.File)
			default:
				collecting.lines = append(collecting.lines, ll)
			}
			return nil
		}
		if !active() {
			// Skipped sections are only scanned for nesting, like ap_soak_end_container.
			if strings.HasPrefix(text, "</") {
				name := closingName(text)
				top := frames[len(frames)-1]
				if !strings.EqualFold(name, top.name) {
					return fail("expected </%s> but saw </%s>", top.name, name)
				}
				frames = frames[:len(frames)-1]
			} else if strings.HasPrefix(text, "<") {
				name, _, _ := strings.Cut(strings.TrimPrefix(text, "<"), " ")
				frames = append(frames, &frame{name: strings.TrimSuffix(name, ">"), loc: loc})
			}
			return nil
		}
		if m, err := r.macroStart(text, loc); err != nil || m != nil {
			collecting = m
			return err
		}
		text, unknown := substitute(text, r.lookup)
		for _, n := range unknown {
			r.note("environment", loc, "variable ${%s} is not defined (Define or the environment): kept as written", n)
		}
		switch {
		case strings.HasPrefix(text, "</"):
			name := closingName(text)
			if !strings.HasSuffix(text, ">") || strings.HasSuffix(strings.TrimSuffix(text, ">"), " ") {
				return fail("</%s> directive missing closing '>'", name)
			}
			if len(frames) == 0 {
				return fail("</%s> without matching <%s> section", name, name)
			}
			top := frames[len(frames)-1]
			if !strings.EqualFold(name, top.name) {
				return fail("expected </%s> but saw </%s>", top.name, name)
			}
			r.close(top)
			frames = frames[:len(frames)-1]
		case strings.HasPrefix(text, "<"):
			f, err := r.openSection(text, loc)
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					return err
				}
				return fail("%v", err)
			}
			frames = append(frames, f)
		default:
			if lines, err := r.use(text, loc); err != nil || lines != nil {
				if err != nil {
					return err
				}
				defer func() { r.using = r.using[:len(r.using)-1] }()
				for _, l := range lines {
					if err := process(l); err != nil {
						return err
					}
				}
				return nil
			}
			if err := r.directive(text, loc, unknown); err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					return err
				}
				return fail("%v", err)
			}
		}
		return nil
	}
	for _, ll := range logicalLines(string(data)) {
		if err := process(ll); err != nil {
			return err
		}
	}
	if collecting != nil {
		return &ParseError{File: file, Line: collecting.loc.Line, Msg: fmt.Sprintf("macro '%s' (defined on line %d of \"%s\") is not closed: expected </Macro>", collecting.name, collecting.loc.Line, file)}
	}
	if len(frames) > 0 {
		f := frames[len(frames)-1]
		for _, f := range frames {
			r.close(f)
		}
		return &ParseError{File: file, Line: f.loc.Line, Msg: fmt.Sprintf("<%s> was not closed: expected </%s> before the end of the file", f.name, f.name)}
	}
	return nil
}

func prefixAll(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = "/" + p
	}
	return out
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func closingName(text string) string {
	s := strings.TrimPrefix(text, "</")
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ">"))
	return s
}

func (r *reader) close(f *frame) {
	if f.guessed && len(r.guesses) > 0 {
		r.guesses = r.guesses[:len(r.guesses)-1]
	}
	if f.isScope && len(r.scopes) > 0 {
		r.scopes = r.scopes[:len(r.scopes)-1]
	}
	if f.isServer {
		r.server = r.cfg.Main
	}
}

// scopeNames are httpd's scoping sections keeptune knows, by lower-case name.
var scopeNames = map[string]string{
	"virtualhost": "VirtualHost", "directory": "Directory", "directorymatch": "DirectoryMatch",
	"files": "Files", "filesmatch": "FilesMatch", "location": "Location", "locationmatch": "LocationMatch",
	"proxy": "Proxy", "proxymatch": "ProxyMatch", "limit": "Limit", "limitexcept": "LimitExcept",
	"if": "If", "elseif": "ElseIf", "else": "Else",
}

// openSection handles "<Name args>".
func (r *reader) openSection(text string, loc model.Location) (*frame, error) {
	body := strings.TrimPrefix(text, "<")
	name, rest, _ := strings.Cut(body, " ")
	if strings.HasSuffix(name, ">") && rest == "" {
		name, rest = strings.TrimSuffix(name, ">"), ">"
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasSuffix(rest, ">") {
		return nil, fmt.Errorf("<%s> directive missing closing '>'", name)
	}
	argText := strings.TrimSpace(strings.TrimSuffix(rest, ">"))
	args, err := words(argText)
	if err != nil {
		return nil, fmt.Errorf("<%s>: %v", name, err)
	}
	f := &frame{name: name, loc: loc, active: true}
	lower := strings.ToLower(name)
	switch lower {
	case "ifmodule", "ifdefine", "iffile", "ifdirective", "ifsection", "ifversion":
		if len(args) == 0 {
			return nil, fmt.Errorf("<%s> directive requires additional arguments", name)
		}
		notes := len(r.cfg.Notes)
		f.active = r.condition(lower, args, loc)
		if f.active && len(r.cfg.Notes) > notes && r.cfg.Notes[notes].Kind == "condition" {
			// Read on a guess: values inside carry it in their source.
			r.guesses = append(r.guesses, fmt.Sprintf("inside <%s %s> (%s:%d), which keeptune could not evaluate and read as true",
				name, argText, loc.File, loc.Line))
			f.guessed = true
		}
		return f, nil
	case "else":
	default:
		if len(args) == 0 && lower != "else" {
			return nil, fmt.Errorf("<%s> directive requires additional arguments", name)
		}
	}
	if err := r.checkSection(name, loc); err != nil {
		return nil, err
	}
	canonical, known := scopeNames[lower]
	if !known {
		canonical = name
	}
	if lower == "virtualhost" {
		if len(r.scopes) > 0 {
			return nil, fmt.Errorf("<VirtualHost> cannot occur within <%s> section", r.scopes[len(r.scopes)-1].name)
		}
		vh := &Server{Name: "VirtualHost " + strings.Join(args, " "), Location: loc, Directives: map[string]*Directive{}, Unknown: map[string]bool{}}
		r.cfg.VirtualHosts = append(r.cfg.VirtualHosts, vh)
		r.server = vh
		f.isServer = true
	}
	display := strings.TrimSpace(canonical + " " + strings.Join(args, " "))
	r.scopes = append(r.scopes, scope{name: canonical, display: display, arg: strings.Join(args, " ")})
	f.isScope = true
	return f, nil
}

// condition evaluates the conditional sections. What keeptune cannot know it assumes true (and
// false for the negated form), with a note.
func (r *reader) condition(kind string, args []string, loc model.Location) bool {
	arg := args[0]
	neg := strings.HasPrefix(arg, "!")
	if neg {
		arg = arg[1:]
	}
	var v bool
	switch kind {
	case "ifmodule":
		v = r.cfg.Loaded(arg)
	case "ifdefine":
		_, v = r.defines[arg]
	case "iffile":
		p := arg
		if strings.HasPrefix(p, "/") {
			p = path.Clean(strings.TrimPrefix(p, "/"))
		} else {
			p = path.Join(r.root, p)
		}
		_, err := fs.Stat(r.fsys, p)
		v = err == nil
	case "ifdirective", "ifsection":
		r.note("condition", loc, "<%s %s>: keeptune does not know httpd's directive list and assumes it exists", sectionTitle(kind), strings.Join(args, " "))
		v = true
	case "ifversion":
		if r.o.Version == "" {
			r.note("condition", loc, "<IfVersion %s>: the httpd version is not known; keeptune reads the section", strings.Join(args, " "))
			return true
		}
		ok, known := versionMatches(r.o.Version, args)
		if !known {
			r.note("condition", loc, "<IfVersion %s>: keeptune does not evaluate regular expressions; it reads the section", strings.Join(args, " "))
			return true
		}
		return ok
	}
	return v != neg
}

func sectionTitle(kind string) string {
	switch kind {
	case "ifdirective":
		return "IfDirective"
	case "ifsection":
		return "IfSection"
	}
	return kind
}

// versionMatches evaluates <IfVersion [[!]op] version>; known is false for regular expressions.
func versionMatches(have string, args []string) (ok, known bool) {
	op, want := "=", args[0]
	if len(args) > 1 {
		op, want = args[0], args[1]
	}
	neg := strings.HasPrefix(op, "!")
	op = strings.TrimPrefix(op, "!")
	if op == "~" || strings.HasPrefix(want, "/") {
		return false, false
	}
	c := compareVersions(have, want)
	switch op {
	case "=", "==":
		ok = c == 0
	case ">":
		ok = c > 0
	case ">=":
		ok = c >= 0
	case "<":
		ok = c < 0
	case "<=":
		ok = c <= 0
	default:
		return false, false
	}
	return ok != neg, true
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// canonicalNames are the directives keeptune interprets, by lower-case name.
var canonicalNames = map[string]string{
	"keepalive": "KeepAlive", "keepalivetimeout": "KeepAliveTimeout", "maxkeepaliverequests": "MaxKeepAliveRequests",
	"timeout": "Timeout", "proxytimeout": "ProxyTimeout", "requestreadtimeout": "RequestReadTimeout",
	"proxypass": "ProxyPass", "proxypassmatch": "ProxyPassMatch", "balancermember": "BalancerMember", "proxyset": "ProxySet",
	"include": "Include", "includeoptional": "IncludeOptional", "loadmodule": "LoadModule",
	"define": "Define", "undefine": "UnDefine", "serverroot": "ServerRoot",
}

// serverOnly are the directives httpd allows only in the server config and virtual hosts
// (NOT_IN_DIR_LOC_FILE / RSRC_CONF).
var serverOnly = map[string]bool{
	"KeepAlive": true, "KeepAliveTimeout": true, "MaxKeepAliveRequests": true, "Timeout": true,
	"ProxyTimeout": true, "RequestReadTimeout": true,
}

// unknownRef returns the first unknown variable (of the line's) that s still refers to, when
// the environment is unknown; with a known environment an unknown variable is httpd's error too.
func (r *reader) unknownRef(s string, unknown []string) string {
	if r.o.Env != nil {
		return ""
	}
	for _, n := range unknown {
		if strings.Contains(s, "${"+n+"}") {
			return n
		}
	}
	return ""
}

func (r *reader) directive(text string, loc model.Location, unknown []string) error {
	name, rest, _ := strings.Cut(text, " ")
	args, err := words(rest)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if err := r.checkDirective(name, args, loc); err != nil {
		return err
	}
	if strings.EqualFold(name, "Error") {
		return &ParseError{File: loc.File, Line: loc.Line, Msg: strings.Join(args, " "), Hint: "an Error directive httpd reads stops it"}
	}
	canonical, known := canonicalNames[strings.ToLower(name)]
	if !known {
		canonical = name
	}
	d := &Directive{Name: canonical, Args: args, Location: loc}
	for _, s := range r.scopes {
		d.Context = append(d.Context, s.display)
	}
	r.cfg.Directives = append(r.cfg.Directives, d)
	if serverOnly[canonical] {
		for i := len(r.scopes) - 1; i >= 0; i-- {
			if r.scopes[i].name != "VirtualHost" {
				return fmt.Errorf("%s not allowed in <%s> context: it applies to the server config and <VirtualHost> only", canonical, r.scopes[i].name)
			}
		}
	}
	if n := r.unknownRef(rest, unknown); n != "" {
		switch canonical {
		case "Include", "IncludeOptional", "KeepAlive", "KeepAliveTimeout", "MaxKeepAliveRequests", "Timeout", "ProxyTimeout":
			r.note("value", loc, "%s depends on the unknown variable ${%s}: keeptune did not read it", canonical, n)
			unread := model.Source{Kind: model.SourceConfig, File: loc.File, Line: loc.Line, Detail: "depends on the unknown variable ${" + n + "}"}
			switch canonical {
			case "KeepAlive":
				r.server.KeepAlive = model.Setting[bool]{Source: unread}
			case "KeepAliveTimeout":
				r.server.KeepAliveTimeout = model.Setting[time.Duration]{Source: unread}
			case "MaxKeepAliveRequests":
				r.server.MaxKeepAliveRequests = model.Setting[int]{Source: unread}
			case "Timeout":
				r.server.Timeout = model.Setting[time.Duration]{Source: unread}
			case "ProxyTimeout":
				r.server.ProxyTimeout = model.Setting[time.Duration]{Source: unread}
			}
			r.server.Directives[canonical] = d
			if canonical != "Include" && canonical != "IncludeOptional" {
				r.server.Unknown[canonical] = true
			}
			return nil
		}
	}
	one := func() error {
		if len(args) != 1 {
			return fmt.Errorf("%s takes one argument, found %d", canonical, len(args))
		}
		return nil
	}
	s := r.server
	src := d.source()
	if len(r.guesses) > 0 {
		src.Detail = r.guesses[len(r.guesses)-1]
	}
	if strings.EqualFold(name, "ServerName") || strings.EqualFold(name, "ServerAlias") {
		s.Names = append(s.Names, args...)
	}
	switch canonical {
	case "Include", "IncludeOptional":
		if err := one(); err != nil {
			return err
		}
		return r.include(d, canonical == "IncludeOptional")
	case "LoadModule":
		if len(args) != 2 {
			return fmt.Errorf("LoadModule takes two arguments, a module name and the name of a shared object file to load it from")
		}
		r.cfg.Modules = append(r.cfg.Modules, Module{ID: args[0], Path: args[1], Location: loc})
		switch args[0] {
		case "mpm_event_module", "mpm_worker_module", "mpm_prefork_module":
			r.cfg.MPM = strings.TrimSuffix(strings.TrimPrefix(args[0], "mpm_"), "_module")
		}
	case "Define":
		if len(args) == 0 || len(args) > 2 {
			return errors.New("Define takes one or two arguments: a variable name and an optional value")
		}
		v := ""
		if len(args) == 2 {
			v = args[1]
		}
		r.defines[args[0]] = v
	case "UnDefine":
		if err := one(); err != nil {
			return err
		}
		delete(r.defines, args[0])
	case "ServerRoot":
		if err := one(); err != nil {
			return err
		}
		if len(r.scopes) > 0 {
			return fmt.Errorf("ServerRoot cannot occur within <%s> section", r.scopes[0].name)
		}
		if !strings.HasPrefix(args[0], "/") {
			return fmt.Errorf("ServerRoot %q: expected an absolute directory", args[0])
		}
		r.root = path.Clean(strings.TrimPrefix(args[0], "/"))
		if r.root == "" {
			r.root = "."
		}
	case "KeepAlive":
		if err := one(); err != nil {
			return err
		}
		switch strings.ToLower(args[0]) {
		case "on":
			s.KeepAlive = model.KnownSetting(true, src)
		case "off":
			s.KeepAlive = model.KnownSetting(false, src)
		default:
			return fmt.Errorf("KeepAlive must be On or Off, found %q", args[0])
		}
		s.Directives[canonical] = d
	case "KeepAliveTimeout":
		if err := one(); err != nil {
			return err
		}
		v, err := parseInterval(args[0], time.Second)
		if err != nil {
			return fmt.Errorf("KeepAliveTimeout has wrong format %q: %v", args[0], err)
		}
		s.KeepAliveTimeout = model.KnownSetting(v, src)
		s.Directives[canonical] = d
	case "MaxKeepAliveRequests":
		if err := one(); err != nil {
			return err
		}
		n, _ := Atoi(args[0])
		s.MaxKeepAliveRequests = model.KnownSetting(n, src)
		s.Directives[canonical] = d
	case "Timeout", "ProxyTimeout":
		if err := one(); err != nil {
			return err
		}
		n, _ := Atoi(args[0])
		if canonical == "ProxyTimeout" {
			if n < 1 {
				return fmt.Errorf("ProxyTimeout must be at least 1 second, found %q", args[0])
			}
			s.ProxyTimeout = model.KnownSetting(time.Duration(n)*time.Second, src)
		} else {
			s.Timeout = model.KnownSetting(time.Duration(n)*time.Second, src)
		}
		s.Directives[canonical] = d
	case "RequestReadTimeout":
		s.Directives[canonical] = d
	case "ProxyPass", "ProxyPassMatch", "BalancerMember":
		return r.worker(d, unknown)
	case "ProxySet":
		r.sets = append(r.sets, d)
		return checkParams(d, paramsOf(d.Args))
	}
	return nil
}

// innermost returns the innermost scope, if any.
func (r *reader) innermost() (scope, bool) {
	if len(r.scopes) == 0 {
		return scope{}, false
	}
	return r.scopes[len(r.scopes)-1], true
}

// worker reads ProxyPass, ProxyPassMatch and BalancerMember.
func (r *reader) worker(d *Directive, unknown []string) error {
	args := d.Args
	w := &Worker{Directive: d.Name, Location: d.Location, Server: r.server, Line: d, Params: map[string]Param{}}
	in, hasScope := r.innermost()
	switch d.Name {
	case "ProxyPass", "ProxyPassMatch":
		if hasScope && (in.name == "Location" || in.name == "LocationMatch") {
			w.Path = in.arg
		} else {
			if len(args) < 2 {
				return fmt.Errorf("%s needs a path and a URL when it is not inside a <Location>", d.Name)
			}
			w.Path, args = args[0], args[1:]
		}
		if len(args) == 0 {
			return fmt.Errorf("%s needs a URL", d.Name)
		}
		w.URL, args = args[0], args[1:]
		if w.URL == "!" {
			return nil // an exclusion: no worker
		}
	case "BalancerMember":
		if hasScope && in.name == "Proxy" && strings.HasPrefix(strings.ToLower(in.arg), "balancer://") {
			w.Balancer = in.arg
		} else if len(args) > 1 && strings.HasPrefix(strings.ToLower(args[0]), "balancer://") {
			w.Balancer, args = args[0], args[1:]
		} else {
			return errors.New("BalancerMember must be in a <Proxy balancer://...> section or name its balancer first")
		}
		if len(args) == 0 {
			return errors.New("BalancerMember needs the URL of the member")
		}
		w.URL, args = args[0], args[1:]
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			switch strings.ToLower(a) {
			case "nocanon", "interpolate", "noquery":
				continue
			}
			return fmt.Errorf("%s: invalid parameter %q: parameters must be in the form key=value", d.Name, a)
		}
		if n := r.unknownRef(v, unknown); n != "" {
			r.note("value", d.Location, "%s=%s depends on the unknown variable ${%s}: keeptune did not read it", k, v, n)
			continue
		}
		w.Params[strings.ToLower(k)] = Param{Value: v, Location: d.Location}
	}
	if err := checkParams(d, w.Params); err != nil {
		return err
	}
	r.cfg.Workers = append(r.cfg.Workers, w)
	return nil
}

// paramsOf reads the key=value arguments of a ProxySet line.
func paramsOf(args []string) map[string]Param {
	out := map[string]Param{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			out[strings.ToLower(k)] = Param{Value: v}
		}
	}
	return out
}

// checkParams rejects what httpd 2.4's set_worker_param rejects among the parameters keeptune
// reads.
func checkParams(d *Directive, params map[string]Param) error {
	for k, p := range params {
		v := p.Value
		switch k {
		case "ttl":
			if n, _ := Atoi(v); n < 1 {
				return fmt.Errorf("%s: TTL must be at least one second (ttl=%s)", d.Name, v)
			}
		case "timeout":
			if n, _ := Atoi(v); n < 1 {
				return fmt.Errorf("%s: Timeout must be at least one second (timeout=%s)", d.Name, v)
			}
		case "keepalive", "disablereuse", "enablereuse":
			if !strings.EqualFold(v, "on") && !strings.EqualFold(v, "off") {
				return fmt.Errorf("%s: %s must be On or Off, found %q", d.Name, k, v)
			}
		case "connectiontimeout", "ping":
			t, err := parseInterval(v, time.Second)
			if err != nil {
				return fmt.Errorf("%s: %s has wrong format %q: %v", d.Name, k, v, err)
			}
			if t < time.Millisecond {
				return fmt.Errorf("%s: %s must be at least one millisecond", d.Name, k)
			}
		}
	}
	return nil
}

// applyProxySet applies ProxySet parameters to the workers of the URL they name: the
// <Proxy URL> around them, else their first argument.
func (r *reader) applyProxySet() {
	for _, d := range r.sets {
		target := ""
		args := d.Args
		for i := len(d.Context) - 1; i >= 0; i-- {
			if strings.HasPrefix(d.Context[i], "Proxy ") {
				target = strings.TrimPrefix(d.Context[i], "Proxy ")
				break
			}
		}
		if target == "" && len(args) > 0 && !strings.Contains(args[0], "=") {
			target, args = args[0], args[1:]
		}
		for k, p := range paramsOf(args) {
			p.Location = d.Location
			for _, w := range r.cfg.Workers {
				if strings.EqualFold(strings.TrimSuffix(w.URL, "/"), strings.TrimSuffix(target, "/")) {
					w.Params[k] = p
				}
			}
		}
	}
}

// include reads an Include or IncludeOptional: a file, a directory (every file in it and below,
// in byte order) or a wildcard pattern (in any path component, httpd 2.3.6+; "*" does not match
// a leading dot). Include fails when nothing matches; IncludeOptional does not.
func (r *reader) include(d *Directive, optional bool) error {
	pat := d.Args[0]
	full := pat
	if strings.HasPrefix(full, "/") {
		full = path.Clean(strings.TrimPrefix(full, "/"))
	} else {
		full = path.Join(r.root, full)
	}
	matches, err := r.expand(full, optional)
	if err != nil && r.o.Tree != "" && strings.HasPrefix(pat, "/") {
		r.warn(d.Location, "", "%s %s: not in the tree %s (lint --root): a file of the server, not of the repository; not read", d.Name, pat, r.o.Tree)
		return nil
	}
	if err != nil {
		return &ParseError{File: d.Location.File, Line: d.Location.Line, Msg: fmt.Sprintf("%s %s: %v", d.Name, pat, err)}
	}
	for _, m := range matches {
		if err := r.file(m); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return err
			}
			return &ParseError{File: d.Location.File, Line: d.Location.Line, Msg: fmt.Sprintf("%s %s: %v", d.Name, pat, err)}
		}
	}
	return nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// expand resolves an include path to the files to read, in order.
func (r *reader) expand(full string, optional bool) ([]string, error) {
	if !hasMeta(full) {
		st, err := fs.Stat(r.fsys, full)
		if err != nil {
			if optional {
				return nil, nil
			}
			return nil, fmt.Errorf("could not open configuration file /%s: %v", full, unwrapPath(err))
		}
		if st.IsDir() {
			return r.walk(full)
		}
		return []string{full}, nil
	}
	comps := strings.Split(full, "/")
	paths := []string{""}
	for i, c := range comps {
		var next []string
		for _, base := range paths {
			if !hasMeta(c) {
				next = append(next, path.Join(base, c))
				continue
			}
			dir := base
			if dir == "" {
				dir = "."
			}
			entries, err := fs.ReadDir(r.fsys, dir)
			if err != nil {
				if optional {
					continue
				}
				return nil, fmt.Errorf("could not open directory /%s: %v", dir, unwrapPath(err))
			}
			for _, e := range entries {
				ok, err := path.Match(c, e.Name())
				if err != nil {
					return nil, fmt.Errorf("bad wildcard pattern %q: %v", c, err)
				}
				if !ok || (strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(c, ".")) {
					continue
				}
				if i < len(comps)-1 && !r.isDir(path.Join(base, e.Name())) {
					continue
				}
				next = append(next, path.Join(base, e.Name()))
			}
		}
		sort.Strings(next)
		paths = next
		if len(paths) == 0 {
			break
		}
	}
	if len(paths) == 0 && !optional {
		return nil, fmt.Errorf("no matches for the wildcard pattern /%s", full)
	}
	var out []string
	for _, p := range paths {
		st, err := fs.Stat(r.fsys, p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			files, err := r.walk(p)
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// isDir reports whether p is a directory, following symbolic links (Debian's *-enabled
// directories hold links).
func (r *reader) isDir(p string) bool {
	st, err := fs.Stat(r.fsys, p)
	return err == nil && st.IsDir()
}

// walk lists the files of a directory and its subdirectories, each directory in byte order.
func (r *reader) walk(dir string) ([]string, error) {
	entries, err := fs.ReadDir(r.fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("could not open directory /%s: %v", dir, unwrapPath(err))
	}
	var out []string
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if r.isDir(p) {
			if len(strings.Split(p, "/")) > maxIncludeDepth {
				return nil, fmt.Errorf("directories nested more than %d deep", maxIncludeDepth)
			}
			sub, err := r.walk(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
