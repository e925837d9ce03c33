#!/usr/bin/env bash
# Builds the control-plane binaries from the Go module proxy into the cache (see versions.sh),
# unless they are already there. Safe to run again: a finished build is never redone.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

# build <module folder> <cache folder> <binaries...>
build() {
  local module=$1 out=$2
  shift 2
  local missing=0 b
  for b in "$@"; do [ -x "$out/$b" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  echo "testenv: building $* into $out (first time only; several minutes on 2 cores)" >&2
  local tmp="$out.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$here/$module" && go build -trimpath -ldflags='-s -w' -o "$tmp/" tool)
  rm -rf "$out" && mv "$tmp" "$out"
}

build k8s "$TESTENV_BIN_K8S" kube-apiserver kube-controller-manager kube-scheduler kubectl
build etcd "$TESTENV_BIN_ETCD" server
build kwok "$TESTENV_BIN_KWOK" kwok
