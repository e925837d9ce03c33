#!/usr/bin/env bash
# Builds the control-plane binaries from the Go module proxy into the cache (see versions.sh),
# unless they are already there. Safe to run again: a finished build is never redone.
#
# One `go build` of one module (controlplane/) for all seven programs: the libraries they share
# (client-go, apimachinery, grpc, otel, ...) are resolved to one version each and compiled once,
# where separate modules for etcd and kwok compiled their own copies; the links run in parallel.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet server kwok)
missing=0
for b in "${binaries[@]}"; do [ -x "$TESTENV_BIN/$b" ] || missing=1; done
[ "$missing" = 0 ] && exit 0

# How long it takes depends on the kernel's transparent huge pages: with huge pages only where
# programs ask for them (Go's runtime never asks), a VM spends about a quarter of this build in
# page faults. The one hint about this machine's kernel is said here, never acted on.
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
took="about 12 minutes on 2 cores"
if [ "$thp" != always ]; then
  took="about 20 minutes on 2 cores; about 12 with transparent huge pages 'always', not '${thp:-unknown}'"
  took+=" here: docs/testenv.md, \"Transparent huge pages\""
fi
echo "testenv: building ${binaries[*]} into $TESTENV_BIN (first time only; $took)" >&2
tmp="$TESTENV_BIN.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
(cd "$here/controlplane" && GOGC=$TESTENV_GOGC nice -n 10 go build "${TESTENV_GO_FLAGS[@]}" -o "$tmp/" tool)
for b in "${binaries[@]}"; do
  [ -x "$tmp/$b" ] || { echo "testenv: go build made no $b" >&2; exit 1; }
done
rm -rf "$TESTENV_BIN" && mv "$tmp" "$TESTENV_BIN"
