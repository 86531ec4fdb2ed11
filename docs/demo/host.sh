#!/bin/bash
# The README's audit host, rebuilt in a throw-away mount, network and PID namespace, so that
# its examples can be rerun (as root) without touching this machine's /etc or sysctls:
#
#   go build -o /tmp/kt/keeptune ./cmd/keeptune
#   sudo docs/demo/host.sh /tmp/kt keeptune audit --all-netns --profile api-gateway
#
# The first argument is the directory holding the keeptune binary; the rest is the command to
# run inside. Inside: /etc, /var/lib and /var/log are overlays whose writes vanish with the
# namespace, /run is an empty tmpfs and /usr/lib/sysctl.d is hidden (the distribution's files
# there set global keys such as kernel.pid_max, which no network namespace can keep to
# itself); the new network namespace stands in for the host's. In it:
#   - two operators' sysctl.d files that disagree (60-net-tuning.conf sets 600/30/5,
#     80-legacy-db.conf sets idle 1800), applied with sysctl --system;
#   - orders-api, a Go service with the default dialer (listens on 127.0.0.1:8081 and holds one
#     connection to itself), nofile 20000;
#   - a network namespace demo-app (ip netns add, as a container runtime would make one) with a
#     Python HTTP server on 127.0.0.1:8080;
#   - with DEMO_TRAFFIC=1, a Python HTTP server on 127.0.0.1:8000 and a client polling it
#     about 8 times a second (the canary's traffic).
# Debian's nginx, HAProxy, Apache, PgBouncer, PostgreSQL and Redis packages, where installed,
# leave their configurations under /etc, which audit finds. Everything is removed on exit.
set -euo pipefail
if [ -z "${KEEPTUNE_DEMO_INSIDE:-}" ]; then
  [ $# -ge 2 ] || { echo "usage: sudo $0 DIR-WITH-KEEPTUNE COMMAND [ARGS...]" >&2; exit 2; }
  [ -x "$1/keeptune" ] || { echo "error: $1/keeptune: no such binary (go build -o $1/keeptune ./cmd/keeptune)" >&2; exit 2; }
  dir=$(cd "$1" && pwd); shift
  # The demo programs are built before entering (they need the network for nothing, but go
  # may want the module cache under the real /root).
  # sudo's secure_path often leaves Go's directory out.
  go=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$go" ] || { echo "error: no go binary in PATH or /usr/local/go/bin (the demo builds a small Go program)" >&2; exit 2; }
  work=$(mktemp -d /tmp/keeptune-demo.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/orders-api"
  cat > "$work/orders-api/main.go" <<'GO'
// orders-api: a Go service with the default dialer (Go puts 15s/15s/9 on every socket).
package main

import (
	"net"
	"time"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:8081")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { b := make([]byte, 1); c.Read(b) }()
		}
	}()
	c, err := net.Dial("tcp", "127.0.0.1:8081")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	time.Sleep(24 * time.Hour)
}
GO
  printf 'module ordersapi\n\ngo 1.23\n' > "$work/orders-api/go.mod"
  (cd "$work/orders-api" && "$go" build -o "$work/orders-api/orders-api" .)
  KEEPTUNE_DEMO_INSIDE=1 KEEPTUNE_DEMO_BIN="$dir" KEEPTUNE_DEMO_WORK="$work" \
    unshare --mount --net --pid --fork --mount-proc --propagation private bash "$0" "$@"
  exit $?
fi

mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock && chmod 1777 /run/lock
scratch=/run/keeptune-demo; mkdir -p $scratch
i=0
for d in /etc /var/lib /var/log; do
  mkdir -p $scratch/$i-upper $scratch/$i-work
  mount -t overlay overlay -o lowerdir=$d,upperdir=$scratch/$i-upper,workdir=$scratch/$i-work $d
  i=$((i+1))
done
mount -t tmpfs tmpfs /usr/lib/sysctl.d
ip link set lo up

printf '# platform team: network tuning\nnet.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\nnet.ipv4.tcp_keepalive_probes = 5\n' > /etc/sysctl.d/60-net-tuning.conf
printf '# legacy database: long-lived idle connections\nnet.ipv4.tcp_keepalive_time = 1800\n' > /etc/sysctl.d/80-legacy-db.conf
chmod 644 /etc/sysctl.d/60-net-tuning.conf
chmod 640 /etc/sysctl.d/80-legacy-db.conf
touch -d '2025-03-14 09:26:53 UTC' /etc/sysctl.d/60-net-tuning.conf /etc/sysctl.d/80-legacy-db.conf
sysctl --system >/dev/null

ulimit -n 20000
ip netns add demo-app
ip netns exec demo-app ip link set lo up
ip netns exec demo-app python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 &
cp "$KEEPTUNE_DEMO_WORK/orders-api/orders-api" /run/keeptune-demo/orders-api
/run/keeptune-demo/orders-api &
if [ "${DEMO_TRAFFIC:-}" = 1 ]; then
  python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 &
  sleep 0.5
  (while :; do curl -s -o /dev/null http://127.0.0.1:8000/ || true; sleep 0.1; done) &
fi
# Wait until the servers listen (127.0.0.1:8080 in demo-app, :8081 and :8000 here; hex in
# /proc/net/tcp, state 0A is LISTEN), so that every run sees the same sockets.
listening() { grep -q "0100007F:$1 00000000:0000 0A" /proc/net/tcp; }
for _ in $(seq 100); do
  if ip netns exec demo-app grep -q "0100007F:1F90 00000000:0000 0A" /proc/net/tcp && listening 1F91 &&
     { [ "${DEMO_TRAFFIC:-}" != 1 ] || listening 1F40; }; then
    break
  fi
  sleep 0.1
done
sleep 0.5
export PATH="$KEEPTUNE_DEMO_BIN:$PATH"
exec "$@"
