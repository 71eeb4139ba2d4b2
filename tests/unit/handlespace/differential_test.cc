// Differential test: random operation sequences applied to the handlespace and to a deliberately simple
// reference model (vectors, linear scans, the digest's rules written out again). After every operation
// both must agree on contents, selection order, deterministic selections and owner checksums, and the
// incremental checksums must equal a recomputation.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "test_util.h"
#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::handlespace {
namespace {

using wire::PolicyType;
constexpr std::uint64_t kMax = 0xFFFFFFFFu;

// ---- The reference model ------------------------------------------------------------------------------

struct RefPe {
  PeId id = 0;
  PrId owner = 0;
  ConnectionId connection = kNoConnection;
  TimePoint expires = kNever;
  std::vector<std::uint32_t> words;
  std::uint64_t seq = 0;
  std::uint64_t deg = 0;
  std::uint64_t round = 0;
  std::uint64_t credit = 0;
  bool marked = false;
};

struct RefPool {
  std::uint32_t type = 0;
  std::uint64_t seq = 0;
  std::vector<RefPe> pes;
};

bool isWeighted(std::uint32_t type) {
  switch (static_cast<PolicyType>(type)) {
    case PolicyType::Random:
    case PolicyType::WeightedRandom:
    case PolicyType::WeightedRandomDpf:
    case PolicyType::RandomizedLeastUsed:
    case PolicyType::RandomizedPriorityLeastUsed:
    case PolicyType::RandomizedLeastUsedDegradation:
    case PolicyType::RandomizedPriorityLeastUsedDegradation:
      return true;
    default:
      return false;
  }
}

bool isWrr(std::uint32_t type) { return type == static_cast<std::uint32_t>(PolicyType::WeightedRoundRobin); }

std::uint64_t sat(std::uint64_t v) { return std::min(v, kMax); }

std::uint64_t refKey(std::uint32_t type, const RefPe& e) {
  __extension__ using U128 = unsigned __int128;
  const auto& w = e.words;
  auto s = [](U128 v) { return v > kMax ? kMax : static_cast<std::uint64_t>(v); };
  switch (static_cast<PolicyType>(type)) {
    case PolicyType::RoundRobin: return 0;
    case PolicyType::WeightedRoundRobin: return e.round;
    case PolicyType::Priority: return kMax - w[0];
    case PolicyType::LeastUsed: return w[0];
    case PolicyType::LeastUsedDegradation: return sat(w[0] + e.deg);
    case PolicyType::PriorityLeastUsed: return sat(std::uint64_t{w[0]} + w[1]);
    case PolicyType::PriorityLeastUsedDegradation: return sat(std::uint64_t{w[0]} + w[1] + e.deg);
    case PolicyType::LeastUsedDpf: return s(U128{w[0]} + U128{w[2]} * w[1]);
    case PolicyType::LeastUsedDegradationDpf: return s(U128{w[0]} + e.deg + U128{w[3]} * w[2]);
    case PolicyType::PriorityLeastUsedDpf: return s(U128{w[0]} + w[1] + U128{w[3]} * w[2]);
    case PolicyType::PriorityLeastUsedDegradationDpf: return s(U128{w[0]} + w[1] + e.deg + U128{w[3]} * w[2]);
    default: return 0;
  }
}

std::uint64_t refStep(std::uint32_t type, const RefPe& e) {
  switch (static_cast<PolicyType>(type)) {
    case PolicyType::LeastUsedDegradation:
    case PolicyType::LeastUsedDegradationDpf:
    case PolicyType::RandomizedLeastUsedDegradation:
    case PolicyType::PriorityLeastUsedDegradation:
    case PolicyType::PriorityLeastUsedDegradationDpf:
    case PolicyType::RandomizedPriorityLeastUsedDegradation:
      return e.words[1];  // Load Degradation or Load Increment: the second word in all of them
    default:
      return 0;
  }
}

std::uint64_t refWeight(std::uint32_t type, const RefPe& e) {
  const auto& w = e.words;
  auto spare = [](std::uint64_t used) { return used >= kMax ? 1 : kMax - used; };
  switch (static_cast<PolicyType>(type)) {
    case PolicyType::Random: return 1;
    case PolicyType::WeightedRandom: return w[0];
    case PolicyType::WeightedRandomDpf: {
      __extension__ using U128 = unsigned __int128;
      const U128 penalty = (U128{w[0]} * w[2] * w[1] + kMax / 2) / kMax;
      if (penalty > w[0]) return 1;
      return w[0] - static_cast<std::uint64_t>(penalty);
    }
    case PolicyType::RandomizedLeastUsed: return spare(w[0]);
    case PolicyType::RandomizedPriorityLeastUsed: return spare(std::uint64_t{w[0]} + w[1]);
    case PolicyType::RandomizedLeastUsedDegradation: return spare(w[0] + e.deg);
    case PolicyType::RandomizedPriorityLeastUsedDegradation: return spare(std::uint64_t{w[0]} + w[1] + e.deg);
    default: return 0;
  }
}

class Model {
 public:
  std::map<std::string, RefPool> pools;

  RefPe* find(const std::string& pool, PeId id) {
    auto it = pools.find(pool);
    if (it == pools.end()) return nullptr;
    for (auto& e : it->second.pes)
      if (e.id == id) return &e;
    return nullptr;
  }

  static std::uint64_t currentRound(const RefPool& pool, PeId except) {
    std::uint64_t best = kMax * 4;
    for (const auto& e : pool.pes)
      if (e.id != except && e.words[0] > 0) best = std::min(best, e.round);
    return best == kMax * 4 ? 0 : best;
  }

  /// Expected outcome of a registration; applies it when it succeeds.
  std::optional<wire::Cause> registerPe(const std::string& pool_name, const wire::PoolElement& pe,
                                        ConnectionId connection, TimePoint expires) {
    const auto* info = wire::policyInfo(pe.policy.type);
    auto it = pools.find(pool_name);
    if (it != pools.end() && it->second.type != pe.policy.type) return wire::Cause::PolicyInconsistent;
    RefPool& pool = pools[pool_name];
    pool.type = pe.policy.type;
    std::vector<std::uint32_t> words(pe.policy.words.begin(), pe.policy.words.begin() + info->fields.size());
    RefPe* e = find(pool_name, pe.id);
    if (e == nullptr) {
      RefPe fresh;
      fresh.id = pe.id;
      fresh.words = words;
      fresh.seq = ++pool.seq;
      if (isWrr(pool.type)) {
        fresh.credit = words[0];
        fresh.round = currentRound(pool, pe.id);
      }
      pool.pes.push_back(fresh);
      e = &pool.pes.back();
    } else {
      if (isWrr(pool.type) && words[0] != e->words[0]) {
        e->credit = words[0];
        if (e->words[0] == 0) e->round = currentRound(pool, pe.id);
      }
      e->words = words;
    }
    e->deg = 0;
    e->marked = false;
    e->owner = pe.home_pr;
    e->connection = connection;
    e->expires = expires;
    return std::nullopt;
  }

  void remove(const std::string& pool, PeId id) {
    auto& pes = pools[pool].pes;
    pes.erase(std::remove_if(pes.begin(), pes.end(), [&](const RefPe& e) { return e.id == id; }), pes.end());
    if (pes.empty()) pools.erase(pool);
  }

  /// Ordered pools: the selectable entries in selection order.
  std::vector<PeId> order(const std::string& pool_name) {
    RefPool& pool = pools.at(pool_name);
    std::vector<const RefPe*> list;
    for (const auto& e : pool.pes)
      if (!isWrr(pool.type) || e.words[0] > 0) list.push_back(&e);
    std::sort(list.begin(), list.end(), [&](const RefPe* a, const RefPe* b) {
      const auto ka = refKey(pool.type, *a), kb = refKey(pool.type, *b);
      return ka != kb ? ka < kb : a->seq < b->seq;
    });
    std::vector<PeId> out;
    for (const auto* e : list) out.push_back(e->id);
    return out;
  }

  void advance(const std::string& pool_name, PeId id) {
    RefPool& pool = pools.at(pool_name);
    RefPe* e = find(pool_name, id);
    e->seq = ++pool.seq;
    if (isWrr(pool.type)) {
      if (--e->credit == 0) {
        ++e->round;
        e->credit = e->words[0];
      }
    } else {
      e->deg = sat(e->deg + refStep(pool.type, *e));
    }
  }

  wire::OwnerChecksum checksum(PrId owner) const {
    wire::OwnerChecksum sum;
    for (const auto& [name, pool] : pools)
      for (const auto& e : pool.pes)
        if (e.owner == owner) sum.add(name, e.id);
    return sum;
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& [name, pool] : pools) n += pool.pes.size();
    return n;
  }
};

// ---- The driver ---------------------------------------------------------------------------------------

class Differential {
 public:
  /// `pools` pool names, PE IDs 1..ids; the full comparison runs after every `verify_every` operations.
  Differential(std::uint64_t seed, std::uint64_t pools = 6, std::uint64_t ids = 40, int verify_every = 1)
      : gen_(seed), rng_(seed * 7 + 1), pools_(pools), ids_(ids), verify_every_(verify_every) {}

  void run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      const auto dice = gen_.below(100);
      if (dice < 50) registration();
      else if (dice < 60) deregistration();
      else if (dice < 82) selection();
      else if (dice < 85) connectionLoss();
      else if (dice < 88) takeover();
      else if (dice < 89) ownerRemoval();
      else if (dice < 92) expiry();
      else if (dice < 93) resync();
      else if (dice < 96) inconsistent();
      else badHandle();
      if (step_ % verify_every_ == 0 || step_ + 1 == steps) verify();
      largest_ = std::max(largest_, hs_.size());
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << "first failure at step " << step_;
        return;
      }
    }
  }

 private:
  std::string poolName() { return "pool-" + std::to_string(gen_.below(pools_)); }
  PeId peId() { return 1 + gen_.below(ids_); }
  PrId ownerId() { return 1 + gen_.below(4); }

  std::uint32_t value(wire::PolicyField field) {
    using F = wire::PolicyField;
    switch (field) {
      case F::Weight: return static_cast<std::uint32_t>(gen_.below(5));
      case F::Priority: return static_cast<std::uint32_t>(gen_.below(4));
      case F::Distance: {
        static constexpr std::uint32_t kDist[] = {0, 1, 50};
        return kDist[gen_.below(3)];
      }
      case F::LoadDpf:
      case F::WeightDpf: {
        static constexpr std::uint32_t kDpf[] = {0, 1, 1000, 0xFFFFFFFFu};
        return kDpf[gen_.below(4)];
      }
      default: {
        static constexpr std::uint32_t kLoad[] = {0, 1, 2, 100, 1000, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF};
        return kLoad[gen_.below(8)];
      }
    }
  }

  wire::Policy policyFor(std::uint32_t type) {
    const auto* info = wire::policyInfo(type);
    wire::Policy p = wire::Policy::make(info->type);
    for (std::size_t i = 0; i < info->fields.size(); ++i) p.words[i] = value(info->fields[i]);
    return p;
  }

  std::uint32_t randomType() {
    const auto& all = wire::allPolicies();
    return static_cast<std::uint32_t>(all[gen_.below(all.size())].type);
  }

  void registration() {
    const std::string pool = poolName();
    auto it = model_.pools.find(pool);
    const std::uint32_t type = it != model_.pools.end() ? it->second.type : randomType();
    auto e = test::pe(peId(), policyFor(type), ownerId());
    // With large pools, connections and deadlines are spread so that bulk removals take a few entries.
    const ConnectionId connection = gen_.below(ids_ > 100 ? 2000 : 6);
    const TimePoint expires = gen_.below(3) == 0 ? kNever : now_ + std::chrono::seconds(1 + gen_.below(ids_ > 100 ? 100000 : 100));
    auto got = hs_.registerPe(pool, e, EntryContext{connection, expires}, now_);
    auto expected = model_.registerPe(pool, e, connection, expires);
    ASSERT_EQ(got.ok(), !expected.has_value());
  }

  void inconsistent() {
    if (model_.pools.empty()) return;
    auto it = std::next(model_.pools.begin(), static_cast<long>(gen_.below(model_.pools.size())));
    std::uint32_t type = randomType();
    if (type == it->second.type) return;
    auto got = hs_.registerPe(it->first, test::pe(peId(), policyFor(type), ownerId()), {}, now_);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().cause, wire::Cause::PolicyInconsistent);
  }

  void badHandle() {
    auto got = hs_.registerPe(std::string(33 + gen_.below(40), 'h'), test::pe(peId(), policyFor(randomType())), {}, now_);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().cause, wire::Cause::InvalidValues);
  }

  void deregistration() {
    const std::string pool = poolName();
    const PeId id = peId();
    const bool present = model_.find(pool, id) != nullptr;
    EXPECT_EQ(hs_.deregisterPe(pool, id), present);
    if (present) model_.remove(pool, id);
  }

  void selection() {
    const std::string pool = poolName();
    const std::size_t count = gen_.below(7);
    std::vector<PeRef> out;
    auto got = hs_.select(pool, count, rng_, out);
    auto it = model_.pools.find(pool);
    if (it == model_.pools.end()) {
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.error().cause, wire::Cause::UnknownPoolHandle);
      return;
    }
    ASSERT_TRUE(got.ok());
    const std::size_t n = std::min<std::size_t>(count == 0 ? 3 : count, it->second.pes.size());
    const std::uint32_t type = it->second.type;
    const auto picked = test::ids(hs_, out);
    std::size_t advancing = 1;
    if (isWeighted(type)) {
      // Random: the model cannot know which, but it knows what is allowed.
      std::size_t eligible = 0;
      for (const auto& e : it->second.pes) eligible += refWeight(type, e) > 0 ? 1u : 0u;
      EXPECT_EQ(picked.size(), std::min(n, eligible));
      EXPECT_EQ(std::set<PeId>(picked.begin(), picked.end()).size(), picked.size());
      for (PeId id : picked) {
        const RefPe* e = model_.find(pool, id);
        ASSERT_NE(e, nullptr);
        EXPECT_GT(refWeight(type, *e), 0u);
      }
      const auto t = static_cast<PolicyType>(type);
      if (t == PolicyType::Random || t == PolicyType::WeightedRandom || t == PolicyType::WeightedRandomDpf)
        advancing = 0;
    } else {
      auto order = model_.order(pool);
      order.resize(std::min(order.size(), n));
      ASSERT_EQ(picked, order) << "pool type " << type;
    }
    for (std::size_t i = 0; i < std::min(advancing, picked.size()); ++i) model_.advance(pool, picked[i]);
  }

  static std::set<std::pair<std::string, PeId>> keys(const std::vector<RemovedPe>& removed) {
    std::set<std::pair<std::string, PeId>> out;
    for (const auto& r : removed) out.emplace(r.pool, r.pe);
    return out;
  }

  template <typename Pred>
  std::set<std::pair<std::string, PeId>> removeWhere(Pred pred) {
    std::set<std::pair<std::string, PeId>> out;
    for (const auto& [name, pool] : model_.pools)
      for (const auto& e : pool.pes)
        if (pred(e)) out.emplace(name, e.id);
    for (const auto& [name, id] : out) model_.remove(name, id);
    return out;
  }

  void connectionLoss() {
    const ConnectionId c = 1 + gen_.below(ids_ > 100 ? 1999 : 5);
    const auto got = keys(hs_.removeConnection(c));
    EXPECT_EQ(got, removeWhere([&](const RefPe& e) { return e.connection == c; }));
  }

  void ownerRemoval() {
    if (ids_ > 100 && gen_.below(10) != 0) return;  // keep large pools large
    const PrId o = ownerId();
    EXPECT_EQ(keys(hs_.removeOwner(o)), removeWhere([&](const RefPe& e) { return e.owner == o; }));
  }

  void takeover() {
    const PrId from = ownerId(), to = ownerId();
    if (gen_.below(2) == 0) {
      std::size_t expected = 0;
      for (auto& [name, pool] : model_.pools)
        for (auto& e : pool.pes)
          if (e.owner == from && from != to) {
            e.owner = to;
            ++expected;
          }
      EXPECT_EQ(hs_.rehomeOwner(from, to), expected);
    } else {
      const std::string pool = poolName();
      const PeId id = peId();
      RefPe* e = model_.find(pool, id);
      EXPECT_EQ(hs_.rehome(pool, id, to), e != nullptr);
      if (e) e->owner = to;
    }
  }

  void resync() {
    // Digest 7.10: mark an owner's entries, let some be re-added, then purge the rest.
    if (ids_ > 100 && gen_.below(10) != 0) return;  // keep large pools large
    const PrId o = ownerId();
    std::size_t expected = 0;
    for (auto& [name, pool] : model_.pools)
      for (auto& e : pool.pes)
        if (e.owner == o) {
          e.marked = true;
          ++expected;
        }
    EXPECT_EQ(hs_.markOwner(o), expected);
    for (int i = 0; i < 8; ++i) registration();
    EXPECT_EQ(keys(hs_.removeMarked(o)), removeWhere([&](const RefPe& e) { return e.owner == o && e.marked; }));
  }

  void expiry() {
    now_ += std::chrono::seconds(gen_.below(30));
    const auto got = hs_.expire(now_);
    // Deadline order: each removed entry's deadline is not before the previous one's.
    TimePoint last{};
    for (const auto& r : got) {
      const RefPe* e = model_.find(r.pool, r.pe);
      ASSERT_NE(e, nullptr);
      EXPECT_LE(last, e->expires);
      last = e->expires;
    }
    EXPECT_EQ(keys(got), removeWhere([&](const RefPe& e) { return e.expires <= now_; }));
  }

  void verify() {
    ASSERT_EQ(hs_.size(), model_.size());
    ASSERT_EQ(hs_.poolCount(), model_.pools.size());
    std::set<PrId> owners;
    for (auto& [name, pool] : model_.pools) {
      ASSERT_EQ(hs_.poolSize(name), pool.pes.size()) << name;
      ASSERT_EQ(hs_.poolPolicy(name), pool.type);
      for (const auto& e : pool.pes) {
        auto ref = hs_.find(name, e.id);
        ASSERT_TRUE(ref) << name << " " << e.id;
        auto v = hs_.view(*ref);
        EXPECT_EQ(v.homePr(), e.owner);
        EXPECT_EQ(v.connection(), e.connection);
        EXPECT_EQ(v.expires(), e.expires);
        EXPECT_EQ(v.degradation(), e.deg);
        auto p = v.policy();
        EXPECT_TRUE(std::equal(e.words.begin(), e.words.end(), p.words.begin()));
        owners.insert(e.owner);
        // The cached resolution parameter is the PE as registered (test::pe with these values), never an
        // earlier state of the entry or of its slot. The dialect alternates so both caches are exercised.
        const auto dialect = (step_ + static_cast<int>(e.id)) % 2 == 0 ? wire::Dialect::Ng : wire::Dialect::Classic;
        const auto expected = wire::encodePoolElementParameter(test::pe(e.id, p, e.owner), dialect);
        ASSERT_TRUE(expected.ok());
        EXPECT_TRUE(std::ranges::equal(hs_.resolutionParameter(*ref, dialect), expected.value())) << name << " " << e.id;
      }
      if (!isWeighted(pool.type)) {
        // The whole selection order, not just the first picks.
        auto members = test::ids(hs_, hs_.poolMembers(name));
        auto order = model_.order(name);
        members.resize(order.size());  // WRR weight-0 entries trail and are never selected
        ASSERT_EQ(members, order) << name << " type " << pool.type;
      }
    }
    for (PrId o = 1; o <= 4; ++o) {
      const auto expected = model_.checksum(o);
      EXPECT_EQ(hs_.ownerChecksum(o), expected) << "owner " << o;
      EXPECT_EQ(hs_.recomputeOwnerChecksum(o), expected) << "owner " << o;
    }
    EXPECT_EQ(hs_.owners(), std::vector<PrId>(owners.begin(), owners.end()));
    if (step_ % (25 * verify_every_) == 0) {
      std::set<std::pair<std::string, PeId>> paged;
      TableCursor cursor;
      const std::size_t page_size = 1 + gen_.below(9);
      for (;;) {
        auto page = hs_.handleTable(std::nullopt, cursor, page_size);
        for (PeRef r : page.entries) EXPECT_TRUE(paged.emplace(std::string(hs_.view(r).pool()), hs_.view(r).id()).second);
        if (!page.next) break;
        cursor = *page.next;
      }
      EXPECT_EQ(paged.size(), model_.size());
    }
  }

  Random gen_;  // drives the operations
  Random rng_;  // handed to the handlespace for random policies
  Handlespace hs_;
  Model model_;
  TimePoint now_{};
  int step_ = 0;
  std::uint64_t pools_;
  std::uint64_t ids_;
  int verify_every_;

 public:
  std::size_t largest_ = 0;  // most PEs at once: shows what sizes the run reached
};

class DifferentialTest : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(DifferentialTest, HandlespaceAgreesWithReferenceModel) { Differential(GetParam()).run(3000); }

INSTANTIATE_TEST_SUITE_P(Seeds, DifferentialTest, ::testing::Range<std::uint64_t>(1, 13));

// Two pools of up to 2500 PEs: the large selection structures (several B+ tree levels, weight trees
// of several levels), their growth, splits, emptied nodes and the way back to the inline form.
class LargePoolDifferentialTest : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(LargePoolDifferentialTest, HandlespaceAgreesWithReferenceModel) {
  Differential run(GetParam(), 2, 2500, 97);
  run.run(12000);
  EXPECT_GT(run.largest_, 1000u);  // pools of hundreds: three tree levels and more
}

INSTANTIATE_TEST_SUITE_P(Seeds, LargePoolDifferentialTest, ::testing::Range<std::uint64_t>(100, 104));

}  // namespace
}  // namespace vnfpool::handlespace
