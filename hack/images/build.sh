#!/usr/bin/env bash
# Builds the testenv's container images with buildah (vfs storage, no daemon) into a cache outside
# the repository, and pushes them to a registry. No image comes from outside: every layer is made
# here from files on this machine (see docs/testenv.md for what each image holds).
#
#   build.sh                      builds what is missing; prints one "<name> <image>" line each
#   build.sh --push <registry>    the same, then pushes every image to <registry> (plain HTTP)
#
# Each image is tagged with a key: a hash of this script and of every file the image is made of,
# so a warm run finds the tag in the cache and builds nothing, and a changed input builds anew.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${FLYWHEEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}/images
registry=
if [ "${1:-}" = "--push" ]; then
  registry=${2:?usage: build.sh [--push <registry host:port>]}
fi

log() { printf 'images: %s\n' "$*" >&2; }
buildah=(buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver vfs)
mkdir -p "$cache"

# key <files...>: 12 hex digits naming the content of this script and of the files.
key() { cat "${BASH_SOURCE[0]}" "$@" | sha256sum | cut -c1-12; }

# cached <image>: whether the buildah cache holds <image>.
cached() { "${buildah[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# commit <container> <image>: commits, then drops the container and older tags of the same name.
commit() {
  local name=${2%:*} old
  "${buildah[@]}" commit --quiet --rm "$1" "$2" >/dev/null
  for old in $("${buildah[@]}" images --noheading --format '{{.Name}}:{{.Tag}}' "$name" 2>/dev/null); do
    [ "${old#localhost/}" = "$2" ] || "${buildah[@]}" rmi "$old" >/dev/null 2>&1 || true
  done
}

# --- busybox: a shell and the busybox applets (httpd, wget, nc, sleep...), statically linked --
busybox_rootfs() {
  local rootfs=$1 applet
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,www}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  echo "flywheel testenv" >"$rootfs/www/index.html"
}

busybox_image="testenv/busybox:$(key /bin/busybox)"
if ! cached "$busybox_image"; then
  log "building $busybox_image"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  busybox_rootfs "$tmp/rootfs"
  c=$("${buildah[@]}" from scratch)
  "${buildah[@]}" copy --quiet "$c" "$tmp/rootfs/" / >/dev/null
  "${buildah[@]}" config --env PATH=/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh \
    --label flywheel.dev/image=busybox "$c"
  commit "$c" "$busybox_image"
  rm -rf "$tmp"
  trap - EXIT
fi

# --- pause: the pod sandbox, the busybox layer sleeping for ever (containerd kills it) ------
pause_image="testenv/pause:${busybox_image##*:}"
if ! cached "$pause_image"; then
  log "building $pause_image"
  c=$("${buildah[@]}" from "$busybox_image")
  "${buildah[@]}" config --cmd '[]' "$c"
  "${buildah[@]}" config --entrypoint '["/bin/sleep","2147483647"]' \
    --label flywheel.dev/image=pause "$c"
  commit "$c" "$pause_image"
fi

images=("busybox $busybox_image" "pause $pause_image")

if [ -n "$registry" ]; then
  pids=()
  for line in "${images[@]}"; do
    image=${line#* }
    "${buildah[@]}" push --quiet --tls-verify=false "$image" "docker://$registry/$image" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || { log "push to $registry failed"; exit 1; }; done
fi
printf '%s\n' "${images[@]}"
