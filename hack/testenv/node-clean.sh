#!/usr/bin/env bash
# Stops the testenv's real node (node.sh) and removes everything it made, also after a killed run:
# the kubelet and containerd (by PID), every container process (the PIDs in the node's cgroups),
# the containerd shims and their sockets, every mount under the testenv folder (rootfs, network
# namespaces, volumes), the bridge, the cgroups, the kubelet's links in /var/log/containers and
# libcni's cache entries. Called by down.sh before it removes the folder.
set -uo pipefail
dir=${1:?usage: node-clean.sh <testenv dir>}
node=$dir/node
[ -f "$node/params" ] || exit 0
# shellcheck source=/dev/null
source "$node/params"

# stop <pid> <text> [<text>]: SIGKILL (everything they started is removed below, so nothing needs a
# graceful stop), when the PID's command line contains each text; any other process (a PID
# reused since a killed run) is left alone.
stop() {
  local pid=$1 cmd text
  shift
  [ -n "$pid" ] && cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 0
  for text; do [[ $cmd == *"$text"* ]] || return 0; done
  kill -KILL "$pid" 2>/dev/null
}

stop "$(cat "$dir/pids/kubelet.pid" 2>/dev/null)" "$node/kubelet"
stop "$(cat "$dir/pids/containerd.pid" 2>/dev/null)" "$node/containerd.toml"
rm -f "$dir/pids/kubelet.pid" "$dir/pids/containerd.pid"

# Container processes: every PID in the node's cgroups (the pods' cgroups are below it).
cgroups=()
for c in /sys/fs/cgroup/*/"${node_cgroup#/}" "/sys/fs/cgroup$node_cgroup"; do
  [ -d "$c" ] && cgroups+=("$c")
done
for _ in $(seq 50); do
  pids=$(find "${cgroups[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
  [ -z "$pids" ] && break
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  sleep 0.1
done

# Shims (one per pod sandbox, reparented away from containerd): the processes whose command line
# names this node's containerd socket.
for cmdline in $(grep -laF -- "$node/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null); do
  pid=${cmdline#/proc/}
  stop "${pid%/cmdline}" "containerd-shim-runc-v2 " " -address $node/containerd.sock "
done
# Their sockets (outside the folder, in /run/containerd/s) are named in each sandbox's task folder.
for address in "$node"/containerd/state/io.containerd.runtime.v2.task/*/*/address; do
  [ -f "$address" ] || continue
  socket=$(cat "$address")
  rm -f "${socket#unix://}"
done

# Mounts under the folder, deepest first (mountinfo's fifth field is the mount point).
for _ in 1 2 3; do
  mounts=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  [ -z "$mounts" ] && break
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done

ip link del "$node_bridge" 2>/dev/null

for _ in $(seq 50); do
  [ ${#cgroups[@]} -gt 0 ] && find "${cgroups[@]}" -depth -type d -exec rmdir {} + 2>/dev/null
  left=()
  for c in "${cgroups[@]}"; do [ -d "$c" ] && left+=("$c"); done
  cgroups=("${left[@]}")
  [ ${#cgroups[@]} -eq 0 ] && break
  sleep 0.1
done

find /var/log/containers -maxdepth 1 -lname "$dir/*" -delete 2>/dev/null
# libcni's cache: <network>-<sandbox id>-<interface> for the bridge and for the loopback network.
for f in /var/lib/cni/results/"$node_net"-*-eth0; do
  [ -f "$f" ] || continue
  sandbox=${f#/var/lib/cni/results/"$node_net"-}
  rm -f "$f" "/var/lib/cni/results/cni-loopback-${sandbox%-eth0}-lo"
done
leftover=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo)
[ -z "$leftover" ] || echo "testenv: could not unmount: $leftover" >&2
exit 0
