package nginx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/keeptune/keeptune/internal/cli"
	"github.com/keeptune/keeptune/internal/configs/nginx"
)

// TestDebianDefaultConfigLints runs `keeptune lint` on the nginx configuration the distribution
// installed (/etc/nginx/nginx.conf with its includes: modules-enabled, mime.types,
// sites-enabled/default): it must parse, produce no error finding, and report the keep-alive
// nginx really uses. Debian 12's file sets no keepalive_timeout (older Debian releases wrote
// 65), so nginx's documented default of 75 s applies; if the file sets one, that is the value.
func TestDebianDefaultConfigLints(t *testing.T) {
	const conf = "/etc/nginx/nginx.conf"
	if _, err := os.Stat(conf); err != nil {
		t.Skip("nginx is not installed (no /etc/nginx/nginx.conf): apt-get install nginx")
	}
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), []string{"lint", "-o", "json", "--fail-on", "error", conf}, cli.IO{Out: &out, Err: &errb})
	if code != 0 {
		t.Fatalf("keeptune lint %s: exit %d\n%s\n%s", conf, code, errb.String(), out.String())
	}
	var report struct {
		Configs []struct {
			Format     string   `json:"format"`
			Files      []string `json:"files"`
			Downstream struct {
				Idle struct {
					Value  float64 `json:"value"`
					Known  bool    `json:"known"`
					Source struct {
						Kind, File string
						Line       int
					} `json:"source"`
				} `json:"idle_timeout_s"`
			} `json:"downstream"`
		} `json:"configs"`
		Findings []struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(report.Configs) != 1 || report.Configs[0].Format != "nginx" {
		t.Fatalf("configs %+v", report.Configs)
	}
	c := report.Configs[0]
	t.Logf("files read: %v; findings: %+v", c.Files, report.Findings)
	for _, f := range report.Findings {
		if f.Severity == "error" {
			t.Errorf("error finding on the distribution's own configuration: %+v", f)
		}
	}
	parsed, err := nginx.Parse(os.DirFS("/"), conf)
	if err != nil {
		t.Fatal(err)
	}
	want, line := 75.0, 0
	if kt := parsed.DefaultServer().Get("keepalive_timeout"); kt != nil {
		d, _ := nginx.Duration(kt, 0, false)
		want, line = d.Seconds(), kt.Line
	}
	idle := c.Downstream.Idle
	t.Logf("downstream idle timeout %v s from %+v", idle.Value, idle.Source)
	if !idle.Known || idle.Value != want || idle.Source.Line != line {
		t.Errorf("idle timeout %+v, want %v s (line %d)", idle, want, line)
	}
}
