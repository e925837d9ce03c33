# hack/demo-observe.sh: what the demo uses to watch the application, as bash functions to source
# (`source hack/demo-observe.sh`; safe under `set -euo pipefail`). Prometheus scrapes targets
# from file_sd files (Debian's prometheus is built without kubernetes_sd), a background loop
# keeps the application's file current from the pods the API server lists, a load generator
# sends requests to those pods, and two helpers give the error-ratio query and ask Prometheus.
#
# Every process started here runs in its own session (setsid, so `make demo-down` stops it by
# its PID and it survives the shell that started it), writes its PID to $dir/pids/<name>.pid and
# its log to $dir/logs/<name>.log: set dir (hack/demo.sh's state directory) before calling.
# Needs curl and jq; start_prometheus needs prometheus; refresh_pod_targets needs a kubectl.
# docs/demo.md, "The application and its metrics", says why it is built this way.

# This file, for the background loops (they source it again in their own bash).
demo_observe_script=$(realpath "${BASH_SOURCE[0]}")

# observe_running <name>: whether the process $dir/pids/<name>.pid names is alive.
observe_running() {
  [ -f "$dir/pids/$1.pid" ] && kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null
}

# observe_start <name> <command>...: starts the command in its own session, its output into
# $dir/logs/<name>.log, its PID into $dir/pids/<name>.pid. (Started from a subshell, the command
# never leads a process group, so setsid makes the session without forking: the PID written is
# the command's, even when the caller has job control.)
observe_start() {
  local name=$1
  shift
  mkdir -p "$dir/pids" "$dir/logs"
  (
    setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/pids/$name.pid"
  )
}

# observe_loop <name> <function> <arg>...: runs this file's <function> <arg>... in a background
# bash of its own (see observe_start). A TERM stops the whole loop at once, its curl, kubectl or
# sleep included (the loop leads its own process group).
observe_loop() {
  local name=$1
  shift
  observe_start "$name" bash -c 'source "$0" && trap "trap - TERM; kill -- -\$\$" TERM && "$@"' \
    "$demo_observe_script" "$@"
}

# start_prometheus <listen address:port> <state dir> <scrape interval> [<rules file>]: starts Debian's
# prometheus (PID and log name `prometheus`) with <state dir>/prometheus.yml, storage in
# <state dir>/data (kept 2 hours) and the lifecycle API on; returns once /-/ready answers (at most
# 60 s). Two jobs, each scraped every <scrape interval> (e.g. 2s) from a file_sd file:
# `hello` from <state dir>/targets/hello.json and `flywheel` from <state dir>/targets/flywheel.json
# (written by write_targets; created empty when missing). When it already runs, it re-reads
# the configuration instead.
start_prometheus() {
  local listen=$1 state=$2 interval=$3 rule_files=""
  [ -z "${4:-}" ] || rule_files="rule_files: [\"$(realpath "$4")\"]"
  mkdir -p "$state/targets" "$state/data"
  state=$(realpath "$state")
  local job
  for job in hello flywheel; do
    [ -f "$state/targets/$job.json" ] || echo '[]' >"$state/targets/$job.json"
  done
  cat >"$state/prometheus.yml" <<YAML
# Written by hack/demo-observe.sh (start_prometheus).
global:
  scrape_interval: $interval
  scrape_timeout: $interval
  evaluation_interval: $interval
scrape_configs:
  - job_name: hello
    file_sd_configs: [{files: ["$state/targets/hello.json"], refresh_interval: $interval}]
  - job_name: flywheel
    # The operator's metrics carry their own namespace label (the object's): kept as it is.
    honor_labels: true
    file_sd_configs: [{files: ["$state/targets/flywheel.json"], refresh_interval: $interval}]
$rule_files
YAML
  promtool check config "$state/prometheus.yml" >/dev/null ||
    { echo "start_prometheus: $state/prometheus.yml is not valid" >&2 && return 1; }
  if observe_running prometheus; then
    curl -sf -X POST "http://$listen/-/reload" >/dev/null ||
      { echo "start_prometheus: the running prometheus did not reload" >&2 && return 1; }
  else
    observe_start prometheus prometheus --config.file="$state/prometheus.yml" \
      --storage.tsdb.path="$state/data" --storage.tsdb.retention.time=2h \
      --web.listen-address="$listen" --web.enable-lifecycle
  fi
  local waited
  for waited in $(seq 600); do
    curl -sf "http://$listen/-/ready" >/dev/null 2>&1 && return 0
    observe_running prometheus || break
    [ $((waited % 50)) = 0 ] && echo "   waiting for prometheus on $listen (${waited}00 ms)" >&2
    sleep 0.1
  done
  echo "start_prometheus: prometheus did not become ready on $listen; its log:" >&2
  tail -20 "$dir/logs/prometheus.log" >&2
  return 1
}

# write_targets <job> <file> <target>...: writes <file> as a Prometheus file_sd file, atomically
# (a temporary file beside it, then mv: Prometheus never reads half a file). Each <target> is
# <host>:<port>, optionally followed by ,<label>=<value> pairs (e.g.
# 10.88.0.5:8080,namespace=demo,pod=hello-1); every target is also labelled job=<job>.
# No target writes an empty list.
write_targets() {
  local job=$1 file=$2
  shift 2
  local target
  for target in "$@"; do
    [[ $target =~ ^[^,=:]+:[0-9]+(,[a-zA-Z_][a-zA-Z0-9_]*=[^,]*)*$ ]] || {
      echo "write_targets: $target is not <host>:<port>[,<label>=<value>]..." >&2
      return 1
    }
  done
  local tmp
  tmp=$(mktemp "$file.XXXXXX")
  if jq -n --arg job "$job" '$ARGS.positional | map(split(",") | {
         targets: [.[0]],
         labels: ({job: $job} + (.[1:] | map(split("=") | {key: .[0], value: (.[1:] | join("="))})
                                       | from_entries))})' --args "$@" >"$tmp"; then
    chmod 644 "$tmp"
    mv -f "$tmp" "$file"
  else
    rm -f "$tmp"
    return 1
  fi
}

# refresh_pod_targets <name> <file> <namespace> <selector> <port> <kubectl command>...: starts a
# background loop (PID and log name <name>) that every 2 s lists the pods of <namespace>
# matching the label <selector>, and writes those Running, Ready and not terminating as
# <podIP>:<port> targets of the job <file> is named after (hello.json: job hello) into <file>
# (labels namespace and pod), whenever that
# list changes. A failed listing keeps the file as it was. Pod IPs on the real node's bridge are
# reachable from the host. Example:
#   refresh_pod_targets hello-targets "$dir/prometheus/targets/hello.json" demo app=hello 8080 \
#     "$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig"
refresh_pod_targets() {
  observe_loop "$1" observe_refresh_loop "$@"
}

# observe_refresh_loop: refresh_pod_targets' loop (same arguments), in the foreground.
observe_refresh_loop() {
  set -o pipefail # a failed listing is not an empty one
  local file=$2 namespace=$3 selector=$4 port=$5
  shift 5
  local last="" written=0 pods
  while :; do
    if pods=$("$@" get pods -n "$namespace" -l "$selector" -o json --request-timeout=5s |
      jq -r --arg port "$port" '.items[] | select(.status.phase == "Running"
          and .metadata.deletionTimestamp == null and (.status.podIP // "") != ""
          and any(.status.conditions[]?; .type == "Ready" and .status == "True"))
        | "\(.status.podIP):\($port),namespace=\(.metadata.namespace),pod=\(.metadata.name)"' |
      sort); then
      if [ "$written" = 0 ] || [ "$pods" != "$last" ]; then
        # One target a line, none with spaces: split into arguments.
        write_targets "$(basename "$file" .json)" "$file" $pods &&
          echo "$(date -u +%H:%M:%S) targets: ${pods//$'\n'/ }" && last=$pods && written=1
      fi
    else
      echo "$(date -u +%H:%M:%S) listing the pods failed; the targets stay as they were"
    fi
    sleep 2 &
    wait $!
  done
}

# start_load <name> <requests per second> <targets file>: starts a load generator (PID and log
# name <name>) that sends <requests per second> (in total, e.g. 20) GET / requests, spread round
# robin over the targets <targets file> names at that moment: a file_sd file (as write_targets
# writes) or one URL a line. It re-reads the file every second, so new pods get requests and
# gone ones none; a target that does not answer costs at most a second and never stops it.
# Its log has one line a second: the time, the targets, and the answers by status (000: none).
start_load() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "start_load: $2 is not a positive rate" >&2 && return 1; }
  observe_loop "$1" observe_load_loop "$2" "$3"
}

# observe_load_loop <rate> <targets file>: start_load's loop, in the foreground.
observe_load_loop() {
  local rate=$1 file=$2 offset=0
  local -a targets urls
  while :; do
    sleep 1 &
    targets=()
    if [ -s "$file" ]; then
      if [ "$(head -c1 "$file")" = "[" ]; then
        mapfile -t targets < <(jq -r '.[].targets[] | "http://\(.)/"' "$file" 2>/dev/null)
      else
        mapfile -t targets < <(grep -v '^[[:space:]]*$' "$file")
      fi
    fi
    if [ "${#targets[@]}" -gt 0 ]; then
      urls=()
      local i
      for ((i = 0; i < rate; i++)); do urls+=("${targets[(offset + i) % ${#targets[@]}]}"); done
      offset=$(((offset + rate) % ${#targets[@]}))
      # curl's arguments: -o /dev/null before each URL (none has spaces).
      echo "$(date -u +%H:%M:%S) ${#targets[@]} targets: $(curl -s --parallel \
        --parallel-max "$rate" --connect-timeout 1 --max-time 1 -w '%{http_code}\n' \
        $(printf -- '-o /dev/null %s ' "${urls[@]}") 2>/dev/null |
        sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')"
    else
      echo "$(date -u +%H:%M:%S) no targets in $file"
    fi
    wait
  done
}

# error_ratio_query [<namespace>] [<window>]: prints the PromQL of the share of the
# application's requests answered 5xx over <window> (default 30s) in <namespace> (default
# {{targetNamespace}}, which the RollbackPolicy replaces by its Release's target namespace).
# One value, or NaN (no data to the RollbackPolicy) while no request arrives.
error_ratio_query() {
  local namespace=${1:-'{{targetNamespace}}'} window=${2:-30s}
  local selector="job=\"hello\",namespace=\"$namespace\""
  printf 'sum(rate(http_requests_total{%s,code=~"5.."}[%s])) / sum(rate(http_requests_total{%s}[%s]))\n' \
    "$selector" "$window" "$selector" "$window"
}

# prom_query <prometheus URL> <promql>: prints the value of an instant query: one line for a
# scalar or a single sample, `{labels} value` a line for several samples, nothing for none.
# Prometheus' error (and a non-zero status) when the query fails.
prom_query() {
  local out
  out=$(curl -s --max-time 10 --get --data-urlencode "query=$2" "$1/api/v1/query") ||
    { echo "prom_query: no answer from $1" >&2 && return 1; }
  jq -r 'if .status != "success" then "prom_query: \(.errorType): \(.error)\n" | halt_error(3)
    elif .data.resultType == "scalar" then .data.result[1]
    elif (.data.result | length) == 1 then .data.result[0].value[1]
    else .data.result[] | "\(.metric | tostring) \(.value[1])" end' <<<"$out" || {
    local rc=$? # 3: Prometheus' error, said already; else not its API's JSON
    [ $rc = 3 ] || echo "prom_query: $1 answered: ${out:0:200}" >&2
    return 1
  }
}
