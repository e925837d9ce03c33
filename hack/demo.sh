#!/usr/bin/env bash
# `make demo`: the local control plane with the CRDs installed, the examples applied, a local git
# server with a sample manifest repository, the operator running against it with a Release that
# syncs that repository, and a pushed change arriving in the cluster. Leaves everything running
# and says how to look and how to stop.
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

echo "== applying examples/ into namespace $ns (the Release examples point at example hosts: the"
echo "   demo makes its own Release below)"
"${kubectl[@]}" create namespace "$ns" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
for f in examples/*.yaml; do
  case "$f" in examples/release*) continue ;; esac
  "${kubectl[@]}" apply --server-side -n "$ns" -f "$f"
done

echo "== a local git server with a sample manifest repository"
git_dir=$dir/git
git_port=19418
mkdir -p "$git_dir"
if [ ! -d "$git_dir/demo.git" ]; then
  git init -q --bare -b main "$git_dir/demo.git"
  git clone -q "$git_dir/demo.git" "$git_dir/work" 2>/dev/null
  mkdir -p "$git_dir/work/app"
  cp hack/demo-repo/app/*.yaml "$git_dir/work/app/"
  git -C "$git_dir/work" add -A
  git -C "$git_dir/work" -c user.name=Demo -c user.email=demo@flywheel.dev commit -q -m "hello v1"
  git -C "$git_dir/work" push -q origin main
fi
if ! { [ -f "$dir/pids/git-daemon.pid" ] && kill -0 "$(cat "$dir/pids/git-daemon.pid")" 2>/dev/null; }; then
  # receive-pack on: a rollback pushes its revert commit (git:// has no auth: loopback only).
  setsid git daemon --reuseaddr --base-path="$git_dir" --export-all --enable=receive-pack \
    --listen=127.0.0.1 \
    --port=$git_port "$git_dir" >"$dir/logs/git-daemon.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/git-daemon.pid"
fi
repo_url=git://127.0.0.1:$git_port/demo.git
echo "   $repo_url (work tree: $git_dir/work)"
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
  --webhook-bind-address 127.0.0.1:18443 --git-cache-dir "$dir/git-cache" \
  >"$dir/logs/flywheel.log" 2>&1 </dev/null &
echo $! >"$dir/pids/flywheel.pid"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$(cat "$dir/pids/flywheel.pid")" 2>/dev/null || { cat "$dir/logs/flywheel.log"; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null || { cat "$dir/logs/flywheel.log"; exit 1; }

echo "== a Release syncing $repo_url (path app) into namespace flywheel-demo-app"
"${kubectl[@]}" create namespace flywheel-demo-app --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
"${kubectl[@]}" apply --server-side -f - <<YAML
apiVersion: flywheel.dev/v1alpha1
kind: Release
metadata: {name: hello, namespace: $ns}
spec:
  source: {url: "$repo_url", branch: main, path: app, pollInterval: 5s}
  targetNamespace: flywheel-demo-app
YAML
wait_applied() {  # <sha>: until the Release has applied it
  for _ in $(seq 300); do
    applied=$("${kubectl[@]}" get release hello -n "$ns" -o jsonpath='{.status.lastAppliedRevision}' 2>/dev/null || true)
    [ "$applied" = "$1" ] && return 0
    sleep 0.2
  done
  echo "the Release did not apply $1 in 60 s:" >&2
  "${kubectl[@]}" get release hello -n "$ns" -o yaml >&2
  tail -50 "$dir/logs/flywheel.log" >&2
  exit 1
}
head=$(git -C "$git_dir/work" rev-parse HEAD)
wait_applied "$head"
"${kubectl[@]}" wait --for=condition=Healthy --timeout=120s release/hello -n "$ns"
echo "   applied ${head:0:7}:"
"${kubectl[@]}" get deploy,svc,configmap -n flywheel-demo-app -l flywheel.dev/release=$ns.hello

echo "== pushing a change to the manifest repository"
n=$(($(git -C "$git_dir/work" rev-list --count HEAD) + 1))
sed -i "s/message: .*/message: \"hello v$n\"/; s/image: example\/hello:.*/image: example\/hello:$n/" \
  "$git_dir/work/app/configmap.yaml" "$git_dir/work/app/deployment.yaml"
git -C "$git_dir/work" -c user.name=Demo -c user.email=demo@flywheel.dev commit -q -am "hello v$n"
git -C "$git_dir/work" push -q origin main
head=$(git -C "$git_dir/work" rev-parse HEAD)
start=$(date +%s%N)
wait_applied "$head"
echo "   commit ${head:0:7} arrived in the cluster after $(( ($(date +%s%N) - start) / 1000000 )) ms:"
"${kubectl[@]}" get configmap hello -n flywheel-demo-app -o jsonpath='   configmap hello: message={.data.message}{"\n"}'
"${kubectl[@]}" get deploy hello -n flywheel-demo-app -o jsonpath='   deployment hello: image={.spec.template.spec.containers[0].image}{"\n"}'
echo
build/flywheel history hello -n "$ns" --kubeconfig "$dir/kubeconfig"

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

The control plane, the git server and the operator keep running:
  push:     edit $git_dir/work/app/*.yaml, commit, git push (the Release polls every 5s)
  release:  build/flywheel history hello -n $ns --kubeconfig $dir/kubeconfig
            build/flywheel rollback hello -n $ns --kubeconfig $dir/kubeconfig   (pushes a revert commit)
            build/flywheel status hello -n $ns --kubeconfig $dir/kubeconfig
  kubectl:  $dir/bin/kubectl --kubeconfig $dir/kubeconfig get flywheel -A
  probes:   curl http://127.0.0.1:$health_port/readyz
  metrics:  curl http://127.0.0.1:$metrics_port/metrics
  logs:     $dir/logs/
Stop everything with: make testenv-down
MSG
