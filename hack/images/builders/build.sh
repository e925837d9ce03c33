#!/usr/bin/env bash
# Builds the Go programs of a Pipeline artifact builder other than buildah, from the Go module
# proxy (the module in hack/images/builders/<builder>/ pins each program as a `tool`), into a
# cache folder named after the module's content, and prints that folder. Built once: a warm run
# finds the folder and builds nothing.
#
#   build.sh kaniko    the kaniko executor (`executor`)
#   build.sh buildkit  buildkitd, buildctl and rootlesskit (rootless buildkitd)
#
# Statically linked (CGO_ENABLED=0): the kaniko image has no C library. The testenv's Go flags
# are reused, so packages the control plane's build already compiled come from the Go build cache.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../../testenv/versions.sh"
builder=${1:?usage: build.sh kaniko|buildkit}
module=$here/$builder
[ -f "$module/go.mod" ] || { echo "builders: no module for builder '$builder' ($module)" >&2; exit 2; }
key=$({ cat "$module/go.mod" "$module/go.sum"; printf '%s\n' "${TESTENV_GO_FLAGS[@]}"; } |
  sha256sum | cut -c1-12)
out=$FLYWHEEL_CACHE_DIR/builders/$builder-$key
if [ ! -d "$out" ]; then
  echo "builders: building $builder's programs into $out (first time only; minutes)" >&2
  tmp="$out.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # Go's "downloading" lines (hundreds, cold) go to a log, shown when the build fails.
  (cd "$module" && CGO_ENABLED=0 GOGC=$TESTENV_GOGC nice -n 10 go build "${TESTENV_GO_FLAGS[@]}" -o "$tmp/" tool) \
    >"$tmp.log" 2>&1 || { tail -30 "$tmp.log" >&2; rm -f "$tmp.log"; exit 1; }
  rm -f "$tmp.log"
  # The module cache's copy of buildkit's daemonless wrapper (a shell script beside its sources).
  if [ "$builder" = buildkit ]; then
    dir=$(cd "$module" && go list -m -f '{{.Dir}}' github.com/moby/buildkit)
    install -m 0755 "$dir/examples/buildctl-daemonless/buildctl-daemonless.sh" "$tmp/"
  fi
  mv -T "$tmp" "$out" 2>/dev/null || rm -rf "$tmp"
  trap - EXIT
  # Older builds of the same builder.
  for old in "$FLYWHEEL_CACHE_DIR/builders/$builder"-*; do
    [ "$old" = "$out" ] || [[ $old == *.tmp.* ]] || rm -rf "$old"
  done
fi
echo "$out"
