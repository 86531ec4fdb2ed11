package gather

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/model"
	"github.com/keeptune/keeptune/internal/testutil"
)

const rootNginx = `events {}
http {
    keepalive_timeout 17s;
    server {
        listen 80 so_keepalive=30s:5s:4;
    }
}
`

// writeChain writes a chain file outside the root, whose proxy hop names the root's nginx.conf.
func writeChain(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keeptune.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const nginxChain = `chain:
  - {name: clients, type: client}
  - name: nginx
    type: proxy
    config: /etc/nginx/nginx.conf
    upstream: {pools: true}
  - {name: app, type: server, runtime: node}
`

// TestHostReadsChainConfigUnderRoot: a hop's config: /etc/nginx/nginx.conf is read under
// --root, not from the machine's /etc, and the file discovered at nginx's default path and
// named by the hop is read once.
func TestHostReadsChainConfigUnderRoot(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{Files: map[string]string{"etc/nginx/nginx.conf": rootNginx}})
	w, err := Host(context.Background(), Options{Root: root, Chain: writeChain(t, nginxChain), NoSockets: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Chain == nil {
		t.Fatalf("no chain; problems %+v", w.Snapshot.Problems)
	}
	down := w.Chain.Hops[1].Downstream
	if !down.IdleTimeout.Known || down.IdleTimeout.Value != 17*time.Second || down.IdleTimeout.Source.Kind != model.SourceConfig {
		t.Errorf("nginx downstream idle = %+v, want 17s from the root's nginx.conf", down.IdleTimeout)
	}
	if !strings.HasSuffix(down.IdleTimeout.Source.File, "etc/nginx/nginx.conf") {
		t.Errorf("source file %q", down.IdleTimeout.Source.File)
	}
	if up := w.Chain.Hops[1].Upstream; !up.Pools.Known || !up.Pools.Value || up.Pools.Source.Kind != model.SourceChainFile {
		t.Errorf("the hop's own value must win over the configuration: pools %+v", up.Pools)
	}
	n := 0
	for _, c := range w.Configs {
		if c.Format == "nginx" {
			n++
			// Found at the default path and named by the hop: the rules must know the chain
			// places it (KT840 judges a file the chain names differently).
			if c.Hop != "nginx" {
				t.Errorf("nginx.conf's hop = %q, want nginx", c.Hop)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d nginx configurations in the world, want the one file once", n)
	}
}

// TestHostChainConfigMissingUnderRoot: the machine's own /etc/nginx/nginx.conf (if any) must not
// stand in for a root that has none; with an explicit chain that is bad input at the config line.
func TestHostChainConfigMissingUnderRoot(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{})
	chainFile := writeChain(t, nginxChain)
	_, err := Host(context.Background(), Options{Root: root, Chain: chainFile, NoSockets: true})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), chainFile+":5:") || !strings.Contains(err.Error(), "config /etc/nginx/nginx.conf") {
		t.Errorf("err = %v, want ErrInput at %s:5 naming the config", err, chainFile)
	}
}

func TestHostImplicitChainThatDoesNotParseIsAProblem(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keeptune.yaml"), []byte("chain:\n  - {name: c, type: clint}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	w, err := Host(context.Background(), Options{Root: root, FindChain: true, NoSockets: true, NoConfigs: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Chain != nil {
		t.Error("a chain that does not parse was resolved")
	}
	found := false
	for _, p := range w.Snapshot.Problems {
		if strings.Contains(p.What, "keeptune.yaml") && strings.Contains(p.Err, `keeptune.yaml:2:21: unknown type "clint"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem naming keeptune.yaml:2:21; problems %+v", w.Snapshot.Problems)
	}
	// Named explicitly, the same file is bad input.
	_, err = Host(context.Background(), Options{Root: root, Chain: "keeptune.yaml", NoSockets: true, NoConfigs: true})
	if !errors.Is(err, ErrInput) {
		t.Errorf("explicit chain: err = %v, want ErrInput", err)
	}
}

func TestHostCancelled(t *testing.T) {
	root := testutil.FakeRoot(t, testutil.Host{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Host(ctx, Options{Root: root}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
