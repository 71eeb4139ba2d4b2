#!/usr/bin/env bash
# The handlespace's cache-line hints must survive compilation. GCC deletes calls to a function whose only
# work is __builtin_prefetch (it counts the prefetch as no effect, finds the function "const", and drops
# the call), which silently turned Handlespace::prefetch into `ret` and the pool index hint of every
# lookup into nothing (pkg/handlespace/src/prefetch.h). This check disassembles the built library and
# requires the hint function to issue its two prefetches (pool index line, PE index line).
#   prefetch_hints.sh <path to libvnfpool_handlespace.a>
set -euo pipefail
lib="$1"
case "$(uname -m)" in
  x86_64) ;;
  *) echo "prefetch hints: not checked on $(uname -m) (the check reads x86 disassembly)"; exit 0 ;;
esac
count=$(objdump -d --no-show-raw-insn -C "$lib" |
  awk '/^[0-9a-f]+ <vnfpool::handlespace::detail::Impl::prefetch\(/ {inside = 1; next}
       inside && /^$/ {inside = 0}
       inside && /\tprefetch/ {n++}
       END {print n + 0}')
if [ "$count" -lt 2 ]; then
  echo "Impl::prefetch issues $count prefetch instruction(s), expected 2: the compiler dropped the hints"
  objdump -d --no-show-raw-insn -C "$lib" | awk '/<vnfpool::handlespace::detail::Impl::prefetch\(/,/^$/'
  exit 1
fi
echo "prefetch hints: Impl::prefetch issues $count prefetches"
