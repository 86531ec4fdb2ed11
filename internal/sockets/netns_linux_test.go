package sockets

import (
	"testing"

	"github.com/keeptune/keeptune/internal/netns"
)

// TestHostNameWithoutProc1: the initial namespace is "host" even when /proc/1/ns/net cannot be
// read (not root).
func TestHostNameWithoutProc1(t *testing.T) {
	if got := nsName(map[uint64]string{}, netns.InitInode); got != "host" {
		t.Errorf("nsName(init) = %q", got)
	}
	if got := nsName(map[uint64]string{}, 4026532999); got != "net:[4026532999]" {
		t.Errorf("nsName(other) = %q", got)
	}
}
