#!/usr/bin/env bash
# /metrics scrape benchmark: the exposition of the per-object series of many Pipelines and
# Releases, written by the metric tables themselves, against the baseline in the same run (the
# same families as prometheus-cpp objects through its TextSerializer, the scrape before the
# tables wrote their own text). No cluster. Writes its section of docs/benchmarks.md.
#
#   make build && bench/metrics_scrape.sh [--pipelines N] [--releases N] [--scrapes N]
#
# Environment: FLYWHEEL_BENCH_BIN (default build/bench/flywheel_bench_metrics), BENCH_OUTPUT
# (default docs/benchmarks.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pipelines | --releases | --scrapes) args+=("$1" "$2"); shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
bin=${FLYWHEEL_BENCH_BIN:-build/bench/flywheel_bench_metrics}
output=${BENCH_OUTPUT:-docs/benchmarks.md}
[ -x "$bin" ] || die "$bin not found: run \`make build\` (or set FLYWHEEL_BENCH_BIN)"
need_tools jq

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "scraping the metrics of $bin ${args[*]}"
"$bin" "${args[@]}" >"$work/out.json"
get() { jq -r "select(.way == \"$1\") | $2" "$work/out.json"; }
pipelines=$(get tables .pipelines)
releases=$(get tables .releases)
row() {  # row <label> <jq field> <format> <scale>
  local a b
  a=$(get serializer "$2")
  b=$(get tables "$2")
  printf '| %s | %s | %s | %s |\n' "$1" "$(calc "$3" "$a * $4")" "$(calc "$3" "$b * $4")" \
    "$(calc '%.2g' "$b / $a")"
}

cat >"$work/section.md" <<EOF
<!-- metrics-scrape:begin (written by bench/metrics_scrape.sh: edit the script, not this) -->
## One /metrics scrape (\`bench/metrics_scrape.sh\`)

The text exposition of an operator holding the series of $pipelines Pipelines (each with a run
and four steps observed) and $releases Releases (a sync, a deployment and a lead time observed):
$(get tables '.text_bytes / 1048576 * 10 | floor / 10') MiB of text.

- **tables**: what a scrape does (\`RuntimeMetrics::Serialize\`, each \`SeriesTable\` and
  \`HistogramTable\` writing its own lines into the response text).
- **serializer**: the baseline in the same run, the same families as prometheus-cpp objects
  (\`Collect()\`) written by \`prometheus::TextSerializer\`, as scrapes were written before.

Both texts are checked equal. Allocations are counted by the benchmark's own \`operator new\`.
$(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg).

| per scrape | serializer | tables | ratio |
|---|---|---|---|
$(row "CPU (median), ms" .cpu_s_median '%.1f' 1000)
$(row "allocations" .allocations '%.0f' 1)
$(row "bytes allocated, MiB" .allocated_bytes '%.1f' '1/1048576')
$(row "peak allocated at once above the steady state, MiB" .peak_bytes '%.1f' '1/1048576')

The tables' peak is the text itself (one string, reserved at the size of the last scrape).
<!-- metrics-scrape:end -->
EOF
write_section metrics-scrape "$work/section.md" "$output"
