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

template <typename T, unsigned kChunkBits>
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

  /// Slots ever handed out: every live slot is below this.
  std::uint32_t extent() const { return next_; }
  std::size_t memoryBytes() const {
    std::size_t bytes = chunks_.capacity() * sizeof(chunks_[0]) + regions_.capacity() * sizeof(Region) +
                        free_.capacity() * sizeof(std::uint32_t);
    for (const Region& r : regions_) bytes += r.chunks * kChunk * sizeof(T);
    return bytes;
  }

 private:
  // Chunks are cut from regions that double in size up to kMaxRegionChunks chunks, so a large arena
  // lives in a few big blocks (huge pages, backed_memory.h) while a small one stays small.
  static constexpr std::size_t kMaxRegionChunks = 64;
  struct Region {
    T* memory = nullptr;
    std::size_t chunks = 0;
  };

  static_assert(alignof(T) <= kBackedAlign);
  void addChunk() {
    chunks_.reserve(chunks_.size() + 1);
    if (region_used_ == (regions_.empty() ? 0 : regions_.back().chunks)) {
      const std::size_t chunks = regions_.empty() ? 1 : std::min(kMaxRegionChunks, 2 * regions_.back().chunks);
      regions_.reserve(regions_.size() + 1);
      regions_.push_back(Region{static_cast<T*>(allocateBacked(chunks * kChunk * sizeof(T))), chunks});
      region_used_ = 0;
    }
    T* chunk = regions_.back().memory + region_used_ * kChunk;
    std::uninitialized_value_construct_n(chunk, kChunk);
    ++region_used_;
    chunks_.push_back(chunk);
  }

  std::vector<T*> chunks_{};
  std::vector<Region> regions_{};
  std::size_t region_used_ = 0;  // chunks taken from the last region
  std::vector<std::uint32_t> free_{};
  std::uint32_t next_ = 0;
};

}  // namespace vnfpool::handlespace::detail
