#!/usr/bin/env bash
# The loop's latency with real parts (issue 13): on `make demo`'s setup (run first unless
# --reuse), one bad commit goes the whole way: push -> PipelineRun -> build -> promotion commit ->
# applied on the real node -> error ratio breaches -> rollback applied -> restored healthy. Four
# watches (the PipelineRuns, the Release, the Deployment, the RollbackPolicy) and a poll of the
# manifest repository's head stamp each change with this machine's clock as it arrives, so each
# stage is measured to a few tens of milliseconds. Each stage's floor is measured in the same run:
# what the stage cannot avoid (a webhook round trip, a clone-commit-push, a server-side dry run
# and apply, the pods' own start). Writes the results between the loop markers of
# docs/benchmarks.md.
#
#   bench/loop.sh [--reuse]   --reuse: the demo already ran (make demo) and still runs
#
# Environment: FLYWHEEL_TESTENV_DIR (default .testenv), BENCH_OUTPUT (default docs/benchmarks.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
export FLYWHEEL_TESTENV_DIR=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
dir=$FLYWHEEL_TESTENV_DIR
ns=flywheel-demo
app_ns=flywheel-demo-app
reuse=0
[ "${1:-}" = --reuse ] && reuse=1

if [ "$reuse" = 0 ]; then
  echo "running hack/demo.sh (its output: $dir/logs/bench-demo.log)"
  mkdir -p "$dir/logs"
  hack/demo.sh >"$dir/logs/bench-demo.log" 2>&1 ||
    { tail -40 "$dir/logs/bench-demo.log"; die "the demo failed"; }
fi
kubectl=("$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig")
git_dir=$dir/git
gateway=$(sed -n 's/^FLYWHEEL_TESTENV_REAL_NODE_GATEWAY=//p' "$dir/env")
repo_url=git://$gateway:19418/demo.git
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
now() { date +%s.%N; }
# stamp <file>: each line of stdin, prefixed by the time it arrived.
# Fields are separated by "|" (an empty field stays a field).
stamp() { while IFS= read -r line; do echo "$(now)|$line"; done >"$1"; }

# --- floors, measured now ------------------------------------------------------------------
# median: the median of the numbers on stdin, one a line (lib.sh's median_in).
median() { sed 's/^/x /' >"$work/samples" && median_in "$work/samples" x '$2'; }
# timed <command>...: the command's wall time in seconds.
timed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'; }
secret=$(cat "$dir/demo/webhook-secret")
operator_ip=$("${kubectl[@]}" get pods -n flywheel-system -l app.kubernetes.io/name=flywheel \
  -o jsonpath='{.items[0].status.podIP}')
# A signed delivery for a repository nothing follows: the receiver's round trip, no fetch.
webhook() {
  local body='{"repository": "git://bench.invalid/none.git", "ref": "refs/heads/main"}' sig
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
  curl -sf -o /dev/null -X POST "http://$operator_ip:9443/hooks/git" \
    -H 'Content-Type: application/json' -H "X-Flywheel-Signature: sha256=$sig" --data-binary "$body"
}
create_cm() { "${kubectl[@]}" create configmap "bench-floor-$1" -n "$ns" --from-literal=a=b; }
floor_push=$(for i in 1 2 3 4 5; do
  a=$(timed webhook)
  b=$(timed create_cm "$i")
  awk -v a="$a" -v b="$b" 'BEGIN {print a + b}'
done | median)
"${kubectl[@]}" delete configmap -n "$ns" bench-floor-{1..5} >/dev/null 2>&1 || true
# A promotion's floor: clone the manifest repository, change a line, commit, push (to a branch
# nothing follows).
promote_by_hand() {
  rm -rf "$work/clone"
  git clone -q "$repo_url" "$work/clone" &&
    echo "# $RANDOM" >>"$work/clone/app/configmap.yaml" &&
    git -C "$work/clone" -c user.name=Bench -c user.email=bench@flywheel.dev commit -qam bench &&
    git -C "$work/clone" push -q -f origin HEAD:refs/heads/bench-floor
}
floor_promote=$(for _ in 1 2 3; do timed promote_by_hand; done | median)
# An apply's floor: read the head, then a server-side dry run and apply of the manifests.
git -C "$git_dir/work" pull -q --ff-only
apply_by_hand() {
  git ls-remote "$repo_url" refs/heads/main &&
    "${kubectl[@]}" apply --server-side --field-manager=bench --dry-run=server -n "$app_ns" \
      -f "$git_dir/work/app/" &&
    "${kubectl[@]}" apply --server-side --field-manager=bench --dry-run=server -n "$app_ns" \
      -f "$git_dir/work/app/"
}
floor_apply=$(for _ in 1 2 3; do timed apply_by_hand; done | median)

# --- watches -------------------------------------------------------------------------------
"${kubectl[@]}" get pipelineruns -n "$ns" -w --output-watch-events -o \
  jsonpath='{.object.metadata.name}|{.object.status.phase}|{.object.status.steps[?(@.name=="build-image")].phase}{"\n"}' |
  stamp "$work/runs" &
# The build pods: when the API server has the build-image container's exit (the kubelet's update).
"${kubectl[@]}" get pods -n "$ns" -l flywheel.dev/pipeline-run -w -o \
  jsonpath='{.metadata.labels.flywheel\.dev/pipeline-run}|{.status.containerStatuses[?(@.name=="build-image")].state.terminated.exitCode}{"\n"}' |
  stamp "$work/pods" &
"${kubectl[@]}" get release hello -n "$ns" -w -o \
  jsonpath='{.status.lastAppliedRevision}|{.status.lastRollback.fromRevision}|{.status.lastRollback.restoredAt}{"\n"}' |
  stamp "$work/release" &
"${kubectl[@]}" get deployment hello -n "$app_ns" -w -o \
  jsonpath='{.spec.template.spec.containers[0].image}|{.metadata.generation}|{.status.observedGeneration}|{.status.updatedReplicas}|{.status.readyReplicas}|{.status.replicas}{"\n"}' |
  stamp "$work/deployment" &
# (bash's own echo, unbuffered: a filter like uniq would hold the lines back in its buffer)
(last=; while :; do
  h=$(git ls-remote "$repo_url" refs/heads/main | cut -c1-40)
  [ "$h" = "$last" ] || { echo "$h"; last=$h; }
  sleep 0.05
done) | stamp "$work/head" &
sleep 2

# --- the bad commit ------------------------------------------------------------------------
# The policy's cooldown since its last rollback (the demo's) must be over, or the rollback waits.
policy=$("${kubectl[@]}" get rollbackpolicy hello-errors -n "$ns" -o json)
last=$(jq -r '.status.lastRollback.at // empty' <<<"$policy")
cooldown=$(jq -r '.spec.rollback.cooldown // "10m"' <<<"$policy")
if [ -n "$last" ]; then
  case "$cooldown" in *m) cd_s=$((${cooldown%m} * 60)) ;; *s) cd_s=${cooldown%s} ;; *) cd_s=600 ;; esac
  wait_s=$(($(date -d "$last" +%s) + cd_s + 2 - $(date +%s)))
  if [ "$wait_s" -gt 0 ]; then
    echo "waiting ${wait_s}s for the policy's cooldown ($cooldown since its last rollback)"
    sleep "$wait_s"
  fi
fi
# The application as hack/demo-app has it, on the base image the demo wrote into its Dockerfile,
# failing 30% of requests.
base=$(sed -n 's/^FROM //p' "$git_dir/hello/Dockerfile")
cp hack/demo-app/* hack/demo-app/.gitignore "$git_dir/hello/"
sed -i "s|^FROM .*|FROM $base|" "$git_dir/hello/Dockerfile"
v=$(($(git -C "$git_dir/hello" rev-list --count HEAD) + 1))
echo "v$v" >"$git_dir/hello/VERSION"
echo 30 >"$git_dir/hello/FAILURE_PERCENT"
git -C "$git_dir/hello" add -A
git -C "$git_dir/hello" -c user.name=Bench -c user.email=bench@flywheel.dev commit -qm "bench: v$v fails 30%"
sha=$(git -C "$git_dir/hello" rev-parse HEAD)
t_push=$(now)
git -C "$git_dir/hello" push -q origin main
run=hello-${sha:0:7}
echo "pushed ${sha:0:7}; waiting for its rollback and restore (a few minutes at most)"
deadline=$((SECONDS + 600))
promoted=
# Done when the Release records the restore after rolling the promoted revision back.
until [ -n "$promoted" ] && awk -F'|' -v p="$promoted" '$3 == p && $4 != ""' "$work/release" | grep -q .; do
  [ "$SECONDS" -lt "$deadline" ] || die "no rollback and restore within 10 minutes"
  sleep 1
  promoted=$("${kubectl[@]}" get pipelinerun "$run" -n "$ns" -o jsonpath='{.status.promotion.commit}' 2>/dev/null || true)
done
sleep 1
kill $(jobs -p) 2>/dev/null || true

# --- the stages ----------------------------------------------------------------------------
first() { awk -F'|' "$1" "$2" | head -1 | cut -d'|' -f1; } # first <awk condition> <file>: its time
bad_tag=${sha:0:7}
t_run=$(first "\$2 == \"$run\"" "$work/runs")
t_image=$(first "\$2 == \"$run\" && \$3 == \"0\"" "$work/pods")
t_finished=$(first "\$2 == \"$run\" && \$3 == \"Succeeded\"" "$work/runs")
t_head=$(first "\$2 == \"$promoted\"" "$work/head")
t_applied=$(first "\$2 ~ /:$bad_tag\$/" "$work/deployment")
good_image=$(awk -F'|' -v t="$t_applied" '$1 < t {img = $2} END {print img}' "$work/deployment")
t_back=$(first "\$1 > $t_applied && \$2 == \"$good_image\"" "$work/deployment")
# The Deployment back and its pods ready: the good image, observed, every replica updated and
# ready.
t_ready=$(first "\$1 >= $t_back && \$2 == \"$good_image\" && \$3 == \$4 && \$5 == \$7 && \$6 == \$7" \
  "$work/deployment")
t_healthy=$(first "\$1 >= $t_back && \$3 == \"$promoted\" && \$4 != \"\"" "$work/release")
policy=$("${kubectl[@]}" get rollbackpolicy hello-errors -n "$ns" -o json)
for_s=$(jq -r '.spec.metrics[0].for | rtrimstr("s")' <<<"$policy")
interval_s=$(jq -r '.spec.interval | rtrimstr("s")' <<<"$policy")
breaching=$(jq -r '.status.metrics[0].breachingSince' <<<"$policy")
t_breach=$(date -d "$breaching" +%s.%N)
t_for=$(awk -v a="$t_breach" -v f="$for_s" 'BEGIN {printf "%.3f", a + f}')
for v in t_run t_image t_finished t_head t_applied t_back t_ready t_healthy; do
  [ -n "${!v}" ] || { trap - EXIT; die "$v was not seen; the watch files are in $work"; }
done
d() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
row() { # <stage> <measured> <floor> <goal>
  local over verdict
  over=$(awk -v m="$2" -v f="$3" 'BEGIN {printf "%.2f", m - f}')
  verdict=$(awk -v o="$over" -v g="$4" 'BEGIN {print (o < g) ? "**met**" : "**missed**"}')
  printf '| %s | %s s | %s s | **%s s** | < %s s | %s |\n' "$1" "$2" "$3" "$over" "$4" "$verdict"
}
table=$(
  echo "| stage | measured | floor | overhead | goal (overhead) | |"
  echo "|---|---|---|---|---|---|"
  row "push → PipelineRun created (webhook)" "$(d "$t_push" "$t_run")" "$floor_push" 1
  row "build-image exited 0 (the pod's update) → promotion commit on the branch" "$(d "$t_image" "$t_head")" "$floor_promote" 1
  row "promotion commit → Deployment on the new image (applied)" "$(d "$t_head" "$t_applied")" "$floor_apply" 2
  row "\`for\` satisfied (breachingSince + for) → Deployment back (rollback applied)" "$(d "$t_for" "$t_back")" "$interval_s" 2
  row "rollback applied → Release Healthy again (restored)" "$(d "$t_back" "$t_healthy")" "$(d "$t_back" "$t_ready")" 2
)
builds=$(printf '| the build itself (PipelineRun created → build-image finished): the application'"'"'s cost | %s s |\n| PipelineRun finished after the promotion commit | %s s |\n| applied → first breaching evaluation (detection: load, scrape, rate window, interval) | %s s |' \
  "$(d "$t_run" "$t_image")" "$(d "$t_head" "$t_finished")" "$(d "$t_applied" "$t_breach")")
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
  cat <<MD
<!-- loop:begin (written by bench/loop.sh: edit the script, not this) -->
## The whole loop (issue 13)

\`\`\`sh
make demo && bench/loop.sh --reuse   # or bench/loop.sh, which runs the demo first
\`\`\`

One bad commit (\`FAILURE_PERCENT=30\`) through \`make demo\`'s setup: the operator in-cluster
(two replicas) on the real node, git daemons whose post-receive hooks send signed \`/hooks/git\`
deliveries, Prometheus scraping every 2 s, the RollbackPolicy \`error-ratio > 0.05 for ${for_s}s\`
every ${interval_s}s. Each time is when a watch (PipelineRuns, the Release, the Deployment) or a
50 ms poll of the manifest repository's head saw the change on this machine's clock.
\`breachingSince\` comes from the policy's status (microseconds).

$table

The floors, measured in the same run with the command-line tools (their start-up included, so
each floor is an upper bound of what the stage must cost): a signed webhook delivery's round trip plus one object
create (median of 5); a clone, one-line commit and push of the manifest repository (median of
3); reading the head with \`git ls-remote\` plus two server-side dry-run applies of the manifests
(median of 3); the policy's \`interval\` (the firing evaluation comes up to one interval after
\`for\` is satisfied); the Deployment's own rollout (its pods started and Ready) for the restore.

| not ours | seconds |
|---|---|
$builds

Run of $(date -u +%Y-%m-%d) on $(nproc) CPUs, load average $load at the end, flywheel
$(git rev-parse --short=12 HEAD). One delivery per run: the policy's one-minute cooldown and the
build's half a minute make each sample about a minute and a half.
<!-- loop:end -->
MD
)
echo "$section" | tee "$work/section"
write_section loop "$work/section" "${BENCH_OUTPUT:-docs/benchmarks.md}"
