// A B+ tree of selection items (key, seq, slot) ordered by (key, seq): the selection order of a large
// pool with an ordered policy. Leaves hold 31 items (about 8 cache lines) and are chained, so the first
// N items are one or two leaves; inner nodes hold 32 children, so 10^6 items are 4-5 levels, the top of
// which stays in cache. An insertion or removal touches a few nodes instead of the ~20 scattered PE
// records a red-black tree through the records walks.
//
// Removal frees a leaf when it empties (and an inner node when it has no children left) but does not
// merge half-empty nodes; under random insertions and removals B+ trees settle near 70 % occupancy.
// Nodes come from slabs shared by all trees of a handlespace (block_slab.h), not one heap allocation
// each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "block_slab.h"
#include "prefetch.h"

namespace vnfpool::handlespace::detail {

struct OrderItem {
  std::uint32_t key = 0;
  std::uint32_t slot = 0;
  std::uint64_t seq = 0;
};

inline bool orderLess(const OrderItem& a, const OrderItem& b) {
  return a.key != b.key ? a.key < b.key : a.seq < b.seq;
}

class OrderTree {
 public:
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
  /// tree (a registration, a changed load), so the descent requests each node's lines as it reaches it;
  /// not for a selection's re-insertion near the front, whose path is in cache.
  void insert(const OrderItem& item, bool far = false) {
    if (last_ != nullptr && last_->count > 0 && last_->count < kLeafCap &&
        !orderLess(item, last_->items[last_->count - 1])) {
      // After the last item with room in the last leaf (round robin's every insertion, a table sync's
      // runs of one pool): the descent would end there, and no separator changes.
      last_->items[last_->count++] = item;
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
      const int i = childFor(inner, item);
      path[depth] = inner;
      index[depth++] = i;
      node = inner->child[i];
      if (far) hintNode(node);
    }
    Leaf* leaf = static_cast<Leaf*>(node);
    ++size_;
    if (leaf->count < kLeafCap) {
      insertInLeaf(leaf, item);
      return;
    }
    if (leaf->next == nullptr && !orderLess(item, leaf->items[kLeafCap - 1])) {
      // Appending past the last item (round robin always does): start a new leaf instead of halving
      // this one, so that sequential insertion leaves full leaves behind.
      Leaf* right = newLeaf();
      right->items[0] = item;
      right->count = 1;
      right->prev = leaf;
      leaf->next = right;
      last_ = right;
      pushUp(path, index, depth, item, right);
      return;
    }
    // Split the full leaf: the upper half moves to a new right sibling.
    Leaf* right = newLeaf();
    const int keep = (kLeafCap + 1) / 2;
    right->count = static_cast<std::uint16_t>(kLeafCap - keep);
    std::copy(leaf->items + keep, leaf->items + kLeafCap, right->items);
    leaf->count = static_cast<std::uint16_t>(keep);
    right->next = leaf->next;
    right->prev = leaf;
    if (leaf->next != nullptr) leaf->next->prev = right; else last_ = right;
    leaf->next = right;
    insertInLeaf(orderLess(item, right->items[0]) ? leaf : right, item);
    pushUp(path, index, depth, right->items[0], right);
  }

  /// Calls f(item) for the items in order until f returns false.
  template <typename F>
  void forEach(F&& f) const {
    for (const Leaf* leaf = first_; leaf != nullptr; leaf = leaf->next)
      for (int i = 0; i < leaf->count; ++i)
        if (!f(leaf->items[i])) return;
  }

  /// Calls f(item) on every item, allowing it to change keys in a way that keeps their order.
  template <typename F>
  void rewriteKeys(F&& f) {
    rewrite(root_, f);
  }

  const OrderItem* first() const { return first_ != nullptr ? &first_->items[0] : nullptr; }
  const OrderItem* last() const { return last_ != nullptr ? &last_->items[last_->count - 1] : nullptr; }

  void clear() {
    destroy(root_);
    root_ = nullptr;
    first_ = last_ = nullptr;
    size_ = 0;
  }

  /// Removes the item with this (key, seq); returns false if there is none.
  bool erase(const OrderItem& item) {
    if (root_ == nullptr) return false;
    if (first_->count > 1 && !orderLess(first_->items[first_->count - 1], item)) {
      // At or before the first leaf's last item (a selection takes items from the front): if present, it
      // is there, and the leaf keeps an item, so no node above changes.
      return removeFromLeaf(first_, item);
    }
    Inner* path[kMaxDepth];
    int index[kMaxDepth];
    int depth = 0;
    Node* node = root_;
    while (!node->leaf) {
      Inner* inner = static_cast<Inner*>(node);
      const int i = childFor(inner, item);
      path[depth] = inner;
      index[depth++] = i;
      node = inner->child[i];
      // A removal lands anywhere in the tree (a deregistration), so the next node is often not in
      // cache: request all of its lines at once rather than meeting them one per binary-search step.
      hintNode(node);
    }
    return eraseInLeaf(static_cast<Leaf*>(node), item, path, index, depth);
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
    OrderItem items[kLeafCap];
  };
  struct Inner : Node {
    OrderItem sep[kInnerCap - 1];  // sep[i - 1] <= everything in child[i] ; child[i - 1] < sep[i - 1]
    Node* child[kInnerCap];
  };
  // Nodes go back to their slab without a destructor call.
  static_assert(std::is_trivially_destructible_v<Leaf> && std::is_trivially_destructible_v<Inner>);
  static_assert(alignof(Leaf) <= 8 && alignof(Inner) <= 8, "slab blocks are 8-aligned");

  /// Inserts `new_child` (whose lowest item is `sep`) right after the child the path went through,
  /// splitting full inner nodes up to the root.
  void pushUp(Inner** path, int* index, int depth, OrderItem sep, Node* new_child) {
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
      OrderItem seps[kInnerCap];
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

  /// Removes the item from this leaf (where it must be if present); false if absent. Nodes above are
  /// left to the caller.
  bool removeFromLeaf(Leaf* leaf, const OrderItem& item) {
    OrderItem* end = leaf->items + leaf->count;
    OrderItem* it = std::lower_bound(leaf->items, end, item, orderLess);
    if (it == end || it->key != item.key || it->seq != item.seq) return false;
    std::copy(it + 1, end, it);
    --leaf->count;
    --size_;
    return true;
  }

  bool eraseInLeaf(Leaf* leaf, const OrderItem& item, Inner** path, int* index, int depth) {
    if (!removeFromLeaf(leaf, item)) return false;
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

  static int childFor(const Inner* inner, const OrderItem& item) {
    // The number of separators <= item.
    const OrderItem* end = inner->sep + inner->count - 1;
    return static_cast<int>(std::upper_bound(inner->sep, end, item, orderLess) - inner->sep);
  }

  static void insertInLeaf(Leaf* leaf, const OrderItem& item) {
    OrderItem* end = leaf->items + leaf->count;
    OrderItem* at = std::upper_bound(leaf->items, end, item, orderLess);
    std::copy_backward(at, end, end + 1);
    *at = item;
    ++leaf->count;
  }

  static void insertInInner(Inner* inner, int at, const OrderItem& sep, Node* child) {
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
  static void rewrite(Node* node, F& f) {
    if (node == nullptr) return;
    if (node->leaf) {
      Leaf* leaf = static_cast<Leaf*>(node);
      for (int i = 0; i < leaf->count; ++i) f(leaf->items[i]);
      return;
    }
    Inner* inner = static_cast<Inner*>(node);
    for (int i = 0; i + 1 < inner->count; ++i) f(inner->sep[i]);
    for (int i = 0; i < inner->count; ++i) rewrite(inner->child[i], f);
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
