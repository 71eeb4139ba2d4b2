// Cache-line hints that the compiler keeps.
#pragma once

namespace vnfpool::handlespace::detail {

/// Starts loading the cache line at `p` (Write: for a store). A hint: it changes no contents.
///
/// Why not __builtin_prefetch alone: GCC counts a prefetch as having no effect, so a function whose only
/// work is a prefetch (SlotTable::prefetch, Impl::prefetch) is found "const" and every call to it is
/// deleted as dead code. GCC 12 did that to the pool index hint in locate() and to
/// Handlespace::prefetch until this helper existed (the profile still showed the index miss; the
/// disassembly showed `ret`). The empty volatile asm is an effect the optimiser must keep; it emits
/// nothing and, without a memory clobber, blocks no other optimisation.
template <bool Write = false>
[[gnu::always_inline]] inline void hintLine(const void* p) {
  __builtin_prefetch(p, Write ? 1 : 0, 3);
  asm volatile("");
}

}  // namespace vnfpool::handlespace::detail
