# Pinned versions of the local control plane (sourced by build.sh and up.sh). Each component is
# built from the wrapper module in the folder of the same name; change the version here and in
# that folder's go.mod together (`go get -tool <module>@<version>` there).
K8S_VERSION=v1.36.3   # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet
ETCD_VERSION=v3.6.16  # go.etcd.io/etcd/server/v3
KWOK_VERSION=v0.8.0   # sigs.k8s.io/kwok/cmd/kwok

# Built binaries live outside the repository, one folder per component and version, so every
# clone and CI run on the same machine reuses them.
FLYWHEEL_CACHE_DIR=${FLYWHEEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}
TESTENV_BIN_K8S=$FLYWHEEL_CACHE_DIR/testenv/k8s-$K8S_VERSION
TESTENV_BIN_KUBELET=$FLYWHEEL_CACHE_DIR/testenv/kubelet-$K8S_VERSION
TESTENV_BIN_ETCD=$FLYWHEEL_CACHE_DIR/testenv/etcd-$ETCD_VERSION
TESTENV_BIN_KWOK=$FLYWHEEL_CACHE_DIR/testenv/kwok-$KWOK_VERSION
