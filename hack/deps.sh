#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need: the Go-built control plane
# (hack/testenv/build.sh), started first since it is the longest part (it needs only Go and a C
# compiler, which the machine has); Debian packages with apt beside it; then, once the packages
# are in, the testenv's container images that do not need build/flywheel (hack/images/build.sh
# --base), whose builds mostly wait for the Debian mirror. Idempotent: installed packages, cached
# binaries and cached images are not made again.
#
#   hack/deps.sh [--beside <command>]
#
#   --beside <command>  also runs <command> (a shell command line) once the Debian packages are
#                       in, beside the Go build and the images, and fails when it fails. `make
#                       test` and `make demo` pass the C++ build: the Go build is niced and leaves
#                       gaps (type-checking one large package, module downloads, links) that the
#                       C++ compiler fills. Once it and the base images are done, the flywheel
#                       image is built from build/flywheel too, while the Go build goes on.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
beside=
case "${1:-}" in
  --beside) beside=${2:?usage: deps.sh [--beside <command>]} ;;
  "") ;;
  *) echo "usage: deps.sh [--beside <command>]" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format git curl openssl
  libboost-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libgit2-dev
  prometheus-cpp-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  # Test git servers (tests/support/git_server.h): git daemon and git-http-backend come with git.
  nginx fcgiwrap openssh-server openssh-client
  # The demo reads PipelineRun status with jq and plots the error ratio with gnuplot.
  jq gnuplot-nox
  # RollbackPolicy tests and the demo: a real Prometheus and Alertmanager on loopback.
  prometheus prometheus-alertmanager
  # The testenv's real node (hack/testenv/node.sh): containers, pod networks, a local registry,
  # and images built here (hack/images/).
  containerd runc containernetworking-plugins docker-registry buildah busybox-static debootstrap
  # The API server's address on the real node's bridge, for the operator in-cluster (node.sh).
  socat
)

command -v go >/dev/null || { echo "deps: Go is required (found none on PATH)" >&2; exit 1; }

# The builds run side by side, each in its own process group (job control, `set -m`). The first
# to fail stops the others (with everything they started: go, make, ninja, buildah) and names
# itself; the script returns once all succeeded. Progress lines ("testenv: ...", "images: ...",
# the C++ build's) interleave. Not `setsid`: a new session is a new scheduler autogroup, and the
# kernel then shares the CPU between the sessions equally, whatever their nice values, so the
# niced Go build would take half the CPU from the C++ build (seen on 2026-12-02: the C++ build
# at 42 of 68 steps after 16 minutes, against all 68 in 9.5 minutes in one session).
set -m
declare -A failure=()
start() {
  local message=$1
  shift
  "$@" &
  failure[$!]=$message
}
stop_all() {
  local pid
  for pid in "${!failure[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The Go build first, unless there is no C compiler for cgo yet (then after apt installs one).
go_first=
if command -v gcc >/dev/null; then
  start "building the control plane failed (hack/testenv/build.sh)" "$here/testenv/build.sh"
  go_first=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "deps: installing ${missing[*]}" >&2
  { $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null; } || { echo "deps: apt-get failed (see above)" >&2; exit 1; }
fi

[ -n "$go_first" ] ||
  start "building the control plane failed (hack/testenv/build.sh)" "$here/testenv/build.sh"
start "building the testenv's images failed (hack/images/build.sh --base)" \
  bash -c '"$0" --base >/dev/null' "$here/images/build.sh"
images_pid=$!
beside_pid=
[ -z "$beside" ] || { start "$beside failed" bash -c "$beside" && beside_pid=$!; }
while [ ${#failure[@]} -gt 0 ]; do
  finished=
  if wait -n -p finished "${!failure[@]}"; then
    unset "failure[$finished]"
    # Once the base images and the command beside (`make deps-build`: the C++ build, so
    # build/flywheel) are both done, the flywheel image's last layer too, while the Go build goes
    # on: on a cold run the Go build ends last by minutes, and the testenv's start would
    # otherwise build it (about 20 s) before the first test.
    if [ -n "$beside_pid" ] && [ -z "${failure[$images_pid]:-}" ] &&
      [ -z "${failure[$beside_pid]:-}" ] && [ -x "${FLYWHEEL_BINARY:-$root/build/flywheel}" ]; then
      beside_pid=
      start "building the flywheel image failed (hack/images/build.sh)" \
        bash -c '"$0" >/dev/null' "$here/images/build.sh"
    fi
  else
    rc=$?
    echo "deps: ${failure[$finished]:-a build failed}" >&2
    unset "failure[$finished]"
    exit "$rc"
  fi
done
