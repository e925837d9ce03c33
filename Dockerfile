# The operator image: `flywheel` on Debian 12 with only its runtime libraries, running as
# non-root. Built here with `buildah --storage-driver vfs bud --isolation chroot` (no Docker
# engine is needed); the `debian:bookworm` base can be made with `debootstrap --variant=minbase`.
FROM debian:bookworm AS build
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

FROM debian:bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libyaml-cpp0.7 libgit2-1.5 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 libspdlog1.10 libfmt9 openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent flywheel \
    && mkdir -p /var/cache/flywheel && chown 65532:65532 /var/cache/flywheel
COPY --from=build /build/flywheel /usr/local/bin/flywheel
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/flywheel"]
CMD ["controller"]
