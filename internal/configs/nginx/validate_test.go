package nginx

import (
	"strings"
	"testing"

	"github.com/keeptune/keeptune/internal/testutil"
)

// Directives nginx may or may not know depending on its modules are warnings, never errors and
// never silence; near-misses of known directives are errors with a did-you-mean.
func TestValidateModulesAndUnknownDirectives(t *testing.T) {
	tests := []struct {
		name, conf string
		version    string
		err        string // substring of the error, "" for none
		warn       string // substring of the single warning, "" for none
	}{
		{"third-party module not loaded", "events {}\nhttp { server { location / { content_by_lua_block { ngx.say(1) } } } }\n", "", "", "ngx_http_lua_module"},
		{"third-party module loaded", "load_module modules/ngx_http_lua_module.so;\nevents {}\nhttp { server { location / { content_by_lua_block { ngx.say(1) } } } }\n", "", "", ""},
		{"unknown directive", "events {}\nhttp { server { frobnicate_everything on; } }\n", "", "", `unknown directive "frobnicate_everything"`},
		{"near-miss", "events {}\nhttp { server { location / { proxy_passs http://x; } } }\n", "", `/n.conf:2: unknown directive "proxy_passs" (did you mean "proxy_pass"?)`, ""},
		{"newer directive, version unknown", "events {}\nhttp { server { http2 on; } }\n", "", "", "needs nginx 1.25.1"},
		{"newer directive, older server", "events {}\nhttp { server { http2 on; } }\n", "1.22.1", `unknown directive "http2" (added in nginx 1.25.1; the server is 1.22.1)`, ""},
		{"newer directive, newer server", "events {}\nhttp { server { http2 on; } }\n", "1.25.3", "", ""},
		{"removed directive, newer server", "events {}\nhttp { server { ssl on; } }\n", "1.27.0", `unknown directive "ssl" (removed in nginx 1.25.1`, ""},
		{"stream context", "load_module x/ngx_stream_module.so;\nevents {}\nstream { server { listen 1; proxy_pass 127.0.0.1:2; proxy_timeout 1m; } }\n", "", "", ""},
		{"conf.d fragment is an http block", "server { listen 80; location / { proxy_pass http://x; } }\nupstream u { server a; keepalive 2; }\n", "", "", ""},
		{"fragment of unknown block: arg counts", "proxy_set_header Host;\n", "", `/n.conf:1: invalid number of arguments in "proxy_set_header" directive`, ""},
		{"map content is not directives", "events {}\nhttp { map $host $b { default x; ~^y z; } types { text/html html; } }\n", "", "", ""},
		{"keepalive_min_timeout, version unknown", "events {}\nhttp { keepalive_min_timeout 5s; }\n", "", "", "needs nginx 1.27.4"},
		{"keepalive_min_timeout, older server", "events {}\nhttp { keepalive_min_timeout 5s; }\n", "1.26.2", `unknown directive "keepalive_min_timeout" (added in nginx 1.27.4; the server is 1.26.2)`, ""},
		{"keepalive_min_timeout, newer server", "events {}\nhttp { server { keepalive_min_timeout 5s; } }\n", "1.28.0", "", ""},
		{"unknown variable", "events {}\nhttp { server { return 200 $nosuch; } }\n", "", `/n.conf:2: unknown "nosuch" variable`, ""},
		{"variable a loaded module may declare", "load_module modules/ngx_http_lua_module.so;\nevents {}\nhttp { server { return 200 $nosuch; } }\n", "", "", "unknown variable $nosuch"},
		{"variable of a later nginx, version unknown", "events {}\nhttp { server { return 200 $proxy_protocol_tlv_alpn; } }\n", "", "", "needs nginx 1.23.2"},
		{"variable of a later nginx, older server", "events {}\nhttp { server { return 200 $proxy_protocol_tlv_alpn; } }\n", "1.22.1", `unknown "proxy_protocol_tlv_alpn" variable (added in nginx 1.23.2`, ""},
		{"variable of a later nginx, newer server", "events {}\nhttp { server { return 200 $proxy_protocol_tlv_alpn; } }\n", "1.25.0", "", ""},
		{"unknown variable, server newer than the table", "events {}\nhttp { server { return 200 $nosuch; } }\n", "1.27.0", "", "unknown variable $nosuch"},
		{"variables defined anywhere in http", "events {}\nhttp { server { return 200 $later; } map $host $later { default 1; } }\n", "", "", ""},
		{"stream variables are not checked", "load_module x/ngx_stream_module.so;\nevents {}\nstream { map $remote_addr $x { default $nosuch; } server { listen 1; proxy_pass 127.0.0.1:2; } }\n", "", "", ""},
		{"if in location", "events {}\nhttp { server { location / { if ($x) { return 404; keepalive_timeout 5s; } } } }\n", "", `"keepalive_timeout" directive is not allowed here`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parser{Version: tt.version}.parse(testutil.MapFS(map[string]string{"n.conf": tt.conf}), "n.conf")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.warn == "" && len(c.Warnings) > 0:
				t.Errorf("unexpected warnings %+v", c.Warnings)
			case tt.warn != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Message+c.Warnings[0].Module, tt.warn)):
				t.Errorf("warnings %+v, want one with %q", c.Warnings, tt.warn)
			}
		})
	}
}
