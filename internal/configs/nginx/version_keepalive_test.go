package nginx

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestUpstreamKeepaliveByVersion: from nginx 1.29.7 (stable 1.30.0) an upstream block without
// "keepalive" keeps 32 idle connections per worker, with HTTP/1.1 and no "Connection: close" by
// default; before, it pools nothing. The catalog and issue 17 say so; the side must too.
func TestUpstreamKeepaliveByVersion(t *testing.T) {
	conf := "events {}\nhttp {\n  upstream app { server 127.0.0.1:8080; }\n  server {\n    listen 80;\n    location / { proxy_pass http://app; }\n  }\n}\n"
	fsys := fstest.MapFS{"etc/nginx/nginx.conf": &fstest.MapFile{Data: []byte(conf)}}
	for _, c := range []struct {
		version string
		pools   bool
		detail  string
	}{
		{"1.30.0", true, "keeps 32 idle connections per worker in upstream app by default"},
		{"1.29.7", true, "since 1.29.7"},
		{"1.28.0", false, "no upstream block sets keepalive N"},
		{"", false, "give the version with --server-version"},
	} {
		cfg, err := Parser{Version: c.version}.parse(fsys, "etc/nginx/nginx.conf")
		if err != nil {
			t.Fatal(err)
		}
		up := cfg.Upstream()
		if up == nil || !up.Pools.Known || up.Pools.Value != c.pools || !strings.Contains(up.Pools.Source.String(), c.detail) {
			t.Errorf("nginx %q: pools %+v", c.version, up.Pools)
		}
	}
	// Explicit HTTP/1.0 still defeats the default pool.
	old := strings.Replace(conf, "proxy_pass http://app;", "proxy_pass http://app; proxy_http_version 1.0;", 1)
	cfg, err := Parser{Version: "1.30.0"}.parse(fstest.MapFS{"etc/nginx/nginx.conf": &fstest.MapFile{Data: []byte(old)}}, "etc/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if up := cfg.Upstream(); up.Pools.Value {
		t.Errorf("proxy_http_version 1.0 on 1.30.0: pools %+v", up.Pools)
	}
}
