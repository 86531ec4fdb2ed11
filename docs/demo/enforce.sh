#!/bin/bash
# The README's `keeptune enforce` example, rerun (as root) in a throw-away network namespace
# (loopback only). It needs a machine without systemd (or one where
# /system.slice/legacy-billing.service does not exist): the unit's cgroup is made by hand where
# systemd puts it, in the cgroup v2 hierarchy, and removed at the end with every process in it;
# the policy is pinned under /sys/fs/bpf/keeptune and detached at the end.
#
#   go build -o /tmp/kt/keeptune ./cmd/keeptune
#   sudo docs/demo/enforce.sh /tmp/kt
#
# legacy-billing is a Python service that never sets keepalive: it accepts clients on 7070 and
# opens one connection to its database (127.0.0.1:5432, outside the unit) per client. One client
# connects before the policy, three after.
set -euo pipefail
if [ -z "${KEEPTUNE_DEMO_INSIDE:-}" ]; then
  [ $# -eq 1 ] && [ -x "$1/keeptune" ] || { echo "usage: sudo $0 DIR-WITH-KEEPTUNE" >&2; exit 2; }
  exec env KEEPTUNE_DEMO_INSIDE=1 unshare --net "$0" "$(cd "$1" && pwd)"
fi
kt="$1/keeptune"
ip link set lo up
v2=/sys/fs/cgroup/unified
[ -f "$v2/cgroup.procs" ] && grep -q cgroup2 <(stat -f -c %T "$v2") || v2=/sys/fs/cgroup
unit="$v2/system.slice/legacy-billing.service"
[ ! -e "$unit" ] || { echo "error: $unit exists (a real unit?): this demo makes its own" >&2; exit 2; }
[ ! -e /sys/fs/bpf/keeptune ] || { echo "error: /sys/fs/bpf/keeptune exists: something is enforced here already" >&2; exit 2; }
made_slice=
[ -d "$v2/system.slice" ] || made_slice=1
mkdir -p "$unit"
pids=()
cleanup() {
  "$kt" enforce detach >/dev/null 2>&1 || true
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$unit/cgroup.procs"
  sleep 0.2
  rmdir "$unit" 2>/dev/null || true
  [ -z "$made_slice" ] || rmdir "$v2/system.slice" 2>/dev/null || true
}
trap cleanup EXIT

python3 - <<'PY' &
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 5432)); l.listen(16)
held = []
while True:
    held.append(l.accept()[0])
PY
pids+=($!)
# The service starts inside the unit's cgroup.
bash -c 'echo $$ > "$1/cgroup.procs"; exec python3 -c "
import socket, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((\"127.0.0.1\", 7070)); l.listen(16)
held = []
while True:
    c, _ = l.accept()
    held.append((c, socket.create_connection((\"127.0.0.1\", 5432))))
"' _ "$unit" &
pids+=($!)
sleep 0.5
client() { python3 -c 'import socket, time; c = socket.create_connection(("127.0.0.1", 7070)); time.sleep(3600)' & pids+=($!); }
client
sleep 1
echo "\$ sudo keeptune enforce apply --unit legacy-billing.service --idle 60s --intvl 10s --probes 6 --user-timeout 2m --mode force"
"$kt" enforce apply --unit legacy-billing.service --idle 60s --intvl 10s --probes 6 --user-timeout 2m --mode force
client; client; client
sleep 1.1
echo
echo "\$ sudo keeptune enforce status"
"$kt" enforce status
svc=$(head -1 "$unit/cgroup.procs")
echo
echo "\$ sudo keeptune sockets --deep --pid $svc --state established"
"$kt" sockets --deep --pid "$svc" --state established
echo
echo "\$ sudo keeptune enforce detach --unit legacy-billing.service"
"$kt" enforce detach --unit legacy-billing.service
