#!/usr/bin/env bash
# The SCTP lane inside the VM (started by run-lane.sh through run-in-vm.sh): the transport's SCTP unit
# tests on real associations, then the RSPLIB interop cases. Usage: lane-guest.sh TRANSPORT_TEST REGISTRAR CTL [SIDECAR]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
status=0
echo "== pkg/transport SCTP tests on kernel SCTP"
"$1" --gtest_filter='Sctp*' --gtest_brief=1 || status=1
echo "== RSPLIB interop"
"$here/interop.sh" "$2" "$3" "${4:-}" || status=1
exit $status
