#!/bin/sh
# Captures the recorded Prometheus answers in answers/ from a real Prometheus (Debian's 2.42):
# backfills a few series an hour ago with promtool, starts Prometheus on a loopback port, and
# saves what /api/v1/query answers to each query at a time inside the data. The files not
# written here are described in ../README.md.
#   tests/prom/testdata/capture.sh [port]
set -eu
port=${1:-19090}
out=$(cd "$(dirname "$0")" && pwd)/answers
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
t=$(( $(date +%s) - 3600 ))
cat > "$tmp/data.om" <<OM
# TYPE http_requests_total counter
http_requests_total{code="200",job="app"} 100 $t
http_requests_total{code="500",job="app"} 5 $t
# TYPE single gauge
single{job="app"} 0.0731 $t
# EOF
OM
promtool tsdb create-blocks-from openmetrics "$tmp/data.om" "$tmp/data" >/dev/null
printf 'global:\n  scrape_interval: 1s\nscrape_configs: []\n' > "$tmp/prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$port" >"$tmp/log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; do sleep 0.2; done
capture() {  # capture <file> <query> [curl args...]
  file=$1 query=$2
  shift 2
  curl -s --data-urlencode "query=$query" --data-urlencode "time=$((t + 30))" "$@" \
    "http://127.0.0.1:$port/api/v1/query" > "$out/$file"
  echo >> "$out/$file"
}
capture vector_one.json 'single'
capture vector_several.json 'http_requests_total'
capture vector_empty.json 'nothing_here'
capture vector_nan.json 'single * 0 / 0'
capture vector_inf.json 'single / 0'
capture scalar.json 'scalar(single)'
capture scalar_nan.json '0/0'
capture scalar_inf.json '1/0'
capture scalar_minus_inf.json '-1/0'
capture matrix.json 'http_requests_total[1m]'
capture string.json '"text"'
capture bad_data_400.json 'sum('
capture execution_422.json 'http_requests_total + on() group_left http_requests_total'
capture timeout_503.json 'http_requests_total' --data-urlencode 'timeout=0.000001'
