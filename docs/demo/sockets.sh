#!/bin/bash
# The README's two `keeptune sockets` examples, rerun (as root) in a throw-away network and PID
# namespace (loopback only; everything is removed on exit):
#
#   go build -o /tmp/kt/keeptune ./cmd/keeptune
#   sudo docs/demo/sockets.sh /tmp/kt
#
# 1. orders-worker, a Go program that leaks one connection in CLOSE_WAIT (its peer closed, it
#    never does), keeps one idle without keepalive and one with Go's default dialer; after 75 s
#    (past the 60 s of close-wait-leak): keeptune sockets --port 7070 --deep.
# 2. a Python server that accepts a connection and never reads it; the client sends 20 bytes
#    and shuts its side down; after 5 s: keeptune sockets --port 18081 --sort state.
set -euo pipefail
if [ -z "${KEEPTUNE_DEMO_INSIDE:-}" ]; then
  [ $# -eq 1 ] && [ -x "$1/keeptune" ] || { echo "usage: sudo $0 DIR-WITH-KEEPTUNE" >&2; exit 2; }
  dir=$(cd "$1" && pwd)
  # sudo's secure_path often leaves Go's directory out.
  go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go" ] || { echo "error: no go binary in PATH or /usr/local/go/bin (the demo builds a small Go program)" >&2; exit 2; }
  work=$(mktemp -d /tmp/keeptune-demo.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  cat > "$work/main.go" <<'GO'
// orders-worker: leaks one connection in CLOSE_WAIT (the peer closed, this side never does),
// keeps one idle without keepalive and one with Go's default dialer (15s/15s/9).
package main

import (
	"context"
	"net"
	"time"
)

func main() {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:7070")
	if err != nil {
		panic(err)
	}
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	noKeepalive := &net.Dialer{KeepAlive: -1}
	leak, err := noKeepalive.Dial("tcp", "127.0.0.1:7070")
	if err != nil {
		panic(err)
	}
	(<-accepted).Close() // the server side closes; the client never reads or closes: CLOSE_WAIT
	idle, err := noKeepalive.Dial("tcp", "127.0.0.1:7070")
	if err != nil {
		panic(err)
	}
	kept := []net.Conn{leak, idle, <-accepted}
	withDefault, err := (&net.Dialer{}).Dial("tcp", "127.0.0.1:7070")
	if err != nil {
		panic(err)
	}
	kept = append(kept, withDefault, <-accepted)
	time.Sleep(24 * time.Hour)
	_ = kept
}
GO
  printf 'module ordersworker\n\ngo 1.23\n' > "$work/go.mod"
  (cd "$work" && "$go" build -o "$work/orders-worker" .)
  KEEPTUNE_DEMO_INSIDE=1 KEEPTUNE_DEMO_BIN="$dir" KEEPTUNE_DEMO_WORK="$work" \
    unshare --net --pid --fork --mount-proc bash "$0"
  exit $?
fi

ip link set lo up
export PATH="$KEEPTUNE_DEMO_BIN:$PATH"
"$KEEPTUNE_DEMO_WORK/orders-worker" &
sleep 75
echo '$ sudo keeptune sockets --port 7070 --deep'
keeptune sockets --port 7070 --deep
kill %1

python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18081)); s.listen(128)
c, _ = s.accept(); time.sleep(3600)' &
sleep 0.5
python3 -c '
import socket, time
c = socket.create_connection(("127.0.0.1", 18081)); c.sendall(b"GET / HTTP/1.0\r\n\r\n\r\n"); c.shutdown(socket.SHUT_WR); time.sleep(3600)' &
sleep 5
echo
echo '$ keeptune sockets --port 18081 --sort state'
keeptune sockets --port 18081 --sort state
kill %2 %3
