#!/usr/bin/env bash
# check-dashboard.sh [options] <prometheus-url>: runs every query of the Grafana dashboard
# (manifests/monitoring/grafana-dashboard.json) against a live Prometheus (/api/v1/query, an
# instant query now) and exits 1 naming each query that errors or returns no data.
#
# Dashboard variables get their default from the dashboard itself ("All" -> its allValue, a
# textbox -> its text); Grafana's built-ins get fixed values: $__range from --range,
# $__rate_interval and $__interval from --rate-interval.
#
#   --range <seconds>          the dashboard time range (default 3600)
#   --rate-interval <duration> what $__rate_interval becomes (default 1m: 4 scrapes at 15s)
#   --var <name>=<value>       override a dashboard variable (repeatable), e.g. --var
#                              namespace=flywheel-demo
#   --dashboard <file>         another dashboard file
#   --list                     print each query as JSON ({panel, ref, expr}, variables
#                              substituted) instead of running it; no URL needed
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dashboard=$root/manifests/monitoring/grafana-dashboard.json
range=3600
rate_interval=1m
list=false
overrides='{}'
url=""
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --range) range=${2:?--range needs seconds}; shift 2 ;;
    --rate-interval) rate_interval=${2:?--rate-interval needs a duration}; shift 2 ;;
    --dashboard) dashboard=${2:?--dashboard needs a file}; shift 2 ;;
    --var)
      [[ ${2:-} == *=* ]] || { echo "check-dashboard: --var needs <name>=<value>" >&2; exit 2; }
      overrides=$(jq -c --arg k "${2%%=*}" --arg v "${2#*=}" '. + {($k): $v}' <<<"$overrides")
      shift 2 ;;
    --list) list=true; shift ;;
    -h | --help) usage ;;
    -*) echo "check-dashboard: unknown option $1" >&2; usage ;;
    *) [ -z "$url" ] || usage; url=$1; shift ;;
  esac
done
[[ $range =~ ^[0-9]+$ ]] || { echo "check-dashboard: --range must be whole seconds, got $range" >&2; exit 2; }
for tool in jq curl; do
  command -v "$tool" >/dev/null || { echo "check-dashboard: $tool is required" >&2; exit 2; }
done
[ -r "$dashboard" ] || { echo "check-dashboard: cannot read $dashboard" >&2; exit 2; }
unknown=$(jq -r --argjson over "$overrides" \
  '($over | keys) - [.templating.list[].name] | join(", ")' "$dashboard")
if [ -n "$unknown" ]; then
  echo "check-dashboard: --var $unknown: no such variable in $dashboard (it has:" \
    "$(jq -r '[.templating.list[] | select(.type != "datasource") | .name] | join(", ")' "$dashboard"))" >&2
  exit 2
fi

# Every query of every panel (rows' nested panels too), one JSON object a line, with the
# variables replaced: longest names first, so $__range_s is not read as $__range + "_s".
queries=$(jq -c --argjson over "$overrides" --arg range "$range" --arg rate "$rate_interval" '
  ([.templating.list[] | select(.type != "datasource") |
     {key: .name,
      value: (. as $t | $over[.name] //
              (($t.current.value // $t.query) | if type == "array" then .[0] else . end
               | if . == "$__all" then $t.allValue else . end))}]
   + [{key: "__range_s", value: $range}, {key: "__range", value: "\($range)s"},
      {key: "__rate_interval", value: $rate}, {key: "__interval", value: $rate}]
   | sort_by(-(.key | length))) as $vars
  | [.panels[] | ., (.panels // [])[]] | .[] | select(.targets) | . as $p
  | .targets[] | select(.hide != true)
  | {panel: $p.title, ref: .refId,
     expr: (reduce $vars[] as $v (.expr;
              gsub("\\$\\{" + $v.key + "\\}|\\$" + $v.key + "(?![A-Za-z0-9_])"; $v.value)))}
' "$dashboard")
[ -n "$queries" ] || { echo "check-dashboard: no queries in $dashboard" >&2; exit 1; }
if leftover=$(jq -r 'select(.expr | test("\\$")) | "\(.panel) [\(.ref)]: \(.expr)"' <<<"$queries") &&
  [ -n "$leftover" ]; then
  echo "check-dashboard: variables left unreplaced:" >&2
  echo "$leftover" >&2
  exit 1
fi
if $list; then
  echo "$queries"
  exit 0
fi
[ -n "$url" ] || usage

failed=0
total=0
while IFS= read -r q; do
  total=$((total + 1))
  name=$(jq -r '"\(.panel) [\(.ref)]"' <<<"$q")
  expr=$(jq -r .expr <<<"$q")
  if ! answer=$(curl -sS --max-time 30 -G --data-urlencode "query=$expr" \
    "${url%/}/api/v1/query" 2>&1); then
    echo "FAIL  $name: Prometheus did not answer: $answer"
    failed=$((failed + 1))
    continue
  fi
  verdict=$(jq -r '
    if .status != "success" then "error \(.errorType // "?"): \(.error // "no error text")"
    elif (.data.resultType == "vector" or .data.resultType == "matrix") then
      if (.data.result | length) == 0 then "no data"
      else "ok \(.data.result | length) series, e.g. \(.data.result[0].value[1] // "a range")" end
    else "ok \(.data.resultType) \(.data.result[1])" end' <<<"$answer" 2>/dev/null ||
    echo "error: not a Prometheus API answer: ${answer:0:200}")
  if [[ $verdict == ok* ]]; then
    echo "ok    $name: ${verdict#ok }"
  else
    echo "FAIL  $name: $verdict"
    echo "      $expr"
    failed=$((failed + 1))
  fi
done <<<"$queries"
echo "check-dashboard: $((total - failed)) of $total queries returned data"
[ "$failed" -eq 0 ]
