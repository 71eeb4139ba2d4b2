// A sum tree of weights with fan-out 8: O(log8 n) update and O(log8 n) "which element holds the r-th unit
// of weight", i.e. weighted random selection. Leaves are 32-bit weights; each level above holds the sums
// of groups of 8 entries of the level below, so a search reads one group (half to one cache line) per
// level: 6 levels for 10^5 entries, where a binary Fenwick tree touches 17 scattered words.
// Arithmetic is modulo 2^64 (2^32 at the leaves), so a negative delta is applied as a wrap-around;
// true values are never negative.
#pragma once

#include <cstdint>
#include <vector>

namespace vnfpool::handlespace::detail {

class WeightTree {
 public:
  /// Room for at least `n` elements (capacity doubles, so growing is amortised O(1)); elements i < n get
  /// weight(i), the rest 0.
  template <typename WeightOf>
  void rebuild(std::size_t n, WeightOf&& weight) {
    std::size_t cap = 8;
    while (cap < n) cap *= 2;
    leaves_.assign(cap, 0);
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
    total_ = 0;
    for (std::size_t i = 0; i < n; ++i) {
      leaves_[i] = static_cast<std::uint32_t>(weight(i));
      total_ += leaves_[i];
    }
    // Bottom-up sums: level 0 sums the leaves, level k sums level k-1.
    for (std::size_t level = 0; level < offsets_.size(); ++level) {
      for (std::size_t j = 0; j < widths_[level]; ++j) {
        std::uint64_t sum = 0;
        for (std::size_t c = j * 8; c < j * 8 + 8; ++c) sum += below(level, c);
        sums_[offsets_[level] + j] = sum;
      }
    }
  }

  std::size_t capacity() const { return leaves_.size(); }
  std::uint64_t total() const { return total_; }

  /// Adds `delta` (wrap-around for negative) to element i < capacity().
  void add(std::size_t i, std::uint64_t delta) {
    total_ += delta;
    leaves_[i] = static_cast<std::uint32_t>(leaves_[i] + delta);
    for (std::size_t level = 0; level < offsets_.size(); ++level) {
      i >>= 3;
      sums_[offsets_[level] + i] += delta;
    }
  }

  /// The element whose weight interval contains r (r < total()): the smallest i with
  /// weight(0) + ... + weight(i) > r.
  std::size_t find(std::uint64_t r) const {
    std::size_t group = 0;
    for (std::size_t level = offsets_.size(); level-- > 0;) {
      const std::uint64_t* s = sums_.data() + offsets_[level] + group * 8;
      std::size_t j = 0;
      while (j < 7 && s[j] <= r) r -= s[j++];
      group = group * 8 + j;
    }
    const std::uint32_t* leaf = leaves_.data() + group * 8;
    std::size_t j = 0;
    while (j < 7 && leaf[j] <= r) r -= leaf[j++];
    return group * 8 + j;
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
    for (std::size_t level = offsets_.size(); level-- > 0;) {
      for (std::size_t q = 0; q < k; ++q) {
        const std::uint64_t* s = sums_.data() + offsets_[level] + group[q] * 8;
        std::size_t j = 0;
        while (j < 7 && s[j] <= rest[q]) rest[q] -= s[j++];
        group[q] = group[q] * 8 + j;
      }
    }
    for (std::size_t q = 0; q < k; ++q) {
      const std::uint32_t* leaf = leaves_.data() + group[q] * 8;
      std::size_t j = 0;
      while (j < 7 && leaf[j] <= rest[q]) rest[q] -= leaf[j++];
      out[q] = group[q] * 8 + j;
    }
  }

  std::size_t memoryBytes() const {
    return leaves_.capacity() * sizeof(std::uint32_t) + sums_.capacity() * sizeof(std::uint64_t);
  }

 private:
  static std::size_t roundUp8(std::size_t n) { return (n + 7) / 8 * 8; }
  /// Entry c of the level below `level` (the leaves for level 0); 0 past its end.
  std::uint64_t below(std::size_t level, std::size_t c) const {
    if (level == 0) return c < leaves_.size() ? leaves_[c] : 0;
    return c < widths_[level - 1] ? sums_[offsets_[level - 1] + c] : 0;
  }

  std::vector<std::uint32_t> leaves_{};
  std::vector<std::uint64_t> sums_{};         // all levels above the leaves, bottom level first
  std::vector<std::size_t> offsets_{};        // where each level starts in sums_
  std::vector<std::size_t> widths_{};         // entries per level (a multiple of 8)
  std::uint64_t total_ = 0;
};

}  // namespace vnfpool::handlespace::detail
