package apache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParse feeds arbitrary bytes to the parser as the main file (which can include itself, a
// directory and a fixed file): every input either parses, and its sides and values can be
// computed, or gives an error that names a file; nothing panics.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.conf")
	more, _ := filepath.Glob("testdata/*/*.inc")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Include conf.d/\nIncludeOptional conf.d/*.conf\n<IfFile conf.d>\nInclude self.conf\n</IfFile>\n"))
	f.Add([]byte("<IfVersion ~ ^2>\n<IfDirective X>\n<Macro M>\n</Macro>\n</IfDirective>\n</IfVersion>\nDefine A ${B}\n"))
	env := map[string]string{"KT_PORT": "80", "KT_DIR": "/tmp"}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"httpd.conf":        &fstest.MapFile{Data: data},
			"self.conf":         &fstest.MapFile{Data: data},
			"conf.d/a.conf":     &fstest.MapFile{Data: []byte("KeepAliveTimeout 3\nProxyPass /a http://b/ ttl=2\n")},
			"conf.d/sub/b.conf": &fstest.MapFile{Data: []byte("<VirtualHost *:80>\nKeepAlive Off\n</VirtualHost>\n")},
			"prelude.inc":       &fstest.MapFile{Data: []byte("LoadModule proxy_module mod_proxy.so\n")},
		}
		for _, o := range []Options{{}, {Env: env, Version: "2.4.62", Defines: []string{"X"}}} {
			c, err := o.Parse(fsys, "httpd.conf")
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) && !strings.HasPrefix(err.Error(), "could not open") {
					t.Fatalf("error without file:line: %v", err)
				}
				if pe != nil && (pe.Line < 1 || !strings.HasPrefix(pe.File, "/")) {
					t.Fatalf("bad location: %v", err)
				}
				continue
			}
			c.Configs()
			for _, s := range c.VirtualHosts {
				c.InEffect(s)
			}
		}
	})
}
