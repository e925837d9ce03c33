# The buildkit image: a Pipeline artifact builder (`flywheel controller --builder-image
# buildkit=<image>`), rootless buildkitd as upstream runs it in Kubernetes, on the debootstrap base
# (hack/images/build.sh sets BASE). buildkitd, buildctl, rootlesskit and buildctl-daemonless.sh
# are built from the Go module proxy (hack/images/builders/build.sh buildkit) and come in the
# context; Debian gives runc (buildkitd's OCI worker) and the setuid newuidmap/newgidmap with
# which RootlessKit maps user 1000's subordinate ids into its user namespace.
ARG BASE=debian:bookworm
FROM ${BASE}
# newuidmap and newgidmap get file capabilities (setuid and setgid only) instead of their setuid
# bit, as Fedora ships them, and no file keeps a setuid or setgid bit: run by user 1000, the
# owner of RootlessKit's namespace, they may write its id maps. Debian's setuid-root helpers
# cannot in the build pod: seen on the testenv's node, they fail to open the maps (root without
# CAP_DAC_OVERRIDE) and, given that capability, to write them (root is not the namespace's owner
# and has no CAP_SYS_ADMIN) (docs/pipeline.md, "Security").
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      uidmap runc ca-certificates libcap2-bin \
    && find / -xdev -type f -perm /6000 -exec chmod ug-s {} + \
    && setcap cap_setuid=ep /usr/bin/newuidmap && setcap cap_setgid=ep /usr/bin/newgidmap \
    && apt-get purge -y libcap2-bin && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && useradd --uid 1000 --user-group --create-home --shell /bin/sh user \
    && echo user:100000:65536 >/etc/subuid && echo user:100000:65536 >/etc/subgid \
    && mkdir -p /run/user/1000 /home/user/.local/tmp /home/user/.local/share/buildkit \
    && chown -R user:user /run/user/1000 /home/user && chmod 0700 /run/user/1000
COPY buildkitd buildctl rootlesskit buildctl-daemonless.sh /usr/local/bin/
USER 1000:1000
ENV HOME=/home/user USER=user XDG_RUNTIME_DIR=/run/user/1000 TMPDIR=/home/user/.local/tmp \
    BUILDKIT_HOST=unix:///run/user/1000/buildkit/buildkitd.sock
CMD ["/bin/sh"]
