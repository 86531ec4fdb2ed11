package apache

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keeptune/keeptune/internal/model"
)

// mod_macro, as httpd 2.4 expands it (modules/core/mod_macro.c): <Macro NAME [$param ...]>
// keeps its lines unread; "Use NAME arg ..." reads them there with every parameter replaced by
// its argument; "UndefMacro NAME" forgets one. Names are case-insensitive. A Use before any
// macro, of an unknown macro, with the wrong number of arguments, or inside its own expansion
// is an error, as are a <Macro> without a name and a definition inside another. What a
// macro's lines hold is checked where it is used: errors there name the Use line.

type macro struct {
	name   string
	params []string
	lines  []logicalLine
	loc    model.Location
}

// macroStart begins a definition for "<Macro ...>", nil for any other line.
func (r *reader) macroStart(text string, loc model.Location) (*macro, error) {
	lower := strings.ToLower(text)
	if !strings.HasPrefix(lower, "<macro") || (len(lower) > 6 && lower[6] != ' ' && lower[6] != '>' && lower[6] != '\t') {
		return nil, nil
	}
	if _, err := r.lookupDirective("<Macro", loc); err != nil {
		return nil, err
	}
	body := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text[len("<macro"):]), ">"))
	args, err := words(body)
	if err != nil {
		return nil, &ParseError{File: loc.File, Line: loc.Line, Msg: fmt.Sprintf("<Macro: %v", err)}
	}
	if len(args) == 0 || args[0] == "" {
		return nil, &ParseError{File: loc.File, Line: loc.Line, Msg: "<Macro macro definition: empty name"}
	}
	return &macro{name: args[0], params: args[1:], loc: loc}, nil
}

// use expands "Use NAME args" (and handles UndefMacro): the macro's lines with the parameters
// replaced, each at the Use line; nil for any other directive. The caller pops r.using once
// it has read them.
func (r *reader) use(text string, loc model.Location) ([]logicalLine, error) {
	name, rest, _ := strings.Cut(text, " ")
	fail := func(format string, a ...any) ([]logicalLine, error) {
		return nil, &ParseError{File: loc.File, Line: loc.Line, Msg: fmt.Sprintf(format, a...)}
	}
	switch strings.ToLower(name) {
	case "use", "undefmacro":
	default:
		return nil, nil
	}
	if _, err := r.lookupDirective(name, loc); err != nil {
		return nil, err
	}
	args, err := words(rest)
	if err != nil {
		return fail("%s: %v", name, err)
	}
	if strings.EqualFold(name, "UndefMacro") {
		if len(args) != 1 {
			return fail("UndefMacro takes one argument, the name of the macro to undefine")
		}
		if r.macros[strings.ToLower(args[0])] == nil {
			return fail("cannot remove undefined macro '%s'", args[0])
		}
		delete(r.macros, strings.ToLower(args[0]))
		return []logicalLine{}, r.pushUse("")
	}
	if len(r.macros) == 0 {
		return fail("no macro defined before Use")
	}
	if len(args) == 0 || args[0] == "" {
		return fail("no macro name given to Use")
	}
	m := r.macros[strings.ToLower(args[0])]
	if m == nil {
		return fail("macro '%s' undefined", args[0])
	}
	for _, u := range r.using {
		if strings.EqualFold(u, m.name) {
			return fail("recursive use of macro '%s' is invalid", m.name)
		}
	}
	if got := len(args) - 1; got != len(m.params) {
		return fail("macro '%s' (defined on line %d of \"%s\") used with %d arguments instead of %d", m.name, m.loc.Line, m.loc.File, got, len(m.params))
	}
	// Longer parameter names first, so that $ab is not replaced as $a followed by b.
	order := make([]int, len(m.params))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(m.params[order[a]]) > len(m.params[order[b]]) })
	out := make([]logicalLine, 0, len(m.lines))
	for _, l := range m.lines {
		t := l.text
		for _, i := range order {
			t = strings.ReplaceAll(t, m.params[i], args[i+1])
		}
		out = append(out, logicalLine{text: t, line: loc.Line})
	}
	return out, r.pushUse(m.name)
}

func (r *reader) pushUse(name string) error {
	r.using = append(r.using, name)
	return nil
}
