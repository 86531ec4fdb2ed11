package nginx

import (
	"strings"
	"testing"
	"testing/fstest"
)

// flat renders a tree as "name arg arg @line" lines, blocks indented.
func flat(ds []*Directive, indent string) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(indent + d.Name)
		for _, a := range d.Args {
			b.WriteString(" [" + a + "]")
		}
		b.WriteString(" @" + itoa(d.Line))
		if d.IsBlock() {
			b.WriteString(" {")
		}
		b.WriteString("\n")
		if d.IsBlock() {
			b.WriteString(flat(d.Block, indent+"  "))
		}
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var s []byte
	for n > 0 {
		s = append([]byte{byte('0' + n%10)}, s...)
		n /= 10
	}
	return string(s)
}

func parseString(t *testing.T, src string) ([]*Directive, error) {
	t.Helper()
	r := &reader{fsys: fstest.MapFS{"t.conf": {Data: []byte(src)}}, confDir: "."}
	return r.parseFile("t.conf")
}

func TestTokenizer(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"simple", "a b c;\n", "a [b] [c] @1\n"},
		{"block lines are the opening line", "http {\n  x 1;\n}\n", "http @1 {\n  x [1] @2\n"},
		{"comment only where a word starts", "a b#c; # rest ; {\n", "a [b#c] @1\n"},
		{"quotes", `a "b c" 'd;e' "";`, "a [b c] [d;e] [] @1\n"},
		{"escapes", `a "x\"y" z\;w \t;`, "a [x\"y] [z\\;w] [\t] @1\n"},
		{"other backslashes stay", `a ^/x\{3\}$ "\d";`, "a [^/x\\{3\\}$] [\\d] @1\n"},
		{"variable braces stay in the word", "a ${b}c;", "a [${b}c] @1\n"},
		{"variable at word start", "set ${x} { }", "set [${x}] @1 {\n"},
		{"dollar then space then brace opens a block", "a $ {}", "a [$] @1 {\n"},
		{"close brace inside a word", "a b}c;", "a [b}c] @1\n"},
		{"if with quoted string and paren", `if ($a = "b") { return 1; }`, "if [($a] [=] [b] [)] @1 {\n  return [1] @1\n"},
		{"multi-line directive takes its first line", "a\n b\n c;\n", "a [b] [c] @1\n"},
		{"crlf", "a b;\r\nc d;\r\n", "a [b] @1\nc [d] @2\n"},
		{"empty block", "events {}\n", "events @1 {\n"},
		{"lua block skipped", "http {\n content_by_lua_block {\n  local s = \"}\" -- }\n  local t = [[ } ]]\n  if x then y() end\n }\n k 1;\n}\n",
			"http @1 {\n  content_by_lua_block @2 {\n  k [1] @7\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := parseString(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := flat(ds, ""); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestTokenizerErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"missing semicolon before brace", "http {\n a 1\n}\n", `/t.conf:3: unexpected "}": expected ";" to end directive "a" begun at line 2`},
		{"missing semicolon at eof", "a 1", `/t.conf:1: unexpected end of file in directive "a" begun at line 1: expected ";" or "}"`},
		{"word at eof", "a", `/t.conf:1: unexpected end of file after the word begun at line 1`},
		{"unclosed block", "http {\n server {\n }\n", `/t.conf:4: unexpected end of file: expected "}" to close "http" begun at line 1`},
		{"stray close", "a 1;\n}\n", `/t.conf:2: unexpected "}": no block is open here`},
		{"semicolon alone", ";", `/t.conf:1: unexpected ';': expected a directive name before it`},
		{"brace alone", "{", `/t.conf:1: unexpected '{': expected a directive name before it`},
		{"text after quote", `a "b"c;`, `/t.conf:1: unexpected 'c' after a quoted string`},
		{"unterminated quote", "a \"b;\n", `/t.conf:2: unexpected end of file in directive "a" begun at line 1: expected a closing '"'`},
		{"unterminated lua", "x_by_lua_block {\n if a then\n", `/t.conf:3: unexpected end of file in the Lua block begun at line 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
