#!/usr/bin/env bash
# `make test`: formatting; then integration tests against the local control plane, the real-node
# tests (pods that really run on the testenv's kubelet node), the disruptive tests (which restart
# parts of it) and the end-to-end test (make demo's story), one label after another, while the
# unit tests run beside them at the lowest priority.
# `hack/test.sh --builders` runs the kaniko and buildkit tests instead (`make test-builders`);
# `hack/test.sh --long` runs the long tests instead (`make test-long`); `hack/test.sh --sanitize` builds with AddressSanitizer, LeakSanitizer and
# UBSan into build-sanitize and runs the unit and integration tests there (`make test-sanitize`;
# a second full build, so not part of `make test`). Starts the control plane for the run (and
# stops it after) unless one is already up.
#
# A skipped test fails the run: a missing nginx, git daemon or control plane must never turn into
# green. Two guards: the tests' main() turns a skip into a failure (tests/support/main.cpp; this
# script clears FLYWHEEL_ALLOW_SKIP so nobody's shell can switch that off), and every ctest call
# below fails when ctest itself reports a test skipped, disabled or not run, or finds no tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
jobs=${JOBS:-2}
# The unit and integration tests mostly wait (on git servers, the API server, Prometheus), so
# they run four at a time on 2 cores: measured on 2026-12-02, integration 274 s at -j2 and 192 s
# at -j4 (118 passed both ways), unit 76 s and 66 s. The real-node tests build images and start
# containers (CPU-bound) and stay at $jobs.
test_jobs=${TEST_JOBS:-4}
export FLYWHEEL_TESTENV_DIR=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
unset FLYWHEEL_ALLOW_SKIP

# run_ctest <label> [ctest args...]: the tests labelled <label> in $build; fails on any failure,
# on no tests at all, and on any test ctest did not run to a pass or a failure (skipped by its
# output or return code, disabled, not run), listing those.
run_ctest() {
  local label=$1 junit="Testing/ctest-$1.xml" rc=0 not_run
  shift
  rm -f "$build/$junit"
  (cd "$build" && ctest -L "$label" --no-tests=error --output-on-failure --output-junit "$junit" \
    "$@") || rc=$?
  if [ ! -f "$build/$junit" ]; then
    echo "FAILED: ctest wrote no report for label $label" >&2
    return 1
  fi
  not_run=$(grep -oE '<testcase name="[^"]*"[^>]*status="(notrun|disabled)"' "$build/$junit" |
    sed -E 's/<testcase name="([^"]*)".*status="([a-z]*)"/  \1 (\2)/' || true)
  if [ -n "$not_run" ]; then
    echo "$not_run"
    echo "FAILED: the tests above (label $label) did not run; a test that does not run fails" \
      "\`make test\`" >&2
    rc=1
  fi
  return "$rc"
}

# On exit: the unit tests stopped if still running (a failure elsewhere ends the run), and the
# control plane stopped if this script started it.
unit_pid=
stop_testenv=0
cleanup() {
  if [ -n "$unit_pid" ]; then kill -- -"$unit_pid" 2>/dev/null || true; fi
  if [ "$stop_testenv" = 1 ]; then hack/testenv/down.sh; fi
}
trap cleanup EXIT

ensure_testenv() {
  local kubectl="$FLYWHEEL_TESTENV_DIR/bin/kubectl"
  if [ -x "$kubectl" ] &&
    "$kubectl" --kubeconfig "$FLYWHEEL_TESTENV_DIR/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    echo "(reusing the running control plane in $FLYWHEEL_TESTENV_DIR)"
    # The demo's operator (make demo) watches every namespace: it would reconcile the tests'
    # objects too. Stop it; `make demo` starts it again.
    local demo_pid="$FLYWHEEL_TESTENV_DIR/pids/flywheel.pid"
    if [ -f "$demo_pid" ] && kill -0 "$(cat "$demo_pid")" 2>/dev/null; then
      echo "(stopping the demo's operator, pid $(cat "$demo_pid"): it would reconcile the tests' objects)"
      kill "$(cat "$demo_pid")"
      rm -f "$demo_pid"
    fi
    if "$kubectl" --kubeconfig "$FLYWHEEL_TESTENV_DIR/kubeconfig" get deployment flywheel \
      -n flywheel-system >/dev/null 2>&1; then
      echo "(removing the operator in flywheel-system (make demo's): it would reconcile the tests' objects)"
      "$kubectl" --kubeconfig "$FLYWHEEL_TESTENV_DIR/kubeconfig" delete deployment flywheel \
        -n flywheel-system --wait=true --timeout=120s
    fi
  else
    stop_testenv=1
    hack/testenv/up.sh
  fi
}

# The builder tests (`make test-builders`, which .ci/run runs after `make test`): Pipelines built
# by kaniko and by buildkit on the real node. Their images are Go builds of minutes (cached
# afterwards), which the testenv's start makes and seeds with FLYWHEEL_BUILDER_IMAGES=1; a running
# testenv started without it fails the tests with that advice.
if [ "${1:-}" = "--builders" ]; then
  export FLYWHEEL_BUILDER_IMAGES=1
  ensure_testenv
  echo "== builder tests (kaniko and buildkit on the testenv's real node)"
  run_ctest builders -j "$jobs"
  exit
fi

if [ "${1:-}" = "--long" ]; then
  ensure_testenv
  run_ctest long
  exit
fi

if [ "${1:-}" = "--sanitize" ]; then
  build=${SANITIZE_BUILD_DIR:-build-sanitize}
  cmake -S . -B "$build" -G Ninja -DFLYWHEEL_SANITIZE=ON
  cmake --build "$build" -j "$jobs"
  # Any ASan or LSan report fails the test that produced it (hack/lsan.supp lists what libraries
  # keep for the life of the process). UBSan reports (each source location once per process)
  # are read from ctest's log of every test's output after each half.
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
  export LSAN_OPTIONS="suppressions=$root/hack/lsan.supp"
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0
  # Any undefined behaviour UBSan reports fails the run.
  check_ubsan() {
    local log="$build/Testing/Temporary/LastTest.log" all
    all=$(grep "runtime error" "$log" || true)
    if [ -n "$all" ]; then
      echo "$all" | sort | uniq -c
      echo "UBSan reported undefined behaviour (see $log)" >&2
      exit 1
    fi
    echo "UBSan: no reports"
  }
  echo "== unit tests (sanitizers)"
  run_ctest unit -j "$jobs"
  check_ubsan
  echo "== integration tests (sanitizers)"
  ensure_testenv
  run_ctest integration -j "$jobs"
  check_ubsan
  exit
fi

echo "== format check"
git ls-files -z --cached --others --exclude-standard '*.cpp' '*.h' | xargs -0 -r clang-format --dry-run --Werror

# The unit tests run beside everything else, at the lowest priority: they need no control plane,
# and the phases after them leave much of the CPU idle while they wait on pods, restarts and
# Prometheus (sampled on 2026-12-02 over a whole warm `make test`: testenv start 65% busy,
# integration 89%, real-node 77%, disruptive 41%, end-to-end 59%), while the unit tests keep both
# cores busy for about 70 s. At nice 19 they take what the others leave, so the timed tests keep
# their CPU. Their report is printed, and their result counted, when they finish (at the latest
# before the end). FLYWHEEL_TEST_UNIT_FIRST=1 runs them first and alone, as before. (Started at
# normal priority beside the testenv's start, they made the pair slower: 118 s against 101 s.)
unit_log="$build/Testing/unit-tests.log"
if [ "${FLYWHEEL_TEST_UNIT_FIRST:-0}" = 1 ]; then
  echo "== unit tests"
  run_ctest unit -j "$test_jobs"
else
  echo "== unit tests (beside the rest, at nice 19; their report follows when they finish)"
  mkdir -p "$build/Testing"
  # In a process group of its own (job control, not setsid: a new session is a new scheduler
  # autogroup, and the kernel shares the CPU equally between autogroups whatever the nice value).
  # The subshell lowers its own priority before ctest starts, so every test inherits it.
  set -m
  (renice -n 19 -p "$BASHPID" >/dev/null && run_ctest unit -j "$test_jobs") \
    </dev/null >"$unit_log" 2>&1 &
  unit_pid=$!
  set +m
fi
# unit_report: if the unit tests have finished (or, with `wait`, once they have), prints their
# report and fails the run if they failed.
unit_report() {
  [ -n "$unit_pid" ] || return 0
  if [ "${1:-}" != wait ] && kill -0 "$unit_pid" 2>/dev/null; then return 0; fi
  local rc=0
  wait "$unit_pid" || rc=$?
  unit_pid=
  echo "== unit tests: report"
  cat "$unit_log"
  return "$rc"
}

echo "== integration tests"
ensure_testenv
run_ctest integration -j "$test_jobs"
unit_report

echo "== real-node tests (containers on the testenv's real node)"
run_ctest realnode -j "$jobs"
unit_report

echo "== disruptive tests (restart parts of the control plane; no other timed test beside)"
run_ctest disruptive
unit_report

echo "== end-to-end test (make demo's story, asserted from the API; no other timed test beside)"
run_ctest e2e
unit_report wait
