// One owner's (home PR's) items in join order, kept in 4 KiB blocks from a slab all owners share.
//
// Why not a vector: a registrar that joins a mesh learns a whole owner's PEs in one start-up sync, and a
// vector that doubles its way there writes twice the memory it ends up with, copying at every step, all
// of it fresh memory (dear on the virtual machines we measure on, see block_slab.h). Blocks never move,
// a handlespace with room reserved ahead (Impl::reserve) takes them from memory already written, and an
// owner holds at most one partly used block beyond its items.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "block_slab.h"

namespace vnfpool::handlespace::detail {

/// No slot: a removed item, an empty link.
inline constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;

struct OwnerItem {
  std::uint32_t serial = 0;
  std::uint32_t slot = kNoSlot;  // kNoSlot: removed (compacted away later)
};

class OwnerItems {
 public:
  static constexpr std::size_t kPerBlock = 512;
  static constexpr std::size_t kBlockBytes = kPerBlock * sizeof(OwnerItem);

  OwnerItems() = default;
  /// Items whose blocks come from `slab` (of kBlockBytes blocks), which must outlive them.
  explicit OwnerItems(BlockSlab& slab) : slab_(&slab) {}
  OwnerItems(const OwnerItems&) = delete;
  OwnerItems& operator=(const OwnerItems&) = delete;
  OwnerItems(OwnerItems&& other) noexcept
      : slab_(other.slab_), blocks_(std::move(other.blocks_)), size_(std::exchange(other.size_, 0)) {
    other.blocks_.clear();
  }
  OwnerItems& operator=(OwnerItems&& other) noexcept {
    if (this != &other) {
      clear();
      slab_ = other.slab_;
      blocks_ = std::move(other.blocks_);
      other.blocks_.clear();
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~OwnerItems() { clear(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  OwnerItem& operator[](std::size_t i) { return blocks_[i / kPerBlock][i % kPerBlock]; }
  const OwnerItem& operator[](std::size_t i) const { return blocks_[i / kPerBlock][i % kPerBlock]; }

  void push_back(const OwnerItem& item) {
    if (size_ == blocks_.size() * kPerBlock) {
      if (blocks_.size() == blocks_.capacity()) blocks_.reserve(std::max<std::size_t>(4, 2 * blocks_.size()));
      blocks_.push_back(static_cast<OwnerItem*>(slab_->allocate()));
    }
    (*this)[size_++] = item;
  }

  /// Keeps the first `n` items; blocks no longer needed go back to the slab.
  void truncate(std::size_t n) {
    if (n >= size_) return;
    size_ = n;
    const std::size_t keep = (n + kPerBlock - 1) / kPerBlock;
    while (blocks_.size() > keep) {
      slab_->release(blocks_.back());
      blocks_.pop_back();
    }
  }
  void clear() { truncate(0); }

  /// The index of the first item whose serial is greater than `after` (items ascend by serial).
  std::size_t upperBound(std::uint64_t after) const {
    std::size_t lo = 0, hi = size_;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (std::uint64_t{(*this)[mid].serial} <= after) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /// Bookkeeping only: the blocks are counted with their slab.
  std::size_t memoryBytes() const { return blocks_.capacity() * sizeof(OwnerItem*); }

  class const_iterator {
   public:
    const_iterator(const OwnerItems* items, std::size_t i) : items_(items), i_(i) {}
    const OwnerItem& operator*() const { return (*items_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const OwnerItems* items_;
    std::size_t i_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  BlockSlab* slab_ = nullptr;
  std::vector<OwnerItem*> blocks_{};
  std::size_t size_ = 0;
};

}  // namespace vnfpool::handlespace::detail
