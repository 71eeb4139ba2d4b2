#!/bin/sh
# Measures the sidecar (docs/BENCHMARKS.md, "Sidecar"): PE removal when the VNF dies, deregistration on
# SIGTERM, failover when the home registrar dies, and the idle footprint, each with a baseline from the
# same run. Builds the release preset's three binaries first.
#   scripts/bench-sidecar.sh [--runs N] [--json FILE]
set -eu
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target vnfpool-sidecar vnfpool-registrar vnfpoolctl
exec python3 tests/bench/sidecar/measure.py --bin build/release "$@"
