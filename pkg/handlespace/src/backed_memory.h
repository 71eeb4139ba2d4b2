// Memory for the handlespace's large arrays (record regions, index tables, the expiry heap, the large
// regions of the node and owner-item slabs): blocks of 2 MiB and more are mapped on a 2 MiB boundary and
// advised for transparent huge pages.
//
// Why: a handlespace that grows by N PEs touches about 200 bytes of fresh memory per PE. On the
// paravirtualised machines we measure on, the first write to each fresh 4 KiB page costs 3-5 us (the
// guest's page fault and the hypervisor's shadow page table both), so writing 32 MiB of fresh memory took
// 90-160 ms; in 2 MiB pages it took 2.5 ms, and later passes over it ran twice as fast (fewer TLB misses).
// docs/handlespace.md ("Fresh memory and huge pages") has the figures. The advice only applies where the
// kernel's transparent_hugepage setting is "madvise" or "always"; with "never", or with huge pages turned
// off here (setHugePages(false), the registrar's handlespace.huge_pages), blocks fault in 4 KiB pages as
// any other memory.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace vnfpool::handlespace::detail {

inline constexpr std::size_t kHugePage = std::size_t{2} << 20;
/// Every block is aligned to at least this (a cache line).
inline constexpr std::size_t kBackedAlign = 64;

/// A block of `bytes`: from operator new (aligned to kBackedAlign) below kHugePage, else mapped on a kHugePage boundary (and
/// advised for huge pages while hugePages() is on). Throws std::bad_alloc.
void* allocateBacked(std::size_t bytes);
/// Returns a block from allocateBacked with the same `bytes`.
void releaseBacked(void* block, std::size_t bytes) noexcept;

/// Faults in the whole pages of [p, p + bytes) for writing, in one call, when the caller is about to
/// write all of it anyway. On this project's VMs that halves what a first write costs per 4 KiB page
/// (9 -> 4 us: one trap for the range instead of one per page). Does nothing for ranges under 16 KiB or
/// where the kernel lacks MADV_POPULATE_WRITE (before Linux 5.14).
void prefault(void* p, std::size_t bytes) noexcept;

/// A standard allocator on top of it, for vectors that can grow large.
template <typename T>
struct BackedAllocator {
  using value_type = T;
  BackedAllocator() noexcept = default;
  template <typename U>
  BackedAllocator(const BackedAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= kBackedAlign);
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocateBacked(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { releaseBacked(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const BackedAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace vnfpool::handlespace::detail
