package apply

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keeptune/keeptune/internal/netns"
)

// Netns names a network namespace: Path is a namespace file (/run/netns/NAME,
// /proc/PID/ns/net), empty for keeptune's own namespace (the host's, normally). Inode, when not
// zero, must match: it guards against a /proc/PID path whose process was replaced.
type Netns struct {
	Path  string `json:"path,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
}

func (n Netns) String() string {
	if n.Path == "" {
		return "this namespace"
	}
	return n.Path
}

// Sysctls reads and writes live sysctls in a namespace. The real one (ProcSysctls) enters the
// namespace; tests of the journal logic give a map.
type Sysctls interface {
	Read(ns Netns, key string) (string, error)
	Write(ns Netns, key, value string) error
}

// ProcSysctls reads and writes /proc/sys inside each namespace. /proc/sys/net shows the
// namespace of the thread that opens it, so each access runs on a thread that joined ns.
type ProcSysctls struct{}

func keyPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// normalize makes a value comparable: /proc/sys separates the numbers of a multi-value key with
// tabs, sysctl.d files and plans with spaces.
func normalize(v string) string { return strings.Join(strings.Fields(v), " ") }

// Read returns the key's value in ns.
func (ProcSysctls) Read(ns Netns, key string) (string, error) {
	var v string
	err := enterNetns(ns.Path, ns.Inode, func() error {
		b, err := os.ReadFile(keyPath(key))
		v = normalize(string(b))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read %s in %s: %w", key, ns, err)
	}
	return v, nil
}

// Write sets the key's value in ns.
func (ProcSysctls) Write(ns Netns, key, value string) error {
	err := enterNetns(ns.Path, ns.Inode, func() error {
		f, err := os.OpenFile(keyPath(key), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(value); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("set %s = %s in %s: %w", key, value, ns, err)
	}
	return nil
}

// enterNetns runs fn in the namespace (here when path is empty), refusing a namespace whose
// inode is not the recorded one.
func enterNetns(path string, inode uint64, fn func() error) error {
	if path == "" {
		return fn()
	}
	return netns.DoInode(path, inode, fn)
}
