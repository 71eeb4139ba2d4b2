// The members of a large weighted pool with their weights, and a sum tree over those weights with fan-out
// 8: O(log8 n) update and O(log8 n) "which member holds the r-th unit of weight", i.e. weighted random
// selection. Each leaf holds a member's weight *and* its slot (8 bytes, so a group of 8 leaves is one
// cache line): a draw that reaches its leaf has the member without another load. (Until 2026-12-06 the
// slots were a separate array, and a draw at 10^6 members paid one more dependent miss for it:
// docs/BENCHMARKS.md, "The floor of this machine".) Each level above the leaves holds the sums of groups
// of 8 entries of the level below, so a search reads one line per level.
// Members are dense: removal moves the last member into the hole (the caller updates that member's
// position). Arithmetic is modulo 2^64 (2^32 at the leaves), so a negative delta is applied as a
// wrap-around; true values are never negative.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "prefetch.h"

namespace vnfpool::handlespace::detail {

class WeightTree {
 public:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return leaves_.size(); }
  std::uint64_t total() const { return total_; }
  std::uint32_t slot(std::size_t i) const { return leaves_[i].slot; }
  std::uint32_t weight(std::size_t i) const { return leaves_[i].weight; }

  /// Appends a member; returns its position.
  std::size_t push(std::uint32_t slot, std::uint32_t weight) {
    const std::size_t i = size_;
    if (i == leaves_.size()) {
      resize(i + 1);  // keeps members 0..i-1
      leaves_[i] = Leaf{weight, slot};
      ++size_;
      rebuildSums();
    } else {
      leaves_[i].slot = slot;
      ++size_;
      add(i, weight);
    }
    return i;
  }

  /// Member i's weight becomes `weight`.
  void set(std::size_t i, std::uint32_t weight) { add(i, std::uint64_t{weight} - leaves_[i].weight); }

  /// Removes member i: the last member moves into position i. Returns the slot of the member that moved
  /// (now at i), or kNone when i was the last. May shrink the storage (a quarter full: halve or more).
  std::uint32_t removeAt(std::size_t i) {
    const std::size_t last = size_ - 1;
    const Leaf tail = leaves_[last];
    set(last, 0);
    leaves_[last].slot = kNone;
    std::uint32_t moved = kNone;
    if (i != last) {
      set(i, tail.weight);
      leaves_[i].slot = tail.slot;
      moved = tail.slot;
    }
    size_ = last;
    if (leaves_.size() > 64 && size_ < leaves_.size() / 4) {
      resize(size_);
      rebuildSums();
    }
    return moved;
  }

  /// The member whose weight interval contains r (r < total()): the smallest i with
  /// weight(0) + ... + weight(i) > r.
  std::size_t find(std::uint64_t r) const {
    std::size_t found;
    findMany(&r, &found, 1);
    return found;
  }

  /// find() for k values at once (k <= kBatch): the k descents are interleaved level by level, so their
  /// cache misses overlap instead of queueing one after another.
  static constexpr std::size_t kBatch = 8;
  void findMany(const std::uint64_t* r, std::size_t* out, std::size_t k) const {
    std::uint64_t rest[kBatch];
    std::size_t group[kBatch];
    for (std::size_t q = 0; q < k; ++q) {
      rest[q] = r[q];
      group[q] = 0;
    }
    // Per level: request every descent's line first, then scan each without a branch on the data (a
    // mispredicted scan would otherwise hold back the next descent's load until it resolved).
    for (std::size_t level = offsets_.size(); level-- > 0;) {
      const std::uint64_t* base = sums_.data() + offsets_[level];
      for (std::size_t q = 0; q < k; ++q) hintLine(base + group[q] * 8);
      for (std::size_t q = 0; q < k; ++q) {
        const std::uint64_t* s = base + group[q] * 8;
        group[q] = group[q] * 8 + scan(s, rest[q]);
      }
    }
    for (std::size_t q = 0; q < k; ++q) hintLine(&leaves_[group[q] * 8]);
    for (std::size_t q = 0; q < k; ++q) {
      const Leaf* leaf = leaves_.data() + group[q] * 8;
      std::uint64_t w[8];
      for (std::size_t j = 0; j < 8; ++j) w[j] = leaf[j].weight;
      out[q] = group[q] * 8 + scan(w, rest[q]);
    }
  }

  std::size_t memoryBytes() const { return leaves_.capacity() * sizeof(Leaf) + sums_.capacity() * sizeof(std::uint64_t); }

 private:
  struct Leaf {
    std::uint32_t weight = 0;
    std::uint32_t slot = kNone;
  };

  static std::size_t roundUp8(std::size_t n) { return (n + 7) / 8 * 8; }

  /// Of 8 entries e[0..7], the first j in 0..7 with e[0] + ... + e[j] > r, where j = 7 when
  /// no earlier one qualifies; r becomes r - (e[0] + ... + e[j-1]). No branches on the entries.
  static std::size_t scan(const std::uint64_t* e, std::uint64_t& r) {
    std::uint64_t sum = 0, below = 0;
    std::size_t j = 0;
    for (std::size_t c = 0; c < 7; ++c) {
      sum += e[c];
      const bool within = sum <= r;
      j += within;
      below = within ? sum : below;
    }
    r -= below;
    return j;
  }

  void add(std::size_t i, std::uint64_t delta) {
    total_ += delta;
    leaves_[i].weight = static_cast<std::uint32_t>(leaves_[i].weight + delta);
    for (std::size_t level = 0; level < offsets_.size(); ++level) {
      i >>= 3;
      sums_[offsets_[level] + i] += delta;
    }
  }

  /// Leaves for at least n members (a power of two, at least 8; doubling keeps growth amortised O(1)),
  /// the members kept, and the level layout for that many leaves. Sums are stale until rebuildSums().
  void resize(std::size_t n) {
    std::size_t cap = 8;
    while (cap < n) cap *= 2;
    std::vector<Leaf> leaves(cap);
    for (std::size_t i = 0; i < size_ && i < cap; ++i) leaves[i] = leaves_[i];
    leaves_ = std::move(leaves);
    offsets_.clear();
    widths_.clear();
    std::size_t width = cap;
    std::size_t total_size = 0;
    while (width > 8) {
      width = roundUp8((width + 7) / 8);
      offsets_.push_back(total_size);
      widths_.push_back(width);
      total_size += width;
    }
    sums_.assign(total_size, 0);
  }

  /// Every sum from the leaves up (level 0 sums the leaves, level k sums level k-1).
  void rebuildSums() {
    total_ = 0;
    for (std::size_t i = 0; i < size_; ++i) total_ += leaves_[i].weight;
    for (std::size_t level = 0; level < offsets_.size(); ++level) {
      for (std::size_t j = 0; j < widths_[level]; ++j) {
        std::uint64_t sum = 0;
        for (std::size_t c = j * 8; c < j * 8 + 8; ++c) sum += below(level, c);
        sums_[offsets_[level] + j] = sum;
      }
    }
  }

  /// Entry c of the level below `level` (the leaves for level 0); 0 past its end.
  std::uint64_t below(std::size_t level, std::size_t c) const {
    if (level == 0) return c < leaves_.size() ? leaves_[c].weight : 0;
    return c < widths_[level - 1] ? sums_[offsets_[level - 1] + c] : 0;
  }

  std::vector<Leaf> leaves_{};                // members 0..size_-1, then empty leaves (weight 0)
  std::vector<std::uint64_t> sums_{};         // all levels above the leaves, bottom level first
  std::vector<std::size_t> offsets_{};        // where each level starts in sums_
  std::vector<std::size_t> widths_{};         // entries per level (a multiple of 8)
  std::size_t size_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace vnfpool::handlespace::detail
