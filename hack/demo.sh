#!/usr/bin/env bash
# `make demo`: the whole loop on the local testenv, narrated. A local git server with two
# repositories (the application hack/demo-app, the manifests hack/demo-repo), a notify receiver,
# the operator, a Release syncing the manifests and a Pipeline building the application on the
# testenv's real node. Then: a manifest change arrives in the cluster; a good commit is cloned,
# built, tested, its image pushed and its tag promoted into the manifests, which the Release
# applies; a commit whose tests fail stops in its build pod and the alert reaches the receiver.
# Unattended, idempotent (a second run reuses what the first made); leaves everything running
# and says how to look and how to stop.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export FLYWHEEL_TESTENV_DIR=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
dir=$FLYWHEEL_TESTENV_DIR
ns=flywheel-demo
app_ns=flywheel-demo-app

# say <text>: a chapter header with the time of day and the time since the demo started.
say() { printf '== %s (+%ds) %s\n' "$(date +%H:%M:%S)" "$SECONDS" "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

hack/testenv/up.sh
kubectl=("$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig")
# flywheel <command> <arg>...: the CLI against the demo namespace.
flywheel() { build/flywheel "$@" -n "$ns" --kubeconfig "$dir/kubeconfig"; }
envval() { sed -n "s/^$1=//p" "$dir/env"; }
real_node=$(envval FLYWHEEL_TESTENV_REAL_NODE)
gateway=$(envval FLYWHEEL_TESTENV_REAL_NODE_GATEWAY)
taint=$(envval FLYWHEEL_TESTENV_REAL_NODE_TAINT)
registry=$(envval FLYWHEEL_TESTENV_REGISTRY)
pod_registry=$(envval FLYWHEEL_TESTENV_POD_REGISTRY)
image_flywheel=$(envval FLYWHEEL_TESTENV_IMAGE_FLYWHEEL)
image_toolbox=$(envval FLYWHEEL_TESTENV_IMAGE_TOOLBOX)
image_buildah=$(envval FLYWHEEL_TESTENV_IMAGE_BUILDAH)
image_busybox=$(envval FLYWHEEL_TESTENV_IMAGE_BUSYBOX)
[ -n "$real_node" ] && [ -n "$pod_registry" ] ||
  die "the testenv has no real node (FLYWHEEL_TESTENV_REAL_NODE=0, or started by an older up.sh): the Pipeline needs one; run make testenv-down and make demo again"
[ -n "$image_flywheel" ] ||
  die "the testenv has no flywheel image (it was started before build/flywheel was built): run make testenv-down and make demo again"
# The busybox image under the name build pods reach the registry by (the Dockerfile's base).
pod_busybox=$pod_registry/${image_busybox#"$registry"/}
artifact=$pod_registry/demo/hello

say "installing the CRDs"
"${kubectl[@]}" apply --server-side -f crds/
"${kubectl[@]}" wait --for=condition=Established --timeout=60s \
  crd/pipelines.flywheel.dev crd/pipelineruns.flywheel.dev crd/releases.flywheel.dev \
  crd/rollbackpolicies.flywheel.dev

say "checking examples/ against the CRDs (a server-side dry run: they name example hosts, so the"
echo "   demo makes its own Release and Pipeline below)"
"${kubectl[@]}" create namespace "$ns" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
for f in examples/*.yaml; do
  "${kubectl[@]}" apply --server-side --dry-run=server -n "$ns" -f "$f" | sed 's/^/   /'
done

say "a local git server with the manifest repository and the application repository"
git_dir=$dir/git
git_port=19418
commit() { git -C "$1" -c user.name=Demo -c user.email=demo@flywheel.dev commit -q -am "$2"; }
mkdir -p "$git_dir"
if [ ! -d "$git_dir/demo.git" ]; then
  git init -q --bare -b main "$git_dir/demo.git"
  git clone -q "$git_dir/demo.git" "$git_dir/work" 2>/dev/null
  mkdir -p "$git_dir/work/app"
  cp hack/demo-repo/app/*.yaml "$git_dir/work/app/"
  sed -i "s|<registry>/demo/hello|$artifact|" "$git_dir/work/app/deployment.yaml"
  git -C "$git_dir/work" add -A
  commit "$git_dir/work" "hello v1"
  git -C "$git_dir/work" push -q origin main
fi
if [ ! -d "$git_dir/hello.git" ]; then
  git init -q --bare -b main "$git_dir/hello.git"
  git clone -q "$git_dir/hello.git" "$git_dir/hello" 2>/dev/null
fi
running() { [ -f "$dir/pids/$1.pid" ] && kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null; }
# start_git_daemon <pid name> <address> [<flag>...]: a git daemon serving $git_dir on address.
start_git_daemon() {
  local name=$1 address=$2
  shift 2
  running "$name" && return 0
  setsid git daemon --reuseaddr --base-path="$git_dir" --export-all "$@" --listen="$address" \
    --port=$git_port "$git_dir" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
  for _ in $(seq 50); do
    git ls-remote "git://$address:$git_port/demo.git" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$name did not answer on $address:$git_port: $(cat "$dir/logs/$name.log")"
}
# For the operator, on loopback, with receive-pack: it pushes promotions and revert commits
# (git:// has no authentication, so never on an address anything else reaches).
start_git_daemon git-daemon 127.0.0.1 --enable=receive-pack
# For build pods, on the bridge's address (their gateway), read-only: a build runs the code of any
# commit, and it must not be able to push.
start_git_daemon git-daemon-pods "$gateway"
repo_url=git://127.0.0.1:$git_port/demo.git
app_url=git://$gateway:$git_port/hello.git
echo "   manifests:   $repo_url (work tree: $git_dir/work)"
echo "   application: $app_url (read-only, as build pods reach it; work tree: $git_dir/hello)"
"${kubectl[@]}" create namespace flywheel-system --dry-run=client -o yaml | "${kubectl[@]}" apply -f -

say "a notify receiver: busybox httpd on 127.0.0.1:18082, printing each POST into $dir/logs/notify.log"
notify_port=18082
mkdir -p "$dir/notify/cgi-bin"
cat >"$dir/notify/cgi-bin/notify" <<SH
#!/bin/sh
# One notification: its body on one line after the time, answered 200.
body=\$(head -c "\${CONTENT_LENGTH:-0}")
printf '%s %s\n' "\$(date -u +%H:%M:%S)" "\$body" >>"$dir/logs/notify.log"
printf 'Content-Type: text/plain\r\n\r\nreceived\n'
SH
chmod +x "$dir/notify/cgi-bin/notify"
touch "$dir/logs/notify.log"
if ! running notify-receiver; then
  setsid busybox httpd -f -p "127.0.0.1:$notify_port" -h "$dir/notify" \
    >"$dir/logs/notify-receiver.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/notify-receiver.pid"
fi

say "starting the operator (build pods: clone with the flywheel image, build with buildah, push to"
echo "   the registry at $pod_registry over plain HTTP)"
if running flywheel; then
  kill "$(cat "$dir/pids/flywheel.pid")"
  sleep 1
fi
metrics_port=18080
health_port=18081
setsid build/flywheel controller --kubeconfig "$dir/kubeconfig" --leader-elect \
  --metrics-bind-address "127.0.0.1:$metrics_port" \
  --health-probe-bind-address "127.0.0.1:$health_port" \
  --webhook-bind-address 127.0.0.1:18443 --git-cache-dir "$dir/git-cache" \
  --clone-image "$image_flywheel" --builder-image "buildah=$image_buildah" \
  --insecure-registry "$pod_registry" \
  >"$dir/logs/flywheel.log" 2>&1 </dev/null &
echo $! >"$dir/pids/flywheel.pid"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null 2>&1 && break
  running flywheel || { cat "$dir/logs/flywheel.log"; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null || { cat "$dir/logs/flywheel.log"; exit 1; }

say "a Release syncing $repo_url (path app) into namespace $app_ns"
"${kubectl[@]}" create namespace "$app_ns" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
"${kubectl[@]}" apply --server-side -f - <<YAML
apiVersion: flywheel.dev/v1alpha1
kind: Release
metadata: {name: hello, namespace: $ns}
spec:
  source: {url: "$repo_url", branch: main, path: app, pollInterval: 5s}
  targetNamespace: $app_ns
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
# The manifests' head: the operator pushes promotions to it, so the work tree follows first.
git -C "$git_dir/work" pull -q --ff-only
head=$(git -C "$git_dir/work" rev-parse HEAD)
wait_applied "$head"
"${kubectl[@]}" wait --for=condition=Healthy --timeout=120s release/hello -n "$ns"
echo "   applied ${head:0:7}:"
"${kubectl[@]}" get deploy,svc,configmap -n "$app_ns" -l flywheel.dev/release=$ns.hello

say "pushing a change to the manifest repository (the ConfigMap's message)"
n=$(($(git -C "$git_dir/work" rev-list --count HEAD) + 1))
sed -i "s/message: .*/message: \"hello v$n\"/" "$git_dir/work/app/configmap.yaml"
commit "$git_dir/work" "message: hello v$n"
git -C "$git_dir/work" push -q origin main
head=$(git -C "$git_dir/work" rev-parse HEAD)
start=$(date +%s%N)
wait_applied "$head"
echo "   commit ${head:0:7} arrived in the cluster after $(( ($(date +%s%N) - start) / 1000000 )) ms:"
"${kubectl[@]}" get configmap hello -n "$app_ns" -o jsonpath='   configmap hello: message={.data.message}{"\n"}'

say "a Pipeline hello: each commit of the application is built and tested in a build pod on"
echo "   the real node ($real_node), its image pushed as $artifact:<sha7>"
echo "   and the tag promoted into the manifest repository"
# The application's files as in hack/demo-app, with the registry's busybox as the image's base.
app_files() {
  cp hack/demo-app/* hack/demo-app/.gitignore "$git_dir/hello/"
  sed -i "s|^FROM .*|FROM $pod_busybox|" "$git_dir/hello/Dockerfile"
}
# push_app <message>: commits the application's work tree and pushes; prints the commit.
push_app() {
  git -C "$git_dir/hello" add -A
  commit "$git_dir/hello" "$1"
  git -C "$git_dir/hello" push -q origin main
  git -C "$git_dir/hello" rev-parse HEAD
}
app_files
v=$(($(git -C "$git_dir/hello" rev-list --count HEAD 2>/dev/null || echo 0) + 1))
echo "v$v" >"$git_dir/hello/VERSION"
good=$(push_app "hello v$v")
echo "   pushed ${good:0:7} \"hello v$v\" (the tests pass)"
taint_key=${taint%%=*}
taint_value=${taint#*=}
taint_value=${taint_value%%:*}
"${kubectl[@]}" apply --server-side -f - <<YAML
apiVersion: flywheel.dev/v1alpha1
kind: Pipeline
metadata: {name: hello, namespace: $ns}
spec:
  source: {url: "$app_url", branch: main, pollInterval: 2s}
  timeout: 10m
  steps:
    - {name: build, image: "$image_toolbox", script: make}
    - {name: test, image: "$image_toolbox", script: make test}
  artifact: {image: "$artifact"}
  promote:
    url: "$repo_url"
    paths: [app]
    author: {name: Flywheel Demo, email: flywheel@demo.invalid}
  podTemplate:
    nodeSelector: {kubernetes.io/hostname: $real_node}
    tolerations: [{key: $taint_key, operator: Equal, value: $taint_value, effect: NoSchedule}]
  notify:
    - url: http://127.0.0.1:$notify_port/cgi-bin/notify
YAML

run_json() { "${kubectl[@]}" get pipelinerun "$1" -n "$ns" -o json 2>/dev/null || true; }
# wait_run <run>: prints the run's phase and message as they change (and every 15 s) until it
# has finished.
wait_run() {
  local run=$1 start=$SECONDS last="" shown=$SECONDS state
  while :; do
    state=$(run_json "$run" | jq -r '.status // {} | (.phase // "") + ": " +
      ([(.conditions // [])[] | select(.type == "Succeeded") | .message] | first // "")' \
      2>/dev/null || true)
    if [ "$state" != "$last" ] || [ $((SECONDS - shown)) -ge 15 ]; then
      echo "   +$((SECONDS - start))s ${state:-(waiting for the controller to see the commit)}"
      last=$state
      shown=$SECONDS
    fi
    case "$state" in Succeeded:* | Failed:* | Cancelled:* | TimedOut:*) return 0 ;; esac
    if [ $((SECONDS - start)) -ge 480 ]; then
      echo "the run $run did not finish in 8 minutes:" >&2
      run_json "$run" >&2
      "${kubectl[@]}" describe pod -n "$ns" -l "flywheel.dev/pipeline-run=$run" >&2
      tail -50 "$dir/logs/flywheel.log" >&2
      exit 1
    fi
    sleep 1
  done
}
# steps <run>: each step's phase, exit code, and when it ran (seconds since the run started).
steps() {
  run_json "$1" | jq -r '(.status.startTime | fromdate) as $t0 | .status.steps[] |
      [.name, .phase, (.exitCode // "-" | tostring),
       (if .startedAt and .finishedAt then
          (.startedAt | fromdate) as $a | (.finishedAt | fromdate) as $b |
          "+\($a - $t0)s to +\($b - $t0)s (\($b - $a)s)"
        else "-" end)] | @tsv' |
    awk -F'\t' '{printf "   %-12s %-10s exit %-3s %s\n", $1, $2, $3, $4}'
}
# finished <run> <phase>: waits for the run, fails the demo unless it ended in phase, and shows
# its duration and steps.
finished() {
  wait_run "$1"
  [ "$(run_json "$1" | jq -r .status.phase)" = "$2" ] || {
    run_json "$1" >&2
    die "the run $1 did not end $2"
  }
  echo "   steps (the whole run: $(run_json "$1" | jq -r '.status |
    ((.completionTime | fromdate) - (.startTime | fromdate) | tostring) + "s"')):"
  steps "$1"
}
image() {
  "${kubectl[@]}" get deploy hello -n "$app_ns" \
    -o jsonpath='   deployment hello: image={.spec.template.spec.containers[0].image}{"\n"}'
}

run=hello-${good:0:7}
say "the good commit: PipelineRun $run"
finished "$run" Succeeded
echo "   build/flywheel logs $run (without buildah's progress lines):"
flywheel logs "$run" | grep -vE '^(Getting image source|Copying (blob|config)|Writing manifest|Storing signatures|Trying to pull|--> |[0-9a-f]{64}$)' |
  sed 's/^/     /'
run_json "$run" | jq -r '"   artifact: " + .status.artifact.image + "@" + .status.artifact.digest'

say "the promotion commit in the manifest repository"
promoted=$(run_json "$run" | jq -r .status.promotion.commit)
git -C "$git_dir/work" pull -q --ff-only
git -C "$git_dir/work" log -1 "$promoted" | sed 's/^/   /'
git -C "$git_dir/work" show --format= -U0 "$promoted" | grep '^[-+] ' | sed 's/^/   /'
start=$(date +%s%N)
wait_applied "$promoted"
echo "   the Release applied ${promoted:0:7} $(( ($(date +%s%N) - start) / 1000000 )) ms later:"
image
"${kubectl[@]}" wait --for=condition=Healthy --timeout=120s release/hello -n "$ns" | sed 's/^/   /'

say "a commit whose tests fail: greet() loses its comma"
notified=$(wc -l <"$dir/logs/notify.log")
grep -q '"hello, %s"' "$git_dir/hello/greet.c" || die "hack/demo-app/greet.c no longer says \"hello, %s\""
sed -i 's/"hello, %s"/"hello %s"/' "$git_dir/hello/greet.c"
bad=$(push_app "greet: no comma")
run=hello-${bad:0:7}
echo "   pushed ${bad:0:7} \"greet: no comma\"; PipelineRun $run:"
finished "$run" Failed
run_json "$run" | jq -r '.status.steps[] | select(.phase == "Failed") |
  "   step \(.name) failed with exit code \(.exitCode); the end of its log:",
  (.logTail | rtrimstr("\n") | split("\n")[] | "     " + .)'
echo "   build/flywheel get pipelineruns:"
flywheel get pipelineruns | sed 's/^/     /'
echo "   the Deployment still runs the good build:"
image
echo "   the notify receiver got:"
for _ in $(seq 150); do
  [ "$(wc -l <"$dir/logs/notify.log")" -gt "$notified" ] && break
  sleep 0.2
done
[ "$(wc -l <"$dir/logs/notify.log")" -gt "$notified" ] || die "no notification in 30 s"
tail -n +"$((notified + 1))" "$dir/logs/notify.log" | while read -r time body; do
  echo "     at $time:"
  jq -r '"       text:  " + .text, "       event: \(.event), severity: \(.severity)"' <<<"$body"
done
echo
flywheel history hello

echo
say "what is running"
"${kubectl[@]}" get nodes
echo
"${kubectl[@]}" get flywheel -n "$ns"
echo
echo "operator log ($dir/logs/flywheel.log), the last lines:"
tail -n 8 "$dir/logs/flywheel.log" | cut -c1-200 | sed 's/^/  /'
echo
echo "operator metrics (leader election, pipeline runs):"
curl -s "http://127.0.0.1:$metrics_port/metrics" |
  grep -E '^(leader_election_master_status|flywheel_pipeline_runs_total)' | sed 's/^/  /'
cat <<MSG

The control plane, the git server, the notify receiver and the operator keep running:
  app:      edit $git_dir/hello/*, commit, git push (the Pipeline polls every 2s)
  pipeline: build/flywheel get pipelineruns -n $ns --kubeconfig $dir/kubeconfig
            build/flywheel logs <run> [--step <name>] [-f] -n $ns --kubeconfig $dir/kubeconfig
            build/flywheel run hello --wait 10m -n $ns --kubeconfig $dir/kubeconfig   (builds the head again)
  images:   curl http://$registry/v2/demo/hello/tags/list
  alerts:   $dir/logs/notify.log (what the notify receiver got)
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
say "done"
