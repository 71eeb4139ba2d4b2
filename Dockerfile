# vnfpool image: the four binaries (vnfpool-registrar, vnfpool-sidecar, vnfpool-operator, vnfpoolctl) on
# Debian bookworm-slim with only the libraries they link, running as a non-root user (65532).
#
#   scripts/build-image.sh     builds it with buildah (chroot isolation, nothing pulled from a registry:
#                              the two base images are made locally with debootstrap) and runs each
#                              binary's --version inside it; docs/operations.md "Container image".
# With Docker and network access, `docker build -t vnfpool .` works too (debian:bookworm from a registry).
ARG BUILD_IMAGE=debian:bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build: the same Debian packages as the README's set-up, an optimised build without tests ----------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake --preset release -DVNFPOOL_BUILD_TESTS=OFF \
 && cmake --build --preset release \
 && cmake --install build/release --prefix /opt/vnfpool --strip
# The runtime packages are the ones owning the shared libraries the binaries load (ldd), so the list
# cannot drift from the code. merged-/usr: a library may be registered under /lib or /usr/lib.
RUN set -e; \
    for b in /opt/vnfpool/bin/*; do ldd "$b"; done \
      | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u > /tmp/libs; \
    : > /tmp/packages; \
    while read -r lib; do \
      real="$(readlink -f "$lib")"; found=""; \
      for f in "$lib" "$real" "${lib#/usr}" "/usr${lib}" "${real#/usr}" "/usr${real}"; do \
        if pkg="$(dpkg -S "$f" 2>/dev/null)"; then found="${pkg%%:*}"; break; fi; \
      done; \
      [ -n "$found" ] || { echo "no package owns $lib" >&2; exit 1; }; \
      echo "$found" >> /tmp/packages; \
    done < /tmp/libs; \
    sort -u /tmp/packages > /opt/vnfpool/runtime-packages; \
    echo "runtime packages:"; cat /opt/vnfpool/runtime-packages

# ---- runtime: bookworm-slim, the runtime libraries, the binaries, a non-root user ---------------------
FROM ${RUNTIME_IMAGE}
COPY --from=build /opt/vnfpool/runtime-packages /usr/local/share/vnfpool/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive xargs -a /usr/local/share/vnfpool/runtime-packages \
      apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin vnfpool
COPY --from=build /opt/vnfpool/bin/ /usr/local/bin/
USER 65532:65532
# The chart runs each daemon by its path; plain `docker run vnfpool <command>` runs vnfpoolctl.
ENTRYPOINT ["/usr/local/bin/vnfpoolctl"]
