// A B+ tree of selection items (key, seq, slot) ordered by (key, seq): the selection order of a large
// pool with an ordered policy. Leaves hold 31 items and are chained, so the first N items are one or two
// leaves; inner nodes hold 32 children, so 10^6 items are 4-5 levels, the top of which stays in cache.
// An insertion or removal touches a few nodes instead of the ~20 scattered PE records a red-black tree
// through the records walks.
//
// An item's place is one 64-bit integer, key in the high half and sequence number in the low (callers
// keep sequence numbers below 2^32), held apart from the slots. A search that lands anywhere (a
// registration, a load change, a removal) counts the places below the one sought, a loop without
// branches over a few cache lines, where a binary search's every step would be a coin toss for the
// branch predictor; a selection's searches near the front repeat, and keep the binary search.
// Leaves are 400 bytes, inner nodes 512.
//
// Removal frees a leaf when it empties (and an inner node when it has no children left) but does not
// merge half-empty nodes; under random insertions and removals B+ trees settle near 70 % occupancy.
// Nodes come from slabs shared by all trees of a handlespace (block_slab.h), not one heap allocation
// each.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "block_slab.h"
#include "prefetch.h"

namespace vnfpool::handlespace::detail {

struct OrderItem {
  std::uint32_t key = 0;
  std::uint32_t seq = 0;
  std::uint32_t slot = 0;
};

/// An item's place in the order: key, then sequence number.
inline std::uint64_t placeOf(std::uint32_t key, std::uint32_t seq) {
  return (static_cast<std::uint64_t>(key) << 32) | seq;
}
inline std::uint64_t placeOf(const OrderItem& item) { return placeOf(item.key, item.seq); }

/// How many of the first n places are below x: a loop without data-dependent branches, four places per
/// step with AVX2 where the CPU has it (chosen at run time: builds target the x86-64 baseline).
int countPlacesBelow(const std::uint64_t* places, int n, std::uint64_t x);
/// The same without AVX2 (what countPlacesBelow runs elsewhere); exposed for tests.
int countPlacesBelowPortable(const std::uint64_t* places, int n, std::uint64_t x);

class OrderTree {
 public:
  /// The largest sequence number an item may have (callers renumber before they reach it); the
  /// searches rely on a place + 1 not wrapping.
  static constexpr std::uint32_t kMaxSeq = 0xFFFFFFF0u;
  static constexpr int kLeafCap = 31;
  static constexpr int kInnerCap = 32;  // children

  struct Slabs;
  /// A tree whose nodes come from `slabs`, which must outlive it.
  explicit OrderTree(Slabs& slabs) : slabs_(&slabs) {}
  OrderTree(const OrderTree&) = delete;
  OrderTree& operator=(const OrderTree&) = delete;
  ~OrderTree() { clear(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  /// Adds an item; (key, seq) must not be present yet. `far`: the item's place is likely anywhere in the
  /// tree (a registration, a changed load), so the descent requests each node's lines as it reaches it
  /// and searches them by counting; not for a selection's re-insertion near the front, whose path is in
  /// cache and whose searches repeat.
  void insert(const OrderItem& item, bool far = false) {
    assert(item.seq <= kMaxSeq);
    const std::uint64_t place = placeOf(item);
    if (last_ != nullptr && last_->count > 0 && last_->count < kLeafCap &&
        place > last_->place[last_->count - 1]) {
      // After the last item with room in the last leaf (round robin's every insertion, a table sync's
      // runs of one pool): the descent would end there, and no separator changes.
      last_->place[last_->count] = place;
      last_->slot[last_->count++] = item.slot;
      ++size_;
      return;
    }
    if (root_ == nullptr) {
      Leaf* leaf = newLeaf();
      root_ = leaf;
      first_ = last_ = leaf;
    }
    // Descend, remembering the path for splits.
    Inner* path[kMaxDepth];
    int index[kMaxDepth];
    int depth = 0;
    Node* node = root_;
    while (!node->leaf) {
      Inner* inner = static_cast<Inner*>(node);
      const int i = childFor(inner, place, far);
      path[depth] = inner;
      index[depth++] = i;
      node = inner->child[i];
      if (far) hintNode(node);
    }
    Leaf* leaf = static_cast<Leaf*>(node);
    ++size_;
    if (leaf->count < kLeafCap) {
      insertInLeaf(leaf, place, item.slot, far);
      return;
    }
    if (leaf->next == nullptr && place > leaf->place[kLeafCap - 1]) {
      // Appending past the last item (round robin always does): start a new leaf instead of halving
      // this one, so that sequential insertion leaves full leaves behind.
      Leaf* right = newLeaf();
      right->place[0] = place;
      right->slot[0] = item.slot;
      right->count = 1;
      right->prev = leaf;
      leaf->next = right;
      last_ = right;
      pushUp(path, index, depth, place, right);
      return;
    }
    // Split the full leaf: the upper half moves to a new right sibling.
    Leaf* right = newLeaf();
    const int keep = (kLeafCap + 1) / 2;
    right->count = static_cast<std::uint16_t>(kLeafCap - keep);
    std::copy(leaf->place + keep, leaf->place + kLeafCap, right->place);
    std::copy(leaf->slot + keep, leaf->slot + kLeafCap, right->slot);
    leaf->count = static_cast<std::uint16_t>(keep);
    right->next = leaf->next;
    right->prev = leaf;
    if (leaf->next != nullptr) leaf->next->prev = right; else last_ = right;
    leaf->next = right;
    insertInLeaf(place < right->place[0] ? leaf : right, place, item.slot, far);
    pushUp(path, index, depth, right->place[0], right);
  }

  /// Calls f(item) for the items in order until f returns false.
  template <typename F>
  void forEach(F&& f) const {
    for (const Leaf* leaf = first_; leaf != nullptr; leaf = leaf->next)
      for (int i = 0; i < leaf->count; ++i)
        if (!f(leaf->item(i))) return;
  }

  /// Replaces every key k (of items and separators) by f(k); f must keep the order of keys.
  template <typename F>
  void mapKeys(F&& f) {
    mapKeys(root_, f);
  }

  std::optional<OrderItem> first() const {
    if (first_ == nullptr) return std::nullopt;
    return first_->item(0);
  }

  void clear() {
    destroy(root_);
    root_ = nullptr;
    first_ = last_ = nullptr;
    size_ = 0;
  }

  /// Removes the item with this (key, seq); returns false if there is none.
  bool erase(const OrderItem& item) {
    assert(item.seq <= kMaxSeq);
    if (root_ == nullptr) return false;
    const std::uint64_t place = placeOf(item);
    if (first_->count > 1 && place <= first_->place[first_->count - 1]) {
      // At or before the first leaf's last item (a selection takes items from the front): if present, it
      // is there, and the leaf keeps an item, so no node above changes.
      return removeFromLeaf(first_, place, false);
    }
    Inner* path[kMaxDepth];
    int index[kMaxDepth];
    int depth = 0;
    Node* node = root_;
    while (!node->leaf) {
      Inner* inner = static_cast<Inner*>(node);
      const int i = childFor(inner, place, true);
      path[depth] = inner;
      index[depth++] = i;
      node = inner->child[i];
      // A removal lands anywhere in the tree (a deregistration), so the next node is often not in
      // cache: request all of its lines at once rather than meeting them one by one.
      hintNode(node);
    }
    return eraseInLeaf(static_cast<Leaf*>(node), place, path, index, depth);
  }

  /// Checks the tree's invariants (order within and across nodes, separators, chain, counts); for tests.
  bool valid() const {
    std::size_t items = 0;
    const Leaf* expected_next = first_;
    if (root_ == nullptr) return first_ == nullptr && last_ == nullptr && size_ == 0;
    if (!validNode(root_, 0, ~std::uint64_t{0}, false, items, expected_next)) return false;
    return expected_next == nullptr && items == size_;
  }

 private:
  static constexpr int kMaxDepth = 16;
  struct Node {
    bool leaf = false;
    std::uint16_t count = 0;  // items (leaf) or children (inner)
  };
  struct Leaf : Node {
    Leaf() { leaf = true; }
    Leaf* prev = nullptr;
    Leaf* next = nullptr;
    std::uint64_t place[kLeafCap];
    std::uint32_t slot[kLeafCap];
    OrderItem item(int i) const {
      const auto key = static_cast<std::uint32_t>(place[i] >> 32);
      return OrderItem{key, static_cast<std::uint32_t>(place[i]), slot[i]};
    }
  };
  struct Inner : Node {
    std::uint64_t sep[kInnerCap - 1];  // sep[i - 1] <= everything in child[i] ; child[i - 1] < sep[i - 1]
    Node* child[kInnerCap];
  };
  // Nodes go back to their slab without a destructor call.
  static_assert(std::is_trivially_destructible_v<Leaf> && std::is_trivially_destructible_v<Inner>);
  static_assert(alignof(Leaf) <= 8 && alignof(Inner) <= 8, "slab blocks are 8-aligned");

  /// How many of the first n places are below x (`or_equal`: at or below). Where the place sought is
  /// anywhere (`far`: a registration, a load change, a removal), every place is compared, four at a time
  /// with AVX2, so that no branch depends on the data; a binary search would mispredict about every other
  /// step. A selection's searches go the same way each time near the front of the order, where the
  /// branch predictor learns the binary search and it beats the count (no call, fewer compares).
  template <bool or_equal>
  static int countBelow(const std::uint64_t* places, int n, std::uint64_t x, bool far) {
    // At or below x is below x + 1, which cannot wrap: places are at most 2^64 - 16 (sequence limit).
    const std::uint64_t bound = or_equal ? x + 1 : x;
    if (far) return countPlacesBelow(places, n, bound);
    return static_cast<int>(std::lower_bound(places, places + n, bound) - places);
  }

  /// Inserts `new_child` (whose lowest place is `sep`) right after the child the path went through,
  /// splitting full inner nodes up to the root.
  void pushUp(Inner** path, int* index, int depth, std::uint64_t sep, Node* new_child) {
    while (depth > 0) {
      Inner* parent = path[--depth];
      const int at = index[depth] + 1;  // new_child goes right after the child we came from
      if (parent->count < kInnerCap) {
        insertInInner(parent, at, sep, new_child);
        return;
      }
      if (at == kInnerCap) {
        // Appending to a full node: the new child alone starts the sibling (sequential insertion
        // keeps inner nodes full too); its separator moves up unchanged.
        Inner* sibling = newInner();
        sibling->count = 1;
        sibling->child[0] = new_child;
        new_child = sibling;
        continue;
      }
      // Split the full inner node around its middle child; the middle separator moves up.
      std::uint64_t seps[kInnerCap];
      Node* children[kInnerCap + 1];
      std::copy(parent->sep, parent->sep + at - 1, seps);
      seps[at - 1] = sep;
      std::copy(parent->sep + at - 1, parent->sep + kInnerCap - 1, seps + at);
      std::copy(parent->child, parent->child + at, children);
      children[at] = new_child;
      std::copy(parent->child + at, parent->child + kInnerCap, children + at + 1);
      const int left_children = (kInnerCap + 1) / 2;
      const int right_children = kInnerCap + 1 - left_children;
      Inner* sibling = newInner();
      parent->count = static_cast<std::uint16_t>(left_children);
      std::copy(children, children + left_children, parent->child);
      std::copy(seps, seps + left_children - 1, parent->sep);
      sibling->count = static_cast<std::uint16_t>(right_children);
      std::copy(children + left_children, children + kInnerCap + 1, sibling->child);
      std::copy(seps + left_children, seps + kInnerCap, sibling->sep);
      sep = seps[left_children - 1];
      new_child = sibling;
    }
    // The root split: a new root above the two halves.
    Inner* root = newInner();
    root->count = 2;
    root->child[0] = root_;
    root->child[1] = new_child;
    root->sep[0] = sep;
    root_ = root;
  }

  /// Removes the place from this leaf (where it must be if present); false if absent. Nodes above are
  /// left to the caller.
  bool removeFromLeaf(Leaf* leaf, std::uint64_t place, bool far) {
    const int n = leaf->count;
    const int i = countBelow<false>(leaf->place, n, place, far);
    if (i == n || leaf->place[i] != place) return false;
    std::copy(leaf->place + i + 1, leaf->place + n, leaf->place + i);
    std::copy(leaf->slot + i + 1, leaf->slot + n, leaf->slot + i);
    --leaf->count;
    --size_;
    return true;
  }

  bool eraseInLeaf(Leaf* leaf, std::uint64_t place, Inner** path, int* index, int depth) {
    if (!removeFromLeaf(leaf, place, true)) return false;
    if (leaf->count > 0) return true;
    // An empty leaf leaves the chain and its parent; empty inner nodes follow it up.
    if (leaf->prev != nullptr) leaf->prev->next = leaf->next; else first_ = leaf->next;
    if (leaf->next != nullptr) leaf->next->prev = leaf->prev; else last_ = leaf->prev;
    freeNode(leaf);
    if (depth == 0) {  // the leaf was the root
      root_ = nullptr;
      return true;
    }
    while (depth > 0) {
      Inner* parent = path[--depth];
      removeChild(parent, index[depth]);
      if (parent->count > 0) break;
      freeNode(parent);
      if (depth == 0) {
        root_ = nullptr;
        return true;
      }
    }
    // A root with a single child hands over to it (keeps the height down after shrinking).
    while (root_ != nullptr && !root_->leaf && root_->count == 1) {
      Inner* old = static_cast<Inner*>(root_);
      root_ = old->child[0];
      freeNode(old);
    }
    return true;
  }

  /// Requests every line a node can span (the larger of the two node sizes, so the node's own kind need
  /// not be read first).
  static void hintNode(const Node* node) {
    constexpr std::size_t kSize = sizeof(Leaf) > sizeof(Inner) ? sizeof(Leaf) : sizeof(Inner);
    const auto* p = reinterpret_cast<const char*>(node);
    for (std::size_t off = 0; off < kSize; off += 64) hintLine(p + off);
  }

  /// The child whose range holds `place`: the number of separators at or below it.
  static int childFor(const Inner* inner, std::uint64_t place, bool far) {
    return countBelow<true>(inner->sep, inner->count - 1, place, far);
  }

  static void insertInLeaf(Leaf* leaf, std::uint64_t place, std::uint32_t slot, bool far) {
    const int n = leaf->count;
    const int at = countBelow<true>(leaf->place, n, place, far);
    std::copy_backward(leaf->place + at, leaf->place + n, leaf->place + n + 1);
    std::copy_backward(leaf->slot + at, leaf->slot + n, leaf->slot + n + 1);
    leaf->place[at] = place;
    leaf->slot[at] = slot;
    ++leaf->count;
  }

  static void insertInInner(Inner* inner, int at, std::uint64_t sep, Node* child) {
    // Child `at` is new; its separator is sep[at - 1].
    std::copy_backward(inner->child + at, inner->child + inner->count, inner->child + inner->count + 1);
    inner->child[at] = child;
    std::copy_backward(inner->sep + at - 1, inner->sep + inner->count - 1, inner->sep + inner->count);
    inner->sep[at - 1] = sep;
    ++inner->count;
  }

  static void removeChild(Inner* inner, int i) {
    // Dropping child i drops the separator that bounded it on the left (or, for child 0, the one that
    // bounded child 1, which then becomes child 0 and needs no lower bound).
    std::copy(inner->child + i + 1, inner->child + inner->count, inner->child + i);
    const int s = i > 0 ? i - 1 : 0;
    if (inner->count > 1) std::copy(inner->sep + s + 1, inner->sep + inner->count - 1, inner->sep + s);
    --inner->count;
  }

  template <typename F>
  static std::uint64_t mapKey(std::uint64_t place, F& f) {
    return placeOf(f(static_cast<std::uint32_t>(place >> 32)), static_cast<std::uint32_t>(place));
  }

  template <typename F>
  static void mapKeys(Node* node, F& f) {
    if (node == nullptr) return;
    if (node->leaf) {
      Leaf* leaf = static_cast<Leaf*>(node);
      for (int i = 0; i < leaf->count; ++i) leaf->place[i] = mapKey(leaf->place[i], f);
      return;
    }
    Inner* inner = static_cast<Inner*>(node);
    for (int i = 0; i + 1 < inner->count; ++i) inner->sep[i] = mapKey(inner->sep[i], f);
    for (int i = 0; i < inner->count; ++i) mapKeys(inner->child[i], f);
  }

  /// Every place under `node` is in [low, high) (no lower bound without `has_low`, none above when `high`
  /// is all ones), in order, and the leaves are met in chain order.
  bool validNode(const Node* node, std::uint64_t low, std::uint64_t high, bool has_low, std::size_t& items,
                 const Leaf*& expected_next) const {
    if (node->count == 0) return false;
    if (node->leaf) {
      const Leaf* leaf = static_cast<const Leaf*>(node);
      if (leaf != expected_next) return false;
      for (int i = 0; i < leaf->count; ++i) {
        if (has_low && leaf->place[i] < low) return false;
        if (high != ~std::uint64_t{0} && leaf->place[i] >= high) return false;
        if (i > 0 && leaf->place[i - 1] >= leaf->place[i]) return false;
      }
      if (leaf->next != nullptr && leaf->next->prev != leaf) return false;
      if (leaf->next == nullptr && leaf != last_) return false;
      items += leaf->count;
      expected_next = leaf->next;
      return true;
    }
    const Inner* inner = static_cast<const Inner*>(node);
    for (int i = 0; i < inner->count; ++i) {
      const std::uint64_t lo = i > 0 ? inner->sep[i - 1] : low;
      const std::uint64_t hi = i + 1 < inner->count ? inner->sep[i] : high;
      if (i > 0 && has_low && lo < low) return false;
      if (!validNode(inner->child[i], lo, hi, has_low || i > 0, items, expected_next)) return false;
    }
    return true;
  }

  void destroy(Node* node) {
    if (node == nullptr) return;
    if (node->leaf) {
      freeNode(static_cast<Leaf*>(node));
      return;
    }
    Inner* inner = static_cast<Inner*>(node);
    for (int i = 0; i < inner->count; ++i) destroy(inner->child[i]);
    freeNode(inner);
  }

  Leaf* newLeaf() { return new (slabs_->leaves.allocate()) Leaf; }
  Inner* newInner() { return new (slabs_->inners.allocate()) Inner; }
  void freeNode(Leaf* leaf) noexcept { slabs_->leaves.release(leaf); }
  void freeNode(Inner* inner) noexcept { slabs_->inners.release(inner); }

  Slabs* slabs_;
  Node* root_ = nullptr;
  Leaf* first_ = nullptr;
  Leaf* last_ = nullptr;
  std::size_t size_ = 0;

 public:
  /// The node slabs of all trees of one handlespace.
  struct Slabs {
    BlockSlab leaves{sizeof(Leaf)};
    BlockSlab inners{sizeof(Inner)};
    /// Writes room ahead for trees of `items` items in all (leaves about 70 % full, as under random
    /// insertions and removals; appends fill them).
    void reserve(std::size_t items) {
      const std::size_t leaves_needed = items / (kLeafCap * 7 / 10) + 1;
      leaves.reserve(leaves_needed);
      inners.reserve(leaves_needed / (kInnerCap * 7 / 10) + 1);
    }
    std::size_t memoryBytes() const { return leaves.memoryBytes() + inners.memoryBytes(); }
  };
};

}  // namespace vnfpool::handlespace::detail
