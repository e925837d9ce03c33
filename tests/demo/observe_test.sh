#!/usr/bin/env bash
# The demo's application and observation pieces (hack/demo-app, hack/demo-observe.sh) against
# real processes, no control plane: hello built twice (a good build and one failing 30% of
# requests to /, whose tests still pass; a broken greeting fails them), both served on loopback,
# Debian's prometheus scraping them through write_targets' file_sd file, start_load sending
# requests (also to a target that refuses), and error_ratio_query + prom_query giving 0 for the
# good build and 0.3 for the bad one. Every process started is stopped by its PID at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/flywheel-observe-test.XXXXXX")
# shellcheck source=hack/demo-observe.sh
source "$root/hack/demo-observe.sh"

cleanup() {
  local f pid
  for f in "$dir"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$dir"/logs/*.log; do
    [ -f "$log" ] && { echo "--- $log" && tail -15 "$log"; } >&2
  done
  exit 1
}
pass() { echo "PASS: $*"; }
for tool in make cc curl jq prometheus promtool; do
  command -v "$tool" >/dev/null || fail "$tool is missing (make deps installs it)"
done

# The application, as the Pipeline's steps build it: a good build, a bad one (30%) whose tests
# pass, and one whose greeting lost its comma (the demo's failing-tests commit).
for build in good bad broken; do
  cp -r "$root/hack/demo-app" "$dir/$build"
done
echo v2 >"$dir/bad/VERSION"
echo 30 >"$dir/bad/FAILURE_PERCENT"
sed -i 's/"hello, %s"/"hello %s"/' "$dir/broken/greet.c"
make -s -C "$dir/good" hello >"$dir/good.make.log" 2>&1 || fail "make: $(cat "$dir/good.make.log")"
make -s -C "$dir/bad" test >"$dir/bad.make.log" 2>&1 ||
  fail "make test with FAILURE_PERCENT 30: $(cat "$dir/bad.make.log")"
pass "a build failing 30% of requests to / passes its tests"
# (its unit tests, which `make test` runs first and stops at).
make -s -C "$dir/broken" hello_test >"$dir/broken.make.log" 2>&1 || fail "make hello_test"
if (cd "$dir/broken" && ./hello_test >>"$dir/broken.make.log" 2>&1); then
  fail "the tests passed with the greeting \"hello %s\""
fi
grep -q '^FAIL: greet' "$dir/broken.make.log" || fail "no failing greet test: $(cat "$dir/broken.make.log")"
pass "a greeting without its comma fails the tests"

# listening_port <name>: the port hello <name> said it listens on (waits up to 5 s).
listening_port() {
  local port=""
  for _ in $(seq 50); do
    port=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$dir/logs/$1.log" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "hello $1 did not say where it listens"
  echo "$port"
}
observe_start hello-good "$dir/good/hello" --listen 127.0.0.1:0
observe_start hello-bad "$dir/bad/hello" --listen 127.0.0.1:0
good_port=$(listening_port hello-good)
bad_port=$(listening_port hello-bad)
grep -q hello "/proc/$(cat "$dir/pids/hello-good.pid")/cmdline" ||
  fail "the PID file does not name hello (did setsid fork?)"

# A port nothing listens on, for prometheus (the moment between the check and its start is the
# only race, and start_prometheus would fail loudly on it).
prom_port=""
for _ in $(seq 20); do
  candidate=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    prom_port=$candidate
    break
  fi
done
[ -n "$prom_port" ] || fail "no free port found"
prom=http://127.0.0.1:$prom_port
start_prometheus "127.0.0.1:$prom_port" "$dir/prometheus" 1s || fail "start_prometheus"
pass "prometheus ready on $prom"
targets=$dir/prometheus/targets/hello.json
write_targets hello "$targets" "127.0.0.1:$good_port,namespace=good,pod=hello-good" \
  "127.0.0.1:$bad_port,namespace=bad,pod=hello-bad" "127.0.0.1:1,namespace=gone" ||
  fail "write_targets"
[ "$(jq -c '.[1]' "$targets")" = "{\"targets\":[\"127.0.0.1:$bad_port\"],\"labels\":{\"job\":\"hello\",\"namespace\":\"bad\",\"pod\":\"hello-bad\"}}" ] ||
  fail "write_targets wrote $(cat "$targets")"
write_targets flywheel "$dir/prometheus/targets/flywheel.json" "127.0.0.1:$prom_port"
if write_targets hello "$dir/x.json" "no-port" 2>"$dir/bad-target.err"; then
  fail "write_targets took a target without a port"
fi
grep -q "no-port is not <host>:<port>" "$dir/bad-target.err" || fail "$(cat "$dir/bad-target.err")"
[ ! -e "$dir/x.json" ] || fail "write_targets wrote a file from a bad target"
pass "write_targets writes labelled file_sd groups and refuses a target without a port"
start_load load 30 "$targets"

# Until both ratios settle (at most 25 s): 0 for the good build, 0.3 for the bad one.
good_query=$(error_ratio_query good)
bad_query=$(error_ratio_query bad)
[ "$(error_ratio_query)" = 'sum(rate(http_requests_total{job="hello",namespace="{{targetNamespace}}",code=~"5.."}[30s])) / sum(rate(http_requests_total{job="hello",namespace="{{targetNamespace}}"}[30s]))' ] ||
  fail "error_ratio_query: $(error_ratio_query)"
good_ratio="" bad_ratio=""
for waited in $(seq 25); do
  good_ratio=$(prom_query "$prom" "$good_query") || fail "prom_query $good_query"
  bad_ratio=$(prom_query "$prom" "$bad_query") || fail "prom_query $bad_query"
  if [ "$good_ratio" = 0 ] && awk -v r="$bad_ratio" 'BEGIN {exit !(r > 0.25 && r < 0.35)}'; then
    break
  fi
  echo "   +${waited}s error ratios: good ${good_ratio:-none}, bad ${bad_ratio:-none}"
  sleep 1
done
[ "$good_ratio" = 0 ] || fail "the good build's error ratio is ${good_ratio:-missing}, not 0"
awk -v r="$bad_ratio" 'BEGIN {exit !(r > 0.25 && r < 0.35)}' ||
  fail "the bad build's error ratio is ${bad_ratio:-missing}, not 0.3"
pass "error ratios: good $good_ratio, bad $bad_ratio"

[ "$(prom_query "$prom" 'hello_build_info{namespace="bad"}')" = 1 ] &&
  [ "$(prom_query "$prom" 'count(hello_build_info{version="v2"})')" = 1 ] ||
  fail "hello_build_info of v2 is not scraped"
[ "$(prom_query "$prom" 'up{job="flywheel"}')" = 1 ] || fail "job flywheel is not scraped"
[ "$(prom_query "$prom" 'up{namespace="gone"}')" = 0 ] || fail "the gone target is not down"
pass "build info, job flywheel and the down target as scraped"
observe_running load || fail "the load generator died"
grep -q " 000 x" "$dir/logs/load.log" || fail "the load generator never met the refusing target"
pass "the load generator outlives a target that refuses"
if prom_query "$prom" 'sum(' 2>"$dir/query.err"; then fail "prom_query took a bad query"; fi
grep -q "bad_data" "$dir/query.err" || fail "prom_query said $(cat "$dir/query.err")"
[ -z "$(prom_query "$prom" 'up{job="none"}')" ] || fail "an empty result printed something"
pass "prom_query: Prometheus' error for a bad query, nothing for an empty result"
