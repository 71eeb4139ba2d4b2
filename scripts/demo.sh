#!/usr/bin/env bash
# The main job (README): installs what is needed, builds the optimised configuration, and runs the local
# demo: a Pool Registrar, PEs with a load-aware policy and a pool user on loopback, with a live view.
# In a terminal it runs until q (k kills a PE); otherwise for 15 s, killing a PE after 6 s.
# Extra arguments go to `vnfpoolctl demo` (see `vnfpoolctl demo --help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${VNFPOOL_JOBS:-2}" --target vnfpoolctl vnfpool-registrar

ctl=build/release/cmd/vnfpoolctl/vnfpoolctl
if [ $# -eq 0 ] && ! { [ -t 0 ] && [ -t 1 ]; }; then
  set -- --duration 15 --kill-after 6
fi
exec "$ctl" demo "$@"
