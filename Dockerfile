# The operator image: `flywheel` on Debian 12 with only its runtime libraries, running as
# non-root (uid 65532; nothing is written outside /var/cache/flywheel and /tmp, so a read-only
# root filesystem works with those two as volumes). Built here with
# `buildah --storage-driver vfs bud --isolation chroot` (no Docker engine is needed); the
# `debian:bookworm` base can be made with `debootstrap --variant=minbase` (hack/images/build.sh
# does, and passes it as BASE).
#
#   buildah bud -t flywheel .                      compiles flywheel in the `build` stage
#   buildah bud -t flywheel --target prebuilt \    copies a flywheel built on a Debian 12 machine
#     --build-arg FLYWHEEL_BINARY=<path in the build context> <context>
#
# The testenv uses the second (hack/images/build.sh): the same runtime stage, without compiling
# the project a second time on the machine that just built it.
ARG BASE=debian:bookworm

FROM ${BASE} AS runtime
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libyaml-cpp0.7 libgit2-1.5 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 libspdlog1.10 libfmt9 openssh-client \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent flywheel \
    && mkdir -p /var/cache/flywheel && chown 65532:65532 /var/cache/flywheel
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/flywheel"]
CMD ["controller"]

FROM runtime AS prebuilt
ARG FLYWHEEL_BINARY=flywheel
COPY ${FLYWHEEL_BINARY} /usr/local/bin/flywheel

FROM ${BASE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git libcpprest-dev libboost-dev libssl-dev \
      nlohmann-json3-dev libyaml-cpp-dev libgit2-dev prometheus-cpp-dev libspdlog-dev \
      libfmt-dev libgtest-dev libgmock-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build --target flywheel -j"$(nproc)" \
    && strip /build/flywheel

FROM runtime
COPY --from=build /build/flywheel /usr/local/bin/flywheel
