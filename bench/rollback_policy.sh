#!/usr/bin/env bash
# RollbackPolicy benchmark (issue 10): how fast a breaching PromQL check rolls a Release back, and
# what 200 policies evaluating every 10 s cost the controller and Prometheus, measured against the
# real `flywheel controller`, the testenv and Debian's Prometheus scraping the tests' exporter
# (bench/rollback_policy.cpp drives them). Writes its section of docs/benchmarks.md.
#
#   make build && bench/rollback_policy.sh [--runs N] [--interval S] [--for S]
#                                          [--policies N] [--scale-interval S] [--duration S]
#                                          [--base-bin PATH --base-label TEXT]
#
#   --runs N            latency runs (default 3)
#   --interval S        the latency policy's interval (default 1)
#   --for S             the latency policy's `for` (default 3)
#   --policies N        policies (and Releases) in the scale scenario (default 200)
#   --scale-interval S  their interval (default 10)
#   --duration S        each measured phase of the scale scenario (default 180)
#   --only S            run only the latency or the scale scenario and print its raw JSON lines
#                       instead of writing docs/benchmarks.md
#   --base-bin PATH     also run the scale scenario, first, with this `flywheel` binary as the
#                       controller (e.g. one built from an earlier commit), and put its figures
#                       next to this build's: before and after, back to back on one testenv
#   --base-label TEXT   what the base binary is, for the section (default: its path)
#
# Environment: FLYWHEEL_BENCH_BIN (default build/bench/flywheel_bench_rollback; it runs the
# controller binary it was built with, build/flywheel), FLYWHEEL_TESTENV_DIR (default .testenv),
# BENCH_OUTPUT (default docs/benchmarks.md).
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

runs=3 interval=1 for_s=3 policies=200 scale_interval=10 duration=180 only="" base_bin="" base_label=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --interval) interval=$2; shift ;;
    --for) for_s=$2; shift ;;
    --policies) policies=$2; shift ;;
    --scale-interval) scale_interval=$2; shift ;;
    --duration) duration=$2; shift ;;
    --only) only=$2; shift ;;
    --base-bin) base_bin=$2; shift ;;
    --base-label) base_label=$2; shift ;;
    -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rollback_policy.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

case "$only" in "" | latency | scale) ;; *) die "--only takes latency or scale, not $only" ;; esac
bin=${FLYWHEEL_BENCH_BIN:-build/bench/flywheel_bench_rollback}
output=${BENCH_OUTPUT:-docs/benchmarks.md}
[ -x "$bin" ] || die "$bin not found: run \`make build\`"
[ -x build/flywheel ] || die "build/flywheel not found: run \`make build\`"
[ -z "$base_bin" ] || [ -x "$base_bin" ] || die "--base-bin $base_bin is not an executable"
base_label=${base_label:-$base_bin}
command -v prometheus >/dev/null || die "prometheus not found: run \`make deps\` (Debian's prometheus)"
need_tools jq curl git
use_testenv
export FLYWHEEL_TESTENV_DIR=$testenv
"${kubectl[@]}" apply --server-side -f crds/ >/dev/null
"${kubectl[@]}" wait --for=condition=Established --timeout=60s \
  crd/releases.flywheel.dev crd/rollbackpolicies.flywheel.dev >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$only" != scale ]; then
  log "latency: $runs runs, interval ${interval}s, for ${for_s}s"
  "$bin" latency --runs "$runs" --interval "$interval" --for "$for_s" >"$work/latency.jsonl"
fi
if [ "$only" != latency ] && [ -n "$base_bin" ]; then
  # The driver runs its controller through FLYWHEEL_BENCH_CONTROLLER_WRAPPER: one that execs the
  # base binary (same process, so the same /proc figures) in place of build/flywheel.
  printf '#!/bin/sh\nshift\nexec "%s" "$@"\n' "$(realpath "$base_bin")" >"$work/base-controller"
  chmod +x "$work/base-controller"
  log "scale, base ($base_label): $policies policies every ${scale_interval}s, phases of ${duration}s"
  FLYWHEEL_BENCH_CONTROLLER_WRAPPER="$work/base-controller" \
    "$bin" scale --policies "$policies" --interval "$scale_interval" --duration "$duration" \
    >"$work/scale-base.json"
fi
if [ "$only" != latency ]; then
  log "scale: $policies policies every ${scale_interval}s, phases of ${duration}s"
  "$bin" scale --policies "$policies" --interval "$scale_interval" --duration "$duration" \
    >"$work/scale.json"
fi
if [ -n "$only" ]; then
  cat "$work"/*.json*
  exit 0
fi

# ---- latency -------------------------------------------------------------------------------
lat=$work/latency.tsv
# One line per run: the steps (seconds) in the order the section names them.
jq -r 'select(.scenario == "latency") | [
    "run",
    .breaching_since - .t0,                      # 1 T0 -> first breaching evaluation
    .firing_evaluation - .breaching_since,       # 2 -> the evaluation that fires
    .request_seen - .firing_evaluation,          # 3 -> the rollback annotation seen
    .configmap_a_seen - .request_seen,           # 4 -> ConfigMap back to A
    .release_ready_seen - .configmap_a_seen,     # 5 -> Release Ready again
    .configmap_a_seen - .firing_evaluation,      # 6 (a) firing evaluation -> applied
    .configmap_a_seen - .breaching_since,        # 7 (a) first breaching evaluation -> applied
    .release_ready_seen - .t0,                   # 8 (b) T0 -> healthy
    .release_last_rollback_at - .breaching_since # 9 Release status lastRollback.at (whole s)
  ] | @tsv' "$work/latency.jsonl" >"$lat"
n_lat=$(wc -l <"$lat")
[ "$n_lat" -gt 0 ] || die "no latency run finished"
med() { median_in "$lat" run "\$$(($1 + 1))"; }
per_run() { awk -v c=$(($1 + 1)) '$1 == "run" { printf "%s%.2f", (n++ ? ", " : ""), $c }' "$lat"; }
max_of() { awk -v c=$(($1 + 1)) '$1 == "run" && (m == "" || $c > m) { m = $c } END { printf "%.2f", m }' "$lat"; }
floor_a=$((for_s + interval))
floor_b=$((for_s + interval + 1))
over_a0=$(calc '%.2f' "$(med 6)")
over_a=$(calc '%.2f' "$(med 7) - $floor_a")
over_af=$(calc '%.2f' "$(med 7) - $for_s")
over_af_max=$(calc '%.2f' "$(max_of 7) - $for_s")
over_b=$(calc '%.2f' "$(med 8) - $floor_b")
over_a0_max=$(max_of 6)
over_a_max=$(calc '%.2f' "$(max_of 7) - $floor_a")
over_b_max=$(calc '%.2f' "$(max_of 8) - $floor_b")
lat_cpu=$(jq -r 'select(.scenario == "latency-controller") | .cpu_s' "$work/latency.jsonl")
lat_complaints=$(jq -r 'select(.scenario == "latency-controller") | .complaints' "$work/latency.jsonl")
reason=$(jq -r 'select(.scenario == "latency") | .reason' "$work/latency.jsonl" | head -n 1)

# ---- scale ---------------------------------------------------------------------------------
sj() { jq -r "$1" "$work/scale.json"; }
b_wall=$(sj .baseline.wall_s) w_wall=$(sj .with_policies.wall_s)
b_cpu=$(sj .baseline.cpu_s) w_cpu=$(sj .with_policies.cpu_s)
b_rss=$(sj .baseline.rss_kib) w_rss=$(sj .with_policies.rss_kib)
evals=$(sj .with_policies.evaluations)
b_q=$(sj .baseline.queries) w_q=$(sj .with_policies.queries)
b_pcpu=$(sj .baseline.prometheus_cpu_s) w_pcpu=$(sj .with_policies.prometheus_cpu_s)
b_kcpu=$(sj .baseline.control_plane_cpu_s) w_kcpu=$(sj .with_policies.control_plane_cpu_s)
extra_cpu=$(calc '%.4f' "$w_cpu - $b_cpu * $w_wall / $b_wall")  # the policies' CPU seconds
cpu_pct=$(calc '%.2f' "100 * $extra_cpu / $w_wall")
cpu_pct_total=$(calc '%.2f' "100 * $w_cpu / $w_wall")
cpu_per_eval_ms=$(calc '%.3f' "1000 * $extra_cpu / $evals")
rss_per_policy=$(calc '%.1f' "($w_rss - $b_rss) / $policies")
qps=$(calc '%.2f' "$w_q / $w_wall")
expected_qps=$(calc '%.2f' "$policies / $scale_interval")
curl_q=$(sj .curl.queries) curl_cpu=$(sj .curl.cpu_s) curl_wall=$(sj .curl.wall_s)
curl_pcpu=$(sj .curl.prometheus_cpu_s)
curl_per_q_ms=$(calc '%.3f' "1000 * $curl_cpu / $curl_q")
prom_per_q_ms=$(calc '%.3f' "1000 * ($w_pcpu - $b_pcpu * $w_wall / $b_wall) / $w_q")
plane_per_eval_ms=$(calc '%.3f' "1000 * ($w_kcpu - $b_kcpu * $w_wall / $b_wall) / $evals")
b_rec=$(sj .baseline.reconciles) w_rec=$(sj .with_policies.reconciles)
w_rec_s=$(sj .with_policies.reconcile_seconds)
by_result=$(sj '.evaluations_by_result | to_entries | map("\(.key) \(.value)") | join(", ")')
scale_complaints=$(sj .complaints)
watching_after=$(sj .watching_after)

# Of a scale run: the policies' controller CPU (% of a core, ms per evaluation), the control
# plane's CPU per evaluation (ms), RSS growth per policy (KiB), wall ms per reconcile, evaluations.
scale_figures() {
  jq -r '(.with_policies.wall_s / .baseline.wall_s) as $k
    | (.with_policies.cpu_s - .baseline.cpu_s * $k) as $x
    | [100 * $x / .with_policies.wall_s, 1000 * $x / .with_policies.evaluations,
       1000 * (.with_policies.control_plane_cpu_s - .baseline.control_plane_cpu_s * $k)
         / .with_policies.evaluations,
       (.with_policies.rss_kib - .baseline.rss_kib) / .policies,
       1000 * .with_policies.reconcile_seconds / .with_policies.reconciles,
       .with_policies.evaluations] | map(tostring) | join(" ")' "$1"
}
compare=""
if [ -f "$work/scale-base.json" ]; then
  read -r before_pct before_ms before_plane before_rss before_rec_ms before_evals <<<"$(scale_figures "$work/scale-base.json")"
  read -r after_pct after_ms after_plane after_rss after_rec_ms after_evals <<<"$(scale_figures "$work/scale.json")"
  compare="
**Before and after, this run.** The same scale scenario ran twice, back to back on this
testenv: first with the base binary (${base_label}) as the controller, then with this build.

| ${policies} policies every ${scale_interval} s, ${duration} s phases | before | after |
|---|---|---|
| controller CPU, % of a core | $(calc '%.2f' "$before_pct")% | **$(calc '%.2f' "$after_pct")%** |
| controller CPU per evaluation, ms | $(calc '%.3f' "$before_ms") | **$(calc '%.3f' "$after_ms")** |
| control-plane CPU per evaluation, ms | $(calc '%.3f' "$before_plane") | $(calc '%.3f' "$after_plane") |
| RSS growth per policy, KiB | $(calc '%.1f' "$before_rss") | $(calc '%.1f' "$after_rss") |
| wall time per reconcile, ms | $(calc '%.1f' "$before_rec_ms") | $(calc '%.1f' "$after_rec_ms") |
| evaluations in the phase | $(calc '%d' "$before_evals") | $(calc '%d' "$after_evals") |
"
fi

verdict() { awk -v x="$1" -v goal="$2" 'BEGIN { print (x < goal ? "**met**" : "**missed**") }'; }
machine="$(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
server=$("${kubectl[@]}" get --raw /version | jq -r '"\(.major).\(.minor)"')
prom_version=$(prometheus --version 2>&1 | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p')
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " plus uncommitted changes" || true)

section=$work/section.md
cat >"$section" <<EOF
<!-- rollback-policy:begin (written by bench/rollback_policy.sh: edit the script, not this) -->
## RollbackPolicy (issue 10)

\`\`\`sh
make build && bench/rollback_policy.sh   # --runs N --interval S --for S --policies N --scale-interval S --duration S
\`\`\`

**Goals** (issue 10): a rollback within 2 s of its floor (\`for\` + \`interval\`, + the scrape
interval when counted from the first bad sample); 200 policies evaluating every 10 s cost the
controller under 2% of a core and under 20 KiB of RSS per policy.

| | measured | floor | overhead | goal | |
|---|---|---|---|---|---|
| (a) the evaluation that fires → rollback applied (ConfigMap back to A), median of ${n_lat} | $(calc '%.2f' "$(med 6)") s | 0 | **${over_a0} s** (max ${over_a0_max}) | < 2 s | $(verdict "$over_a0_max" 2) |
| (a) first breaching evaluation → rollback applied, median | $(calc '%.2f' "$(med 7)") s | ${for_s} s (\`for\`) | **${over_af} s** (max ${over_af_max}) | < 2 s | $(verdict "$over_af_max" 2) |
| the same against the issue's floor | $(calc '%.2f' "$(med 7)") s | ${floor_a} s (\`for\` + \`interval\`) | ${over_a} s (max ${over_a_max}) | < 2 s | $(verdict "$over_a_max" 2) |
| (b) first bad sample (T0) → target revision healthy (Release Ready), median | $(calc '%.2f' "$(med 8)") s | ${floor_b} s (+ scrape 1 s) | **${over_b} s** (max ${over_b_max}) | < 2 s | $(verdict "$over_b_max" 2) |
| controller CPU for ${policies} policies every ${scale_interval} s, % of a core | ${cpu_pct}% | | | < 2% | $(verdict "$cpu_pct" 2) |
| RSS growth per policy | ${rss_per_policy} KiB | | | < 20 KiB | $(verdict "$rss_per_policy" 20) |
| queries per second sent to Prometheus | ${qps} | ${expected_qps} (${policies} / ${scale_interval} s) | | | |

Run of $(date -u +%Y-%m-%d) on ${machine}; kube-apiserver ${server} (the testenv on loopback, shared
with other work: absolute times are noisy), Debian's Prometheus ${prom_version}, flywheel
${commit}${dirty}. The driver \`build/bench/flywheel_bench_rollback\` (\`bench/rollback_policy.cpp\`)
links the test support library (\`tests/support/\`: \`Prometheus\`, \`TestExporter\`, \`GitRepo\`,
\`BackgroundProcess\`), so it runs the same real parts as the integration tests: \`build/flywheel
controller --namespace <fresh> --log-level info --allow-file-sources\` (default 4 workers; info,
not the tests' debug, so logging is not measured), Prometheus on loopback scraping the exporter
every second, Releases syncing from bare git repositories over \`file://\`.

**Latency** ($n_lat runs, one controller). Each run: a Release (\`pollInterval: 1s\`) syncs
revision A (ConfigMap \`value: A\`) until it is stable, then B; a policy (\`interval: ${interval}s\`,
check \`sum(rate(http_requests_total{code=~"5.."}[4s])) / sum(rate(http_requests_total[4s])) > 0.05\`,
\`for: ${for_s}s\`, \`window: 0\`) watches B passing; at T0 the driver sets the exporter's error
ratio to 0.2. Three watches (the Release, the ConfigMap, the policy) stamp each event with the
driver's clock as it arrives (the same machine's clock as the controller's), so the steps below
have sub-second resolution; \`breachingSince\` and \`evaluatedAt\` come from the policy's status
(microseconds). The firing evaluation is the \`evaluatedAt\` of the status write that recorded
the rollback (written at the end of the reconcile whose evaluation fired).

| step, seconds | median | runs |
|---|---|---|
| 1. T0 → first breaching evaluation (\`breachingSince\`) | $(calc '%.2f' "$(med 1)") | $(per_run 1) |
| 2. → the evaluation that fires (\`for\` satisfied) | $(calc '%.2f' "$(med 2)") | $(per_run 2) |
| 3. → rollback request (\`flywheel.dev/rollback\` annotation) seen on the Release | $(calc '%.2f' "$(med 3)") | $(per_run 3) |
| 4. → ConfigMap back to A (rollback applied) | $(calc '%.2f' "$(med 4)") | $(per_run 4) |
| 5. → Release Ready with \`lastRollback.fromRevision\` = B | $(calc '%.2f' "$(med 5)") | $(per_run 5) |
| (a) 3 + 4 | $(calc '%.2f' "$(med 6)") | $(per_run 6) |
| (a) 2 + 3 + 4 | $(calc '%.2f' "$(med 7)") | $(per_run 7) |
| (b) 1 + … + 5 | $(calc '%.2f' "$(med 8)") | $(per_run 8) |
| Release \`status.lastRollback.at\` − \`breachingSince\` (\`at\` is whole seconds) | $(calc '%.2f' "$(med 9)") | $(per_run 9) |

The rollbacks' reason, as the Release recorded it: \`${reason}\`. Controller: ${lat_cpu} CPU
seconds over all runs, ${lat_complaints} warning or error lines in its log.

**Scale.** One repository with ${policies} directories of one ConfigMap each; ${policies} Releases
(\`path: rNNN\`, \`pollInterval: 1h\`, so they are quiet once synced) and, later, one policy per
Release (the same check, \`interval: ${scale_interval}s\`, \`for: 30s\`, \`window: 0\`; the
exporter's ratio stays 0, so every evaluation passes; a policy's status is written when its check
first passes, then at most every 5 minutes: docs/rollback.md, "Status, Events, metrics"). One
policy per Release rather than many policies on a few Releases: that is how a policy is used (it
guards one Release), and it makes each policy pay for its own Release lookups and status writes.
Phases of ${duration} s on one controller process:

- **baseline**: the same controller with the same ${policies} Releases synced and Ready, 0 policies;
- **with policies**: after all ${policies} policies showed a passing evaluation, and one more
  interval;
- **curl**: the same ${policies} queries sent once each by one \`curl\` process (\`--next\`, one
  connection, POST form like the controller's): the cheapest client.

CPU is utime + stime from \`/proc/<pid>/stat\`, RSS is \`VmRSS\` at the end of each phase,
evaluations are the controller's \`flywheel_rollback_evaluations_total\`, queries are
Prometheus' own \`prometheus_http_requests_total{handler="/api/v1/query"}\`; control-plane CPU is
kube-apiserver + etcd + controller-manager + scheduler + kwok.

| ${duration} s phase | baseline (0 policies) | with ${policies} policies | difference |
|---|---|---|---|
| wall, s | $(calc '%.1f' "$b_wall") | $(calc '%.1f' "$w_wall") | |
| controller CPU seconds | $(calc '%.2f' "$b_cpu") | $(calc '%.2f' "$w_cpu") | $(calc '%.2f' "$extra_cpu") (scaled to the same wall time) |
| controller CPU, % of a core | $(calc '%.2f' "100 * $b_cpu / $b_wall")% | ${cpu_pct_total}% | **${cpu_pct}%** |
| controller RSS at the end, MiB | $(calc '%.1f' "$b_rss / 1024") | $(calc '%.1f' "$w_rss / 1024") | $(calc '%.2f' "($w_rss - $b_rss) / 1024") (**${rss_per_policy} KiB per policy**) |
| evaluations | $(sj .baseline.evaluations) | ${evals} | |
| reconciles of the rollbackpolicy controller (\`controller_runtime_reconcile_total\`) | ${b_rec} | ${w_rec} | $(calc '%.2f' "$w_rec / $evals") per evaluation, $(calc '%.1f' "1000 * $w_rec_s / $w_rec") ms wall each |
| queries Prometheus served | ${b_q} | ${w_q} | ${qps} per second |
| Prometheus CPU seconds (it also scrapes every second) | $(calc '%.2f' "$b_pcpu") | $(calc '%.2f' "$w_pcpu") | $(calc '%.2f' "$w_pcpu - $b_pcpu * $w_wall / $b_wall") |
| control-plane CPU seconds | $(calc '%.2f' "$b_kcpu") | $(calc '%.2f' "$w_kcpu") | $(calc '%.2f' "$w_kcpu - $b_kcpu * $w_wall / $b_wall") |

| per evaluation (one query each) | |
|---|---|
| controller CPU, ms | **${cpu_per_eval_ms}** |
| curl's CPU per query, ms (${curl_q} queries in $(calc '%.2f' "$curl_wall") s, one process) | ${curl_per_q_ms} |
| controller / curl | $(calc '%.1f' "$cpu_per_eval_ms / $curl_per_q_ms")× |
| Prometheus CPU per query, ms (with policies; curl's burst: $(calc '%.3f' "1000 * $curl_pcpu / $curl_q")) | ${prom_per_q_ms} |
| control-plane CPU per evaluation (status writes and their watch events), ms | ${plane_per_eval_ms} |
${compare}
Controller RSS before the Releases were created: $(calc '%.1f' "$(sj .rss_empty_kib) / 1024") MiB; VmHWM at the end
$(calc '%.1f' "$(sj .vmhwm_kib) / 1024") MiB. Evaluations by result over the whole run: ${by_result}; policies
Watching and passing at the end: ${watching_after} of ${policies}; ${scale_complaints} warning or error lines in
the controller's log.
EOF
echo '<!-- rollback-policy:end -->' >>"$section"
write_section rollback-policy "$section" "$output"
sed -n '/^| | measured/,/^$/p' "$output" >&2
