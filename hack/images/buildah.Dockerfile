# The buildah image: the builder of a Pipeline's artifact (`flywheel controller --builder-image
# buildah=<image>`), Debian 12's buildah on the debootstrap base (hack/images/build.sh sets BASE).
# Without recommends: no runc, fuse-overlayfs or slirp4netns, since the build pod runs buildah
# with the vfs driver and chroot isolation (docs/pipeline.md, "Security").
ARG BASE=debian:bookworm
FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      buildah ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
ENV BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
CMD ["/bin/sh"]
