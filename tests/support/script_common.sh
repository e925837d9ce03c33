# Sourced by the script tests (tests/docs, tests/monitoring): strict mode, the repository root as
# working directory, a temporary folder $tmp removed at exit, fail() to count failures and finish to report them,
# and $kubectl, the testenv's (make deps builds it; KUBECTL=<path> uses another).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
finish() {
  if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "OK"
}
# shellcheck source=hack/testenv/versions.sh
. hack/testenv/versions.sh
kubectl=${KUBECTL:-$TESTENV_BIN_K8S/kubectl}
# require <program>...: each must be on the PATH (or a path that exists); a missing one fails.
require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (make deps installs it)" >&2; exit 1; }
  done
}
# to_json <file>: its YAML (one or more documents) as JSON, one object a line, without a cluster
# (annotate --local removing an annotation no object has changes nothing).
to_json() { "$kubectl" annotate --local -f "$1" -o json flywheel.dev/test- | jq -c 'if .kind == "List" then .items[] else . end'; }
