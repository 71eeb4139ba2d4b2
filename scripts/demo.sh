#!/usr/bin/env bash
# The main job (README): installs what is needed, builds the optimised configuration, and runs the local
# demo: three Pool Registrars in an ENRP mesh, PEs with a load-aware policy and a pool user on loopback,
# with a live view.
# In a terminal it runs until q (k kills a PE, r a registrar); otherwise for 16 s, killing a PE after
# 5 s and the registrar with the most PEs after 9 s.
# Extra arguments go to `vnfpoolctl demo` (see `vnfpoolctl demo --help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${VNFPOOL_JOBS:-2}" --target vnfpoolctl vnfpool-registrar

ctl=build/release/cmd/vnfpoolctl/vnfpoolctl
if [ $# -eq 0 ] && ! { [ -t 0 ] && [ -t 1 ]; }; then
  set -- --duration 16 --kill-after 5 --kill-registrar-after 9
fi
exec "$ctl" demo "$@"
