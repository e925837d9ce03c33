#!/usr/bin/env bash
# Pipeline benchmark (issue 11): push webhook → PipelineRun created; N Pipelines polling; a
# successful run → promotion commit → Release applied. Measured against the real
# `flywheel controller` and the testenv (bench/pipeline.cpp drives them), each with a baseline
# from the same run. Writes its section of docs/benchmarks.md.
#
#   make build && bench/pipeline.sh [--pushes N] [--pipelines N] [--poll S] [--duration S]
#                                   [--runs N] [--only push|scale|promote]
#
# Environment: FLYWHEEL_BENCH_BIN (default build/bench/flywheel_bench_pipeline),
# FLYWHEEL_TESTENV_DIR (default .testenv), BENCH_OUTPUT (default docs/benchmarks.md).
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

pushes=100 pipelines=200 poll=60 duration=180 runs=10 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pushes) pushes=$2; shift ;;
    --pipelines) pipelines=$2; shift ;;
    --poll) poll=$2; shift ;;
    --duration) duration=$2; shift ;;
    --runs) runs=$2; shift ;;
    --only) only=$2; shift ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pipeline.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

case "$only" in "" | push | scale | promote) ;; *) die "--only takes push, scale or promote" ;; esac
bin=${FLYWHEEL_BENCH_BIN:-build/bench/flywheel_bench_pipeline}
output=${BENCH_OUTPUT:-docs/benchmarks.md}
[ -x "$bin" ] || die "$bin not found: run \`make build\`"
need_tools jq git
use_testenv
export FLYWHEEL_TESTENV_DIR=$testenv
"${kubectl[@]}" apply --server-side -f crds/ >/dev/null
"${kubectl[@]}" wait --for=condition=Established --timeout=60s \
  crd/pipelines.flywheel.dev crd/pipelineruns.flywheel.dev crd/releases.flywheel.dev >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for mode in push promote scale; do
  [ -z "$only" ] || [ "$only" = "$mode" ] || continue
  case $mode in
    push) args=(--pushes "$pushes") ;;
    promote) args=(--runs "$runs") ;;
    scale) args=(--pipelines "$pipelines" --poll "$poll" --duration "$duration") ;;
  esac
  log "$mode: ${args[*]}"
  "$bin" "$mode" "${args[@]}" >"$work/$mode.jsonl"
done
if [ -n "$only" ]; then
  cat "$work"/*.jsonl
  exit 0
fi

# quantile <file> <jq filter> <q>: the q-quantile (nearest rank) of the filter's values.
quantile() {
  jq -r "$2" "$1" | sort -g | awk -v q="$3" '{ v[NR] = $1 }
    END { i = int(q * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.1f", v[i] * 1000 }'
}
push=$work/push.jsonl promote=$work/promote.jsonl
sel_push='select(.scenario == "push")'
p50=$(quantile "$push" "$sel_push | .latency_s" 0.5)
p99=$(quantile "$push" "$sel_push | .latency_s" 0.99)
f50=$(quantile "$push" "$sel_push | .floor_s" 0.5)
f99=$(quantile "$push" "$sel_push | .floor_s" 0.99)
n_push=$(jq -r "$sel_push | 1" "$push" | wc -l)
push_complaints=$(jq -r 'select(.scenario == "push-controller") | .complaints' "$push")
t50=$(quantile "$promote" '.total_s' 0.5) tmax=$(quantile "$promote" '.total_s' 1)
pushed50=$(quantile "$promote" '.to_pushed_s' 0.5) applied50=$(quantile "$promote" '.to_applied_s' 0.5)
git50=$(quantile "$promote" '.git_push_s' 0.5)
n_promote=$(wc -l <"$promote")
over50=$(calc '%.1f' "$t50 - $git50")
overmax=$(calc '%.1f' "$tmax - $git50")
sj() { jq -r "$1" "$work/scale.jsonl"; }
b_wall=$(sj .baseline.wall_s) w_wall=$(sj .with.wall_s)
b_cpu=$(sj .baseline.cpu_s) w_cpu=$(sj .with.cpu_s)
b_rss=$(sj .baseline.rss_kib) w_rss=$(sj .with.rss_kib)
extra_cpu=$(calc '%.4f' "$w_cpu - $b_cpu * $w_wall / $b_wall")
cpu_pct=$(calc '%.3f' "100 * $extra_cpu / $w_wall")
rss_per=$(calc '%.1f' "($w_rss - $b_rss) / $pipelines")
polls=$(sj .git.polls) git_cpu=$(sj .git.cpu_s)
ctl_per_poll=$(calc '%.3f' "1000 * $extra_cpu / ($pipelines * $w_wall / $poll)")
git_per_poll=$(calc '%.3f' "1000 * $git_cpu / $polls")
verdict() { awk -v x="$1" -v goal="$2" 'BEGIN { print (x < goal ? "**met**" : "**missed**") }'; }
machine="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
section=$work/section.md
cat >"$section" <<EOF
<!-- pipeline:begin (written by bench/pipeline.sh: edit the script, not this) -->
## Pipeline (issue 11)

\`\`\`sh
make build && bench/pipeline.sh   # --pushes N --pipelines N --poll S --duration S --runs N
\`\`\`

**Goals** (issue 11): push webhook delivered → PipelineRun created p99 < 200 ms; ${pipelines}
Pipelines polling every ${poll} s under 1% of a core and 20 KiB per Pipeline; a successful run
→ promotion commit pushed → Release applied < 2 s beyond the git push itself.

| | measured | baseline in the same run | goal | |
|---|---|---|---|---|
| push webhook → PipelineRun created, p50 / p99 of ${n_push} | ${p50} / **${p99} ms** | API write + read: ${f50} / ${f99} ms | p99 < 200 ms | $(verdict "$p99" 200) |
| controller CPU for ${pipelines} Pipelines polling every ${poll} s | **${cpu_pct}%** of a core | | < 1% | $(verdict "$cpu_pct" 1) |
| RSS growth per Pipeline (with its one run and pod in the caches) | **${rss_per} KiB** | | < 20 KiB | $(verdict "$rss_per" 20) |
| controller CPU per poll | ${ctl_per_poll} ms | \`git ls-remote\` process: ${git_per_poll} ms | | |
| build pod Succeeded → Release applied the promotion, median / max of ${n_promote} | ${t50} / ${tmax} ms | \`git push\` of a one-line commit: ${git50} ms | < 2000 ms beyond the push | $(verdict "$overmax" 2000) (**${over50} ms** beyond, max ${overmax}) |

Run of $(date -u +%Y-%m-%d) on ${machine}; flywheel ${commit}; the testenv on loopback
(shared with other work: absolute times are noisy). The driver \`build/bench/flywheel_bench_pipeline\`
(\`bench/pipeline.cpp\`) links the test support library and runs \`build/flywheel controller
--namespace <fresh> --log-level info --allow-file-sources\` with git repositories over \`file://\`.
Build pods land on kwok nodes; where a step would finish, the driver writes the pod's status as
a kubelet would.

- **Push**: a Pipeline (\`pollInterval: 1h\`, so only the webhook explains a run); per push a new
  commit, then a signed GitHub \`push\` webhook to \`/hooks/git\` at T0, then GETs every 2 ms
  until \`<pipeline>-<sha7>\` exists. The path: the receiver verifies the HMAC, the dispatcher
  patches the Pipeline's reconcile annotation, the watch wakes the Pipeline controller, which asks
  the remote for the head (\`git ls-remote\` equivalent) and creates the run. Baseline: the driver
  creating a ConfigMap and polling until it reads it back. ${push_complaints} warning or error
  lines in the controller's log (status writes that lost a race to a newer object and were redone).
- **Promote**: a Pipeline with \`artifact\` and \`promote\` into a second repository holding a
  ConfigMap with an \`image:\` value, and a Release following that repository (\`pollInterval:
  1h\`). Per run, T0 = the build pod's status written Succeeded; the driver polls the repository
  head and the Release every 5 ms. Medians: pod Succeeded → promotion commit in the repository
  ${pushed50} ms; → Release applied it ${applied50} ms (the promotion wakes the Release the way a
  push webhook would).
- **Scale**: one controller; ${duration} s with no Pipeline, then ${pipelines} Pipelines (\`pollInterval:
  ${poll}s\`, the same repository) created, their first runs made, one more poll interval, then
  ${duration} s measured. CPU is utime + stime from \`/proc/<pid>/stat\` (the baseline's CPU scaled
  to the same wall time is subtracted), RSS is \`VmRSS\` at the end of each phase: $(calc '%.1f' "$b_rss / 1024") MiB
  → $(calc '%.1f' "$w_rss / 1024") MiB. Pipeline reconciles in the measured phase: $(sj .with.reconciles)
  ($(calc '%.2f' "$(sj .with.reconciles) / ($pipelines * $w_wall / $poll)") per expected poll). The baseline for a poll:
  ${polls} \`git ls-remote <file url> refs/heads/main\` processes one after another, CPU from
  \`getrusage(RUSAGE_CHILDREN)\`.
- **How the RSS row got under its goal** (RSS growth per Pipeline): 23.9 KiB at 309aea9. Build
  pods cached trimmed to what the run controller reads (\`pipeline::TrimCachedPod\`: this
  benchmark's running pod from 3612 to 1258 bytes of JSON) and the heap's free pages given back
  to the kernel every 30 s (\`malloc_trim(0)\`): 24.2 KiB in a run on a busier machine (under a
  load average near 20, the same-run A/B measured 37.2 before and 32.4 KiB after). Then idle API
  server connections closed every 30 s (635a750; same-run A/B in "Before/after: idle API server
  connections closed" below: 19.7, 21.3 before and 17.5, 17.3 KiB after). The table above is
  the first run of this script after all three. What is left per Pipeline, from a heap profile:
  the informer Store about 4.3 KiB (the packed Pipeline, run and pod, keys and indexes), metric
  tables 1.8 KiB, Event series 0.5 KiB, work-queue timers 0.4 KiB; the rest is heap the
  reconciles' transient trees leave fragmented.
<!-- pipeline:end -->
EOF
write_section pipeline "$section" "$output"
