// A chunked arena: objects named by a 32-bit slot, allocated in fixed chunks so their addresses never
// change (the indexes name them by slot, callers hold references within a call) and no per-object heap
// allocation is needed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "backed_memory.h"

namespace vnfpool::handlespace::detail {

template <typename T, unsigned kChunkBits, bool kLargeRegions = true>
class Arena {
 public:
  static constexpr std::uint32_t kChunk = 1u << kChunkBits;

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (auto& chunk : chunks_) std::destroy_n(chunk, kChunk);
    for (const Region& r : regions_) releaseBacked(r.memory, r.chunks * sizeof(T) * kChunk);
  }

  T& operator[](std::uint32_t slot) { return chunks_[slot >> kChunkBits][slot & (kChunk - 1)]; }
  const T& operator[](std::uint32_t slot) const { return chunks_[slot >> kChunkBits][slot & (kChunk - 1)]; }

  /// A free slot (reused first). Its object is whatever release() left there.
  std::uint32_t allocate() {
    if (!free_.empty()) {
      const std::uint32_t slot = free_.back();
      free_.pop_back();
      return slot;
    }
    if ((next_ >> kChunkBits) == chunks_.size()) addChunk();
    return next_++;
  }
  void release(std::uint32_t slot) { free_.push_back(slot); }

  /// Chunks for at least `n` objects in all, added (and so written) now rather than as slots are handed out.
  void reserve(std::size_t n) {
    while (chunks_.size() * std::size_t{kChunk} < n) addChunk();
  }

  /// Slots ever handed out: every live slot is below this.
  std::uint32_t extent() const { return next_; }
  /// Memory in use: the chunks handed out so far (each is written when it is added) and the bookkeeping.
  /// The untouched rest of the last large region is address space only; with huge pages the kernel makes
  /// at most one 2 MiB page of it resident ahead of use.
  std::size_t memoryBytes() const {
    return chunks_.size() * kChunk * sizeof(T) + chunks_.capacity() * sizeof(chunks_[0]) +
           regions_.capacity() * sizeof(Region) + free_.capacity() * sizeof(std::uint32_t);
  }

 private:
  // Until the arena holds 2 MiB, every chunk is a region of its own (below 2 MiB: from operator new), so
  // a small arena holds only what it uses. After that, chunks are cut from regions of 10 MiB, which
  // backed_memory.h maps for huge pages (for PE records: 64 chunks, exactly five 2 MiB pages), unless
  // kLargeRegions is off: then every chunk stays a region of its own (an arena touched too sparsely to
  // be worth a huge page's rounding, such as the pool records).
  // (Regions that doubled from one chunk held up to twice what was used: 320 bytes per PE at 10^4 PEs.)
  static constexpr std::size_t kChunkBytes = std::size_t{kChunk} * sizeof(T);
  static constexpr std::size_t kLargeRegionChunks = std::max<std::size_t>(1, 5 * kHugePage / kChunkBytes);
  struct Region {
    T* memory = nullptr;
    std::size_t chunks = 0;
  };

  static_assert(alignof(T) <= kBackedAlign);
  void addChunk() {
    // Room in both lists first (doubling), so that nothing can throw once the memory is taken.
    growForOneMore(chunks_);
    if (region_used_ == (regions_.empty() ? 0 : regions_.back().chunks)) {
      const std::size_t chunks = !kLargeRegions || chunks_.size() * kChunkBytes < kHugePage ? 1 : kLargeRegionChunks;
      growForOneMore(regions_);
      regions_.push_back(Region{static_cast<T*>(allocateBacked(chunks * kChunk * sizeof(T))), chunks});
      region_used_ = 0;
    }
    T* chunk = regions_.back().memory + region_used_ * kChunk;
    // Written whole just below. Only a record arena's heap chunks (below 2 MiB; a mapped region faults in
    // 2 MiB pieces already): the pool arena's 16 KiB chunks are one per 64 pools, and no gain from them
    // stood out of the noise when measured.
    if (kLargeRegions && regions_.back().chunks == 1 && kChunkBytes < kHugePage) prefault(chunk, kChunkBytes);
    std::uninitialized_value_construct_n(chunk, kChunk);
    ++region_used_;
    chunks_.push_back(chunk);
  }

  template <typename V>
  static void growForOneMore(V& v) {
    if (v.size() == v.capacity()) v.reserve(std::max<std::size_t>(16, 2 * v.size()));
  }

  std::vector<T*> chunks_{};
  std::vector<Region> regions_{};
  std::size_t region_used_ = 0;  // chunks taken from the last region
  std::vector<std::uint32_t> free_{};
  std::uint32_t next_ = 0;
};

}  // namespace vnfpool::handlespace::detail
