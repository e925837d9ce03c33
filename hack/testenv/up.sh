#!/usr/bin/env bash
# Starts the local control plane on loopback: etcd, kube-apiserver (TLS, RBAC, service-account
# tokens), kube-controller-manager, kube-scheduler and kwok with fake nodes, plus a local registry
# with the images of hack/images/ and one real node (containerd + kubelet, node.sh) unless
# FLYWHEEL_TESTENV_REAL_NODE=0. Writes $FLYWHEEL_TESTENV_DIR/kubeconfig (cluster-admin),
# bin/kubectl and env. Idempotent: when the control plane is already up, it only reports it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"
dir=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
nodes=${FLYWHEEL_TESTENV_NODES:-3}
real_node=${FLYWHEEL_TESTENV_REAL_NODE:-1}

log() { printf 'testenv: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

running() {
  [ -f "$dir/kubeconfig" ] || return 1
  local f
  local names=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok registry)
  [ "$real_node" = 0 ] || names+=(registry-pods api-pods containerd kubelet)
  for name in "${names[@]}"; do
    kill -0 "$(cat "$dir/pids/$name.pid" 2>/dev/null)" 2>/dev/null || return 1
  done
  "$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1
}

if running; then
  log "already running ($dir/kubeconfig)"
  exit 0
fi
[ -d "$dir/pids" ] && "$here/down.sh"

"$here/build.sh"
# The images, as "<name> <image>" lines, built if missing and copied into the registry's storage.
mkdir -p "$dir/registry"
images=$("$root/hack/images/build.sh" --seed "$dir/registry")
image_pause=$(awk '$1 == "pause" {print $2}' <<<"$images")
start_time=$(date +%s.%N)
mkdir -p "$dir"/{pki,logs,pids,bin,etcd,cmd}
ln -sf "$TESTENV_BIN_K8S/kubectl" "$dir/bin/kubectl"
kubectl=("$dir/bin/kubectl" --kubeconfig "$dir/kubeconfig")

# --- ports: free loopback ports, chosen per start ---------------------------------------
used=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    case "$used" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used="$used$p "
      echo "$p"
      return
    fi
  done
}
etcd_port=$(free_port)
etcd_peer_port=$(free_port)
api_port=$(free_port)
kwok_port=$(free_port)

# shellcheck source=node.sh
source "$here/node.sh"
# With the real node, the Services' range is a free /16 of this testenv (node.sh) and its first
# address, the kubernetes Service's, is the API server as pods reach it.
service_range=10.96.0.0/16
service_ip=10.96.0.1
if [ "$real_node" != 0 ]; then
  node_ip=$(node_subnet).1
  service_range=$(service_subnet).0.0/16
  service_ip=${service_range%.0.0/16}.0.1
fi

# --- PKI: one CA, a serving certificate, a client certificate per component ----------------
pki=$dir/pki
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
# sign <name> <subject> <extensions>: a key and a certificate signed by the testenv's CA.
sign() {
  openssl req -new "${ec[@]}" -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 3650 -out "$pki/$1.crt" -extfile <(printf '%b' "$3") 2>/dev/null
  rm -f "$pki/$1.csr"
  chmod 600 "$pki/$1.key"
}
client_ext='keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
if [ ! -f "$pki/ca.crt" ]; then
  log "generating certificates"
  openssl req -x509 "${ec[@]}" -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 3650 \
    -subj "/CN=flywheel-testenv-ca" 2>/dev/null
  sign admin "/O=system:masters/CN=flywheel-testenv-admin" "$client_ext"
  sign controller-manager "/CN=system:kube-controller-manager" "$client_ext"
  sign scheduler "/CN=system:kube-scheduler" "$client_ext"
  sign kwok "/O=system:masters/CN=kwok" "$client_ext"
  # The API server's identity towards kubelets (logs, exec, port-forward).
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client_ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  chmod 600 "$pki"/*.key
fi
# The API server's certificate names the kubernetes Service's address (pods reach the API server
# there, node.sh), which can differ between starts: signed at every start.
sign apiserver "/CN=kube-apiserver" \
  "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"

# kubeconfig <file> <client cert name>
kubeconfig() {
  cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: flywheel-testenv
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key
contexts:
- name: flywheel-testenv
  context: {cluster: flywheel-testenv, user: $2, namespace: default}
current-context: flywheel-testenv
KUBECONFIG
  chmod 600 "$1"
}

# start <name> <command...>: runs in its own session, output to logs/<name>.log. The command is
# kept in cmd/<name> so restart.sh can start the same program again.
start() {
  local name=$1
  shift
  printf '%q ' "$@" >"$dir/cmd/$name"
  setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

# wait_for <what> <seconds> <command...>: retries the command until it succeeds.
wait_for() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what not ready after ${limit}s; see $dir/logs/"
    sleep 0.2
  done
}

alive() { kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null || die "$1 exited; see $dir/logs/$1.log"; }

# --- registry -----------------------------------------------------------------------------
start_registry

# --- etcd ----------------------------------------------------------------------------------
rm -rf "$dir/etcd" && mkdir -p "$dir/etcd"
start etcd "$TESTENV_BIN_ETCD/server" --name testenv --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "testenv=http://127.0.0.1:$etcd_peer_port" \
  --unsafe-no-fsync --quota-backend-bytes=4294967296 --log-level=warn
wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

# --- kube-apiserver ------------------------------------------------------------------------
start kube-apiserver "$TESTENV_BIN_K8S/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --authorization-mode=Node,RBAC \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$pki/ca.crt" \
  --kubelet-preferred-address-types=InternalIP \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range="$service_range" \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --profiling=false
kubeconfig "$dir/kubeconfig" admin
wait_for kube-apiserver 60 "${kubectl[@]}" get --raw /readyz
alive kube-apiserver

# --- controllers, scheduler, kwok ----------------------------------------------------------
kubeconfig "$dir/controller-manager.kubeconfig" controller-manager
kubeconfig "$dir/scheduler.kubeconfig" scheduler
kubeconfig "$dir/kwok.kubeconfig" kwok
start kube-controller-manager "$TESTENV_BIN_K8S/kube-controller-manager" \
  --kubeconfig="$dir/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
  --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --use-service-account-credentials=true \
  --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
start kube-scheduler "$TESTENV_BIN_K8S/kube-scheduler" \
  --kubeconfig="$dir/scheduler.kubeconfig" \
  --authentication-kubeconfig="$dir/scheduler.kubeconfig" \
  --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
start kwok "$TESTENV_BIN_KWOK/kwok" \
  --kubeconfig="$dir/kwok.kubeconfig" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --config="$here/kwok-stages.yaml" --node-lease-duration-seconds=40 \
  --cidr=10.244.0.1/16 --node-ip=10.244.0.1 \
  --server-address="127.0.0.1:$kwok_port"

for ((i = 0; i < nodes; i++)); do
  cat <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
---
NODE
done | "${kubectl[@]}" apply -f - >/dev/null
alive kwok
wait_for "fake nodes" 60 "${kubectl[@]}" wait --for=condition=Ready node --all --timeout=0s
# Pods need their namespace's default ServiceAccount (made by the controller-manager).
wait_for "default ServiceAccount" 60 "${kubectl[@]}" get serviceaccount default -n default
for c in kube-controller-manager kube-scheduler kwok; do alive "$c"; done

# --- the real node -------------------------------------------------------------------------
real_node_name=
if [ "$real_node" != 0 ]; then
  start_node
  real_node_name=$node_name
  image_flywheel=$(awk '$1 == "flywheel" {print $2}' <<<"$images")
  [ -z "$image_flywheel" ] || write_operator_overlay "$image_flywheel"
fi

cat >"$dir/env" <<ENV
KUBECONFIG=$dir/kubeconfig
FLYWHEEL_TESTENV_API=https://127.0.0.1:$api_port
FLYWHEEL_TESTENV_ETCD=http://127.0.0.1:$etcd_port
FLYWHEEL_TESTENV_REGISTRY=$registry
FLYWHEEL_TESTENV_REAL_NODE=$real_node_name
FLYWHEEL_TESTENV_REAL_NODE_TAINT=$node_taint
FLYWHEEL_TESTENV_REAL_NODE_GATEWAY=$node_ip
FLYWHEEL_TESTENV_POD_REGISTRY=${pod_registry:-}
FLYWHEEL_TESTENV_OPERATOR=${operator_kustomization:-}
$(while read -r name image; do
    echo "FLYWHEEL_TESTENV_IMAGE_${name^^}=$registry/$image"
  done <<<"$images")
ENV
elapsed=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $start_time}")
log "control plane ready in ${elapsed}s: https://127.0.0.1:$api_port, $nodes kwok nodes," \
  "real node '${real_node_name:-none}', registry $registry"
log "  kubectl --kubeconfig $dir/kubeconfig get nodes"
log "  logs in $dir/logs/, stop with 'make testenv-down'"
