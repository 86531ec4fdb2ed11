package cli

import (
	"crypto/sha256"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keeptune/keeptune/internal/apply"
)

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

func liveValue(t *testing.T, ns, key string) string {
	t.Helper()
	v, err := apply.ProcSysctls{}.Read(apply.Netns{Path: ns}, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func setLive(t *testing.T, ns, key, value string) {
	t.Helper()
	if err := (apply.ProcSysctls{}).Write(apply.Netns{Path: ns}, key, value); err != nil {
		t.Fatal(err)
	}
}

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

var _ = os.Getpid

func liveReader(ns, key string) (string, error) {
	return apply.ProcSysctls{}.Read(apply.Netns{Path: ns}, key)
}
