# The toolbox image: a shell, git, make, a C/C++ compiler and curl on Debian 12, for build steps
# in tests and the demo (hack/images/build.sh builds it with BASE set to its debootstrap base).
ARG BASE=debian:bookworm
FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      bash git make gcc g++ libc6-dev curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
CMD ["/bin/bash"]
