package testutil

import (
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// PingPong is traffic for canary tests: it serves short request/response connections ("ping",
// then "pong") on ln and opens one through dial every gap, until ctx ends. When reset is not nil
// and reports true, the server resets each connection it accepts (SO_LINGER 0) instead of
// answering, as a server that cannot cope with a change would. ln is closed when ctx ends; the
// returned wait blocks until both the server and the client loop have returned.
func PingPong(ctx context.Context, ln net.Listener, dial func(context.Context) (net.Conn, error), gap time.Duration, reset func() bool) (wait func()) {
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if reset != nil && reset() {
					if tc, ok := c.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
					c.Close()
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := io.ReadFull(c, make([]byte, 4)); err == nil {
					_, _ = c.Write([]byte("pong"))
				}
			}()
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			c, err := dial(dctx)
			cancel()
			if err != nil {
				continue
			}
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("ping")); err == nil {
				_, _ = io.ReadFull(c, make([]byte, 4))
			}
			c.Close()
		}
	}()
	return wg.Wait
}
