#!/bin/bash
# The README's exporter scrape, rerun (as root) in a throw-away network and PID namespace
# (loopback only; everything is removed on exit):
#
#   go build -o /tmp/kt/keeptune ./cmd/keeptune
#   sudo docs/demo/exporter.sh /tmp/kt
#
# A Python server on 127.0.0.1:8080 accepts and keeps every connection, never closing one. A
# Python client opens five connections to it, turning keepalive on (idle 10 s, interval 10 s)
# on its end of two of them, and two more that it closes at once: the server's ends of those
# sit in CLOSE_WAIT. keeptune exporter runs beside them; after 100 s the script scrapes
# /metrics once and prints the lines the README shows.
set -euo pipefail
if [ -z "${KEEPTUNE_DEMO_INSIDE:-}" ]; then
  [ $# -eq 1 ] && [ -x "$1/keeptune" ] || { echo "usage: sudo $0 DIR-WITH-KEEPTUNE" >&2; exit 2; }
  KEEPTUNE_DEMO_INSIDE=1 KEEPTUNE_DEMO_BIN="$(cd "$1" && pwd)" unshare --net --pid --fork --mount-proc bash "$0"
  exit $?
fi
ip link set lo up
export PATH="$KEEPTUNE_DEMO_BIN:$PATH"
python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080)); s.listen(128)
held = []
while True:
    c, _ = s.accept(); held.append(c)' &
sleep 0.5
python3 -c '
import socket, time
keep = []
for i in range(5):
    c = socket.create_connection(("127.0.0.1", 8080))
    if i < 2:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
    keep.append(c)
for i in range(2):
    socket.create_connection(("127.0.0.1", 8080)).close()
time.sleep(3600)' &
keeptune exporter --listen 127.0.0.1:19877 --profile api-gateway 2>/dev/null &
sleep 100
curl -s http://127.0.0.1:19877/metrics | grep -E '^keeptune_(netns_info|sysctl\{key="net.ipv4.tcp_keepalive_time"|sockets_by_port\{[^}]*port="8080"|sockets_by_process\{[^}]*process="python3"|close_wait|established_idle_seconds_bucket\{keepalive="off",netns="[0-9]+",le="(60|350)"|tcp_keepalive_probes_total|tcp_aborts_on_(close|timeout)_total|audit_findings\{rule="KT101"|exporter_scrape_duration|exporter_series_dropped)'
kill %1 %2 %3
