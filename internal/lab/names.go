package lab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// Prefix starts the name of every namespace, veth, nftables table and lock file a lab
// creates. Cleanup finds leftovers by it.
const Prefix = "keeptune-"

// runIDLen is the number of hex digits in a run id. Interface names are limited to 15 bytes
// (IFNAMSIZ-1): "keeptune-" (9) + 5 digits + a one-letter role fits exactly.
const runIDLen = 5

// Where a lab keeps its files. Variables so that tests of the naming rules need no root.
var (
	netnsDir = "/run/netns" // where `ip netns` looks: namespaces created here show in `ip netns list`
	lockDir  = "/run"
)

// Role names a node in a topology.
type Role string

// The roles of the nodes.
const (
	RoleClient    Role = "client"
	RoleServer    Role = "server"
	RoleMiddlebox Role = "mbox"
)

func newRunID() (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lab: make a run id: %w", err)
	}
	return hex.EncodeToString(b)[:runIDLen], nil
}

// nsName is the name of a node's namespace under /run/netns: keeptune-1a2b3-client.
func nsName(runID string, r Role) string { return Prefix + runID + "-" + string(r) }

// vethName is an interface name: keeptune-1a2b3c. The letter says which end it is.
func vethName(runID string, end byte) string { return Prefix + runID + string(end) }

// tableName is the nftables table a lab creates in each of its namespaces.
func tableName(runID string) string { return Prefix + runID }

func lockPath(runID string) string { return filepath.Join(lockDir, Prefix+runID+".lock") }

// runIDOf returns the run id in a name created by this package ("keeptune-1a2b3-client",
// "keeptune-1a2b3c", "keeptune-1a2b3.lock"), or "" when name is not one of ours.
func runIDOf(name string) string {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok || len(rest) < runIDLen {
		return ""
	}
	id := rest[:runIDLen]
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	switch tail := rest[runIDLen:]; {
	case tail == "", tail == ".lock", tail == ".lock.new", strings.HasPrefix(tail, "-"), len(tail) == 1:
		return id
	}
	return ""
}
