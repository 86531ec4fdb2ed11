package apache

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/model"
)

// What httpd checks of every directive before its handler reads the value (invoke_cmd in
// server/config.c): the directive is declared by a module that is loaded ("Invalid command
// 'KeepAliveTimout', perhaps misspelled or defined by a module not included in the server
// configuration"), it is allowed where it is written ("Require not allowed here"), and it has
// the arguments its command_rec declares ("KeepAliveTimeout takes one argument, ..."; FLAG
// directives "must be On or Off"). The declarations come from the httpd binary and Debian's
// modules (directives_gen.go, gendirectives.go).

// directiveSpec is one command_rec.
type directiveSpec struct {
	name, module, so string
	override         uint32
	how              int
	errmsg           string
}

// req_override bits and args_how values of http_config.h.
const (
	orLimit    = 1
	orAuthcfg  = 8
	orAll      = 0x1f
	accessConf = 64
	rsrcConf   = 128

	rawArgs  = 0
	take1    = 1
	take2    = 2
	iterate  = 3
	iterate2 = 4
	flag     = 5
	noArgs   = 6
	take12   = 7
	take3    = 8
	take23   = 9
	take123  = 10
	take13   = 11
)

var (
	specsByLower = map[string]*directiveSpec{}
	knownNames   []string
)

func init() {
	for i := range builtinDirectives {
		s := &builtinDirectives[i]
		l := strings.ToLower(s.name)
		if _, dup := specsByLower[l]; !dup {
			specsByLower[l] = s
			knownNames = append(knownNames, s.name)
		}
	}
	sort.Strings(knownNames)
}

// dirLevel are the sections whose contents httpd reads with directory-level overrides.
var dirLevel = map[string]bool{
	"Directory": true, "DirectoryMatch": true, "Files": true, "FilesMatch": true, "Location": true,
	"LocationMatch": true, "Proxy": true, "ProxyMatch": true, "If": true, "ElseIf": true, "Else": true,
}

func (r *reader) warn(loc model.Location, module, format string, a ...any) {
	r.cfg.Warnings = append(r.cfg.Warnings, configs.Warning{Location: loc, Module: module, Message: fmt.Sprintf(format, a...)})
}

// loaded reports whether the module declaring spec is there: built into httpd, loaded by a
// LoadModule read before, or unknowable (a file with no LoadModule at all is a fragment).
func (r *reader) loaded(spec *directiveSpec) bool {
	if spec.so == "" || len(r.cfg.Modules) == 0 {
		return true
	}
	for _, m := range r.cfg.Modules {
		if m.ID == spec.module {
			return true
		}
	}
	return false
}

// lookupDirective finds a directive's declaration; nil (with an error for a near-miss of a
// known directive, else a warning) when keeptune does not know it or its module is not loaded.
func (r *reader) lookupDirective(name string, loc model.Location) (*directiveSpec, error) {
	spec := specsByLower[strings.ToLower(name)]
	if spec == nil {
		if near := configs.Nearest(name, knownNames, true); near != "" {
			return nil, &ParseError{File: loc.File, Line: loc.Line, Hint: fmt.Sprintf("did you mean %s?", near),
				Msg: fmt.Sprintf("Invalid command '%s', perhaps misspelled or defined by a module not included in the server configuration", name)}
		}
		r.warn(loc, "", "Invalid command '%s': not a directive of httpd or of the modules keeptune knows; httpd refuses it unless a module that declares it is loaded", name)
		return nil, nil
	}
	if !r.loaded(spec) {
		r.warn(loc, spec.module, "%s is a directive of %s, which no LoadModule before this line loads (LoadModule %s modules/%s): httpd refuses it unless that module is built in",
			spec.name, spec.module, spec.module, spec.so)
		return nil, nil
	}
	return spec, nil
}

// checkDirective checks a directive (not a section) against its declaration.
func (r *reader) checkDirective(name string, args []string, loc model.Location) error {
	spec, err := r.lookupDirective(name, loc)
	if spec == nil || err != nil {
		return err
	}
	fail := func(format string, a ...any) error {
		return &ParseError{File: loc.File, Line: loc.Line, Msg: fmt.Sprintf(format, a...)}
	}
	if !serverOnly[spec.name] {
		allowed := uint32(rsrcConf|orAll) &^ (orAuthcfg | orLimit)
		for _, s := range r.scopes {
			if dirLevel[s.name] {
				allowed = orAll | accessConf
			}
		}
		if spec.override&allowed == 0 {
			return fail("%s not allowed here", spec.name)
		}
	}
	n := len(args)
	with := ""
	if spec.errmsg != "" {
		with = ", " + spec.errmsg
	}
	switch spec.how {
	case noArgs:
		if n != 0 {
			return fail("%s takes no arguments", spec.name)
		}
	case take1:
		if n != 1 {
			return fail("%s takes one argument%s", spec.name, with)
		}
	case take2:
		if n != 2 {
			return fail("%s takes two arguments%s", spec.name, with)
		}
	case take3:
		if n != 3 {
			return fail("%s takes three arguments%s", spec.name, with)
		}
	case take12:
		if n < 1 || n > 2 {
			return fail("%s takes 1-2 arguments%s", spec.name, with)
		}
	case take23:
		if n < 2 || n > 3 {
			return fail("%s takes two or three arguments%s", spec.name, with)
		}
	case take123:
		if n < 1 || n > 3 {
			return fail("%s takes one, two or three arguments%s", spec.name, with)
		}
	case take13:
		if n != 1 && n != 3 {
			return fail("%s takes one or three arguments%s", spec.name, with)
		}
	case iterate:
		if n < 1 {
			return fail("%s requires at least one argument%s", spec.name, with)
		}
	case iterate2:
		if n < 2 {
			return fail("%s requires at least two arguments%s", spec.name, with)
		}
	case flag:
		if n != 1 || (!strings.EqualFold(args[0], "on") && !strings.EqualFold(args[0], "off")) {
			return fail("%s must be On or Off", spec.name)
		}
	}
	return nil
}

// checkSection checks a section's name and where it is opened: <Directory> and <Location> not
// inside directory-level sections, <Files> not inside <Location> or <Files>.
func (r *reader) checkSection(name string, loc model.Location) error {
	spec, err := r.lookupDirective("<"+name, loc)
	if spec == nil || err != nil {
		return err
	}
	canonical := strings.TrimPrefix(spec.name, "<")
	inner := ""
	for _, s := range r.scopes {
		if dirLevel[s.name] || s.name == "Limit" || s.name == "LimitExcept" {
			inner = s.name
		}
	}
	bad := false
	switch canonical {
	case "Directory", "DirectoryMatch", "Location", "LocationMatch":
		bad = inner != ""
	case "Files", "FilesMatch":
		bad = inner != "" && inner != "Directory" && inner != "DirectoryMatch"
	}
	if bad {
		return &ParseError{File: loc.File, Line: loc.Line, Msg: fmt.Sprintf("<%s not allowed in <%s> context", canonical, inner)}
	}
	return nil
}
