#!/usr/bin/env bash
# Protocol cores are sans-I/O (docs: ARCHITECTURE "Sans-I/O protocol cores"): no sockets, no Asio, no
# clock reads in pkg/{wire,handlespace,asap,enrp} outside their io/ adapters (src/io/, include/vnfpool/<lib>/io/). Headers are not linked,
# so CMake cannot enforce this; this check does. Exit 1 and list the offending lines if any.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
status=0
for lib in wire handlespace asap enrp; do
  dir="$root/pkg/$lib"
  [ -d "$dir" ] || continue
  hits=$(grep -rnE '#include *<(boost/asio|sys/socket\.h|netinet/|thread>)|::now\(\)|std::random_device|\bsleep_for\b' \
           "$dir" --include='*.h' --include='*.cc' | grep -v "/io/" || true)
  if [ -n "$hits" ]; then
    echo "pkg/$lib is a sans-I/O core, but:"
    echo "$hits"
    status=1
  fi
done
[ $status -eq 0 ] && echo "layering: protocol cores are free of sockets, Asio and clock reads"
exit $status
