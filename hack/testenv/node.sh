# The testenv's local registry and its real node (containerd + runc + kubelet), beside the kwok
# nodes. Sourced by up.sh, which defines dir, pki, api_port, kubectl and the helpers used here
# (log, die, free_port, sign, kubeconfig, start, wait_for, alive). node-clean.sh undoes all of it.
#
# Everything the node creates outside $dir is named after $node_id (a hash of $dir), so several
# testenvs can run on one machine and a killed run's leftovers can be found again:
#   - the bridge fw<id> with a private /24 (pods get their own IPs; nothing is masqueraded, so pod
#     traffic never leaves the machine); the kubelet serves on the bridge's address;
#   - the cgroup /flywheel-<id> in every hierarchy (the kubelet's cgroupRoot);
#   - the CNI network flywheel-<id> (libcni's cache in /var/lib/cni/results);
#   - /var/log/containers/* links the kubelet makes into $dir.
# Network namespaces, rootfs mounts and volumes are mounted under $dir (containerd's
# netns_mounts_under_state_dir, the kubelet's root dir).

node=$dir/node
node_id=$(printf '%s' "$dir" | sha256sum | cut -c1-8)
node_name=real-node-0
node_bridge=fw$node_id
node_cgroup=/flywheel-$node_id
node_net=flywheel-$node_id
node_taint=flywheel.dev/node=real:NoSchedule
node_ip= # the bridge's address (the pods' gateway and the kubelet's), set by start_node

# start_registry: the distribution registry on a free loopback port, its storage in
# $dir/registry (which hack/images/build.sh --seed filled).
start_registry() {
  registry=127.0.0.1:$(free_port)
  cat >"$dir/registry.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $dir/registry}
  delete: {enabled: true}
http: {addr: $registry}
YAML
  start registry docker-registry serve "$dir/registry.yml"
  wait_for registry 30 curl -sf "http://$registry/v2/"
}

# start_pod_registry: a second registry process on the same storage, listening on the bridge's
# address with the loopback registry's port, for pods on the real node (a build pod pulls its base
# image and pushes its artifact there); the bridge must exist. Distribution keeps all of its
# state in the storage folder, so both processes serve the same repositories and tags.
start_pod_registry() {
  pod_registry=$node_ip:${registry##*:}
  sed "s|^http: {addr: .*}|http: {addr: $pod_registry}|" "$dir/registry.yml" \
    >"$dir/registry-pods.yml"
  start registry-pods docker-registry serve "$dir/registry-pods.yml"
  wait_for "registry on $pod_registry" 30 curl -sf "http://$pod_registry/v2/"
}

# start_pod_api: the API server for pods on the real node (the operator in-cluster), at the
# kubernetes Service's address and port (what the kubelet gives every pod as
# KUBERNETES_SERVICE_HOST and _PORT): that address on the bridge (a /32, no route), and socat
# there relaying each connection to the loopback API server. The testenv has no kube-proxy, so
# this one Service address is served by hand; TLS stays end to end (the API server's certificate
# names the address), so pods verify it with their service account's CA.
start_pod_api() {
  ip addr add "$service_ip/32" dev "$node_bridge"
  start api-pods socat "TCP-LISTEN:443,bind=$service_ip,reuseaddr,fork" "TCP:127.0.0.1:$api_port"
  wait_for "API server on $service_ip:443" 30 \
    curl -sf --cacert "$pki/ca.crt" "https://$service_ip/readyz"
}

# write_operator_overlay <flywheel image>: $dir/operator, a kustomization over manifests/ that
# runs the operator on the real node from the testenv's image: `kubectl apply -k $dir/operator`
# (after `kubectl apply -f crds/`) installs it exactly as manifests/ does, with the image from the
# local registry (kustomize's images:) and a toleration and node selector for the real node.
# Sets operator_kustomization.
write_operator_overlay() {
  local image=$1
  operator_kustomization=$dir/operator
  mkdir -p "$operator_kustomization"
  cat >"$operator_kustomization/kustomization.yaml" <<YAML
# Written by hack/testenv/node.sh: manifests/ on the testenv's real node.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$operator_kustomization" "$root/manifests")
images:
  - name: registry.example.invalid/flywheel/flywheel
    newName: $registry/${image%:*}
    newTag: ${image##*:}
patches:
  - target: {kind: Deployment, name: flywheel}
    patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: flywheel}
      spec:
        template:
          spec:
            nodeSelector: {flywheel.dev/node: real}
            tolerations: [{key: ${node_taint%%=*}, operator: Exists, effect: NoSchedule}]
YAML
}

# service_subnet: the first two octets of a free 10.x.0.0/16 for the Services' cluster IPs, from
# $node_id like node_subnet (another range of x, so the two never meet; another testenv's Service
# address on its bridge moves this one on).
service_subnet() {
  local x=$((200 + 0x${node_id:4:2} % 50)) used
  used=$(ip -4 route show; ip -4 addr show)
  while grep -q "10\.$x\." <<<"$used"; do x=$((200 + (x - 199) % 50)); done
  echo "10.$x"
}

# node_subnet: the third and second octets of a free 10.x.y.0/24 for the bridge, derived from
# $node_id (stable for one $dir) and moved on while the host already routes it.
node_subnet() {
  local x=$((100 + 0x${node_id:0:2} % 100)) y=$((0x${node_id:2:2})) routes
  routes=$(ip -4 route show)
  while grep -q "^10\.$x\.$y\." <<<"$routes"; do y=$(((y + 1) % 256)); done
  echo "10.$x.$y"
}

# start_node: containerd, the bridge and the kubelet; waits until the node is Ready.
start_node() {
  local prefix c
  mkdir -p "$node"/{containerd,cni,kubelet,pod-logs}
  # Written first: node-clean.sh reads it to find what to remove, even after a killed run.
  cat >"$node/params" <<PARAMS
node_bridge=$node_bridge
node_cgroup=$node_cgroup
node_net=$node_net
PARAMS
  prefix=${node_ip%.1} # up.sh chose the subnet before it signed the API server's certificate
  # A bridge takes the lowest MAC of its ports unless one is set: pods coming and going would
  # change the gateway's MAC under the others' ARP caches, and their connections to it time out
  # until the entry is probed again (a build pulling its base image failed so).
  ip link add "$node_bridge" address "02:66:${node_id:0:2}:${node_id:2:2}:${node_id:4:2}:${node_id:6:2}" type bridge
  ip addr add "$node_ip/24" dev "$node_bridge"
  ip link set "$node_bridge" up
  start_pod_registry
  start_pod_api

  # The kubelet's cgroupRoot must exist in every hierarchy it uses.
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then # cgroup v2 only
    mkdir -p "/sys/fs/cgroup$node_cgroup"
    sed 's/[a-z_]\+/+&/g' /sys/fs/cgroup/cgroup.subtree_control \
      >"/sys/fs/cgroup$node_cgroup/cgroup.subtree_control"
  else
    for c in /sys/fs/cgroup/*/; do
      mountpoint -q "$c" || continue
      mkdir -p "$c${node_cgroup#/}"
    done
    for c in cpus mems; do
      cat "/sys/fs/cgroup/cpuset/cpuset.$c" >"/sys/fs/cgroup/cpuset$node_cgroup/cpuset.$c"
    done
  fi

  cat >"$node/cni/10-bridge.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$node_net",
  "plugins": [{
    "type": "bridge", "bridge": "$node_bridge", "isGateway": true, "ipMasq": false,
    "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": "$node/cni-ipam",
             "ranges": [[{"subnet": "$prefix.0/24", "gateway": "$node_ip"}]],
             "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
JSON
  cat >"$node/containerd.toml" <<TOML
version = 2
root = "$node/containerd/root"
state = "$node/containerd/state"
[grpc]
  address = "$node/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$node/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$registry/$image_pause"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$node/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$registry"]
    endpoint = ["http://$registry"]
  # The same registry under the name pods push to (a build pod's artifact, promoted as is into
  # a Deployment, is pulled by that name).
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$pod_registry"]
    endpoint = ["http://$pod_registry"]
TOML
  start containerd containerd --config "$node/containerd.toml"

  # The kubelet: a serving certificate for its address (the API server checks it against the CA
  # for logs, exec and port-forward) and a client certificate as system:node:<name>.
  sign kubelet "/CN=$node_name" \
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:$node_ip,DNS:$node_name\n"
  sign kubelet-client "/O=system:nodes/CN=system:node:$node_name" "$client_ext"
  kubeconfig "$node/kubelet.kubeconfig" kubelet-client
  cat >"$node/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: $(free_port)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(free_port)
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$node/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: $node_cgroup
failCgroupV1: false
failSwapOn: false
podLogsDir: $node/pod-logs
clusterDomain: cluster.local
serializeImagePulls: false
maxPods: 50
registerWithTaints: [{key: ${node_taint%%=*}, value: real, effect: NoSchedule}]
# A shared machine: never evict or collect images because other programs filled the disk.
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
  wait_for containerd 30 ctr --address "$node/containerd.sock" version
  alive containerd
  start kubelet "$TESTENV_BIN_KUBELET/kubelet" --config="$node/kubelet.yaml" \
    --kubeconfig="$node/kubelet.kubeconfig" --root-dir="$node/kubelet" \
    --hostname-override="$node_name" --node-ip="$node_ip" \
    --node-labels=flywheel.dev/node=real,type=real
  wait_for "real node $node_name" 60 "${kubectl[@]}" get node "$node_name"
  alive kubelet
  wait_for "real node $node_name Ready" 60 \
    "${kubectl[@]}" wait --for=condition=Ready "node/$node_name" --timeout=0s
}
