// Selection structures and handle resolution (digest section 9).
//
// A pool of up to kSmallPool PEs keeps its selection state inline in the pool record (SmallEntry: slot,
// key, seq), so resolving it reads the pool record and nothing else. Larger pools use:
//  - Ordered policies: a B+ tree of (key, seq, slot) items (order_tree.h);
//  - Weighted policies: a dense member array and a sum tree of weights (weight_tree.h).
// A resolution returns the first N entries (Ordered) or N distinct weighted draws (Weighted), then
// "advances" the first MaxIncrement of them: a new sequence number (behind its equals), more degradation,
// one WRR credit less.
#include <algorithm>

#include "impl.h"

namespace vnfpool::handlespace::detail {
namespace {

OrderItem itemOf(const PeRecord& r) { return OrderItem{r.key, r.seq, r.slot}; }

bool smallLess(const SmallEntry& a, const SmallEntry& b) { return a.key != b.key ? a.key < b.key : a.seq < b.seq; }

std::uint32_t smallFind(const PoolRecord& pool, std::uint32_t slot) {
  std::uint32_t i = 0;
  while (pool.small[i].slot != slot) ++i;  // present by contract
  return i;
}

void smallErase(PoolRecord& pool, std::uint32_t i, bool keep_order) {
  const std::uint32_t last = --pool.small_count;
  if (keep_order)
    std::copy(pool.small.begin() + i + 1, pool.small.begin() + last + 1, pool.small.begin() + i);
  else
    pool.small[i] = pool.small[last];
}

void smallInsertSorted(PoolRecord& pool, const SmallEntry& e) {
  std::uint32_t i = pool.small_count;
  while (i > 0 && smallLess(e, pool.small[i - 1])) {
    pool.small[i] = pool.small[i - 1];
    --i;
  }
  pool.small[i] = e;
  ++pool.small_count;
}

}  // namespace

std::uint32_t Impl::nextSeq(PoolRecord& pool) {
  if (pool.seq >= kSeqLimit) renumberSeqs(pool);
  return static_cast<std::uint32_t>(++pool.seq);
}

void Impl::renumberSeqs(PoolRecord& pool) {
  // Sequence numbers are 32 bits (inline entries, and the low half of an order-tree place): renumber
  // them 1..k in the order of the old ones, which keeps every tie-break as it was.
  if (!pool.large) {
    std::array<SmallEntry*, kSmallPool> order{};
    for (std::uint32_t i = 0; i < pool.small_count; ++i) order[i] = &pool.small[i];
    std::sort(order.begin(), order.begin() + pool.small_count,
              [](const SmallEntry* a, const SmallEntry* b) { return a->seq < b->seq; });
    for (std::uint32_t i = 0; i < pool.small_count; ++i) order[i]->seq = i + 1;
    pool.seq = pool.small_count;
    return;
  }
  // A large pool: once per four billion selections, so a rebuild of the tree is cheap enough. The
  // new numbers keep the items' order, and appending in that order builds the tree from full leaves.
  const std::vector<std::uint32_t> in_order = memberSlots(pool);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> by_seq;  // (old seq, slot)
  by_seq.reserve(in_order.size());
  for (std::uint32_t slot : in_order) by_seq.emplace_back(record(slot).seq, slot);
  std::sort(by_seq.begin(), by_seq.end());
  for (std::size_t rank = 0; rank < by_seq.size(); ++rank)
    record(by_seq[rank].second).seq = static_cast<std::uint32_t>(rank + 1);
  if (pool.traits->cls == PolicyClass::Ordered) {
    pool.large->ordered.clear();
    for (std::uint32_t slot : in_order) pool.large->ordered.insert(itemOf(record(slot)));
  }
  pool.seq = by_seq.size();
}

std::uint32_t Impl::currentRound(const PoolRecord& pool) const {
  if (pool.large) {
    const std::optional<OrderItem> first = pool.large->ordered.first();
    if (first && first->key != kNeverKey) return first->key;
  } else if (pool.small_count > 0 && pool.small[0].key != kNeverKey) {
    return pool.small[0].key;
  }
  return pool.round_hint;
}

void Impl::renumberRounds(PoolRecord& pool) {
  // Subtracting the lowest round from every key keeps their order, so the structures stay valid as is.
  const std::uint32_t base = currentRound(pool);
  if (pool.large) {
    pool.large->ordered.mapKeys([&](std::uint32_t key) { return key != kNeverKey ? key - base : key; });
    // Separators were shifted too; only the items name live records, whose keys follow.
    pool.large->ordered.forEach([&](const OrderItem& item) {
      record(item.slot).key = item.key;
      return true;
    });
  } else {
    for (std::uint32_t i = 0; i < pool.small_count; ++i)
      if (pool.small[i].key != kNeverKey) pool.small[i].key -= base;
  }
  pool.round_hint = 0;
}

void Impl::toLarge(PoolRecord& pool) {
  pool.large = std::make_unique<LargeSelection>(order_slabs_);
  LargeSelection& large = *pool.large;
  if (pool.traits->cls == PolicyClass::Ordered) {
    for (std::uint32_t i = 0; i < pool.small_count; ++i) {
      PeRecord& r = record(pool.small[i].slot);
      r.key = pool.small[i].key;
      r.seq = pool.small[i].seq;
      large.ordered.insert(itemOf(r));
    }
  } else {
    for (std::uint32_t i = 0; i < pool.small_count; ++i)
      record(pool.small[i].slot).position =
          static_cast<std::uint32_t>(large.weights.push(pool.small[i].slot, pool.small[i].key));
  }
  pool.small_count = 0;
}

void Impl::toSmall(PoolRecord& pool) {
  LargeSelection& large = *pool.large;
  std::uint32_t n = 0;
  if (pool.traits->cls == PolicyClass::Ordered) {
    // Inline entries take 32-bit sequence numbers: renumber 1..n in the order of the old ones, so every
    // later tie-break (also after a key change) comes out as before.
    std::array<std::pair<std::uint32_t, std::uint32_t>, kSmallPool> by_seq{};
    large.ordered.forEach([&](const OrderItem& item) {
      by_seq[n] = {item.seq, n};
      pool.small[n] = SmallEntry{item.slot, item.key, 0};
      ++n;
      return true;
    });
    std::sort(by_seq.begin(), by_seq.begin() + n);
    for (std::uint32_t rank = 0; rank < n; ++rank) pool.small[by_seq[rank].second].seq = rank + 1;
    large.ordered.clear();
    pool.seq = n;
  } else {
    for (std::size_t i = 0; i < large.weights.size(); ++i)
      pool.small[n++] = SmallEntry{large.weights.slot(i), large.weights.weight(i), 0};
  }
  pool.small_count = n;
  pool.large.reset();
}

void Impl::setWeight(PoolRecord& pool, PeRecord& r, std::uint32_t weight) {
  const std::uint32_t old = r.key;
  if (old == weight) return;
  r.key = weight;
  if (pool.large)
    pool.large->weights.set(r.position, weight);
  else
    pool.small[smallFind(pool, r.slot)].key = weight;
  if (old == 0) ++pool.eligible;
  if (weight == 0) --pool.eligible;
}

void Impl::insertIntoPool(PoolRecord& pool, std::uint32_t slot) {
  PeRecord& r = record(slot);
  const PolicyTraits& traits = *pool.traits;
  if (!pool.large && pool.small_count == kSmallPool) toLarge(pool);
  r.seq = nextSeq(pool);  // digest 9.3: new entries join at the end of the current order
  if (traits.cls == PolicyClass::Ordered) {
    if (traits.round_based) {
      const std::uint32_t weight = roundWeight(traits, r.policyWords());
      r.credit = weight;
      r.key = weight == 0 ? kNeverKey : currentRound(pool);
    } else {
      r.key = orderedKey(traits, r.policyWords(), r.degradation);
    }
    if (pool.large)
      pool.large->ordered.insert(itemOf(r), true);
    else
      smallInsertSorted(pool, SmallEntry{slot, r.key, r.seq});
    return;
  }
  r.key = selectionWeight(traits, r.policyWords(), r.degradation);
  if (r.key > 0) ++pool.eligible;
  if (!pool.large) {
    pool.small[pool.small_count++] = SmallEntry{slot, r.key, 0};
    return;
  }
  LargeSelection& large = *pool.large;
  r.position = static_cast<std::uint32_t>(large.weights.push(slot, r.key));
}

void Impl::removeFromPool(PoolRecord& pool, std::uint32_t slot) {
  PeRecord& r = record(slot);
  const bool ordered = pool.traits->cls == PolicyClass::Ordered;
  if (pool.traits->round_based && r.key != kNeverKey) pool.round_hint = currentRound(pool);
  if (!ordered && r.key > 0) --pool.eligible;
  if (!pool.large) {
    smallErase(pool, smallFind(pool, slot), ordered);
    return;
  }
  LargeSelection& large = *pool.large;
  std::size_t remaining;
  if (ordered) {
    large.ordered.erase(itemOf(r));
    remaining = large.ordered.size();
  } else {
    // The last member moves into the hole: its weight travels in the tree's leaf, so its record is
    // only written (its new position), never read.
    const std::size_t pos = r.position;
    const std::uint32_t moved = large.weights.removeAt(pos);
    if (moved != WeightTree::kNone) record(moved).position = static_cast<std::uint32_t>(pos);
    r.position = kNoSlot;
    remaining = large.weights.size();
  }
  if (remaining <= kBackToSmall) toSmall(pool);
}

void Impl::rekey(PoolRecord& pool, std::uint32_t slot, std::uint32_t old_round_weight) {
  PeRecord& r = record(slot);
  const PolicyTraits& traits = *pool.traits;
  if (traits.cls == PolicyClass::Weighted) {
    setWeight(pool, r, selectionWeight(traits, r.policyWords(), r.degradation));
    return;
  }
  std::uint32_t key = r.key;
  if (!pool.large) key = pool.small[smallFind(pool, slot)].key;
  std::uint32_t new_key;
  if (traits.round_based) {
    // WRR re-registration: same weight keeps the entry's round and credit; a new weight restarts its
    // allowance in its round; weight 0 takes it out of the rotation; back from 0 joins the current round.
    const std::uint32_t weight = roundWeight(traits, r.policyWords());
    if (weight == old_round_weight) return;
    r.credit = weight;
    new_key = weight == 0 ? kNeverKey : key;
    if (weight != 0 && old_round_weight == 0) new_key = kNeverKey - 1;  // placeholder: set after removal
  } else {
    new_key = orderedKey(traits, r.policyWords(), r.degradation);
    if (new_key == key) return;
  }
  // Out, new key (the sequence number stays: no change in tie-breaks), back in.
  std::uint32_t seq32 = 0;
  if (pool.large) {
    pool.large->ordered.erase(itemOf(r));
  } else {
    const std::uint32_t i = smallFind(pool, slot);
    seq32 = pool.small[i].seq;
    smallErase(pool, i, true);
  }
  if (new_key == kNeverKey - 1 && traits.round_based) new_key = currentRound(pool);
  r.key = new_key;
  if (pool.large)
    pool.large->ordered.insert(itemOf(r), true);
  else
    smallInsertSorted(pool, SmallEntry{slot, new_key, seq32});
}

void Impl::advance(PoolRecord& pool, std::uint32_t slot) {
  const PolicyTraits& traits = *pool.traits;
  if (traits.cls == PolicyClass::Weighted) {
    if (traits.step == DegradationStep::None) return;  // nothing a random draw depends on changes
    PeRecord& r = record(slot);
    r.degradation = saturatingAdd(r.degradation, degradationStep(traits, r.policyWords()));
    setWeight(pool, r, selectionWeight(traits, r.policyWords(), r.degradation));
    return;
  }
  // The new key. Policies without degradation or rounds keep theirs, and then the PE record is not
  // even read (inline pools).
  const bool touches_record = traits.round_based || traits.step != DegradationStep::None || pool.large;
  std::uint32_t key;
  SmallEntry entry{};
  if (pool.large) {
    key = record(slot).key;
    pool.large->ordered.erase(itemOf(record(slot)));
  } else {
    const std::uint32_t i = smallFind(pool, slot);
    entry = pool.small[i];
    key = entry.key;
    smallErase(pool, i, true);
  }
  bool renumber = false;
  if (touches_record) {
    PeRecord& r = record(slot);
    if (traits.round_based) {
      if (--r.credit == 0) {
        r.credit = roundWeight(traits, r.policyWords());
        ++key;  // used up this round: wait for the next one
        renumber = key >= kRoundLimit;
      }
    } else if (traits.step != DegradationStep::None) {
      r.degradation = saturatingAdd(r.degradation, degradationStep(traits, r.policyWords()));
      key = orderedKey(traits, r.policyWords(), r.degradation);
    }
    r.key = key;
  }
  const std::uint32_t seq = nextSeq(pool);
  if (pool.large) {
    PeRecord& r = record(slot);
    r.seq = seq;
    pool.large->ordered.insert(itemOf(r));
  } else {
    smallInsertSorted(pool, SmallEntry{slot, key, seq});
  }
  if (renumber) renumberRounds(pool);
}

std::size_t Impl::selectOrdered(PoolRecord& pool, std::size_t n, std::vector<PeRef>& out) {
  const bool round_based = pool.traits->round_based;
  if (!pool.large) {
    for (std::uint32_t i = 0; i < pool.small_count && out.size() < n; ++i) {
      if (round_based && pool.small[i].key == kNeverKey) break;  // weight 0: never selected
      out.push_back(PeRef{pool.small[i].slot});
    }
    return out.size();
  }
  pool.large->ordered.forEach([&](const OrderItem& item) {
    if (out.size() == n || (round_based && item.key == kNeverKey)) return false;
    out.push_back(PeRef{item.slot});
    return true;
  });
  return out.size();
}

std::size_t Impl::selectWeighted(PoolRecord& pool, std::size_t n, Random& rng, std::vector<PeRef>& out) {
  n = std::min<std::size_t>(n, pool.eligible);
  if (!pool.large) {
    // Inline pool: sequential draws without replacement over at most kSmallPool weights.
    std::uint64_t total = 0;
    for (std::uint32_t i = 0; i < pool.small_count; ++i) total += pool.small[i].key;
    std::uint32_t taken = 0;  // bit i: entry i drawn
    while (out.size() < n && total > 0) {
      std::uint64_t r = rng.below(total);
      std::uint32_t i = 0;
      for (;; ++i) {
        if (taken & (1u << i)) continue;
        if (r < pool.small[i].key) break;
        r -= pool.small[i].key;
      }
      taken |= 1u << i;
      total -= pool.small[i].key;
      out.push_back(PeRef{pool.small[i].slot});
    }
    return out.size();
  }
  LargeSelection& large = *pool.large;
  const bool uniform = pool.traits->uniform;
  auto chosen = [&](std::uint32_t slot) {
    return std::any_of(out.begin(), out.end(), [&](PeRef ref) { return ref.slot == slot; });
  };
  // Draws are without replacement, each with probability proportional to weight among the entries not
  // yet drawn. First by rejection (draw from everything, redraw a repeat): exact, and nearly always one
  // try. If a few tries all hit drawn entries (skewed weights), the drawn entries' weights are taken out
  // of the tree for the remaining draws and put back at the end. Both give the same distribution.
  // The first candidates are drawn as one batch (independent draws from all entries, repeats skipped in
  // order: the same thing as drawing one by one and redrawing repeats), so their tree descents overlap.
  {
    const std::size_t k = std::min(n, WeightTree::kBatch);
    std::uint64_t r[WeightTree::kBatch]{};
    std::size_t pos[WeightTree::kBatch];
    for (std::size_t q = 0; q < k; ++q) r[q] = rng.below(uniform ? large.weights.size() : large.weights.total());
    if (uniform) {
      for (std::size_t q = 0; q < k; ++q) pos[q] = static_cast<std::size_t>(r[q]);
    } else {
      large.weights.findMany(r, pos, k);
    }
    for (std::size_t q = 0; q < k; ++q) {
      const std::uint32_t slot = large.weights.slot(pos[q]);
      if (!chosen(slot)) out.push_back(PeRef{slot});
    }
  }
  bool excluded = false;
  while (out.size() < n) {
    if (!excluded) {
      bool accepted = false;
      for (int attempt = 0; attempt < 4 && !accepted; ++attempt) {
        const std::size_t pos = uniform ? static_cast<std::size_t>(rng.below(large.weights.size()))
                                        : large.weights.find(rng.below(large.weights.total()));
        const std::uint32_t slot = large.weights.slot(pos);
        if (!chosen(slot)) {
          out.push_back(PeRef{slot});
          accepted = true;
        }
      }
      if (accepted) continue;
      excluded = true;
      for (PeRef ref : out) {
        const PeRecord& r = record(ref.slot);
        large.weights.set(r.position, 0);
      }
    }
    if (large.weights.total() == 0) break;
    const std::size_t pos = large.weights.find(rng.below(large.weights.total()));
    out.push_back(PeRef{large.weights.slot(pos)});
    large.weights.set(pos, 0);
  }
  if (excluded)
    for (PeRef ref : out) {
      const PeRecord& r = record(ref.slot);
      large.weights.set(r.position, r.key);
    }
  return out.size();
}

std::vector<std::uint32_t> Impl::memberSlots(const PoolRecord& pool) const {
  std::vector<std::uint32_t> slots;
  slots.reserve(pool.size);
  if (!pool.large) {
    for (std::uint32_t i = 0; i < pool.small_count; ++i) slots.push_back(pool.small[i].slot);
  } else if (pool.traits->cls == PolicyClass::Ordered) {
    pool.large->ordered.forEach([&](const OrderItem& item) {
      slots.push_back(item.slot);
      return true;
    });
  } else {
    for (std::size_t i = 0; i < pool.large->weights.size(); ++i) slots.push_back(pool.large->weights.slot(i));
  }
  return slots;
}

Result<std::size_t> Impl::select(std::string_view pool_handle, std::size_t count, Random& rng,
                                 std::vector<PeRef>& out) {
  out.clear();
  const std::uint32_t p = findPool(pool_handle);
  if (p == kNoSlot) {
    Error error;
    error.cause = wire::Cause::UnknownPoolHandle;
    error.detail = "no such pool";
    return error;
  }
  PoolRecord& pool = pools_[p];
  // Digest 9.3 step 1: N = requested (0: the default), capped at max_items and the pool size.
  std::size_t n = count == 0 ? config_.default_items : count;
  n = std::min({n, config_.max_items, static_cast<std::size_t>(pool.size)});
  const std::size_t got = pool.traits->cls == PolicyClass::Ordered ? selectOrdered(pool, n, out)
                                                                    : selectWeighted(pool, n, rng, out);
  const std::size_t m = config_.max_increment > 0 ? config_.max_increment : pool.traits->default_max_increment;
  for (std::size_t i = 0; i < std::min(m, got); ++i) advance(pool, out[i].slot);
  ++pool.resolutions;
  return got;
}

}  // namespace vnfpool::handlespace::detail
