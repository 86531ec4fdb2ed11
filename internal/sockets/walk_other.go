//go:build !linux

package sockets

import "context"

// Walk needs Linux: elsewhere it returns ErrUnsupported.
func Walk(ctx context.Context, opts Options, fn func(*Socket) error) error {
	return ErrUnsupported
}
