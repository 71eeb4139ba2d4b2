// A chunked arena: objects named by a 32-bit slot, allocated in fixed chunks so their addresses never
// change (the indexes name them by slot, callers hold references within a call) and no per-object heap
// allocation is needed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace vnfpool::handlespace::detail {

template <typename T, unsigned kChunkBits>
class Arena {
 public:
  static constexpr std::uint32_t kChunk = 1u << kChunkBits;

  T& operator[](std::uint32_t slot) { return chunks_[slot >> kChunkBits][slot & (kChunk - 1)]; }
  const T& operator[](std::uint32_t slot) const { return chunks_[slot >> kChunkBits][slot & (kChunk - 1)]; }

  /// A free slot (reused first). Its object is whatever release() left there.
  std::uint32_t allocate() {
    if (!free_.empty()) {
      const std::uint32_t slot = free_.back();
      free_.pop_back();
      return slot;
    }
    if ((next_ >> kChunkBits) == chunks_.size()) chunks_.push_back(std::make_unique<T[]>(kChunk));
    return next_++;
  }
  void release(std::uint32_t slot) { free_.push_back(slot); }

  /// Slots ever handed out: every live slot is below this.
  std::uint32_t extent() const { return next_; }
  std::size_t memoryBytes() const {
    return chunks_.size() * kChunk * sizeof(T) + chunks_.capacity() * sizeof(chunks_[0]) +
           free_.capacity() * sizeof(std::uint32_t);
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_{};
  std::vector<std::uint32_t> free_{};
  std::uint32_t next_ = 0;
};

}  // namespace vnfpool::handlespace::detail
