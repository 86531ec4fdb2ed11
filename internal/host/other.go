//go:build !linux

package host

import (
	"errors"
	"os"
	"strings"
)

// keeptune reads Linux's /proc; on other systems the package builds (so that the CLI and the
// library compile everywhere) but reads nothing beyond plain files under an injected root.

var errNotLinux = errors.New("network namespaces and /proc descriptor tables exist only on Linux")

func fileInode(string) (uint64, error) { return 0, errNotLinux }

func isNsfs(string) bool { return false }

func exeKey(string) string { return "" }

// fdScanner falls back to os.ReadDir and os.Readlink.
type fdScanner struct{}

func (s *fdScanner) scan(dir string, inodes []uint64) ([]uint64, int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return inodes, 0, err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		if ino, ok := socketInode([]byte(link)); ok {
			inodes = append(inodes, ino)
		}
	}
	return inodes, len(ents), nil
}
