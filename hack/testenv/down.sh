#!/usr/bin/env bash
# Stops every process `up.sh` started (by PID) and removes its state: the real node first
# (node-clean.sh: kubelet, containers, containerd, mounts, bridge, cgroups), then the rest together.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
[ -d "$dir/pids" ] || exit 0
"$here/node-clean.sh" "$dir"
# Every other process gets SIGTERM at once (each takes about 2 s to finish; one after another
# that was 13 s without the real node, 23 s with it), then SIGKILL after 5 s if still there.
pids=()
for name in load hello-targets flywheel-targets prometheus flywheel notify-receiver git-app \
  git-manifests git-daemon-pods git-daemon kwok kube-scheduler \
  kube-controller-manager kube-apiserver etcd api-pods registry-pods registry; do
  f=$dir/pids/$name.pid
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); fi
  rm -f "$f"
done
for _ in $(seq 50); do
  alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  [ ${#alive[@]} -gt 0 ] || break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
rm -rf "$dir"
echo "testenv: stopped" >&2
