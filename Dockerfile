# vnfpool image: the binaries on Debian bookworm, running as a non-root user.
# Build: buildah bud --isolation=chroot -t vnfpool . (or docker build -t vnfpool .)
# Not yet built in CI: the image issue adds that (with a base image made from Debian packages).

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN cmake --preset release -DVNFPOOL_BUILD_TESTS=OFF \
 && cmake --build --preset release \
 && cmake --install build/release --prefix /opt/vnfpool

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libcpprest2.10 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home vnfpool
COPY --from=build /opt/vnfpool/bin/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/vnfpoolctl"]
