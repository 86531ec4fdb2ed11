//go:build !linux

package procfd

import (
	"context"
	"errors"
)

// ErrUnsupported is returned outside Linux.
var ErrUnsupported = errors.New("descriptor tables under /proc exist only on Linux")

// Walk returns ErrUnsupported outside Linux.
func Walk(context.Context, Query) (*Index, error) { return nil, ErrUnsupported }
