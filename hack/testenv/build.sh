#!/usr/bin/env bash
# Builds the control-plane binaries from the Go module proxy into the cache (see versions.sh),
# unless they are already there. Safe to run again: a finished build is never redone.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

# build <module folder> <cache folder> <packages> <binaries...>: <packages> is what `go build`
# gets (`tool` for every tool directive of the module, or one package path).
build() {
  local module=$1 out=$2 packages=$3
  shift 3
  local missing=0 b
  for b in "$@"; do [ -x "$out/$b" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  echo "testenv: building $* into $out (first time only; several minutes on 2 cores)" >&2
  local tmp="$out.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$here/$module" && nice -n 10 go build -trimpath -ldflags='-s -w' -o "$tmp/" $packages)  # word-split on purpose
  rm -rf "$out" && mv "$tmp" "$out"
}

k8s=k8s.io/kubernetes/cmd
build k8s "$TESTENV_BIN_K8S" "$k8s/kube-apiserver $k8s/kube-controller-manager $k8s/kube-scheduler $k8s/kubectl" \
  kube-apiserver kube-controller-manager kube-scheduler kubectl
build k8s "$TESTENV_BIN_KUBELET" "$k8s/kubelet" kubelet
build etcd "$TESTENV_BIN_ETCD" tool server
build kwok "$TESTENV_BIN_KWOK" tool kwok
