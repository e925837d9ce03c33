#!/usr/bin/env bash
# The end-to-end test: `make demo`'s story (hack/demo.sh) on the running testenv, unattended, then
# each step asserted again from the API, the git repositories and Prometheus, not from what the
# demo printed: the good run succeeded with an artifact digest and a promotion commit that is in
# the manifest repository, the failed-test run stopped at its test step with the failure in its
# log tail, the bad commit's revision was rolled back by the RollbackPolicy with a revert commit
# that is the manifest repository's head and a rejected revision, the Release is Healthy on the
# revert, the error ratio is back under the threshold, and the DORA metrics agree with that
# story. The alert rules pass promtool and every dashboard query answers. Afterwards it removes
# what the demo left running (its processes, the operator, its namespaces), so the testenv is as
# the other tests found it (FLYWHEEL_E2E_KEEP=1 keeps it). Needs the real node (the build pods,
# the application's pods).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
dir=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
export FLYWHEEL_TESTENV_DIR=$dir
ns=flywheel-demo
app_ns=flywheel-demo-app
for tool in jq curl git promtool prometheus gnuplot; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (make deps installs it)" >&2; exit 1; }
done

kubectl=("$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig")
cleanup() {
  local name pid
  for name in load hello-targets flywheel-targets prometheus notify-receiver git-app git-manifests; do
    pid=$(cat "$dir/pids/$name.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || true
    rm -f "$dir/pids/$name.pid"
  done
  "${kubectl[@]}" delete namespace "$ns" "$app_ns" --ignore-not-found --wait=true --timeout=120s \
    >/dev/null 2>&1 || echo "warning: the demo's namespaces were not deleted in 2 minutes" >&2
  [ ! -d "$dir/demo-operator" ] ||
    "${kubectl[@]}" delete -k "$dir/demo-operator" --ignore-not-found --wait=true --timeout=120s \
      >/dev/null 2>&1 || echo "warning: the demo's operator was not removed in 2 minutes" >&2
}
# FLYWHEEL_E2E_KEEP=1 leaves the demo running afterwards (to look at a failure).
[ "${FLYWHEEL_E2E_KEEP:-0}" = 1 ] || trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# check <what> <command>...: the command must succeed (its output is not shown).
check() {
  local what=$1
  shift
  if "$@" >/dev/null; then echo "ok: $what"; else fail "$what"; fi
}

echo "== hack/demo.sh"
log=$(mktemp)
if ! hack/demo.sh >"$log" 2>&1; then
  cat "$log"
  echo "FAIL: hack/demo.sh failed (its output is above)" >&2
  exit 1
fi
tail -n 40 "$log"
rm -f "$log"

echo "== the story, from the API"
runs=$("${kubectl[@]}" get pipelineruns -n "$ns" -o json)
release=$("${kubectl[@]}" get release hello -n "$ns" -o json)
policy=$("${kubectl[@]}" get rollbackpolicy hello-errors -n "$ns" -o json)
git -C "$dir/git/work" fetch -q origin
manifest_head=$(git -C "$dir/git/work" rev-parse origin/main)
in_manifests() { git -C "$dir/git/work" merge-base --is-ancestor "$1" origin/main 2>/dev/null; }
# The last run of each kind this demo made: the newest Succeeded run whose artifact is the bad
# commit (the one rolled back), the newest Succeeded before it (the good one), the newest Failed.
rolled_from=$(jq -r '.status.lastRollback.fromRevision // ""' <<<"$release")
[ -n "$rolled_from" ] || fail "the Release records no rollback: $(jq -c .status <<<"$release")"
bad_run=$(jq -r --arg c "$rolled_from" \
  '[.items[] | select(.status.promotion.commit == $c)] | first | .metadata.name // ""' <<<"$runs")
[ -n "$bad_run" ] || fail "no PipelineRun promoted the rolled-back revision ${rolled_from:0:7}"
good_run=$(jq -r --arg bad "$bad_run" '[.items[] | select(.status.phase == "Succeeded" and
  .metadata.name != $bad)] | sort_by(.metadata.creationTimestamp) | last | .metadata.name // ""' <<<"$runs")
failed_run=$(jq -r '[.items[] | select(.status.phase == "Failed")] |
  sort_by(.metadata.creationTimestamp) | last | .metadata.name // ""' <<<"$runs")
run() { jq --arg n "$1" '.items[] | select(.metadata.name == $n)' <<<"$runs"; }

for r in "$good_run" "$bad_run"; do
  [ -n "$r" ] || { fail "a succeeded run is missing"; continue; }
  check "run $r succeeded with an artifact digest" \
    jq -e '.status.phase == "Succeeded" and (.status.artifact.digest | test("^sha256:[0-9a-f]{64}$"))' \
    <<<"$(run "$r")"
  promoted=$(run "$r" | jq -r '.status.promotion.commit // ""')
  check "run $r's promotion commit ${promoted:0:7} is in the manifest repository" in_manifests "$promoted"
done
if [ -n "$failed_run" ]; then
  check "run $failed_run stopped at its test step, build-image skipped" jq -e '
    ([.status.steps[] | select(.phase == "Failed") | .name] == ["test"]) and
    ([.status.steps[] | select(.name == "build-image") | .phase] == ["Skipped"]) and
    (.status.conditions[] | select(.type == "Succeeded") | .reason == "StepFailed")' \
    <<<"$(run "$failed_run")"
  check "run $failed_run's log tail holds the failing test" jq -e \
    '.status.steps[] | select(.name == "test") | .logTail | test("FAIL: greet")' \
    <<<"$(run "$failed_run")"
else
  fail "no Failed PipelineRun"
fi

revert=$(jq -r '.status.lastRollback.revertCommit // ""' <<<"$release")
check "the rollback was made by the RollbackPolicy on its error-ratio check" jq -e \
  '.status.lastRollback | .by == "RollbackPolicy/hello-errors" and .trigger == "metric" and
   (.reason | startswith("error-ratio "))' <<<"$release"
check "the rolled-back revision ${rolled_from:0:7} is rejected" jq -e --arg r "$rolled_from" \
  '[.status.rejectedRevisions[].revision] | index($r) != null' <<<"$release"
check "the revert commit ${revert:0:7} is the manifest repository's head" \
  test -n "$revert" -a "$revert" = "$manifest_head"
check "the revert commit's message names the policy" \
  bash -c "git -C '$dir/git/work' log -1 --format=%s '$revert' | grep -q 'by RollbackPolicy/hello-errors'"
check "the Release is Healthy on the revert commit" jq -e --arg r "$revert" \
  '.status.lastAppliedRevision == $r and
   (.status.conditions[] | select(.type == "Healthy") | .status == "True")' <<<"$release"
check "the Release recorded when the service was restored" jq -e \
  '.status.lastRollback.restoredAt != null' <<<"$release"
check "the policy says it rolled the revision back" jq -e --arg r "$rolled_from" \
  '.status.phase == "RolledBack" and .status.lastRollback.fromRevision == $r' <<<"$policy"
image=$("${kubectl[@]}" get deploy hello -n "$app_ns" -o jsonpath='{.spec.template.spec.containers[0].image}')
good_tag=$(run "$good_run" | jq -r '.status.artifact.image | split(":") | last')
check "the Deployment runs the good build again (:$good_tag)" test "${image##*:}" = "$good_tag"

echo "== Prometheus"
source hack/demo-observe.sh
gateway=$(sed -n 's/^FLYWHEEL_TESTENV_REAL_NODE_GATEWAY=//p' "$dir/env")
prom=http://$gateway:19090
ratio=$(prom_query "$prom" "$(error_ratio_query "$app_ns" 20s)")
check "the error ratio is back under the threshold ($ratio)" awk -v r="$ratio" 'BEGIN { exit !(r < 0.05) }'
sel="namespace=\"$ns\""
# at_least <what> <min> <promql>: the query's one value must be at least min.
at_least() {
  local v
  v=$(prom_query "$prom" "$3" || true)
  check "$1 = ${v:-none} (at least $2)" awk -v v="${v:-x}" -v m="$2" 'BEGIN { exit !(v + 0 >= m && v != "x") }'
}
# The demo's run, with a minute's margin. The counters exist at 0 from the Release's first
# reconcile, so increase() counts every event but one: the first deployment happens in that same
# reconcile, before a scrape sees the 0 (docs/monitoring.md). The demo deploys three revisions.
w=$(($(date +%s) - $(jq -r '.metadata.creationTimestamp | fromdate' <<<"$release") + 60))s
at_least "deployments" 2 "round(sum(increase(flywheel_deployments_total{$sel}[$w])))"
at_least "rollbacks by a metric" 1 "round(sum(increase(flywheel_rollbacks_total{$sel,trigger=\"metric\"}[$w])))"
at_least "restores timed" 1 "round(sum(increase(flywheel_time_to_restore_seconds_count{$sel}[$w])))"
at_least "lead times timed" 2 "round(sum(increase(flywheel_lead_time_seconds_count{$sel}[$w])))"
check "the change failure rate is a share (0 < rate <= 1)" awk -v v="$(prom_query "$prom" \
  "sum(increase(flywheel_rollbacks_total{$sel}[$w])) / sum(increase(flywheel_deployments_total{$sel}[$w]))")" \
  'BEGIN { exit !(v > 0 && v <= 1) }'
at_least "pipeline runs failed" 1 "round(sum(increase(flywheel_pipeline_runs_total{$sel,result=\"failed\"}[$w])))"
check "the alert rules pass promtool" promtool check rules manifests/monitoring/alerts.yaml
check "every dashboard query answers" hack/check-dashboard.sh --var namespace="$ns" \
  --range "${w%s}" --rate-interval 30s "$prom"

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "OK"
