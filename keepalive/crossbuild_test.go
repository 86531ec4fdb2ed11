package keepalive_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestBuildsOnEveryPlatform cross-compiles the package for the platforms it promises, so a
// Linux-only call slipping into a shared file fails CI rather than a user's build.
func TestBuildsOnEveryPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiling takes a while; skipped with -short")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skipf("no go toolchain at %s to cross-compile with", gobin)
	}
	for _, goos := range []string{"darwin", "windows", "freebsd", "openbsd"} {
		t.Run(goos, func(t *testing.T) {
			cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s go build ./keepalive: %v\n%s", goos, err, out)
			}
		})
	}
}
