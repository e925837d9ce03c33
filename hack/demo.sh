#!/usr/bin/env bash
# `make demo`: the whole loop on the local testenv, narrated. A local git server with two
# repositories (the application hack/demo-app, the manifests hack/demo-repo), a notify receiver,
# Prometheus scraping the application and the operator, a load generator, and the operator itself
# running in-cluster from its image (two replicas, leader election) on the testenv's real node.
# Then: a good commit is cloned, built, tested, its image pushed and its tag promoted into the
# manifests, which a Release applies (real pods); a manifest change arrives in the cluster; a
# commit whose tests fail stops in its build pod and the alert reaches the receiver; a bad commit
# that passes its tests is deployed, its error ratio crosses 5%, a RollbackPolicy rolls it back,
# the revert commit lands in the manifest repository and the error ratio returns to zero. It ends
# with each delivery's timeline, the DORA figures from the operator's metrics, a plot of the error
# ratio and a check of every dashboard query. Unattended, idempotent (a second run reuses what the
# first made); leaves everything running and says how to look and how to stop.
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
operator_kustomization=$(envval FLYWHEEL_TESTENV_OPERATOR)
[ -n "$image_flywheel" ] && [ -n "$operator_kustomization" ] ||
  die "the testenv has no flywheel image (it was started before build/flywheel was built): run make testenv-down and make demo again"
# shellcheck source=demo-observe.sh
source hack/demo-observe.sh
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


say "a local git server on the real node's bridge ($gateway), where the operator's pods and the"
echo "   build pods reach it: the manifest repository and the application repository"
git_dir=$dir/git
manifests_port=19418
app_port=19419
commit() { git -C "$1" -c user.name=Demo -c user.email=demo@flywheel.dev commit -q -am "$2"; }
mkdir -p "$git_dir"
if [ ! -d "$git_dir/demo.git" ]; then
  git init -q --bare -b main "$git_dir/demo.git"
  git clone -q "$git_dir/demo.git" "$git_dir/work" 2>/dev/null
  mkdir -p "$git_dir/work/app"
  cp hack/demo-repo/app/*.yaml "$git_dir/work/app/"
  sed -i "s|<registry>/demo/hello|$artifact|" "$git_dir/work/app/deployment.yaml"
  git -C "$git_dir/work" add -A
  commit "$git_dir/work" "hello: Deployment, Service, ConfigMap"
  git -C "$git_dir/work" push -q origin main
fi
if [ ! -d "$git_dir/hello.git" ]; then
  git init -q --bare -b main "$git_dir/hello.git"
  git clone -q "$git_dir/hello.git" "$git_dir/hello" 2>/dev/null
fi
running() { [ -f "$dir/pids/$1.pid" ] && kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null; }
# restart <name> <command>...: stops the demo's process <name> (an earlier run's) and starts the
# command in its own session, PID in $dir/pids/<name>.pid, output in $dir/logs/<name>.log.
restart() {
  local name=$1
  shift
  if running "$name"; then
    kill "$(cat "$dir/pids/$name.pid")"
    sleep 0.3
  fi
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}
# start_git_daemon <name> <port> <repository> [<flag>...]: a git daemon on the bridge's address
# serving only that repository of $git_dir.
start_git_daemon() {
  local name=$1 port=$2 repo=$3
  shift 3
  restart "$name" git daemon --reuseaddr --base-path="$git_dir" --export-all "$@" \
    --listen="$gateway" --port="$port" "$git_dir/$repo"
  for _ in $(seq 50); do
    git ls-remote "git://$gateway:$port/$repo" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$name did not answer on $gateway:$port: $(cat "$dir/logs/$name.log")"
}
# The manifests, with receive-pack: the operator pushes promotions and revert commits. git:// has
# no authentication: a real installation gives the Release and the Pipeline's promote a
# secretRef (docs/release.md); here only the host and the node's pods reach the bridge.
start_git_daemon git-manifests "$manifests_port" demo.git --enable=receive-pack
# The application, read-only: a build runs the code of any commit, and must not push.
start_git_daemon git-app "$app_port" hello.git
repo_url=git://$gateway:$manifests_port/demo.git
app_url=git://$gateway:$app_port/hello.git
echo "   manifests:   $repo_url (work tree: $git_dir/work)"
echo "   application: $app_url (read-only; work tree: $git_dir/hello)"

notify_port=18082
say "a notify receiver: busybox httpd on $gateway:$notify_port, printing each POST into"
echo "   $dir/logs/notify.log"
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
restart notify-receiver busybox httpd -f -p "$gateway:$notify_port" -h "$dir/notify"
notify_url=http://$gateway:$notify_port/cgi-bin/notify

say "git webhooks: each push to either repository is signed and POSTed to the operator's"
echo "   /hooks/git (the Secret flywheel-webhook), as a git host's webhook would; polling stays on as"
echo "   the fallback"
secret_file=$dir/demo/webhook-secret
mkdir -p "$dir/demo"
[ -s "$secret_file" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$secret_file")
"${kubectl[@]}" create namespace flywheel-system --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null
# The operator reads the secret once, at start: one started without it restarts below.
had_secret=$("${kubectl[@]}" get secret flywheel-webhook -n flywheel-system -o name 2>/dev/null || true)
had_operator=$("${kubectl[@]}" get deployment flywheel -n flywheel-system -o name 2>/dev/null || true)
"${kubectl[@]}" create secret generic flywheel-webhook -n flywheel-system \
  --from-file=secret="$secret_file" --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null
# post_receive_hook <repository> <url>: the bare repository's post-receive hook: for each pushed
# ref, a generic /hooks/git delivery (docs/webhooks.md) to the first operator pod that takes it.
post_receive_hook() {
  cat >"$git_dir/$1/hooks/post-receive" <<HOOK
#!/bin/sh
# Written by hack/demo.sh: tells the operator about each push, as a git host's webhook would.
while read -r old new ref; do
  body="{\"repository\": \"$2\", \"ref\": \"\$ref\"}"
  sig=\$(printf '%s' "\$body" | openssl dgst -sha256 -hmac "\$(cat '$secret_file')" -r | cut -d' ' -f1)
  for ip in \$('$dir/bin/kubectl' --kubeconfig '$dir/kubeconfig' get pods -n flywheel-system \\
      -l app.kubernetes.io/name=flywheel -o jsonpath='{.items[*].status.podIP}' 2>/dev/null); do
    curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "http://\$ip:9443/hooks/git" \\
      -H 'Content-Type: application/json' -H "X-Flywheel-Signature: sha256=\$sig" \\
      --data-binary "\$body" | grep -q '^202' && break
  done
done
exit 0
HOOK
  chmod +x "$git_dir/$1/hooks/post-receive"
}
post_receive_hook demo.git "$repo_url"
post_receive_hook hello.git "$app_url"

say "the operator in-cluster: manifests/ with kubectl apply -k, two replicas with leader election"
echo "   on the real node, from the image $image_flywheel"
echo "   (build pods clone with that image, build with buildah and push to $pod_registry)"
mkdir -p "$dir/demo-operator"
cat >"$dir/demo-operator/kustomization.yaml" <<YAML
# Written by hack/demo.sh: the testenv's operator ($operator_kustomization, manifests/ with the
# local image, on the real node) with the demo's builder image and its plain-HTTP registry.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../operator]
patches:
  - target: {kind: Deployment, name: flywheel}
    patch: |
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--builder-image=buildah=$image_buildah"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--insecure-registry=$pod_registry"}
YAML
"${kubectl[@]}" apply -k "$dir/demo-operator" | sed 's/^/   /'
if [ -z "$had_secret" ] && [ -n "$had_operator" ]; then
  "${kubectl[@]}" rollout restart deployment/flywheel -n flywheel-system | sed 's/^/   /'
fi
"${kubectl[@]}" rollout status deployment/flywheel -n flywheel-system --timeout=180s | sed 's/^/   /'
"${kubectl[@]}" get pods -n flywheel-system -o wide | sed 's/^/   /'
leader() {
  "${kubectl[@]}" get lease flywheel-leader -n flywheel-system \
    -o jsonpath='{.spec.holderIdentity}' 2>/dev/null | cut -d_ -f1
}
for _ in $(seq 100); do [ -n "$(leader)" ] && break; sleep 0.2; done
echo "   leader: $(leader)"
operator_logs() { "${kubectl[@]}" logs -n flywheel-system "$(leader)" --tail="${1:-50}"; }

prom_port=19090
prom=http://$gateway:$prom_port
say "Prometheus on $prom scraping the application's pods and the operator's every 2s (file_sd"
echo "   from the pods the API server lists), with the alert rules of manifests/monitoring; a load"
echo "   generator sends 20 requests/s to the application's pods"
start_prometheus "$gateway:$prom_port" "$dir/prometheus" 2s manifests/monitoring/alerts.yaml
observe_running hello-targets ||
  refresh_pod_targets hello-targets "$dir/prometheus/targets/hello.json" "$app_ns" app=hello 8080 \
    "${kubectl[@]}"
observe_running flywheel-targets ||
  refresh_pod_targets flywheel-targets "$dir/prometheus/targets/flywheel.json" flywheel-system \
    app.kubernetes.io/name=flywheel 8080 "${kubectl[@]}"
observe_running load || start_load load 20 "$dir/prometheus/targets/hello.json"
error_ratio=$(error_ratio_query "$app_ns" 20s)

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
# next_version: the application's next version number (its commit count + 1).
next_version() { echo $(($(git -C "$git_dir/hello" rev-list --count HEAD 2>/dev/null || echo 0) + 1)); }
app_files
v=$(next_version)
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
  source: {url: "$app_url", branch: main, pollInterval: 30s}
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
    - url: $notify_url
YAML

run_json() { "${kubectl[@]}" get pipelinerun "$1" -n "$ns" -o json 2>/dev/null || true; }
# wait_created <run> <push time (date +%s%N)>: until the run exists; says how long after the push.
wait_created() {
  for _ in $(seq 600); do
    if "${kubectl[@]}" get pipelinerun "$1" -n "$ns" -o name >/dev/null 2>&1; then
      echo "   PipelineRun $1 created $((($(date +%s%N) - $2) / 1000000)) ms after the push"
      return 0
    fi
    sleep 0.05
  done
  die "no PipelineRun $1 within 30 s of the push"
}
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
      operator_logs >&2
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
# promotion <run>: shows the run's artifact and its promotion commit; prints the commit.
promotion() {
  local promoted
  promoted=$(run_json "$1" | jq -r .status.promotion.commit)
  run_json "$1" | jq -r '"   artifact: " + .status.artifact.image + "@" + .status.artifact.digest' >&2
  git -C "$git_dir/work" pull -q --ff-only
  echo "   promotion commit in the manifest repository:" >&2
  git -C "$git_dir/work" log -1 --format='     %h %s (%an)' "$promoted" >&2
  git -C "$git_dir/work" show --format= -U0 "$promoted" | grep '^[-+] ' | sed 's/^/     /' >&2
  echo "$promoted"
}
release_json() { "${kubectl[@]}" get release hello -n "$ns" -o json 2>/dev/null || echo '{}'; }
wait_applied() { # <sha>: until the Release has applied it
  for _ in $(seq 300); do
    [ "$(release_json | jq -r '.status.lastAppliedRevision // ""')" = "$1" ] && return 0
    sleep 0.2
  done
  echo "the Release did not apply $1 in 60 s:" >&2
  release_json >&2
  operator_logs >&2
  exit 1
}
wait_healthy() {
  "${kubectl[@]}" wait --for=condition=Healthy --timeout=180s release/hello -n "$ns" |
    sed 's/^/   /' || {
    release_json >&2
    "${kubectl[@]}" get pods -n "$app_ns" -o wide >&2
    die "the Release did not become Healthy in 3 minutes"
  }
}
image() {
  "${kubectl[@]}" get deploy hello -n "$app_ns" \
    -o jsonpath='   deployment hello: image={.spec.template.spec.containers[0].image}{"\n"}'
}
# ratio: the application's error ratio over the last 20 s, as Prometheus has it ("" when none).
ratio() { prom_query "$prom" "$error_ratio" 2>/dev/null || true; }

run=hello-${good:0:7}
say "the good commit: PipelineRun $run"
finished "$run" Succeeded
echo "   build/flywheel logs $run (without buildah's progress lines):"
flywheel logs "$run" | grep -vE '^(Getting image source|Copying (blob|config)|Writing manifest|Storing signatures|Trying to pull|--> |[0-9a-f]{64}$)' |
  sed 's/^/     /'
promoted=$(promotion "$run")

say "a Release hello syncing $repo_url (path app) into namespace $app_ns"
"${kubectl[@]}" create namespace "$app_ns" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
"${kubectl[@]}" apply --server-side -f - <<YAML
apiVersion: flywheel.dev/v1alpha1
kind: Release
metadata: {name: hello, namespace: $ns}
spec:
  source: {url: "$repo_url", branch: main, path: app, pollInterval: 30s}
  targetNamespace: $app_ns
YAML
start=$(date +%s%N)
wait_applied "$promoted"
echo "   the Release applied ${promoted:0:7} $((($(date +%s%N) - start) / 1000000)) ms after it was created:"
image
wait_healthy
"${kubectl[@]}" get deploy,svc,configmap,pods -n "$app_ns" -o wide | sed 's/^/   /'
pod_ip=$("${kubectl[@]}" get pods -n "$app_ns" -l app=hello -o jsonpath='{.items[0].status.podIP}')
echo "   curl http://$pod_ip:8080/ -> $(curl -s "http://$pod_ip:8080/")"

say "the error ratio as Prometheus sees it (5xx of the application's requests, 20 s window)"
for _ in $(seq 60); do [ -n "$(ratio)" ] && break; sleep 1; done
echo "   $(ratio) ($error_ratio)"

say "a RollbackPolicy hello-errors: roll back when more than 5% of requests fail for 10s"
"${kubectl[@]}" apply --server-side -f - <<YAML
apiVersion: flywheel.dev/v1alpha1
kind: RollbackPolicy
metadata: {name: hello-errors, namespace: $ns}
spec:
  releaseRef: {name: hello}
  prometheus: {url: "$prom"}
  metrics:
    - name: error-ratio
      query: |
        $(error_ratio_query '{{targetNamespace}}' 20s)
      threshold: {operator: ">", value: 0.05}
      for: 10s
  interval: 2s
  window: 10m
  noData: Ignore
  onError: Ignore
  rollback: {gitRevert: true, cooldown: 1m}
  notify:
    - url: $notify_url
YAML

say "pushing a change to the manifest repository (the ConfigMap's message)"
git -C "$git_dir/work" pull -q --ff-only
n=$(($(git -C "$git_dir/work" rev-list --count HEAD) + 1))
sed -i "s/message: .*/message: \"hello v$n\"/" "$git_dir/work/app/configmap.yaml"
commit "$git_dir/work" "message: hello v$n"
git -C "$git_dir/work" push -q origin main
head=$(git -C "$git_dir/work" rev-parse HEAD)
start=$(date +%s%N)
wait_applied "$head"
echo "   commit ${head:0:7} arrived in the cluster after $((($(date +%s%N) - start) / 1000000)) ms:"
"${kubectl[@]}" get configmap hello -n "$app_ns" -o jsonpath='   configmap hello: message={.data.message}{"\n"}'

# push_run <message>: commits and pushes the application's work tree, then waits for the
# commit's PipelineRun (the webhook's) and says how long after the push it came; sets `run`.
push_run() {
  local pushed_at sha
  pushed_at=$(date +%s%N)
  sha=$(push_app "$1")
  run=hello-${sha:0:7}
  echo "   pushed ${sha:0:7} \"$1\""
  wait_created "$run" "$pushed_at"
}

# wait_notified <count before>: until the notify receiver has more lines than that; prints them.
wait_notified() {
  for _ in $(seq 150); do
    [ "$(wc -l <"$dir/logs/notify.log")" -gt "$1" ] && break
    sleep 0.2
  done
  [ "$(wc -l <"$dir/logs/notify.log")" -gt "$1" ] || die "no notification in 30 s"
  tail -n +"$(($1 + 1))" "$dir/logs/notify.log" | while read -r time body; do
    echo "     at $time:"
    jq -r '"       text:  " + .text, "       event: \(.event), severity: \(.severity)"' <<<"$body"
  done
}

say "a commit whose tests fail: greet() loses its comma"
notified=$(wc -l <"$dir/logs/notify.log")
grep -q '"hello, %s"' "$git_dir/hello/greet.c" || die "hack/demo-app/greet.c no longer says \"hello, %s\""
sed -i 's/"hello, %s"/"hello %s"/' "$git_dir/hello/greet.c"
push_run "greet: no comma"
finished "$run" Failed
run_json "$run" | jq -r '.status.steps[] | select(.phase == "Failed") |
  "   step \(.name) failed with exit code \(.exitCode); the end of its log (without its PASS lines):",
  (.logTail | rtrimstr("\n") | split("\n")[] | select(startswith("PASS") | not) | "     " + .)'
echo "   the Deployment still runs the good build:"
image
echo "   the notify receiver got:"
wait_notified "$notified"

say "a bad commit that passes its tests: the comma is back, and 30% of requests fail"
echo "   (FAILURE_PERCENT=30)"
app_files
v=$(next_version)
echo "v$v" >"$git_dir/hello/VERSION"
echo 30 >"$git_dir/hello/FAILURE_PERCENT"
push_run "hello v$v: fail 30% of requests"
finished "$run" Succeeded
bad_promoted=$(promotion "$run")
notified=$(wc -l <"$dir/logs/notify.log")
wait_applied "$bad_promoted"
bad_applied=$(release_json | jq -r --arg r "$bad_promoted" \
  '[.status.history[] | select(.revision == $r) | .appliedAt | fromdate] | first')
echo "   the Release applied ${bad_promoted:0:7}:"
image

say "the RollbackPolicy watches the new revision: error ratio and the policy, every 2 s"
start=$SECONDS
while :; do
  rolled=$(release_json | jq -r '.status.lastRollback.fromRevision // ""')
  policy=$("${kubectl[@]}" get rollbackpolicy hello-errors -n "$ns" -o json | jq -r '.status |
    "\(.phase // "-"), check \(.metrics[0].state // "-")" +
    (if .metrics[0].breachingSince then " since \(.metrics[0].breachingSince[11:19])" else "" end)')
  printf '   %s error ratio %-6s policy %s\n' "$(date +%H:%M:%S)" "$(ratio | cut -c1-6)" "$policy"
  [ "$rolled" = "$bad_promoted" ] && break
  if [ $((SECONDS - start)) -ge 180 ]; then
    "${kubectl[@]}" get rollbackpolicy hello-errors -n "$ns" -o yaml >&2
    operator_logs >&2
    die "no rollback within 3 minutes"
  fi
  sleep 2
done
echo "   the Release's lastRollback:"
release_json | jq -r '.status.lastRollback | to_entries[] | "     \(.key): \(.value)"'
echo "   rejected revisions: $(release_json | jq -r '[.status.rejectedRevisions[]? | .revision[0:7]] | join(", ")')"

say "the revert commit in the manifest repository (Git says what runs)"
for _ in $(seq 100); do
  revert=$(release_json | jq -r '.status.lastRollback.revertCommit // ""')
  [ -n "$revert" ] && break
  sleep 0.2
done
[ -n "$revert" ] || die "the rollback recorded no revert commit: $(release_json | jq -c .status.lastRollback)"
git -C "$git_dir/work" pull -q --ff-only
git -C "$git_dir/work" log -4 --format='   %h %s (%an)'
git -C "$git_dir/work" show --format= -U0 "$revert" | grep '^[-+] ' | sed 's/^/     /'
image
wait_healthy
echo "   the notify receiver got:"
wait_notified "$notified"

say "the error ratio returns to zero"
start=$SECONDS
while :; do
  r=$(ratio)
  printf '   %s error ratio %s\n' "$(date +%H:%M:%S)" "$(cut -c1-6 <<<"${r:-none}")"
  [ "$r" = 0 ] && break
  [ $((SECONDS - start)) -lt 120 ] || die "the error ratio did not return to 0 within 2 minutes"
  sleep 3
done
restored=$(date +%s)

say "the Release's history"
flywheel history hello | sed 's/^/   /'

say "the timeline of each delivery (flywheel timeline hello: from status and Events, never logs)"
flywheel timeline hello | sed 's/^/   /'

say "the DORA figures from the operator's own metrics (Prometheus, since the demo started)"
w=$((SECONDS + 60))s
# dora <label> <format> <promql>: one figure, or "-" when Prometheus has none.
dora() {
  local v
  v=$(prom_query "$prom" "$3" 2>/dev/null || true)
  case "$v" in "" | NaN) v="-" ;; *) v=$(printf "$2" "$v") ;; esac
  printf '   %-40s %s\n' "$1" "$v"
}
sel="namespace=\"$ns\""
dora "deployments (in the demo's run)" '%.0f' "sum(increase(flywheel_deployments_total{$sel}[$w]))"
dora "lead time for changes (mean, s)" '%.1f' \
  "sum(increase(flywheel_lead_time_seconds_sum{$sel}[$w])) / sum(increase(flywheel_lead_time_seconds_count{$sel}[$w]))"
dora "change failure rate" '%.2f' \
  "sum(increase(flywheel_rollbacks_total{$sel}[$w])) / sum(increase(flywheel_deployments_total{$sel}[$w]))"
dora "time to restore (mean, s)" '%.1f' \
  "sum(increase(flywheel_time_to_restore_seconds_sum{$sel}[$w])) / sum(increase(flywheel_time_to_restore_seconds_count{$sel}[$w]))"

say "a plot of the error ratio across the bad deployment: $dir/demo/error-ratio.png"
mkdir -p "$dir/demo"
from=$((bad_applied - 30))
to=$(($(date +%s) + 2))
rollback_at=$(release_json | jq -r '.status.lastRollback.at | fromdate')
curl -s --get --data-urlencode "query=$error_ratio" --data-urlencode "start=$from" \
  --data-urlencode "end=$to" --data-urlencode step=2 "$prom/api/v1/query_range" |
  jq -r --argjson t0 "$bad_applied" '.data.result[0].values[]? | "\(.[0] - $t0) \(.[1])"' \
    >"$dir/demo/error-ratio.dat"
[ -s "$dir/demo/error-ratio.dat" ] || die "Prometheus has no error ratio between $from and $to"
gnuplot <<GNUPLOT
set terminal pngcairo size 900,420 noenhanced
set output "$dir/demo/error-ratio.png"
set title "hello: share of requests answered 5xx (20 s rate), bad commit ${bad_promoted:0:7}"
set xlabel "seconds since the bad revision was applied"
set ylabel "error ratio"
set yrange [0:0.5]
set grid
set arrow from $((rollback_at - bad_applied)), graph 0 to $((rollback_at - bad_applied)), graph 1 nohead lc rgb "red" dt 2
set label "rollback" at $((rollback_at - bad_applied)), graph 0.95 offset 0.5,0 tc rgb "red"
set arrow from 0, graph 0 to 0, graph 1 nohead lc rgb "black" dt 3
set label "bad revision applied" at 0, graph 0.88 right offset -0.5,0
plot 0.05 title "threshold 5%" lc rgb "orange", "$dir/demo/error-ratio.dat" using 1:2 with lines lw 2 title "error ratio"
GNUPLOT
echo "   $(wc -l <"$dir/demo/error-ratio.dat") points from Prometheus; rollback at +$((rollback_at - bad_applied))s after the bad revision was applied"

say "every query of the Grafana dashboard (manifests/monitoring) against the demo's Prometheus"
hack/check-dashboard.sh --var namespace="$ns" --range "$((SECONDS + 60))" --rate-interval 30s "$prom" |
  tail -n 5 | sed 's/^/   /'

echo
say "what is running"
"${kubectl[@]}" get nodes
echo
"${kubectl[@]}" get flywheel -n "$ns"
echo
echo "operator (leader $(leader)), its log's last lines:"
operator_logs 6 | cut -c1-200 | sed 's/^/  /'
cat <<MSG

The control plane, the operator, the git servers, Prometheus, the load generator and the notify
receiver keep running:
  app:       edit $git_dir/hello/*, commit, git push (a webhook; the Pipeline also polls every 30s)
  pipeline:  build/flywheel get pipelineruns -n $ns --kubeconfig $dir/kubeconfig
             build/flywheel logs <run> [--step <name>] [-f] -n $ns --kubeconfig $dir/kubeconfig
             build/flywheel run hello --wait 10m -n $ns --kubeconfig $dir/kubeconfig   (builds the head again)
  images:    curl http://$registry/v2/demo/hello/tags/list
  alerts:    $dir/logs/notify.log (what the notify receiver got)
  manifests: edit $git_dir/work/app/*.yaml, commit, git push (a webhook; the Release also polls every 30s)
  release:   build/flywheel history hello -n $ns --kubeconfig $dir/kubeconfig
             build/flywheel status hello -n $ns --kubeconfig $dir/kubeconfig
             build/flywheel rollback hello -n $ns --kubeconfig $dir/kubeconfig   (pushes a revert commit)
  prometheus: $prom (the graph page; the query: $error_ratio)
  plot:      $dir/demo/error-ratio.png
  operator:  $dir/bin/kubectl --kubeconfig $dir/kubeconfig logs -n flywheel-system $(leader)
  kubectl:   $dir/bin/kubectl --kubeconfig $dir/kubeconfig get flywheel -A
  logs:      $dir/logs/
Stop everything with: make demo-down
MSG
say "done"
