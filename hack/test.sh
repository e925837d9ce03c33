#!/usr/bin/env bash
# `make test`: formatting, unit tests, integration tests against the local control plane, then
# the disruptive tests (which restart parts of it) alone. `hack/test.sh --long` runs the long
# tests instead (`make test-long`). Starts the control plane for the run (and stops it after)
# unless one is already up.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
jobs=${JOBS:-2}
export FLYWHEEL_TESTENV_DIR=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}

ensure_testenv() {
  local kubectl="$FLYWHEEL_TESTENV_DIR/bin/kubectl"
  if [ -x "$kubectl" ] &&
    "$kubectl" --kubeconfig "$FLYWHEEL_TESTENV_DIR/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    echo "(reusing the running control plane in $FLYWHEEL_TESTENV_DIR)"
  else
    trap 'hack/testenv/down.sh' EXIT
    hack/testenv/up.sh
  fi
}

if [ "${1:-}" = "--long" ]; then
  ensure_testenv
  (cd "$build" && ctest -L long --output-on-failure)
  exit
fi

echo "== format check"
git ls-files -z '*.cpp' '*.h' | xargs -0 -r clang-format --dry-run --Werror

echo "== unit tests"
(cd "$build" && ctest -L unit --output-on-failure -j "$jobs")

echo "== integration tests"
ensure_testenv
(cd "$build" && ctest -L integration --output-on-failure -j "$jobs")

echo "== disruptive tests (restart parts of the control plane; run alone)"
(cd "$build" && ctest -L disruptive --output-on-failure)
