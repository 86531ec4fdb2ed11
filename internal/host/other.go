//go:build !linux

package host

import (
	"errors"
)

// keeptune reads Linux's /proc; on other systems the package builds (so that the CLI and the
// library compile everywhere) but reads nothing beyond plain files under an injected root.

var errNotLinux = errors.New("network namespaces and /proc descriptor tables exist only on Linux")

func fileInode(string) (uint64, error) { return 0, errNotLinux }

func isNsfs(string) bool { return false }

func exeKey(string) string { return "" }
