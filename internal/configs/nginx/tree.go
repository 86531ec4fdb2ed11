package nginx

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Directive is one directive as written: its name, arguments and, for a block directive, the
// directives inside. Includes are expanded in place: the directives of an included file take
// the include's position, each keeping the file and line it was written at.
type Directive struct {
	Name string
	Args []string
	// Quoted marks the arguments written in quotes (an empty quoted argument is a real value:
	// proxy_set_header Connection "").
	Quoted []bool
	File   string
	Line   int
	// End is the line of the ";" or "{" that ended the directive: where nginx reports what is
	// wrong with it (ngx_conf_handler logs at the parser's current line).
	End int
	// Block is non-nil for a block directive (possibly empty).
	Block []*Directive
}

// IsBlock reports whether the directive opened a block.
func (d *Directive) IsBlock() bool { return d.Block != nil }

// Arg returns argument i, or "".
func (d *Directive) Arg(i int) string {
	if i < len(d.Args) {
		return d.Args[i]
	}
	return ""
}

// Text renders the arguments as they could be written back: quoted where needed.
func (d *Directive) Text() string {
	var parts []string
	for _, a := range d.Args {
		if a == "" || strings.ContainsAny(a, " \t\r\n;{}#\"'") {
			parts = append(parts, quote(a))
		} else {
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, " ")
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// maxIncludeDepth bounds nested includes; nginx has no limit of its own, but an include cycle
// would recurse until it runs out of file descriptors.
const maxIncludeDepth = 32

// maxFileSize bounds what a single file may hold; real configurations are far smaller.
const maxFileSize = 16 << 20

// reader parses a file and the files it includes from an fs.FS.
type reader struct {
	fsys fs.FS
	// confDir is the directory of the main file inside fsys: nginx resolves relative include
	// paths against it (the "conf prefix"), not against the including file.
	confDir string
	// prefixGiven says confDir was given (--prefix) rather than taken from the main file.
	prefixGiven bool
	files       []string
	open        []string // include stack, for cycle detection
	// missing are includes of files that do not exist, kept until the file is known to be a
	// main configuration (an error, as for nginx) or a fragment read alone (a warning: its
	// includes are relative to a prefix keeptune was not given).
	missing []missingInclude
	// guessed are includes found relative to a parent directory of a fragment's own.
	guessed []missingInclude
	// tree is the repository directory (lint --root), "" on the host; outside are the
	// absolute includes of files the tree does not have.
	tree    string
	outside []*Directive
}

type missingInclude struct {
	d   *Directive
	err error
	dir string
}

// display turns a path inside fsys into the name people see: absolute, as on the host.
func display(p string) string { return "/" + strings.TrimPrefix(p, "/") }

// fsPath turns a path written in a configuration into a path inside fsys.
func (r *reader) fsPath(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(strings.TrimLeft(p, "/"))
	}
	return path.Join(r.confDir, p)
}

// parseFile reads one file and returns its top-level directives.
func (r *reader) parseFile(p string) ([]*Directive, error) {
	data, err := fs.ReadFile(r.fsys, p)
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: file larger than %d bytes", display(p), maxFileSize)
	}
	r.files = append(r.files, display(p))
	r.open = append(r.open, p)
	defer func() { r.open = r.open[:len(r.open)-1] }()
	s := newScanner(display(p), data)
	return r.parseBlock(s, 0, nil)
}

// parseBlock reads directives up to the end of the block (depth > 0) or of the file.
func (r *reader) parseBlock(s *scanner, depth int, open *Directive) ([]*Directive, error) {
	out := []*Directive{}
	for {
		words, term, err := s.next()
		if err != nil {
			return nil, err
		}
		switch term {
		case termEOF:
			if open != nil {
				return nil, s.errorf(s.line, "unexpected end of file: expected \"}\" to close %q begun at line %d", open.Name, open.Line)
			}
			return out, nil
		case termClose:
			if open == nil {
				return nil, s.errorf(s.line, "unexpected \"}\": no block is open here")
			}
			return out, nil
		}
		d := &Directive{Name: words[0].text, File: s.file, Line: words[0].line, End: s.line}
		for _, w := range words[1:] {
			d.Args = append(d.Args, w.text)
			d.Quoted = append(d.Quoted, w.quoted)
		}
		if term == termBlock {
			if depth >= 100 {
				return nil, s.errorf(d.Line, "blocks nested more than 100 deep")
			}
			if strings.HasSuffix(d.Name, "_by_lua_block") {
				if err := s.skipLuaBlock(d.Line); err != nil {
					return nil, err
				}
				d.Block = []*Directive{}
			} else {
				children, err := r.parseBlock(s, depth+1, d)
				if err != nil {
					return nil, err
				}
				d.Block = children
			}
			out = append(out, d)
			continue
		}
		if d.Name == "include" {
			included, err := r.include(d)
			if err != nil {
				return nil, err
			}
			out = append(out, included...)
			continue
		}
		out = append(out, d)
	}
}

// include expands an include directive the way ngx_conf_include does: a path without glob
// characters must name a readable file; a pattern may match nothing; matches are read in
// lexical order (glob(3)'s order) and, as with glob(3), wildcards do not match hidden files.
func (r *reader) include(d *Directive) ([]*Directive, error) {
	if len(d.Args) != 1 {
		return nil, &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include takes one file name or pattern, found %d arguments", len(d.Args))}
	}
	if len(r.open) >= maxIncludeDepth {
		return nil, &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: includes nested more than %d deep (an include cycle?)", d.Args[0], maxIncludeDepth)}
	}
	target := r.fsPath(d.Args[0])
	var matches []string
	if strings.ContainsAny(d.Args[0], "*?[") {
		found, err := fs.Glob(r.fsys, target)
		if err != nil {
			return nil, &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: bad pattern: %v", d.Args[0], err)}
		}
		for _, m := range found {
			if strings.HasPrefix(path.Base(m), ".") && !strings.HasPrefix(path.Base(target), ".") {
				continue
			}
			if st, err := fs.Stat(r.fsys, m); err == nil && st.IsDir() {
				continue
			}
			matches = append(matches, m)
		}
	} else {
		matches = []string{target}
		if _, err := fs.Stat(r.fsys, target); err != nil && strings.HasPrefix(d.Args[0], "/") && r.tree != "" {
			r.outside = append(r.outside, d)
			return nil, nil
		}
		if _, err := fs.Stat(r.fsys, target); err != nil && !strings.HasPrefix(d.Args[0], "/") {
			if dir := r.guessPrefix(d.Args[0]); dir != "" {
				r.guessed = append(r.guessed, missingInclude{d: d, dir: dir})
				matches = []string{path.Join(dir, d.Args[0])}
			} else {
				r.missing = append(r.missing, missingInclude{d: d, err: &ParseError{File: d.File, Line: d.Line,
					Msg: fmt.Sprintf("include %s: cannot read %s: %v", d.Args[0], display(target), unwrapPathError(err))}})
				return nil, nil
			}
		}
	}
	var out []*Directive
	for _, m := range matches {
		for _, o := range r.open {
			if o == m {
				return nil, &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: %s includes itself (cycle)", d.Args[0], display(m))}
			}
		}
		ds, err := r.parseFile(m)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, &ParseError{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: cannot read %s: %v", d.Args[0], display(m), unwrapPathError(err))}
		}
		out = append(out, ds...)
	}
	return out, nil
}

// guessPrefix looks for a relative include in the directories above the main file's, as a
// fragment read alone (a conf.d file) is written relative to the prefix of the nginx.conf that
// includes it. It returns "" with a prefix given or nothing found.
func (r *reader) guessPrefix(rel string) string {
	if r.prefixGiven {
		return ""
	}
	for dir := path.Dir(r.confDir); ; dir = path.Dir(dir) {
		if _, err := fs.Stat(r.fsys, path.Join(dir, rel)); err == nil {
			return dir
		}
		if dir == "." || dir == "/" {
			return ""
		}
	}
}

// unwrapPathError drops the path fs.PathError repeats.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
