package redis

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	"github.com/keeptune/keeptune/internal/testutil"
)

// TestRedisAgreesOnDirectiveNames starts the real redis-server on each file (no port, a Unix
// socket in a temporary directory): it refuses the files keeptune refuses, at the same line,
// and keeps running on the one keeptune accepts.
func TestRedisAgreesOnDirectiveNames(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: redis-server)")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`v=(\d+\.\d+\.\d+)`).FindStringSubmatch(string(out))[1]
	at := regexp.MustCompile(`at line (\d+)`)
	for _, tt := range []struct {
		name, conf string
		refused    bool
	}{
		{"known", "tcp-keepalive 60\ntimeout 0\nslave-read-only yes\nlist-max-ziplist-entries 512\nrename-command FLUSHALL \"\"\n", false},
		{"misspelt", "timeout 0\ntcp-keepaliv 60\n", true},
		{"a later version's", "timeout 0\nhide-user-data-from-log yes\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "redis.conf")
			if err := os.WriteFile(conf, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, conf, "--port", "0", "--unixsocket", filepath.Join(dir, "s.sock"), "--save", "", "--dir", dir)
			var log strings.Builder
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			refused := false
			select {
			case <-done:
				refused = true
			case <-time.After(time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if refused != tt.refused {
				t.Fatalf("redis %s: refused=%v, want %v:\n%s", version, refused, tt.refused, log.String())
			}
			_, kerr := Parser{Version: version}.parse(testutil.MapFS(map[string]string{"redis.conf": tt.conf}), "redis.conf")
			if !tt.refused {
				if kerr != nil {
					t.Fatalf("keeptune refuses what redis %s accepts: %v", version, kerr)
				}
				return
			}
			m := at.FindStringSubmatch(log.String())
			var pe *configs.ParseError
			if m == nil || !errors.As(kerr, &pe) || strconv.Itoa(pe.Line) != m[1] {
				t.Errorf("keeptune: %v; redis %s:\n%s", kerr, version, log.String())
			}
		})
	}
}
