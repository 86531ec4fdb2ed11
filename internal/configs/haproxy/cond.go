package haproxy

import (
	"fmt"
	"strconv"
	"strings"
)

// tri is a three-valued truth: a condition keeptune cannot decide from the file alone is
// unknown.
type tri int

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func (t tri) not() tri {
	switch t {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

func and(a, b tri) tri {
	if a == triFalse || b == triFalse {
		return triFalse
	}
	if a == triTrue && b == triTrue {
		return triTrue
	}
	return triUnknown
}

func or(a, b tri) tri {
	if a == triTrue || b == triTrue {
		return triTrue
	}
	if a == triFalse && b == triFalse {
		return triFalse
	}
	return triUnknown
}

// condEval evaluates the expression of a .if or .elif line (configuration manual 2.4): HAProxy
// joins the words of the line with single spaces and parses terms combined with && (binding
// tighter) and ||, "!" negation, parentheses, integers (0 false, other true), an empty
// expression (false) and the predicates defined(), feature(), streq(), strneq(),
// version_atleast() and version_before(). why collects the reasons a term was unknown.
type condEval struct {
	s          string
	pos        int
	o          *Options
	unresolved []string // environment variables of the line that were not known
	why        []string
}

func (o *Options) evalCond(expr string, unresolved []string) (tri, []string, error) {
	e := &condEval{s: expr, o: o, unresolved: unresolved}
	e.skip()
	if e.pos >= len(e.s) {
		return triFalse, nil, nil
	}
	v, err := e.or()
	if err != nil {
		return 0, nil, err
	}
	e.skip()
	if e.pos < len(e.s) {
		return 0, nil, fmt.Errorf("unparsed trailing characters %q in condition %q", e.s[e.pos:], expr)
	}
	return v, e.why, nil
}

func (e *condEval) skip() {
	for e.pos < len(e.s) && (e.s[e.pos] == ' ' || e.s[e.pos] == '\t') {
		e.pos++
	}
}

func (e *condEval) or() (tri, error) {
	v, err := e.and()
	if err != nil {
		return 0, err
	}
	for {
		e.skip()
		if !strings.HasPrefix(e.s[e.pos:], "||") {
			return v, nil
		}
		e.pos += 2
		w, err := e.and()
		if err != nil {
			return 0, err
		}
		v = or(v, w)
	}
}

func (e *condEval) and() (tri, error) {
	v, err := e.term()
	if err != nil {
		return 0, err
	}
	for {
		e.skip()
		if !strings.HasPrefix(e.s[e.pos:], "&&") {
			return v, nil
		}
		e.pos += 2
		w, err := e.term()
		if err != nil {
			return 0, err
		}
		v = and(v, w)
	}
}

func (e *condEval) term() (tri, error) {
	e.skip()
	if e.pos >= len(e.s) {
		return 0, fmt.Errorf("missing term at the end of condition %q", e.s)
	}
	switch e.s[e.pos] {
	case '!':
		e.pos++
		v, err := e.term()
		return v.not(), err
	case '(':
		e.pos++
		v, err := e.or()
		if err != nil {
			return 0, err
		}
		e.skip()
		if e.pos >= len(e.s) || e.s[e.pos] != ')' {
			return 0, fmt.Errorf("missing ')' in condition %q", e.s)
		}
		e.pos++
		return v, nil
	}
	start := e.pos
	for e.pos < len(e.s) && (isAlnum(e.s[e.pos]) || e.s[e.pos] == '_' || e.s[e.pos] == '-' || e.s[e.pos] == '.') {
		e.pos++
	}
	word := e.s[start:e.pos]
	if word == "" {
		return 0, fmt.Errorf("unexpected %q in condition %q: expected a predicate, an integer, '!' or '('", e.s[e.pos:], e.s)
	}
	if e.pos < len(e.s) && e.s[e.pos] == '(' {
		args, err := e.args()
		if err != nil {
			return 0, err
		}
		return e.predicate(word, args)
	}
	if n, err := strconv.ParseInt(word, 10, 64); err == nil {
		if n != 0 {
			return triTrue, nil
		}
		return triFalse, nil
	}
	e.why = append(e.why, fmt.Sprintf("%q is neither an integer nor a predicate", word))
	return triUnknown, nil
}

// args reads "(a,b)" at e.pos, honouring double quotes inside.
func (e *condEval) args() ([]string, error) {
	e.pos++ // '('
	var out []string
	var cur strings.Builder
	quoted := false
	for e.pos < len(e.s) {
		c := e.s[e.pos]
		e.pos++
		switch {
		case quoted:
			if c == '"' {
				quoted = false
			} else {
				cur.WriteByte(c)
			}
		case c == '"':
			quoted = true
		case c == ',':
			out = append(out, cur.String())
			cur.Reset()
		case c == ')':
			return append(out, cur.String()), nil
		default:
			cur.WriteByte(c)
		}
	}
	return nil, fmt.Errorf("missing ')' after the arguments in condition %q", e.s)
}

func (e *condEval) predicate(name string, args []string) (tri, error) {
	unresolved := func(s string) bool {
		for _, n := range e.unresolved {
			if strings.Contains(s, "$"+n) || strings.Contains(s, "${"+n) {
				return true
			}
		}
		return false
	}
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s() expects %d argument(s), got %d", name, n, len(args))
		}
		return nil
	}
	switch name {
	case "defined":
		if err := want(1); err != nil {
			return 0, err
		}
		if e.o.Env == nil {
			e.why = append(e.why, fmt.Sprintf("defined(%s): the environment of the HAProxy process is not known", args[0]))
			return triUnknown, nil
		}
		if _, ok := e.o.Env[args[0]]; ok {
			return triTrue, nil
		}
		return triFalse, nil
	case "feature":
		if err := want(1); err != nil {
			return 0, err
		}
		if e.o.Features == nil {
			e.why = append(e.why, fmt.Sprintf("feature(%s): the features of the HAProxy binary (haproxy -vv) are not known", args[0]))
			return triUnknown, nil
		}
		for _, f := range e.o.Features {
			if f == args[0] {
				return triTrue, nil
			}
		}
		return triFalse, nil
	case "streq", "strneq":
		if err := want(2); err != nil {
			return 0, err
		}
		if unresolved(args[0]) || unresolved(args[1]) {
			e.why = append(e.why, fmt.Sprintf("%s(%s,%s): an environment variable is not known", name, args[0], args[1]))
			return triUnknown, nil
		}
		eq := args[0] == args[1]
		if (name == "streq") == eq {
			return triTrue, nil
		}
		return triFalse, nil
	case "version_atleast", "version_before":
		if err := want(1); err != nil {
			return 0, err
		}
		if e.o.Version == "" {
			e.why = append(e.why, fmt.Sprintf("%s(%s): the HAProxy version is not known", name, args[0]))
			return triUnknown, nil
		}
		c := compareVersions(e.o.Version, args[0])
		if (name == "version_atleast") == (c >= 0) {
			return triTrue, nil
		}
		return triFalse, nil
	}
	e.why = append(e.why, fmt.Sprintf("%s(): a predicate keeptune does not evaluate", name))
	return triUnknown, nil
}

// compareVersions compares HAProxy versions like "2.6.12" and "2.4-dev19" component by
// component (missing components are zero; a -devN suffix sorts before the release).
func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
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

func versionParts(v string) []int {
	main, dev, isDev := strings.Cut(v, "-dev")
	var out []int
	for _, p := range strings.Split(main, ".") {
		n, _ := strconv.Atoi(p)
		out = append(out, n)
	}
	for len(out) < 3 {
		out = append(out, 0)
	}
	// Releases sort after their development versions: 2.4 = 2.4.0.max, 2.4-dev19 = 2.4.0.19.
	if isDev {
		n, _ := strconv.Atoi(dev)
		out = append(out, n)
	} else {
		out = append(out, 1<<30)
	}
	return out
}
