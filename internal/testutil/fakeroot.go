// Package testutil builds fake host trees for tests: a directory that looks like / to code that
// reads through an injected root (proc/sys, proc/PID, etc/sysctl.d).
package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// KernelDefaults are the per-namespace values a fresh network namespace starts with, plus the
// global keys, as a kernel 6.x host shows them.
var KernelDefaults = map[string]string{
	"net.ipv4.tcp_keepalive_time":   "7200",
	"net.ipv4.tcp_keepalive_intvl":  "75",
	"net.ipv4.tcp_keepalive_probes": "9",
	"net.ipv4.tcp_retries2":         "15",
	"net.ipv4.tcp_fin_timeout":      "60",
	"net.ipv4.tcp_syn_retries":      "6",
	"net.core.somaxconn":            "4096",
	"net.ipv4.tcp_max_syn_backlog":  "4096",
	"fs.file-max":                   "9223372036854775807",
	"fs.nr_open":                    "1048576",
	"kernel.osrelease":              "6.18.0-test",
	"kernel.hostname":               "fakehost",
}

// Host describes a fake host.
type Host struct {
	// Sysctls override KernelDefaults (dotted keys; "" removes a key).
	Sysctls map[string]string
	// Files are written relative to the root ("etc/sysctl.d/60-x.conf": content).
	Files map[string]string
	// Symlinks are created relative to the root (link: target).
	Symlinks map[string]string
}

// FakeRoot writes h under a temporary directory and returns its path. The current process is
// PID 100 in the host network namespace (4026531833, the fixed init_net inode since Linux 6.18) (proc/self -> 100).
func FakeRoot(t testing.TB, h Host) string {
	t.Helper()
	root := t.TempDir()
	values := map[string]string{}
	for k, v := range KernelDefaults {
		values[k] = v
	}
	for k, v := range h.Sysctls {
		values[k] = v
	}
	for k, v := range values {
		if v == "" {
			continue
		}
		write(t, filepath.Join(root, "proc/sys", strings.ReplaceAll(k, ".", "/")), v+"\n")
	}
	write(t, filepath.Join(root, "proc/100/comm"), "keeptune\n")
	link(t, "net:[4026531833]", filepath.Join(root, "proc/100/ns/net"))
	link(t, "100", filepath.Join(root, "proc/self"))
	write(t, filepath.Join(root, "proc/1/comm"), "init\n")
	link(t, "net:[4026531833]", filepath.Join(root, "proc/1/ns/net"))
	for name, content := range h.Files {
		write(t, filepath.Join(root, name), content)
	}
	for name, target := range h.Symlinks {
		link(t, target, filepath.Join(root, name))
	}
	return root
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t testing.TB, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
