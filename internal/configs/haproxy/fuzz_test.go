package haproxy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzParse feeds arbitrary bytes to the parser, with and without a known environment: every
// input either parses (and its sides and values can be computed) or gives a ParseError naming
// the file; nothing panics.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.cfg")
	more, _ := filepath.Glob("testdata/valid/conf.d/*")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("defaults\n.if defined(A) && (streq(\"${B}\",x) || !feature(OPENSSL))\n\ttimeout client 1s\n.elif version_atleast(2.6)\n.else\n.endif\n"))
	f.Add([]byte("frontend \"f${L[*]}\"\n\tbind \"${P-80}\"\n\tclitcpka-idle 1ms\n\tno option tcpka\n\tdefault option clitcpka\n"))
	env := map[string]string{"A": "1", "B": "x", "L": "a b", "P": "8080"}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"h.cfg": &fstest.MapFile{Data: data}}
		for _, o := range []Options{{}, {Env: env, Features: []string{"OPENSSL"}, Version: "2.6.12"}} {
			c, err := o.ParseFiles(fsys, "h.cfg")
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.File != "/h.cfg" || pe.Line < 1 {
					t.Fatalf("error without file:line: %v", err)
				}
				continue
			}
			c.Configs()
		}
	})
}
