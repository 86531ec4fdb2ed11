package exporter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckWebConfigRefusesBadConfigs(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"password not a bcrypt hash", "basic_auth_users:\n  alice: secret\n", "bcrypt"},
		{"missing certificate", "tls_server_config:\n  cert_file: /nonexistent/keeptune.crt\n  key_file: /nonexistent/keeptune.key\n", "nonexistent"},
		{"unknown key", "basic_auth_user:\n  alice: x\n", "basic_auth_user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWebConfig(writeFile(t, "web.yml", tt.config))
			if !errors.Is(err, ErrWebConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrWebConfig mentioning %q", err, tt.want)
			}
		})
	}
	if err := CheckWebConfig(filepath.Join(t.TempDir(), "missing.yml")); !errors.Is(err, ErrWebConfig) {
		t.Fatalf("missing file: err = %v", err)
	}
}

// Serve with basic auth: no password, no metrics; the right one gets them; a wrong one does
// not. Cancelling the context shuts the server down and Serve returns nil.
func TestServeBasicAuthAndShutdown(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "web.yml", "basic_auth_users:\n  prometheus: "+string(hash)+"\n")
	e, err := New(Options{AuditInterval: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.Serve(ctx, ServeOptions{Listen: "127.0.0.1:0", WebConfigFile: cfg, Ready: func(a net.Addr) { addrc <- a }})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	}
	get := func(user, pass, path string) int {
		req, _ := http.NewRequest("GET", "http://"+addr.String()+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && path == "/metrics" && !strings.Contains(string(body), "keeptune_exporter_scrape_duration_seconds") {
			t.Errorf("metrics without keeptune_exporter_scrape_duration_seconds:\n%s", body)
		}
		if resp.StatusCode == 200 && path == "/" && !strings.Contains(string(body), "/metrics") {
			t.Errorf("landing page without a link to /metrics:\n%s", body)
		}
		return resp.StatusCode
	}
	if c := get("", "", "/metrics"); c != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, want 401", c)
	}
	if c := get("prometheus", "wrong", "/metrics"); c != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", c)
	}
	if c := get("prometheus", "s3cret", "/metrics"); c != 200 {
		t.Errorf("right password: status %d, want 200", c)
	}
	if c := get("prometheus", "s3cret", "/"); c != 200 {
		t.Errorf("landing page: status %d, want 200", c)
	}
	// Every link of the landing page leads somewhere (the toolkit adds pprof links by default).
	for _, link := range landingLinks(t, "http://"+addr.String()+"/", "prometheus", "s3cret") {
		if c := get("prometheus", "s3cret", link); c != 200 {
			t.Errorf("landing page links %s: status %d, want 200", link, c)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

// landingLinks returns the local href targets of the page at url.
func landingLinks(t *testing.T, url, user, pass string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var links []string
	for _, m := range regexp.MustCompile(`href="(/[^"]*)"`).FindAllStringSubmatch(string(body), -1) {
		links = append(links, m[1])
	}
	if len(links) == 0 {
		t.Fatalf("landing page without local links:\n%s", body)
	}
	return links
}

// A bad web configuration stops Serve before it listens.
func TestServeRefusesBadConfigBeforeListening(t *testing.T) {
	e, err := New(Options{AuditInterval: -1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	listened := false
	err = e.Serve(context.Background(), ServeOptions{Listen: "127.0.0.1:0",
		WebConfigFile: writeFile(t, "web.yml", "basic_auth_users:\n  alice: plain\n"),
		Ready:         func(net.Addr) { listened = true }})
	if !errors.Is(err, ErrWebConfig) || listened {
		t.Fatalf("err = %v, listened %v; want ErrWebConfig and no listener", err, listened)
	}
}
