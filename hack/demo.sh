#!/usr/bin/env bash
# `make demo`: the local control plane with the CRDs installed, every example applied, and the
# operator running against it. Leaves everything running and says how to look and how to stop.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export FLYWHEEL_TESTENV_DIR=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
dir=$FLYWHEEL_TESTENV_DIR
ns=flywheel-demo

hack/testenv/up.sh
kubectl=("$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig")

echo "== installing the CRDs"
"${kubectl[@]}" apply --server-side -f crds/
"${kubectl[@]}" wait --for=condition=Established --timeout=60s \
  crd/pipelines.flywheel.dev crd/pipelineruns.flywheel.dev crd/releases.flywheel.dev \
  crd/rollbackpolicies.flywheel.dev

echo "== applying examples/ into namespace $ns"
"${kubectl[@]}" create namespace "$ns" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
"${kubectl[@]}" apply --server-side -n "$ns" -f examples/
"${kubectl[@]}" create namespace flywheel-system --dry-run=client -o yaml | "${kubectl[@]}" apply -f -

echo "== starting the operator"
if [ -f "$dir/pids/flywheel.pid" ] && kill -0 "$(cat "$dir/pids/flywheel.pid")" 2>/dev/null; then
  kill "$(cat "$dir/pids/flywheel.pid")"
  sleep 1
fi
metrics_port=18080
health_port=18081
setsid build/flywheel controller --kubeconfig "$dir/kubeconfig" --leader-elect \
  --metrics-bind-address "127.0.0.1:$metrics_port" \
  --health-probe-bind-address "127.0.0.1:$health_port" \
  >"$dir/logs/flywheel.log" 2>&1 </dev/null &
echo $! >"$dir/pids/flywheel.pid"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$(cat "$dir/pids/flywheel.pid")" 2>/dev/null || { cat "$dir/logs/flywheel.log"; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null || { cat "$dir/logs/flywheel.log"; exit 1; }

echo
echo "== what is running"
"${kubectl[@]}" get nodes
echo
"${kubectl[@]}" get flywheel -n "$ns"
echo
echo "operator log ($dir/logs/flywheel.log):"
sed 's/^/  /' "$dir/logs/flywheel.log"
echo
echo "operator metrics (leader election, caches):"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^leader_election_master_status' | sed 's/^/  /'
cat <<MSG

The control plane and the operator keep running:
  kubectl:  $dir/bin/kubectl --kubeconfig $dir/kubeconfig get flywheel -A
  probes:   curl http://127.0.0.1:$health_port/readyz
  metrics:  curl http://127.0.0.1:$metrics_port/metrics
  logs:     $dir/logs/
Stop everything with: make testenv-down
MSG
