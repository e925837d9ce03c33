#!/usr/bin/env bash
# Stops every process `up.sh` started (by PID, in reverse start order) and removes its state: the
# real node first (node-clean.sh: kubelet, containers, containerd, mounts, bridge, cgroups).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
[ -d "$dir/pids" ] || exit 0
"$here/node-clean.sh" "$dir"
for name in load hello-targets flywheel-targets prometheus flywheel notify-receiver git-app \
  git-manifests git-daemon-pods git-daemon kwok kube-scheduler \
  kube-controller-manager kube-apiserver etcd api-pods registry-pods registry; do
  f=$dir/pids/$name.pid
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
done
rm -rf "$dir"
echo "testenv: stopped" >&2
