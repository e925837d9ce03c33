#!/usr/bin/env bash
# `make test`'s end-to-end check: e2e_test.sh <hello binary> <version> <failure percent> starts
# the binary on a free loopback port and checks its answers over real connections (curl): the
# metrics from the start, 100 requests to / on one kept-alive connection (exactly <failure
# percent> of them 500, the others the greeting), the counters agreeing, a slow client not
# holding up the others, a malformed request, and SIGTERM ending it with exit code 0.
# Needs bash and curl; writes only below the current directory (HOME may be unset).
set -euo pipefail
hello=$1 version=$2 percent=$3
work=$(mktemp -d "$PWD/.e2e.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
check() { # check <what> <command>...: PASS or FAIL on the command's success
  local what=$1
  shift
  if "$@"; then echo "PASS: $what"; else echo "FAIL: $what" && failed=1; fi
}

"$hello" --listen 127.0.0.1:0 >"$work/log" 2>&1 &
pid=$!
port=""
for _ in $(seq 50); do
  port=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: hello did not say where it listens: $(cat "$work/log")"; exit 1; }
url=http://127.0.0.1:$port

# A slow client: half a request, finished at the end.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: slow\r\n' >&3

curl -s --max-time 2 "$url/metrics" >"$work/metrics0"
check "both request counters are there from the start, at 0" \
  grep -qxF -e 'http_requests_total{code="200"} 0' -e 'http_requests_total{code="500"} 0' \
  "$work/metrics0"
check "the counters are both there" test "$(grep -c '^http_requests_total' "$work/metrics0")" = 2
check "hello_build_info names version $version" \
  grep -qxF "hello_build_info{version=\"$version\"} 1" "$work/metrics0"

# 100 requests to / on one connection: per request its body, then status code and new
# connections made.
urls=()
for _ in $(seq 100); do urls+=("$url/"); done
curl -s --max-time 4 -w '%{http_code} %{num_connects}\n' "${urls[@]}" >"$work/answers" \
  2>"$work/curl.err" || true
paste - - <"$work/answers" >"$work/pairs"
ok=$(grep -cx "hello, world (version $version)	200 [01]" "$work/pairs" || true)
errors=$(grep -c '	500 [01]$' "$work/pairs" || true)
check "100 requests to /: $((100 - percent)) greet, $percent fail with 500 (got $ok and $errors)" \
  test "$ok,$errors" = "$((100 - percent)),$percent"
connects=$(awk '{n += $NF} END {print n + 0}' "$work/pairs")
check "one kept-alive connection served them all (connections: $connects)" test "$connects" = 1

curl -s --max-time 2 "$url/metrics" >"$work/metrics1"
check "the 200 counter says the same" \
  grep -qxF "http_requests_total{code=\"200\"} $ok" "$work/metrics1"
check "the 500 counter too" grep -qxF "http_requests_total{code=\"500\"} $errors" "$work/metrics1"
check "/healthz answers 200" test "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$url/healthz")" = 200
check "an unknown path answers 404" \
  test "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$url/nothing")" = 404

exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'nonsense\r\n\r\n' >&4
check "a malformed request answers 400" grep -q '^HTTP/1.1 400 ' <(timeout 2 cat <&4)
exec 4<&-

printf 'Connection: close\r\n\r\n' >&3
check "the slow client, kept waiting throughout, is answered once its request is whole" \
  grep -q '^HTTP/1.1 200 ' <(timeout 2 cat <&3)
exec 3<&-

kill -TERM "$pid"
for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rc=0
if kill -0 "$pid" 2>/dev/null; then rc=timeout; else wait "$pid" || rc=$?; fi
pid=""
check "SIGTERM ends hello with exit code 0 (got $rc)" test "$rc" = 0
if [ "$failed" != 0 ]; then
  echo "hello's log:" && cat "$work/log"
  exit 1
fi
echo "end to end: all passed"
