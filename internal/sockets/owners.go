package sockets

import (
	"context"

	"github.com/keeptune/keeptune/internal/procfd"
)

// Process attribution is the shared descriptor walk of internal/procfd; these names keep the
// package's API.
type (
	// Owners maps socket inodes to the processes holding them.
	Owners = procfd.Index
	// OwnerQuery says which processes to walk and which inodes to look for.
	OwnerQuery = procfd.Query
	// OwnerStats is what the process walk did.
	OwnerStats = procfd.Stats
	// Process is a process holding a socket.
	Process = procfd.Process
)

// IndexOwners walks processes' descriptor tables (procfd.Walk).
func IndexOwners(ctx context.Context, q OwnerQuery) (*Owners, error) { return procfd.Walk(ctx, q) }
