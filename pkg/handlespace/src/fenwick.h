// A Fenwick (binary indexed) tree of 64-bit weights: O(log n) update and O(log n) "which index holds the
// r-th unit of weight", which is weighted random selection. Arithmetic is modulo 2^64, so a delta can
// be applied as an unsigned wrap-around; true prefix sums are never negative.
#pragma once

#include <cstdint>
#include <vector>

namespace vnfpool::handlespace::detail {

class Fenwick {
 public:
  /// Capacity (a power of two) for `n` elements; existing weights are given by weight(i) for i < n.
  template <typename WeightOf>
  void rebuild(std::size_t n, WeightOf&& weight) {
    std::size_t cap = 4;
    while (cap < n) cap *= 2;
    tree_.assign(cap + 1, 0);
    total_ = 0;
    // Linear-time build: each node, once complete, passes its sum to its parent. Nodes past n hold no
    // element of their own but still carry their children's sums upwards.
    for (std::size_t i = 0; i < cap; ++i) {
      const std::uint64_t w = i < n ? weight(i) : 0;
      total_ += w;
      tree_[i + 1] += w;
      const std::size_t parent = (i + 1) + ((i + 1) & (~(i + 1) + 1));
      if (parent <= cap) tree_[parent] += tree_[i + 1];
    }
  }

  std::size_t capacity() const { return tree_.empty() ? 0 : tree_.size() - 1; }
  std::uint64_t total() const { return total_; }

  /// Adds `delta` (wrap-around for negative) to element i.
  void add(std::size_t i, std::uint64_t delta) {
    total_ += delta;
    const std::size_t cap = capacity();
    for (std::size_t k = i + 1; k <= cap; k += k & (~k + 1)) tree_[k] += delta;
  }

  /// The index whose weight interval contains r: the smallest i with prefix(i + 1) > r. r < total().
  std::size_t find(std::uint64_t r) const {
    std::size_t pos = 0;
    for (std::size_t step = capacity(); step > 0; step >>= 1) {
      if (pos + step <= tree_.size() - 1 && tree_[pos + step] <= r) {
        pos += step;
        r -= tree_[pos];
      }
    }
    return pos;
  }

  std::size_t memoryBytes() const { return tree_.capacity() * sizeof(std::uint64_t); }

 private:
  std::vector<std::uint64_t> tree_{};
  std::uint64_t total_ = 0;
};

}  // namespace vnfpool::handlespace::detail
