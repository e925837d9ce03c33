#!/usr/bin/env bash
# Builds the testenv's container images with buildah (vfs storage, no daemon) into a cache outside
# the repository, each with a ready registry storage folder (a "seed") to copy into a registry
# before it starts. No image comes from outside: every layer is made here from files on this
# machine (see docs/testenv.md for what each image holds).
#
#   build.sh                  builds what is missing; prints one "<name> <image>" line each
#   build.sh --seed <folder>  the same, then copies every image into <folder>, the storage root of
#                             a docker-registry (filesystem driver) about to start
#   build.sh --base           only what does not need build/flywheel (all but the flywheel image's
#                             last layer): `make deps` runs it beside the control plane's Go build,
#                             since it mostly waits for the Debian mirror while Go keeps the CPUs
#
# Each image is tagged with a key: a hash of this script and of every file the image is made of,
# so a warm run finds the tag in the cache and builds nothing, and a changed input builds anew.
# Seeding by copy instead of pushing keeps a warm start fast: a push compresses every layer again
# (about 10 s for the flywheel image's 230 MB).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${FLYWHEEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel}/images
binary=${FLYWHEEL_BINARY:-$root/build/flywheel}
seed_into=
case "${1:-}" in
  --seed) seed_into=${2:?usage: build.sh [--seed <registry storage folder> | --base]} ;;
  --base) binary= ;;
esac

log() { printf 'images: %s\n' "$*" >&2; }
buildah=(buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver vfs)
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# key <files...>: 12 hex digits naming the content of this script and of the files.
key() { cat "${BASH_SOURCE[0]}" "$@" | sha256sum | cut -c1-12; }

# cached <image>: whether the buildah cache holds <image>.
cached() { "${buildah[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# commit <container> <image>: commits, then drops the container.
commit() { "${buildah[@]}" commit --quiet --rm "$1" "$2" >/dev/null; }

# prune <image>: removes the other tags of <image>'s name from the cache (older keys).
prune() {
  local old
  for old in $("${buildah[@]}" images --noheading --format '{{.Name}}:{{.Tag}}'); do
    old=${old#localhost/}
    [ "${old%:*}" = "${1%:*}" ] && [ "$old" != "$1" ] || continue
    "${buildah[@]}" rmi "$old" >/dev/null 2>&1 || true
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
  busybox_rootfs "$tmp/busybox"
  c=$("${buildah[@]}" from scratch)
  "${buildah[@]}" copy --quiet "$c" "$tmp/busybox/" / >/dev/null
  "${buildah[@]}" config --env PATH=/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh \
    --label flywheel.dev/image=busybox "$c"
  commit "$c" "$busybox_image"
  prune "$busybox_image"
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
  prune "$pause_image"
fi

# --- debian: Debian 12 minbase from debootstrap, the base of the toolbox and flywheel images --
# From the machine's Debian mirror (the first in its apt sources), so it has no input file to hash:
# made once and kept; change the tag to make it again.
debian_image="testenv/debian:bookworm-1"
if ! cached "$debian_image"; then
  log "building $debian_image with debootstrap (first time only; minutes)"
  mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || { log "no Debian mirror in /etc/apt/sources.list*"; exit 1; }
  nice -n 10 debootstrap --variant=minbase bookworm "$tmp/debian" "$mirror" >"$tmp/log" 2>&1 ||
    { tail -20 "$tmp/log" >&2; exit 1; }
  rm -rf "$tmp"/debian/var/cache/apt/archives/*.deb "$tmp"/debian/var/lib/apt/lists/*
  c=$("${buildah[@]}" from scratch)
  "${buildah[@]}" copy --quiet "$c" "$tmp/debian/" / >/dev/null
  "${buildah[@]}" config --cmd /bin/bash --label flywheel.dev/image=debian "$c"
  commit "$c" "$debian_image"
  prune "$debian_image"
fi

# bud <image> <Dockerfile> <context folder> [<target stage>]: builds a Dockerfile on the Debian
# base above (its BASE argument), unless the cache has <image>.
bud() {
  local image=$1 file=$2 context=$3 target=${4:-}
  cached "$image" && return 0
  log "building $image from ${file#"$root"/}${target:+ (stage $target)}"
  # shellcheck disable=SC2086 # no target: no --target argument
  nice -n 10 "${buildah[@]}" bud --quiet --isolation chroot --pull=never --layers -f "$file" \
    ${target:+--target "$target"} --build-arg "BASE=localhost/$debian_image" -t "$image" \
    "$context" >"$tmp/log" 2>&1 || { tail -20 "$tmp/log" >&2; exit 1; }
  prune "$image"
}

mkdir -p "$tmp/context"

# --- toolbox: shell, git, make, gcc/g++, curl (hack/images/toolbox.Dockerfile) ---------------
toolbox_image="testenv/toolbox:$(key "$here/toolbox.Dockerfile")"
bud "$toolbox_image" "$here/toolbox.Dockerfile" "$tmp/context"
# --- buildah: the Pipeline artifact builder (hack/images/buildah.Dockerfile) -------------------
buildah_image="testenv/buildah:$(key "$here/buildah.Dockerfile")"
bud "$buildah_image" "$here/buildah.Dockerfile" "$tmp/context"
images=("busybox $busybox_image" "pause $pause_image" "toolbox $toolbox_image"
  "buildah $buildah_image")

# --- kaniko and buildkit: the other artifact builders, with FLYWHEEL_BUILDER_IMAGES=1 only -------
# Their programs are Go builds of several minutes (hack/images/builders/build.sh), so only `make
# test-builders` asks for them; `make test` and `make demo` build with buildah.
if [ "${FLYWHEEL_BUILDER_IMAGES:-0}" = 1 ]; then
  # kaniko: the executor alone on an empty base, laid out as upstream's image (/kaniko holds the
  # executor, CA certificates and the default Docker config; kaniko unpacks the base image of
  # the Dockerfile over the rest of the root filesystem and leaves /kaniko alone).
  bin=$("$here/builders/build.sh" kaniko)
  certs=/etc/ssl/certs/ca-certificates.crt
  kaniko_image="testenv/kaniko:$(key "$bin/executor" "$certs")"
  if ! cached "$kaniko_image"; then
    log "building $kaniko_image"
    mkdir -p "$tmp/kaniko/kaniko/ssl/certs" "$tmp/kaniko/kaniko/.docker" "$tmp/kaniko/workspace"
    cp "$bin/executor" "$tmp/kaniko/kaniko/executor"
    cp "$certs" "$tmp/kaniko/kaniko/ssl/certs/ca-certificates.crt"
    c=$("${buildah[@]}" from scratch)
    "${buildah[@]}" copy --quiet "$c" "$tmp/kaniko/" / >/dev/null
    "${buildah[@]}" config --env HOME=/root --env USER=root --env PATH=/usr/local/bin:/kaniko \
      --env SSL_CERT_DIR=/kaniko/ssl/certs --env DOCKER_CONFIG=/kaniko/.docker/ \
      --workingdir /workspace --entrypoint '["/kaniko/executor"]' \
      --label flywheel.dev/image=kaniko "$c"
    commit "$c" "$kaniko_image"
    prune "$kaniko_image"
  fi
  # buildkit: rootless buildkitd on Debian (hack/images/buildkit.Dockerfile), the programs'
  # cache folder as the context.
  bin=$("$here/builders/build.sh" buildkit)
  buildkit_image="testenv/buildkit:$(key "$here/buildkit.Dockerfile" "$bin"/*)"
  bud "$buildkit_image" "$here/buildkit.Dockerfile" "$bin"
  images+=("kaniko $kaniko_image" "buildkit $buildkit_image")
fi

# --- flywheel: the project's Dockerfile, stage `prebuilt`, with the binary built here ---------
# The runtime stage (Debian and the libraries from apt, minutes) is its own image, so that a new
# binary only adds its layer on top of it (a second build reuses its layers).
bud "testenv/flywheel-runtime:$(key "$root/Dockerfile")" "$root/Dockerfile" "$tmp/context" runtime
if [ -n "$binary" ] && [ -x "$binary" ]; then
  strip -o "$tmp/context/flywheel" "$binary"
  flywheel_image="testenv/flywheel:$(key "$root/Dockerfile" "$tmp/context/flywheel")"
  bud "$flywheel_image" "$root/Dockerfile" "$tmp/context" prebuilt
  images+=("flywheel $flywheel_image")
elif [ -n "$binary" ]; then
  log "no flywheel image: $binary is not built (make build)"
fi

# seed_dir <image>: the cache folder of <image>'s seed.
seed_dir() { local name=${1//\//-}; echo "$cache/seeds/${name//:/-}"; }

# seed <image>: the registry storage folder holding <image> only, made once by pushing to a
# registry started on it for the purpose. An older seed of the same name is copied first, so the
# push only uploads the layers that changed; its tags are dropped and garbage-collected.
seed() {
  local image=$1 dir work older=() d port pid
  dir=$(seed_dir "$image")
  [ -d "$dir" ] && return 0
  for d in "$(seed_dir "${image%:*}")"-*; do
    [ -d "$d" ] && [ "$d" != "$dir" ] && [[ $d != *.tmp.* ]] && older+=("$d")
  done
  work="$dir.tmp.$$"
  rm -rf "$work" && mkdir -p "$work/storage"
  if [ ${#older[@]} -gt 0 ]; then
    cp -a "${older[0]}/storage/." "$work/storage/"
    find "$work/storage/docker/registry/v2/repositories" -path '*/_manifests/tags/*' -prune \
      -exec rm -rf {} +
  fi
  cat >"$work/config.yml" <<YAML
version: 0.1
log: {level: info, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $work/storage}
  delete: {enabled: true}
http: {addr: 127.0.0.1:0}
YAML
  docker-registry serve "$work/config.yml" >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] && "${buildah[@]}" push --quiet --tls-verify=false "$image" \
    "docker://127.0.0.1:$port/$image" || { kill "$pid"; log "seeding $image failed"; exit 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  docker-registry garbage-collect --delete-untagged "$work/config.yml" >/dev/null 2>&1
  # Another build may have made the same seed meanwhile: keep one.
  mv -T "$work" "$dir" 2>/dev/null || rm -rf "$work"
  rm -rf "${older[@]}"
}

mkdir -p "$cache/seeds"
for line in "${images[@]}"; do
  image=${line#* }
  seed "$image"
  [ -z "$seed_into" ] || cp -a "$(seed_dir "$image")/storage/." "$seed_into/"
done
printf '%s\n' "${images[@]}"
