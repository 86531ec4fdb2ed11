package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A web configuration the exporter cannot honour is a usage error at start (exit 2) naming the
// problem, never an endpoint served without the protection asked for.
func TestExporterBadWebConfig(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]string{
		"bad-hash.yml":     "basic_auth_users:\n  prometheus: not-a-hash\n",
		"missing-cert.yml": "tls_server_config:\n  cert_file: " + filepath.Join(dir, "none.crt") + "\n  key_file: " + filepath.Join(dir, "none.key") + "\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		code := Run(context.Background(), []string{"exporter", "--listen", "127.0.0.1:0", "--web.config.file", p}, IO{Out: io.Discard, Err: &stderr})
		if code != ExitUsage || !strings.Contains(stderr.String(), "invalid web configuration") || !strings.Contains(stderr.String(), "hint:") {
			t.Errorf("%s: exit %d, stderr %q; want %d with the error and a hint", name, code, stderr.String(), ExitUsage)
		}
	}
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"exporter", "--chain", filepath.Join(dir, "missing.yaml")}, IO{Out: io.Discard, Err: &stderr}); code != ExitUsage {
		t.Errorf("--chain missing.yaml: exit %d, want %d (%s)", code, ExitUsage, stderr.String())
	}
	stderr.Reset()
	if code := Run(context.Background(), []string{"exporter", "--ports", "http"}, IO{Out: io.Discard, Err: &stderr}); code != ExitUsage {
		t.Errorf("--ports http: exit %d, want %d (%s)", code, ExitUsage, stderr.String())
	}
}
