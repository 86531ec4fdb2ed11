package sockets

import (
	"testing"

	"github.com/keeptune/keeptune/internal/netns"
)

// TestHostNameWithoutProc1: the initial namespace is "host" even when /proc/1/ns/net cannot be
// read (not root), as namespaceNames leaves it out then.
func TestHostNameWithoutProc1(t *testing.T) {
	names := map[uint64]string{}
	if got := netns.Label(names[netns.InitInode], netns.InitInode); got != "host" {
		t.Errorf("label of init = %q", got)
	}
	if got := netns.Label(names[4026532999], 4026532999); got != "net:[4026532999]" {
		t.Errorf("label of other = %q", got)
	}
}
