// Selection structures and handle resolution (digest section 9).
//
// Ordered policies keep their PEs in an intrusive red-black tree ordered by (key, seq); a resolution
// returns the first N and then "advances" the first MaxIncrement of them (new seq, degradation, WRR
// credit), which moves them behind their equals. Weighted policies keep a dense member array and a
// sum tree of weights (weight_tree.h); a resolution draws N distinct members.
#include <algorithm>

#include "impl.h"

namespace vnfpool::handlespace::detail {
namespace {

void insertSorted(SelectionSet& set, PeRecord& r) {
  // The common case (round robin, and any entry whose new key is the largest) appends in O(1).
  if (set.empty() || !RecordLess{}(r, *set.rbegin()))
    set.push_back(r);
  else
    set.insert(r);
}

}  // namespace

std::uint32_t Impl::currentRound(const PoolRecord& pool) const {
  if (!pool.ordered.empty() && pool.ordered.begin()->key != kNeverKey) return pool.ordered.begin()->key;
  return pool.round_hint;
}

void Impl::renumberRounds(PoolRecord& pool) {
  // Subtracting the lowest round from every key keeps their order, so the tree stays valid as it is.
  const std::uint32_t base = currentRound(pool);
  for (PeRecord& r : pool.ordered)
    if (r.key != kNeverKey) r.key -= base;
  pool.round_hint = 0;
}

void Impl::setWeight(PoolRecord& pool, PeRecord& r, std::uint32_t weight) {
  const std::uint32_t old = r.key;
  if (old == weight) return;
  r.key = weight;
  pool.weights.add(r.position, std::uint64_t{weight} - old);  // wrap-around delta
  if (old == 0) ++pool.eligible;
  if (weight == 0) --pool.eligible;
}

void Impl::insertIntoPool(PoolRecord& pool, std::uint32_t slot) {
  PeRecord& r = record(slot);
  const PolicyTraits& traits = *pool.traits;
  r.seq = ++pool.seq;  // digest 9.3: new entries join at the end of the current order
  if (traits.cls == PolicyClass::Ordered) {
    if (traits.round_based) {
      const std::uint32_t weight = roundWeight(traits, r.policyWords());
      r.credit = weight;
      r.key = weight == 0 ? kNeverKey : currentRound(pool);
    } else {
      r.key = orderedKey(traits, r.policyWords(), r.degradation);
    }
    insertSorted(pool.ordered, r);
    return;
  }
  r.key = selectionWeight(traits, r.policyWords(), r.degradation);
  r.position = static_cast<std::uint32_t>(pool.members.size());
  pool.members.push_back(slot);
  if (r.key > 0) ++pool.eligible;
  if (pool.members.size() > pool.weights.capacity())
    pool.weights.rebuild(pool.members.size(), [&](std::size_t i) { return std::uint64_t{record(pool.members[i]).key}; });
  else
    pool.weights.add(r.position, r.key);
}

void Impl::removeFromPool(PoolRecord& pool, std::uint32_t slot) {
  PeRecord& r = record(slot);
  if (pool.traits->cls == PolicyClass::Ordered) {
    if (pool.traits->round_based && r.key != kNeverKey) pool.round_hint = currentRound(pool);
    pool.ordered.erase(pool.ordered.iterator_to(r));
    return;
  }
  const std::size_t pos = r.position;
  const std::size_t last = pool.members.size() - 1;
  if (r.key > 0) --pool.eligible;
  pool.weights.add(pos, 0 - std::uint64_t{r.key});
  if (pos != last) {
    PeRecord& moved = record(pool.members[last]);
    pool.weights.add(last, 0 - std::uint64_t{moved.key});
    pool.weights.add(pos, moved.key);
    pool.members[pos] = moved.slot;
    moved.position = static_cast<std::uint32_t>(pos);
  }
  pool.members.pop_back();
  r.position = kNoSlot;
  const std::size_t n = pool.members.size();
  if (pool.weights.capacity() > 64 && n < pool.weights.capacity() / 4) {
    pool.members.shrink_to_fit();
    pool.weights.rebuild(n, [&](std::size_t i) { return std::uint64_t{record(pool.members[i]).key}; });
  }
}

void Impl::rekey(PoolRecord& pool, std::uint32_t slot, std::uint32_t old_round_weight) {
  PeRecord& r = record(slot);
  const PolicyTraits& traits = *pool.traits;
  if (traits.cls == PolicyClass::Weighted) {
    setWeight(pool, r, selectionWeight(traits, r.policyWords(), r.degradation));
    return;
  }
  if (traits.round_based) {
    // WRR re-registration: same weight keeps the entry's round and credit; a new weight restarts its
    // allowance in its round; weight 0 takes it out of the rotation; back from 0 joins the current round.
    const std::uint32_t weight = roundWeight(traits, r.policyWords());
    if (weight == old_round_weight) return;
    pool.ordered.erase(pool.ordered.iterator_to(r));
    r.credit = weight;
    if (weight == 0) {
      r.key = kNeverKey;
    } else if (old_round_weight == 0) {
      r.key = currentRound(pool);
    }
    pool.ordered.insert(r);
    return;
  }
  const std::uint32_t key = orderedKey(traits, r.policyWords(), r.degradation);
  if (key == r.key) return;
  pool.ordered.erase(pool.ordered.iterator_to(r));
  r.key = key;
  pool.ordered.insert(r);
}

void Impl::advance(PoolRecord& pool, std::uint32_t slot) {
  PeRecord& r = record(slot);
  const PolicyTraits& traits = *pool.traits;
  const std::uint32_t step = degradationStep(traits, r.policyWords());
  if (traits.cls == PolicyClass::Weighted) {
    r.seq = ++pool.seq;
    if (step != 0) {
      r.degradation = saturatingAdd(r.degradation, step);
      setWeight(pool, r, selectionWeight(traits, r.policyWords(), r.degradation));
    }
    return;
  }
  pool.ordered.erase(pool.ordered.iterator_to(r));
  r.seq = ++pool.seq;
  bool renumber = false;
  if (traits.round_based) {
    if (--r.credit == 0) {
      r.credit = roundWeight(traits, r.policyWords());
      ++r.key;  // used up this round: wait for the next one
      renumber = r.key >= kRoundLimit;
    }
  } else {
    r.degradation = saturatingAdd(r.degradation, step);
    r.key = orderedKey(traits, r.policyWords(), r.degradation);
  }
  insertSorted(pool.ordered, r);
  if (renumber) renumberRounds(pool);
}

std::size_t Impl::selectOrdered(PoolRecord& pool, std::size_t n, std::vector<PeRef>& out) {
  const bool round_based = pool.traits->round_based;
  for (auto it = pool.ordered.begin(); it != pool.ordered.end() && out.size() < n; ++it) {
    if (round_based && it->key == kNeverKey) break;  // weight 0: never selected
    out.push_back(PeRef{it->slot});
  }
  return out.size();
}

std::size_t Impl::selectWeighted(PoolRecord& pool, std::size_t n, Random& rng, std::vector<PeRef>& out) {
  n = std::min<std::size_t>(n, pool.eligible);
  const bool uniform = pool.traits->uniform;
  auto chosen = [&](std::uint32_t slot) {
    return std::any_of(out.begin(), out.end(), [&](PeRef ref) { return ref.slot == slot; });
  };
  // Draws are without replacement, each with probability proportional to weight among the entries not
  // yet drawn. First by rejection (draw from everything, redraw a repeat): exact, and nearly always one
  // try. If a few tries all hit drawn entries (skewed weights), the drawn entries' weights are taken out
  // of the tree for the remaining draws and put back at the end. Both give the same distribution.
  bool excluded = false;
  while (out.size() < n) {
    if (!excluded) {
      bool accepted = false;
      for (int attempt = 0; attempt < 4 && !accepted; ++attempt) {
        const std::size_t pos = uniform ? static_cast<std::size_t>(rng.below(pool.members.size()))
                                        : pool.weights.find(rng.below(pool.weights.total()));
        const std::uint32_t slot = pool.members[pos];
        if (!chosen(slot)) {
          out.push_back(PeRef{slot});
          accepted = true;
        }
      }
      if (accepted) continue;
      excluded = true;
      for (PeRef ref : out) {
        const PeRecord& r = record(ref.slot);
        pool.weights.add(r.position, 0 - std::uint64_t{r.key});
      }
    }
    if (pool.weights.total() == 0) break;
    const std::size_t pos = pool.weights.find(rng.below(pool.weights.total()));
    const PeRecord& r = record(pool.members[pos]);
    out.push_back(PeRef{r.slot});
    pool.weights.add(pos, 0 - std::uint64_t{r.key});
  }
  if (excluded)
    for (PeRef ref : out) {
      const PeRecord& r = record(ref.slot);
      pool.weights.add(r.position, r.key);
    }
  return out.size();
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
  PoolRecord& pool = *pools_[p];
  // Digest 9.3 step 1: N = requested (0: the default), capped at max_items and the pool size.
  std::size_t n = count == 0 ? config_.default_items : count;
  n = std::min({n, config_.max_items, static_cast<std::size_t>(pool.size)});
  const std::size_t got = pool.traits->cls == PolicyClass::Ordered ? selectOrdered(pool, n, out)
                                                                    : selectWeighted(pool, n, rng, out);
  const std::size_t m = config_.max_increment > 0 ? config_.max_increment : pool.traits->default_max_increment;
  for (std::size_t i = 0; i < std::min(m, got); ++i) advance(pool, out[i].slot);
  return got;
}

}  // namespace vnfpool::handlespace::detail
