//go:build !linux

package drill

import (
	"context"

	"github.com/keeptune/keeptune/internal/lab"
)

// Drills need Linux network namespaces; elsewhere every scenario fails with lab.ErrUnsupported.

func runDeadPeer(ctx context.Context, e *env) ([]Run, error)    { return nil, lab.ErrUnsupported }
func runUnacked(ctx context.Context, e *env) ([]Run, error)     { return nil, lab.ErrUnsupported }
func runNATExpiry(ctx context.Context, e *env) ([]Run, error)   { return nil, lab.ErrUnsupported }
func runZombieFlood(ctx context.Context, e *env) ([]Run, error) { return nil, lab.ErrUnsupported }
func runHTTPRace(ctx context.Context, e *env) ([]Run, error)    { return nil, lab.ErrUnsupported }
