package nginx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParse feeds arbitrary bytes as a main file that may include a second fuzzed file:
// malformed input must give an error, never a panic, and a parsed configuration must yield its
// values and sides with every value located.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.conf")
	more, _ := filepath.Glob("testdata/valid/*/*/*.conf")
	for _, s := range append(seeds, more...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte("keepalive_timeout 5s;\n"))
	}
	f.Add([]byte("http { include inc.conf; server { listen 80 so_keepalive=1:2:3; } }"), []byte("upstream u { keepalive 2; }\nserver { location / { proxy_pass http://u; } }"))
	f.Add([]byte("x_by_lua_block { a = [==[ } ]==] -- }\n }"), []byte(""))
	f.Fuzz(func(t *testing.T, main, inc []byte) {
		fsys := fstest.MapFS{
			"etc/nginx/nginx.conf": {Data: main},
			"etc/nginx/inc.conf":   {Data: inc},
		}
		c, err := Parse(fsys, "etc/nginx/nginx.conf")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "/etc/nginx/") {
				t.Fatalf("error without a file: %v", err)
			}
			return
		}
		cfg := c.Configs()
		for _, v := range cfg.Values {
			if v.Location.Line < 1 || v.Location.File == "" {
				t.Fatalf("value without a location: %+v", v)
			}
		}
		for _, u := range c.Upstreams {
			c.PoolUses(u)
		}
	})
}
