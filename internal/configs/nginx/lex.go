package nginx

import (
	"fmt"
	"strings"

	"github.com/keeptune/keeptune/internal/configs"
)

// The scanner follows ngx_conf_read_token (src/core/ngx_conf_file.c) byte for byte where it
// matters: a directive is a run of words ended by ";" or "{", "}" closes a block, "#" starts a
// comment only where a word could start, quotes only open at the start of a word and must be
// followed by a space, ";", "{" or ")", a backslash escapes the next byte everywhere, and "${"
// keeps its brace inside a word (a variable, not a block).

// word is one argument of a directive as nginx sees it (quotes removed, escapes applied).
type word struct {
	text   string
	line   int
	quoted bool
}

// terminator says how a directive ended.
type terminator int

const (
	termSemicolon terminator = iota // ";": a simple directive
	termBlock                       // "{": a block directive, its body follows
	termClose                       // "}": end of the enclosing block (no words)
	termEOF                         // end of the file (no words)
)

// scanner reads one file.
type scanner struct {
	file string // the file's name as reported ("/etc/nginx/nginx.conf")
	data []byte
	pos  int
	line int
}

func newScanner(file string, data []byte) *scanner {
	return &scanner{file: file, data: data, line: 1}
}

// ParseError is the error every format returns: file, line, what is wrong.
type ParseError = configs.ParseError

func (s *scanner) errorf(line int, format string, args ...any) error {
	return &ParseError{File: s.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// next reads the words of the next directive and what ended it.
func (s *scanner) next() ([]word, terminator, error) {
	var (
		args                        []word
		lastSpace                   = true
		needSpace, comment, escaped bool
		sQuoted, dQuoted, variable  bool
		start, startLine            int
	)
	emit := func(end int) {
		raw := s.data[start:end]
		w := word{text: unescape(raw), line: startLine, quoted: sQuoted || dQuoted}
		args = append(args, w)
	}
	for {
		if s.pos >= len(s.data) {
			if len(args) > 0 || !lastSpace {
				what := `";" or "}"`
				switch {
				case dQuoted:
					what = `a closing '"'`
				case sQuoted:
					what = `a closing "'"`
				}
				name := ""
				if len(args) > 0 {
					name = fmt.Sprintf(" in directive %q begun at line %d", args[0].text, args[0].line)
				} else {
					name = fmt.Sprintf(" after the word begun at line %d", startLine)
				}
				return nil, 0, s.errorf(s.line, "unexpected end of file%s: expected %s", name, what)
			}
			return nil, termEOF, nil
		}
		ch := s.data[s.pos]
		s.pos++
		if ch == '\n' {
			s.line++
			comment = false
		}
		if comment {
			continue
		}
		if escaped {
			escaped = false
			continue
		}
		if needSpace {
			switch {
			case isSpace(ch):
				lastSpace, needSpace = true, false
				continue
			case ch == ';':
				return args, termSemicolon, nil
			case ch == '{':
				return args, termBlock, nil
			case ch == ')':
				lastSpace, needSpace = true, false
			default:
				return nil, 0, s.errorf(s.line, "unexpected %q after a quoted string: expected a space, \";\" or \"{\"", ch)
			}
		}
		if lastSpace {
			if isSpace(ch) {
				continue
			}
			start, startLine = s.pos-1, s.line
			switch ch {
			case ';', '{':
				if len(args) == 0 {
					return nil, 0, s.errorf(s.line, "unexpected %q: expected a directive name before it", ch)
				}
				if ch == '{' {
					return args, termBlock, nil
				}
				return args, termSemicolon, nil
			case '}':
				if len(args) > 0 {
					return nil, 0, s.errorf(s.line, "unexpected \"}\": expected \";\" to end directive %q begun at line %d", args[0].text, args[0].line)
				}
				return nil, termClose, nil
			case '#':
				comment = true
				continue
			case '\\':
				escaped = true
				lastSpace = false
				continue
			case '"':
				start++
				dQuoted = true
				lastSpace = false
				continue
			case '\'':
				start++
				sQuoted = true
				lastSpace = false
				continue
			case '$':
				variable = true
				lastSpace = false
				continue
			default:
				lastSpace = false
			}
			continue
		}
		if ch == '{' && variable {
			continue
		}
		variable = false
		if ch == '\\' {
			escaped = true
			continue
		}
		if ch == '$' {
			variable = true
			continue
		}
		found := false
		switch {
		case dQuoted:
			if ch == '"' {
				needSpace, found = true, true
			}
		case sQuoted:
			if ch == '\'' {
				needSpace, found = true, true
			}
		case isSpace(ch) || ch == ';' || ch == '{':
			lastSpace, found = true, true
		}
		if !found {
			continue
		}
		emit(s.pos - 1)
		sQuoted, dQuoted = false, false
		if needSpace {
			// The closing quote ended the word; what follows is checked above.
			continue
		}
		switch ch {
		case ';':
			return args, termSemicolon, nil
		case '{':
			return args, termBlock, nil
		}
	}
}

func isSpace(ch byte) bool { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' }

// unescape applies nginx's escapes: \" \' \\ lose the backslash, \t \r \n become the control
// characters, any other backslash stays.
func unescape(raw []byte) string {
	if !strings.ContainsRune(string(raw), '\\') {
		return string(raw)
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			switch raw[i+1] {
			case '"', '\'', '\\':
				i++
				c = raw[i]
			case 't':
				b.WriteByte('\t')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// skipLuaBlock skips the body of an OpenResty *_by_lua_block directive, whose content is Lua
// code rather than nginx syntax, up to and including its closing brace. It follows Lua's
// strings, long brackets and comments so that braces inside them do not count.
func (s *scanner) skipLuaBlock(openLine int) error {
	depth := 1
	for s.pos < len(s.data) {
		ch := s.data[s.pos]
		s.pos++
		switch ch {
		case '\n':
			s.line++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return nil
			}
		case '"', '\'':
			for s.pos < len(s.data) {
				c := s.data[s.pos]
				s.pos++
				if c == '\n' {
					s.line++
				}
				if c == '\\' && s.pos < len(s.data) {
					if s.data[s.pos] == '\n' {
						s.line++
					}
					s.pos++
					continue
				}
				if c == ch {
					break
				}
			}
		case '[':
			if level, ok := s.longBracket(); ok {
				s.skipLongString(level)
			}
		case '-':
			if s.pos < len(s.data) && s.data[s.pos] == '-' {
				s.pos++
				if s.pos < len(s.data) && s.data[s.pos] == '[' {
					s.pos++
					if level, ok := s.longBracket(); ok {
						s.skipLongString(level)
						continue
					}
				}
				for s.pos < len(s.data) && s.data[s.pos] != '\n' {
					s.pos++
				}
			}
		}
	}
	return s.errorf(s.line, "unexpected end of file in the Lua block begun at line %d: expected \"}\"", openLine)
}

// longBracket reads the rest of a Lua long bracket opener after its first "[" ("[[", "[==[").
func (s *scanner) longBracket() (int, bool) {
	p, level := s.pos, 0
	for p < len(s.data) && s.data[p] == '=' {
		level++
		p++
	}
	if p < len(s.data) && s.data[p] == '[' {
		s.pos = p + 1
		return level, true
	}
	return 0, false
}

// skipLongString skips to the long bracket closer of the given level ("]]", "]==]").
func (s *scanner) skipLongString(level int) {
	closer := "]" + strings.Repeat("=", level) + "]"
	for s.pos < len(s.data) {
		if s.data[s.pos] == '\n' {
			s.line++
		}
		if strings.HasPrefix(string(s.data[s.pos:min(len(s.data), s.pos+len(closer))]), closer) {
			s.pos += len(closer)
			return
		}
		s.pos++
	}
}
