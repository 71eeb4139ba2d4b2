#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is needed, builds everything with AddressSanitizer
# and UndefinedBehaviorSanitizer, runs every test (unit, integration, Wireshark checks, fuzz replay,
# benchmark smoke runs, Kubernetes fakes), then runs each fuzz target under libFuzzer (clang) for 10 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
if [ -x scripts/install-test-tools.sh ]; then
  scripts/install-test-tools.sh
fi

jobs="${VNFPOOL_JOBS:-2}"
cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

# The container image: rebuilt and checked (each binary's --version inside it) only when its inputs
# changed since the verified build recorded in scripts/image-inputs.sha256 (docs/operations.md).
if [ -f scripts/image-inputs.sha256 ]; then
  scripts/build-image.sh --if-changed
fi

# Coverage-guided fuzzing needs clang's libFuzzer; the asan run above replayed the corpus under GCC.
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
ctest --preset fuzz
