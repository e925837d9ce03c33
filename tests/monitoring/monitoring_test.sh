#!/usr/bin/env bash
# The monitoring manifests (manifests/monitoring, docs/monitoring.md) with the real tools:
# promtool checks and unit-tests the alert rules; every dashboard query (variables replaced, as
# hack/check-dashboard.sh sends them) parses as PromQL; every metric named exists in src/; every
# runbook link has its section; the kustomization renders with the testenv's kubectl and
# carries the dashboard unchanged; prometheusrule.sh wraps alerts.yaml unchanged. A missing
# program is a failure. Registered with ctest (label unit).
# shellcheck source=tests/support/script_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/script_common.sh"
mon=manifests/monitoring
require promtool jq "$kubectl"

echo "== promtool check rules $mon/alerts.yaml"
promtool check rules "$mon/alerts.yaml" || fail "promtool check rules $mon/alerts.yaml"

echo "== promtool test rules tests/monitoring/alerts_test.yaml"
promtool test rules tests/monitoring/alerts_test.yaml || fail "promtool test rules"

echo "== every alert has for, a severity, summary, description and a runbook"
alerts=$(grep -c -- '- alert:' "$mon/alerts.yaml")
for key in 'for:' 'severity:' 'summary:' 'description:' 'runbook_url:'; do
  # The alerts (blocks from one "- alert:" to the next) that hold the key.
  with=$(awk -v key="$key" '/- alert:/ { n++ } n && index($0, key) { seen[n] = 1 }
    END { c = 0; for (i in seen) c++; print c }' "$mon/alerts.yaml")
  [ "$with" -eq "$alerts" ] || fail "$((alerts - with)) of $alerts alerts lack $key"
done

echo "== the dashboard"
dash=$mon/grafana-dashboard.json
jq -e '.schemaVersion >= 39 and (.templating.list | any(.type == "datasource" and .name == "datasource"))' \
  "$dash" >/dev/null || fail "$dash: schemaVersion >= 39 and a datasource variable named datasource"
bad=$(jq -r '[.panels[] | ., (.panels // [])[]] | .[] | select(.type != "row")
  | select((.targets // []) == [] or (.targets | any(.datasource.uid != "${datasource}"))
           or .datasource.uid != "${datasource}") | .title' "$dash")
[ -z "$bad" ] || fail "panels without queries or not on \${datasource}: $bad"
dups=$(jq -r '[.panels[] | ., (.panels // [])[]] | map(.id) | group_by(.) | map(select(length > 1)[0]) | .[]' "$dash")
[ -z "$dups" ] || fail "duplicate panel ids: $dups"
hack/check-dashboard.sh --list >"$tmp/queries.json" || fail "hack/check-dashboard.sh --list"
echo "$(wc -l <"$tmp/queries.json") queries"
# Each query as a recording rule (JSON is YAML), so promtool parses it as Prometheus would.
jq -s '{groups: [{name: "dashboard", rules: [to_entries[] |
  {record: "dashboard:query_\(.key)", expr: .value.expr}]}]}' "$tmp/queries.json" >"$tmp/dashboard-rules.json"
if ! promtool check rules "$tmp/dashboard-rules.json"; then
  jq -r '"dashboard:query_\(input_line_number - 1): \(.panel) [\(.ref)]"' "$tmp/queries.json" >&2
  fail "a dashboard query does not parse (the numbers above name the panels)"
fi

echo "== every metric named exists in src/"
metrics=$( (jq -r .expr "$tmp/queries.json"; grep -h 'expr' "$mon/alerts.yaml") |
  grep -oE '\b(flywheel|controller_runtime|workqueue|leader_election)_[a-z_]+' |
  sed -E 's/_(bucket|sum|count)$//' | sort -u)
# Registered as a prometheus-cpp family (.Name("...")) or named by a metric table in a
# component's metrics.cpp (kube::SeriesTable / HistogramTable).
for m in $metrics; do
  grep -rqF ".Name(\"$m\")" src || grep -qF "\"$m\"" src/*/metrics.cpp ||
    fail "metric $m is not registered in src/ (.Name(\"$m\") or a table in src/*/metrics.cpp)"
done
echo "$metrics" | tr '\n' ' '
echo

echo "== every runbook link has its section in docs/monitoring.md"
anchors=$(grep -E '^#+ ' docs/monitoring.md |
  sed -E 's/^#+ //; s/[^A-Za-z0-9 _-]//g; s/ /-/g' | tr 'A-Z' 'a-z')
links=$(grep -oE 'runbook_url: .*' "$mon/alerts.yaml" | sed 's/runbook_url: //')
for link in $links; do
  [ "${link%%#*}" = docs/monitoring.md ] || fail "runbook $link is not in docs/monitoring.md"
  grep -qxF "${link#*#}" <<<"$anchors" || fail "runbook $link: no such section in docs/monitoring.md"
done

echo "== kubectl kustomize $mon"
if "$kubectl" kustomize "$mon" >"$tmp/rendered.yaml"; then
  grep -q '^kind: ServiceMonitor$' "$tmp/rendered.yaml" || fail "no ServiceMonitor rendered"
  grep -q 'grafana_dashboard: "1"' "$tmp/rendered.yaml" || fail "no ConfigMap labelled grafana_dashboard"
  # The dashboard as kustomize embedded it (a literal block under flywheel.json, 4 spaces in).
  sed -n '/^  flywheel.json: |$/,/^[^ ]/{/^    /p;/^    *$/p}' "$tmp/rendered.yaml" |
    sed 's/^    //' >"$tmp/embedded.json"
  jq -e --slurpfile want "$dash" '. == $want[0]' "$tmp/embedded.json" >/dev/null ||
    fail "the ConfigMap's flywheel.json is not $dash"
else
  fail "kubectl kustomize $mon"
fi

echo "== $mon/prometheusrule.sh"
mkdir "$tmp/rule"
"$mon/prometheusrule.sh" >"$tmp/rule/prometheusrule.yaml" || fail "prometheusrule.sh"
printf 'resources: [prometheusrule.yaml]\n' >"$tmp/rule/kustomization.yaml"
"$kubectl" kustomize "$tmp/rule" >"$tmp/rule.rendered" || fail "the PrometheusRule does not parse"
grep -q '^kind: PrometheusRule$' "$tmp/rule.rendered" || fail "no PrometheusRule rendered"
# Its spec, indented back, is alerts.yaml without its comment header, byte for byte.
sed -n '/^spec:$/,$p' "$tmp/rule/prometheusrule.yaml" | sed '1d; s/^  //' >"$tmp/spec.yaml"
grep -v '^#' "$mon/alerts.yaml" | cmp - "$tmp/spec.yaml" || fail "the PrometheusRule's spec is not alerts.yaml"
promtool check rules "$tmp/spec.yaml" >/dev/null || fail "the PrometheusRule's spec is not a valid rules file"

finish
