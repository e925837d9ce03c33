# Pinned versions of the local control plane (sourced by build.sh, up.sh and the scripts that run
# its kubectl). Every program is built from the one Go module in controlplane/, whose go.mod names
# them as `tool` directives and pins every dependency; change a version there
# (`go get -tool <module>@<version>`, then `go mod tidy`) and here together.
K8S_VERSION=v1.36.3   # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet
ETCD_VERSION=v3.6.16  # go.etcd.io/etcd/server/v3
KWOK_VERSION=v0.8.0   # sigs.k8s.io/kwok/cmd/kwok

# How build.sh compiles them: no paths of this machine in the binaries, no symbol table and no
# DWARF (the compiler does not even produce it, which saves part of the compile on 2 cores).
TESTENV_GO_FLAGS=(-trimpath "-ldflags=-s -w" "-gcflags=all=-dwarf=false")
# The compiler's and linker's garbage collector at GOGC=400 unless the caller set one: each
# compile lets its heap grow to five times its live data instead of twice, and collects far less
# (kube-scheduler from an empty build cache: 18% less time with transparent huge pages `always`,
# no change with `madvise`; docs/testenv.md, "Transparent huge pages"). A compile then peaks near
# 550 MB instead of 400 MB.
TESTENV_GOGC=${GOGC:-400}

# The built binaries live outside the repository, in one folder named by the module's pins and the
# flags above, so every clone and CI run on the same machine reuses them, and a change of either
# builds anew into a new folder.
_testenv_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLYWHEEL_CACHE_DIR=${FLYWHEEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}
TESTENV_BIN=$FLYWHEEL_CACHE_DIR/testenv/controlplane-$(
  { cat "$_testenv_here/controlplane/go.mod" "$_testenv_here/controlplane/go.sum"
    printf '%s\n' "${TESTENV_GO_FLAGS[@]}"; } | sha256sum | cut -c1-12)
TESTENV_BIN_K8S=$TESTENV_BIN      # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
TESTENV_BIN_KUBELET=$TESTENV_BIN  # kubelet
TESTENV_BIN_ETCD=$TESTENV_BIN     # server (etcd)
TESTENV_BIN_KWOK=$TESTENV_BIN     # kwok
