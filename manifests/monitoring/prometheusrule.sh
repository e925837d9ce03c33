#!/usr/bin/env bash
# prometheusrule.sh [<namespace>]: prints alerts.yaml (next to this script) wrapped in a
# PrometheusRule for Prometheus Operator, in <namespace> (default flywheel-system):
#   manifests/monitoring/prometheusrule.sh | kubectl apply -f -
# A PrometheusRule's spec is a rules file as it stands, so the file is indented under `spec:`
# unchanged: alerts.yaml stays the only copy of the rules. Add the labels your Prometheus'
# ruleSelector asks for with `kubectl label prometheusrule flywheel ...` or by editing here.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
namespace=${1:-flywheel-system}
cat <<YAML
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: flywheel
  namespace: $namespace
  labels:
    app.kubernetes.io/name: flywheel
    app.kubernetes.io/part-of: flywheel
spec:
YAML
sed -e '/^#/d' -e 's/^/  /' "$here/alerts.yaml"
