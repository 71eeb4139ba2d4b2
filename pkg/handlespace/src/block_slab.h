// Fixed-size blocks (the order trees' nodes) cut from a few large regions and reused through a free list,
// instead of one heap allocation per node.
//
// Why: a handlespace that grows writes fresh memory, and on the virtual machines we measure on the first
// write to each fresh 4 KiB page is dear (backed_memory.h). Until a slab holds 8 MiB its regions come
// from the general heap, 8 KiB at first and twice the last up to 64 KiB: a small handlespace holds
// little (a tree of a few hundred nodes wastes no more than its last region), and memory a handlespace
// gave back is reused without faults (larger heap blocks are mapped and unmapped by the C library each
// time, and each mapping is fresh memory again: regions that doubled up to 1 MiB made a registration
// into a rebuilt handlespace of 10^5 PEs 1.4-2x slower). Past that, regions of 10 MiB come from
// backed_memory.h, advised for huge pages (at most one 2 MiB page of the last one resident ahead of
// use). reserve() writes one region for the blocks a large handlespace will need before they are needed
// (the registrar's handlespace.reserve_pes), from backed_memory.h as well.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

#include "backed_memory.h"

namespace vnfpool::handlespace::detail {

class BlockSlab {
 public:
  /// Blocks of `bytes` (a multiple of 8, at least a pointer), aligned to 8.
  explicit BlockSlab(std::size_t bytes) : block_(bytes) {
    assert(bytes >= sizeof(void*) && bytes % 8 == 0);  // a free block holds a pointer; blocks stay 8-aligned
  }
  BlockSlab(const BlockSlab&) = delete;
  BlockSlab& operator=(const BlockSlab&) = delete;
  ~BlockSlab() {
    for (const Region& r : regions_) {
      if (r.backed) {
        releaseBacked(r.memory, r.bytes);
      } else {
        ::operator delete(r.memory, std::align_val_t{kBackedAlign});
      }
    }
  }

  /// A block (uninitialised). Throws std::bad_alloc.
  void* allocate() {
    if (free_ != nullptr) {
      void* block = free_;
      std::memcpy(&free_, block, sizeof free_);
      --free_count_;
      return block;
    }
    if (next_ == end_) {
      const std::size_t cut = cut_ * block_;
      if (cut < kHeapUpTo) {
        addRegion(std::min(kHeapRegion, kFirstHeapRegion << std::min<std::size_t>(heap_regions_, 3)) / block_, false);
        ++heap_regions_;
      } else {
        addRegion(kLargeRegion / block_, true);
      }
    }
    void* block = next_;
    next_ += block_;
    ++cut_;
    return block;
  }

  /// Gives a block back for reuse (its contents are overwritten).
  void release(void* block) noexcept {
    std::memcpy(block, &free_, sizeof free_);
    free_ = block;
    ++free_count_;
  }

  /// Makes room for `blocks` blocks in all (those in use count): up to that many, allocate() takes no new
  /// region. The region that holds the rest is written now. A reservation below what is held changes
  /// nothing.
  void reserve(std::size_t blocks) {
    const std::size_t in_use = cut_ - free_count_;
    if (blocks <= in_use) return;
    const std::size_t wanted = blocks - in_use;
    const std::size_t available = free_count_ + static_cast<std::size_t>(end_ - next_) / block_;
    if (available >= wanted) return;
    // The rest of the current region goes on the free list, so the new region starts clean.
    while (next_ != end_) {
      release(next_);
      next_ += block_;
      ++cut_;
    }
    addRegion(wanted - free_count_, true);
    std::memset(next_, 0, static_cast<std::size_t>(end_ - next_));
    written_ = true;
  }

  /// Memory in use: the heap regions whole (the C library counts them as in use, cut or not), of the
  /// other regions the blocks cut so far (in use or free) and the rest of a region reserve() wrote, and
  /// the bookkeeping. The uncut rest of a mapped region is address space only.
  std::size_t memoryBytes() const {
    std::size_t bytes = regions_.capacity() * sizeof(Region);
    for (const Region& r : regions_) {
      if (!r.backed) {
        bytes += r.bytes;
      } else if (r.memory == regions_.back().memory && !written_) {
        bytes += static_cast<std::size_t>(next_ - static_cast<std::byte*>(r.memory));
      } else {
        bytes += r.bytes;  // cut whole, or written by reserve()
      }
    }
    return bytes;
  }

 private:
  static constexpr std::size_t kFirstHeapRegion = std::size_t{8} << 10;
  static constexpr std::size_t kHeapRegion = std::size_t{64} << 10;  // below the C library's mapping threshold
  static constexpr std::size_t kHeapUpTo = std::size_t{8} << 20;
  static constexpr std::size_t kLargeRegion = std::size_t{10} << 20;
  struct Region {
    void* memory = nullptr;
    std::size_t bytes = 0;
    bool backed = false;  // from backed_memory.h, else from the heap
  };

  void addRegion(std::size_t blocks, bool backed) {
    blocks = std::max<std::size_t>(blocks, 1);
    const std::size_t bytes = blocks * block_;
    if (regions_.size() == regions_.capacity()) regions_.reserve(std::max<std::size_t>(8, 2 * regions_.size()));
    void* memory = backed ? allocateBacked(bytes) : ::operator new(bytes, std::align_val_t{kBackedAlign});
    if (!backed) prefault(memory, bytes);  // a heap region counts as in use whole; its blocks are written soon
    regions_.push_back(Region{memory, bytes, backed});
    written_ = false;
    next_ = static_cast<std::byte*>(memory);
    end_ = next_ + bytes;
  }

  std::size_t block_;
  std::vector<Region> regions_{};
  std::byte* next_ = nullptr;  // the current region's uncut part
  std::byte* end_ = nullptr;
  void* free_ = nullptr;  // released blocks, each holding the next one's address in its first bytes
  std::size_t free_count_ = 0;
  std::size_t cut_ = 0;  // blocks cut from regions
  std::size_t heap_regions_ = 0;  // regions taken from the general heap so far (their size grows to 64 KiB)
  bool written_ = false;  // the current region was written by reserve()
};

}  // namespace vnfpool::handlespace::detail
