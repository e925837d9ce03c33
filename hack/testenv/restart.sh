#!/usr/bin/env bash
# Restarts one program of the running testenv (e.g. kube-apiserver) with the command up.sh used,
# for tests of how clients survive a restart. Waits until the API server is ready again.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
name=${1:?usage: restart.sh <etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kwok>}
[ -f "$dir/cmd/$name" ] || { echo "restart.sh: $name was not started by up.sh" >&2; exit 1; }
pid=$(cat "$dir/pids/$name.pid")
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$pid" 2>/dev/null || true
setsid bash -c "exec $(cat "$dir/cmd/$name")" >>"$dir/logs/$name.log" 2>&1 </dev/null &
echo $! >"$dir/pids/$name.pid"
deadline=$((SECONDS + 60))
until "$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "restart.sh: API server not ready after 60s" >&2; exit 1; }
  sleep 0.2
done
echo "testenv: restarted $name" >&2
