package haproxy

import (
	"fmt"
	"strings"
)

// lineWords splits one configuration line into words the way HAProxy's parse_line does
// (configuration manual 2.2 and 2.3): words are separated by unprotected spaces and tabs, an
// unprotected "#" starts a comment, a backslash escapes the next character (\n, \r, \t and \xNN
// produce control characters; before any other character the backslash stays), "..." is weak
// quoting (spaces, "#" and "'" are literal, $VAR and ${VAR} expand, \ escapes), '...' is strong
// quoting (nothing is interpreted). Environment variables expand only inside double quotes;
// ${NAME-default} gives a default for an unset variable and ${NAME[*]} splits a value on spaces
// into several words.
//
// env resolves a variable: ok is false when the variable is unknown, and the reference is then
// kept literally ("${NAME}") and reported through unresolved.
type lexer struct {
	env        func(name string) (value string, ok bool)
	unresolved []string
}

// words returns the words of line. Quotes and escapes are removed; an empty quoted string is an
// empty word.
func (lx *lexer) words(line string) ([]string, error) {
	var (
		out     []string
		cur     strings.Builder
		inWord  bool
		dquote  bool
		squote  bool
		dqStart int
		sqStart int
	)
	flush := func() {
		if inWord {
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case squote:
			if c == '\'' {
				squote = false
				continue
			}
			cur.WriteByte(c)
			continue
		case c == '\\':
			inWord = true
			if i+1 >= len(line) {
				cur.WriteByte('\\')
				continue
			}
			n := line[i+1]
			switch n {
			case ' ', '\t', '\\', '#', '\'', '"', '$':
				// "\$" is "$" both inside and outside double quotes (manual 2.2 table).
				cur.WriteByte(n)
				i++
			case 'n':
				cur.WriteByte('\n')
				i++
			case 'r':
				cur.WriteByte('\r')
				i++
			case 't':
				cur.WriteByte('\t')
				i++
			case 'x':
				if i+3 >= len(line) || !isHex(line[i+2]) || !isHex(line[i+3]) {
					return nil, fmt.Errorf("truncated or invalid hexadecimal sequence at position %d: expected \\x and two hex digits", i+1)
				}
				cur.WriteByte(unhex(line[i+2])<<4 | unhex(line[i+3]))
				i += 3
			default:
				cur.WriteByte('\\')
			}
			continue
		case dquote:
			switch c {
			case '"':
				dquote = false
			case '$':
				j, err := lx.expand(line, i, &cur, &out)
				if err != nil {
					return nil, err
				}
				i = j
			default:
				cur.WriteByte(c)
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			flush()
		case '#':
			flush()
			return out, nil
		case '"':
			dquote, inWord, dqStart = true, true, i
		case '\'':
			squote, inWord, sqStart = true, true, i
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if dquote {
		return nil, fmt.Errorf("unmatched double quote at position %d: expected a closing '\"'", dqStart+1)
	}
	if squote {
		return nil, fmt.Errorf("unmatched single quote at position %d: expected a closing \"'\"", sqStart+1)
	}
	flush()
	return out, nil
}

// expand handles "$" at line[i] inside double quotes and returns the index of the last byte
// consumed. ${NAME[*]} splits the value into words: the word before it ends at the first space
// of the value and the word after it starts at the last one.
func (lx *lexer) expand(line string, i int, cur *strings.Builder, out *[]string) (int, error) {
	j := i + 1
	braced := j < len(line) && line[j] == '{'
	if braced {
		j++
	}
	start := j
	for j < len(line) && (isAlnum(line[j]) || line[j] == '_' || (j == start && line[j] == '.')) {
		j++
	}
	name := line[start:j]
	if name == "" {
		// A lone "$" (or "${" with no name) is literal.
		cur.WriteByte('$')
		return i, nil
	}
	def, hasDef, split := "", false, false
	if braced {
		if j < len(line) && line[j] == '-' {
			k := strings.IndexByte(line[j:], '}')
			if k < 0 {
				return 0, fmt.Errorf("unterminated ${%s-...} at position %d: expected '}'", name, i+1)
			}
			def, hasDef = line[j+1:j+k], true
			j += k
		} else if strings.HasPrefix(line[j:], "[*]") {
			split = true
			j += 3
		}
		if j >= len(line) || line[j] != '}' {
			return 0, fmt.Errorf("unterminated ${%s at position %d: expected '}'", name, i+1)
		}
		j++
	}
	val, ok := lx.env(name)
	if !ok && hasDef {
		val, ok = def, true
	}
	if !ok {
		lx.unresolved = append(lx.unresolved, name)
		cur.WriteString(line[i:j])
		return j - 1, nil
	}
	if split {
		parts := strings.Fields(val)
		for k, p := range parts {
			if k > 0 {
				*out = append(*out, cur.String())
				cur.Reset()
			}
			cur.WriteString(p)
		}
	} else {
		cur.WriteString(val)
	}
	return j - 1, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
