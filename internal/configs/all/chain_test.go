package all_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/keeptune/keeptune/internal/configs/all"
	"github.com/keeptune/keeptune/internal/gather"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/rules"
)

// The case: behind an ALB (60 s idle), nginx's default server only returns 444 while the
// site's server block closes idle clients after 5 s. A hop reading nginx.conf takes the site's
// side (the serving listener that closes first), or the one config: names; KT701 fires and names
// the server block.
func TestChainHopTakesTheServingListener(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(`events {}
http {
    keepalive_timeout 75s;
    server {
        listen 80 default_server;
        return 444;
    }
    server {
        listen 80;
        server_name api.example.com;
        keepalive_timeout 5s;
        location / { return 200; }
    }
    server {
        listen 8443;
        server_name admin.example.com;
        location / { return 200; }
    }
}
`), 0o644)
	for _, tt := range []struct{ config, idle, named string }{
		{conf, "5s", "api.example.com"},
		{"{file: " + conf + ", server: api.example.com}", "5s", "api.example.com"},
		{"{file: " + conf + ", port: 8443}", "1m15s", "admin.example.com"},
	} {
		chainFile := filepath.Join(dir, "keeptune.yaml")
		os.WriteFile(chainFile, []byte("chain:\n  - {name: browsers, type: client}\n  - {name: edge, catalog: aws-alb}\n  - {name: web, type: server, config: "+tt.config+"}\n"), 0o644)
		c, err := gather.Chain(context.Background(), chainFile, gather.ChainOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.config, err)
		}
		d := c.Hops[2].Downstream
		if d.IdleTimeout.Value.String() != tt.idle || !strings.Contains(d.IdleTimeout.Source.Detail, tt.named) {
			t.Errorf("%s: idle %v (%+v), want %s from %s", tt.config, d.IdleTimeout.Value, d.IdleTimeout.Source, tt.idle, tt.named)
		}
		p, _ := profiles.Resolve("general")
		fs := rules.Run(&rules.Input{Chain: c, Profile: p}, rules.All())
		fired := false
		for _, f := range fs {
			if f.Rule == "KT701" {
				fired = true
				var text strings.Builder
				for _, e := range f.Evidence {
					text.WriteString(e.Source.String() + " ")
				}
				if !strings.Contains(f.Message+text.String(), tt.named) {
					t.Errorf("%s: KT701 does not name the server block: %s / %s", tt.config, f.Message, text.String())
				}
			}
		}
		if fired != (tt.idle == "5s") {
			t.Errorf("%s: KT701 fired=%v", tt.config, fired)
		}
	}
	// A selector that matches nothing lists the listeners there are.
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("chain:\n  - {name: c, type: client}\n  - {name: web, type: server, config: {file: "+conf+", server: nope.example.com}}\n"), 0o644)
	if _, err := gather.Chain(context.Background(), filepath.Join(dir, "bad.yaml"), gather.ChainOptions{}); err == nil || !strings.Contains(err.Error(), "api.example.com") {
		t.Errorf("bad selector: %v", err)
	}
}
