# Shared by the benchmark scripts in bench/ (sourced, not run): logging, arithmetic, medians, the
# tools they need, the testenv, and writing a script's section of docs/benchmarks.md.
# Expects `root` (the repository) to be set by the script.

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
mib() { calc '%.1f' "($1) / 1048576"; }

# median_in <file> <label> <awk expression over the fields of that label's lines>; 0 if none.
median_in() {
  awk -v l="$2" "\$1 == l { print $3 }" "$1" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR ? (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) : 0) }'
}

# need_tools <command>...: installs the Debian packages of the same names that are missing
# (`time` is checked as /usr/bin/time, GNU time: the shell keyword is not it).
need_tools() {
  local missing=() t
  for t in "$@"; do
    if [ "$t" = time ]; then [ -x /usr/bin/time ] || missing+=(time); continue; fi
    command -v "$t" >/dev/null || missing+=("$t")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# use_testenv: sets testenv, kubeconfig and the kubectl command array, starting the testenv
# (make testenv-up) when it is not running.
use_testenv() {
  testenv=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
  kubeconfig=$testenv/kubeconfig
  if ! "$testenv/bin/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    log "testenv not running; starting it (make testenv-up)"
    make -C "$root" testenv-up
  fi
  kubectl=("$testenv/bin/kubectl" --kubeconfig "$kubeconfig")
}

# write_section <marker> <section file> <output>: replaces the output's lines from
# `<!-- <marker>:begin` to `<!-- <marker>:end -->` with the section, or appends it.
write_section() {
  local marker=$1 section=$2 output=$3 tmp
  if grep -q "<!-- $marker:begin" "$output"; then
    tmp=$(mktemp)
    awk -v f="$section" -v b="<!-- $marker:begin" -v e="<!-- $marker:end -->" '
      index($0, b) == 1 { while ((getline line < f) > 0) print line; skip = 1; next }
      index($0, e) == 1 { skip = 0; next }
      !skip { print }' "$output" >"$tmp"
    cat "$tmp" >"$output"
    rm -f "$tmp"
  else
    { echo; cat "$section"; } >>"$output"
  fi
  log "wrote $output"
}
