// Selection semantics of every policy (digest section 9), with fixed seeds for the random ones.
#include "vnfpool/handlespace/policy.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "test_util.h"
#include "vnfpool/handlespace/handlespace.h"

namespace vnfpool::handlespace {
namespace {

using test::ids;
using test::load;
using test::pe;
using test::policy;
using test::resolve;
using wire::PolicyType;
using V = std::vector<PeId>;

constexpr std::uint32_t kMax = 0xFFFFFFFFu;

class PolicyTest : public ::testing::Test {
 protected:
  void add(PeId id, wire::Policy p, std::string_view pool = "pool") {
    auto r = hs_.registerPe(pool, pe(id, p), {}, TimePoint{});
    ASSERT_TRUE(r.ok()) << r.error().detail;
  }
  V pick(std::size_t n) { return resolve(hs_, "pool", n, rng_); }
  /// Fractions of single-item selections over `draws` draws.
  std::map<PeId, double> shares(int draws) {
    std::map<PeId, double> count;
    for (int i = 0; i < draws; ++i) {
      auto got = pick(1);
      EXPECT_EQ(got.size(), 1u);
      if (!got.empty()) count[got[0]] += 1.0 / draws;
    }
    return count;
  }

  Handlespace hs_;
  Random rng_{1234};
};

TEST(PolicyTraitsTest, EveryWirePolicyIsSelectable) {
  for (const auto& info : wire::allPolicies()) {
    const auto* t = policyTraits(static_cast<std::uint32_t>(info.type));
    ASSERT_NE(t, nullptr) << info.name;
    EXPECT_EQ(t->word_count, info.fields.size()) << info.name;
  }
  EXPECT_EQ(policyTraits(0x12345678), nullptr);
  EXPECT_EQ(policyTraits(static_cast<std::uint32_t>(PolicyType::WeightedRandom))->cls, PolicyClass::Weighted);
  EXPECT_EQ(policyTraits(static_cast<std::uint32_t>(PolicyType::WeightedRandom))->default_max_increment, 0u);
  EXPECT_EQ(policyTraits(static_cast<std::uint32_t>(PolicyType::RandomizedLeastUsed))->default_max_increment, 1u);
  EXPECT_EQ(policyTraits(static_cast<std::uint32_t>(PolicyType::LeastUsed))->cls, PolicyClass::Ordered);
}

TEST(PolicyKeysTest, OrderedKeysFollowTheDigestTable) {
  auto key = [](PolicyType t, std::vector<std::uint32_t> w, std::uint32_t deg = 0) {
    return orderedKey(*policyTraits(static_cast<std::uint32_t>(t)), w, deg);
  };
  EXPECT_EQ(key(PolicyType::RoundRobin, {}), 0u);
  EXPECT_EQ(key(PolicyType::Priority, {7}), kMax - 7);
  EXPECT_EQ(key(PolicyType::LeastUsed, {123}), 123u);
  EXPECT_EQ(key(PolicyType::LeastUsedDegradation, {100, 50}, 30), 130u);
  EXPECT_EQ(key(PolicyType::PriorityLeastUsed, {100, 50}), 150u);
  EXPECT_EQ(key(PolicyType::PriorityLeastUsedDegradation, {100, 50}, 20), 170u);
  EXPECT_EQ(key(PolicyType::LeastUsedDpf, {100, 3, 10}), 130u);               // L + dist * LDPF
  EXPECT_EQ(key(PolicyType::LeastUsedDegradationDpf, {100, 9, 3, 10}, 5), 135u);
  EXPECT_EQ(key(PolicyType::PriorityLeastUsedDpf, {100, 7, 3, 10}), 137u);
  EXPECT_EQ(key(PolicyType::PriorityLeastUsedDegradationDpf, {100, 7, 3, 10}, 1), 138u);
  // Every sum saturates at 100 %.
  EXPECT_EQ(key(PolicyType::PriorityLeastUsed, {kMax - 10, 100}), kMax);
  EXPECT_EQ(key(PolicyType::LeastUsedDpf, {5, kMax, kMax}), kMax);
  EXPECT_EQ(key(PolicyType::LeastUsedDegradation, {kMax, kMax}, kMax), kMax);
}

TEST(PolicyKeysTest, WeightsFollowTheDigestTable) {
  auto weight = [](PolicyType t, std::vector<std::uint32_t> w, std::uint32_t deg = 0) {
    return selectionWeight(*policyTraits(static_cast<std::uint32_t>(t)), w, deg);
  };
  EXPECT_EQ(weight(PolicyType::Random, {}), 1u);
  EXPECT_EQ(weight(PolicyType::WeightedRandom, {42}), 42u);
  EXPECT_EQ(weight(PolicyType::WeightedRandom, {0}), 0u);
  // WRAND-DPF: W - round(W * dist * WDPF / MAX). 0.1 % per ms over 100 ms takes 10 % off.
  EXPECT_EQ(weight(PolicyType::WeightedRandomDpf, {1000, kMax / 1000, 100}), 900u);
  EXPECT_EQ(weight(PolicyType::WeightedRandomDpf, {1000, kMax, 5}), 1u);       // negative: 1
  EXPECT_EQ(weight(PolicyType::WeightedRandomDpf, {1000, kMax, 1}), 0u);       // exactly 0 stays 0
  EXPECT_EQ(weight(PolicyType::WeightedRandomDpf, {0, 0, 0}), 0u);
  EXPECT_EQ(weight(PolicyType::RandomizedLeastUsed, {0}), kMax);
  EXPECT_EQ(weight(PolicyType::RandomizedLeastUsed, {kMax}), 1u);               // never 0
  EXPECT_EQ(weight(PolicyType::RandomizedPriorityLeastUsed, {100, 50}), kMax - 150);
  EXPECT_EQ(weight(PolicyType::RandomizedPriorityLeastUsed, {kMax - 1, 50}), 1u);
  EXPECT_EQ(weight(PolicyType::RandomizedLeastUsedDegradation, {100, 7}, 50), kMax - 150);
  EXPECT_EQ(weight(PolicyType::RandomizedPriorityLeastUsedDegradation, {100, 7}, 50), kMax - 157);
}

TEST_F(PolicyTest, RoundRobinAdvancesOneEntryPerResolution) {
  for (PeId id = 1; id <= 4; ++id) add(id, policy(PolicyType::RoundRobin));
  // Digest 9.3: N = 3, MaxIncrement 1 gives [A,B,C], [B,C,D], [C,D,A], ...
  EXPECT_EQ(pick(3), (V{1, 2, 3}));
  EXPECT_EQ(pick(3), (V{2, 3, 4}));
  EXPECT_EQ(pick(3), (V{3, 4, 1}));
  EXPECT_EQ(pick(3), (V{4, 1, 2}));
  EXPECT_EQ(pick(3), (V{1, 2, 3}));
}

TEST_F(PolicyTest, NewEntryJoinsAtTheEndOfTheCurrentOrder) {
  for (PeId id = 1; id <= 3; ++id) add(id, policy(PolicyType::RoundRobin));
  EXPECT_EQ(pick(1), (V{1}));
  add(4, policy(PolicyType::RoundRobin));
  EXPECT_EQ(pick(10), (V{2, 3, 1, 4}));
}

TEST(PolicyConfigTest, ConfiguredMaxIncrementAdvancesThatMany) {
  Config config;
  config.max_increment = 3;
  Handlespace hs(config);
  Random rng(1);
  for (PeId id = 1; id <= 4; ++id) ASSERT_TRUE(hs.registerPe("p", pe(id, policy(PolicyType::RoundRobin)), {}, {}).ok());
  EXPECT_EQ(resolve(hs, "p", 3, rng), (V{1, 2, 3}));
  EXPECT_EQ(resolve(hs, "p", 3, rng), (V{4, 1, 2}));
  EXPECT_EQ(resolve(hs, "p", 3, rng), (V{3, 4, 1}));
}

TEST_F(PolicyTest, WeightedRoundRobinGivesWeightSelectionsPerRound) {
  add(1, policy(PolicyType::WeightedRoundRobin, {3}));
  add(2, policy(PolicyType::WeightedRoundRobin, {1}));
  add(3, policy(PolicyType::WeightedRoundRobin, {0}));  // weight 0: never selected
  V first;
  for (int i = 0; i < 8; ++i) first.push_back(pick(1).at(0));
  EXPECT_EQ(first, (V{1, 2, 1, 1, 2, 1, 1, 1}));
  std::map<PeId, int> count;
  for (int i = 0; i < 400; ++i) ++count[pick(1).at(0)];
  EXPECT_EQ(count[1], 300);
  EXPECT_EQ(count[2], 100);
  EXPECT_EQ(count[3], 0);
  EXPECT_EQ(pick(5), (V{2, 1}));  // never the weight-0 entry, even when asked for more
}

TEST_F(PolicyTest, WeightedRoundRobinWithOnlyZeroWeightsReturnsNothing) {
  add(1, policy(PolicyType::WeightedRoundRobin, {0}));
  std::vector<PeRef> out;
  auto n = hs_.select("pool", 3, rng_, out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 0u);
  // A weight update brings it into the rotation.
  add(1, policy(PolicyType::WeightedRoundRobin, {2}));
  EXPECT_EQ(pick(1), (V{1}));
}

TEST_F(PolicyTest, PriorityPrefersHighestThenRoundRobin) {
  add(1, policy(PolicyType::Priority, {1}));
  add(2, policy(PolicyType::Priority, {5}));
  add(3, policy(PolicyType::Priority, {5}));
  add(4, policy(PolicyType::Priority, {3}));
  EXPECT_EQ(pick(4), (V{2, 3, 4, 1}));
  EXPECT_EQ(pick(2), (V{3, 2}));
  EXPECT_EQ(pick(2), (V{2, 3}));
}

TEST_F(PolicyTest, LeastUsedPicksLowestLoadWithRoundRobinTieBreak) {
  add(1, policy(PolicyType::LeastUsed, {load(50)}));
  add(2, policy(PolicyType::LeastUsed, {load(10)}));
  add(3, policy(PolicyType::LeastUsed, {load(30)}));
  add(4, policy(PolicyType::LeastUsed, {load(10)}));
  EXPECT_EQ(pick(4), (V{2, 4, 3, 1}));
  EXPECT_EQ(pick(1), (V{4}));  // 2 was advanced behind its equal
  EXPECT_EQ(pick(1), (V{2}));
  // A load update (re-registration) re-sorts in place.
  add(1, policy(PolicyType::LeastUsed, {0}));
  EXPECT_EQ(pick(2), (V{1, 4}));
  EXPECT_EQ(hs_.poolSize("pool"), 4u);
}

TEST_F(PolicyTest, LeastUsedWithDegradationAddsDegradationPerSelection) {
  add(1, policy(PolicyType::LeastUsedDegradation, {100, 50}));
  add(2, policy(PolicyType::LeastUsedDegradation, {200, 0}));
  // 1: 100 -> 150 -> 200 (ties with 2, which is older) ...
  V seq;
  for (int i = 0; i < 5; ++i) seq.push_back(pick(1).at(0));
  EXPECT_EQ(seq, (V{1, 1, 2, 1, 2}));
  EXPECT_EQ(hs_.view(*hs_.find("pool", 1)).degradation(), 150u);
  // Re-registration clears the accumulated degradation (digest 9.2).
  add(1, policy(PolicyType::LeastUsedDegradation, {100, 50}));
  EXPECT_EQ(hs_.view(*hs_.find("pool", 1)).degradation(), 0u);
  EXPECT_EQ(pick(1), (V{1}));
}

TEST_F(PolicyTest, PriorityLeastUsedOrdersByLoadPlusIncrement) {
  add(1, policy(PolicyType::PriorityLeastUsed, {100, 300}));
  add(2, policy(PolicyType::PriorityLeastUsed, {200, 100}));
  EXPECT_EQ(pick(1), (V{2}));
  EXPECT_EQ(pick(1), (V{2}));  // no degradation: stays first
  EXPECT_EQ(pick(2), (V{2, 1}));
}

TEST_F(PolicyTest, PriorityLeastUsedWithDegradationStepsByIncrement) {
  add(1, policy(PolicyType::PriorityLeastUsedDegradation, {100, 100}));
  add(2, policy(PolicyType::PriorityLeastUsedDegradation, {250, 50}));
  V seq;
  for (int i = 0; i < 4; ++i) seq.push_back(pick(1).at(0));
  EXPECT_EQ(seq, (V{1, 2, 1, 2}));
}

TEST_F(PolicyTest, LeastUsedDpfAddsTheDistancePenalty) {
  add(1, policy(PolicyType::LeastUsedDpf, {1000, 10, 100}));  // 1000 + 100 ms * 10 = 2000
  add(2, policy(PolicyType::LeastUsedDpf, {1500, 10, 0}));    // 1500
  EXPECT_EQ(pick(2), (V{2, 1}));
}

TEST_F(PolicyTest, LeastUsedDegradationDpfCombinesBoth) {
  add(1, policy(PolicyType::LeastUsedDegradationDpf, {100, 100, 1, 50}));  // 150, +100 per selection
  add(2, policy(PolicyType::LeastUsedDegradationDpf, {200, 0, 0, 0}));     // 200
  V seq;
  for (int i = 0; i < 3; ++i) seq.push_back(pick(1).at(0));
  EXPECT_EQ(seq, (V{1, 2, 2}));
}

TEST_F(PolicyTest, PriorityLeastUsedDpfVariants) {
  add(1, policy(PolicyType::PriorityLeastUsedDpf, {100, 100, 2, 100}));  // 400
  add(2, policy(PolicyType::PriorityLeastUsedDpf, {300, 0, 0, 0}));      // 300
  EXPECT_EQ(pick(2), (V{2, 1}));
  add(1, policy(PolicyType::PriorityLeastUsedDegradationDpf, {1, 1, 1, 1}), "other");
  add(2, policy(PolicyType::PriorityLeastUsedDegradationDpf, {2, 1, 0, 0}), "other");  // 3 vs 3: older first
  EXPECT_EQ(resolve(hs_, "other", 1, rng_), (V{1}));  // 1 -> 3 + 1 = 4
  EXPECT_EQ(resolve(hs_, "other", 1, rng_), (V{2}));
}

TEST_F(PolicyTest, RandomIsUniform) {
  for (PeId id = 1; id <= 4; ++id) add(id, policy(PolicyType::Random));
  for (auto [id, share] : shares(100000)) EXPECT_NEAR(share, 0.25, 0.01) << id;
}

TEST_F(PolicyTest, WeightedRandomIsProportionalToWeight) {
  add(1, policy(PolicyType::WeightedRandom, {1}));
  add(2, policy(PolicyType::WeightedRandom, {2}));
  add(3, policy(PolicyType::WeightedRandom, {7}));
  add(4, policy(PolicyType::WeightedRandom, {0}));  // never
  auto s = shares(100000);
  EXPECT_NEAR(s[1], 0.1, 0.01);
  EXPECT_NEAR(s[2], 0.2, 0.01);
  EXPECT_NEAR(s[3], 0.7, 0.01);
  EXPECT_EQ(s.count(4), 0u);
  EXPECT_EQ(pick(10).size(), 3u);  // N > eligible: every eligible PE once
}

TEST_F(PolicyTest, WeightedRandomInALargePoolThroughGrowthAndShrinking) {
  // Thousands of entries: several levels of the weight tree, regrown and shrunk as the pool changes.
  for (PeId id = 1; id <= 3000; ++id) add(id, policy(PolicyType::WeightedRandom, {id <= 2000 ? 1u : 4u}));
  double heavy = 0;
  for (int i = 0; i < 30000; ++i) heavy += pick(1).at(0) > 2000 ? 1.0 / 30000 : 0;
  EXPECT_NEAR(heavy, 4000.0 / 6000, 0.015);
  for (PeId id = 1; id <= 2900; ++id) {
    if (id % 10 != 0) {
      ASSERT_TRUE(hs_.deregisterPe("pool", id));
    }
  }
  // Left: ids 10, 20, ..., 2000 (weight 1, 200 of them), 2010 ... 2900 (weight 4, 90), 2901..3000 (weight 4).
  heavy = 0;
  std::set<PeId> seen;
  for (int i = 0; i < 30000; ++i) {
    const PeId id = pick(1).at(0);
    ASSERT_TRUE(hs_.contains("pool", id));
    seen.insert(id);
    heavy += id > 2000 ? 1.0 / 30000 : 0;
  }
  EXPECT_NEAR(heavy, 760.0 / 960, 0.015);
  EXPECT_GT(seen.size(), 380u);  // nearly every remaining entry gets drawn
}

TEST_F(PolicyTest, WeightedRandomWithAllZeroWeightsReturnsNothing) {
  add(1, policy(PolicyType::WeightedRandom, {0}));
  add(2, policy(PolicyType::WeightedRandom, {0}));
  EXPECT_TRUE(pick(3).empty());
  EXPECT_TRUE(hs_.contains("pool", 1));
}

TEST_F(PolicyTest, WeightedRandomDrawsWithoutReplacementFromSkewedWeights) {
  add(1, policy(PolicyType::WeightedRandom, {1000000000}));
  add(2, policy(PolicyType::WeightedRandom, {1}));
  add(3, policy(PolicyType::WeightedRandom, {1}));
  add(4, policy(PolicyType::WeightedRandom, {2}));
  std::map<PeId, double> second;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) {
    auto got = pick(2);
    ASSERT_EQ(got.size(), 2u);
    ASSERT_NE(got[0], got[1]);
    // The heavy one is nearly always first; the second is then drawn in proportion among the rest.
    if (got[0] == 1) second[got[1]] += 1.0 / draws;
  }
  EXPECT_NEAR(second[2], 0.25, 0.015);
  EXPECT_NEAR(second[3], 0.25, 0.015);
  EXPECT_NEAR(second[4], 0.50, 0.015);
  auto all = pick(4);
  EXPECT_EQ(std::set<PeId>(all.begin(), all.end()), (std::set<PeId>{1, 2, 3, 4}));
}

TEST_F(PolicyTest, WeightedRandomDpfUsesPenalisedWeights) {
  add(1, policy(PolicyType::WeightedRandomDpf, {1000, 0, 0}));
  add(2, policy(PolicyType::WeightedRandomDpf, {2000, kMax / 1000, 500}));  // 2000 - 50 % = 1000
  auto s = shares(60000);
  EXPECT_NEAR(s[1], 0.5, 0.015);
  EXPECT_NEAR(s[2], 0.5, 0.015);
}

TEST_F(PolicyTest, RandomizedLeastUsedIsProportionalToSpareCapacity) {
  add(1, policy(PolicyType::RandomizedLeastUsed, {0}));
  add(2, policy(PolicyType::RandomizedLeastUsed, {load(50)}));
  add(3, policy(PolicyType::RandomizedLeastUsed, {load(75)}));
  auto s = shares(100000);
  EXPECT_NEAR(s[1], 4.0 / 7, 0.01);
  EXPECT_NEAR(s[2], 2.0 / 7, 0.01);
  EXPECT_NEAR(s[3], 1.0 / 7, 0.01);
}

TEST_F(PolicyTest, RandomizedPriorityLeastUsedCountsTheIncrement) {
  add(1, policy(PolicyType::RandomizedPriorityLeastUsed, {0, load(50)}));
  add(2, policy(PolicyType::RandomizedPriorityLeastUsed, {load(25), load(25)}));
  add(3, policy(PolicyType::RandomizedPriorityLeastUsed, {0, 0}));
  auto s = shares(100000);
  EXPECT_NEAR(s[1], 0.25, 0.01);
  EXPECT_NEAR(s[2], 0.25, 0.01);
  EXPECT_NEAR(s[3], 0.50, 0.01);
}

TEST_F(PolicyTest, RandomizedDegradationPoliciesAccumulateOnSelection) {
  // Deliberate difference from RSPLIB (whose RLUD/RPLUD never degrade): a selection degrades the entry.
  add(1, policy(PolicyType::RandomizedLeastUsedDegradation, {0, 1000}));
  add(1, policy(PolicyType::RandomizedPriorityLeastUsedDegradation, {0, 300}), "other");
  pick(1);
  pick(1);
  EXPECT_EQ(hs_.view(*hs_.find("pool", 1)).degradation(), 2000u);
  resolve(hs_, "other", 1, rng_);
  EXPECT_EQ(hs_.view(*hs_.find("other", 1)).degradation(), 300u);
  add(1, policy(PolicyType::RandomizedLeastUsedDegradation, {0, 1000}));
  EXPECT_EQ(hs_.view(*hs_.find("pool", 1)).degradation(), 0u);
  // Degradation shifts the odds: two equal PEs, one heavily degraded.
  add(2, policy(PolicyType::RandomizedLeastUsedDegradation, {0, 0}));
  add(1, policy(PolicyType::RandomizedLeastUsedDegradation, {0, load(25)}));
  for (int i = 0; i < 3; ++i) {  // selections of 1 degrade it by 25 % each, to 75 %
    std::vector<PeRef> out;
    ASSERT_TRUE(hs_.select("pool", 1, rng_, out).ok());
    if (hs_.view(out[0]).id() != 1) --i;
  }
  EXPECT_EQ(hs_.view(*hs_.find("pool", 1)).degradation(), 3 * load(25));
}

TEST_F(PolicyTest, ResolutionCountRules) {
  for (PeId id = 1; id <= 5; ++id) add(id, policy(PolicyType::RoundRobin));
  EXPECT_EQ(pick(0).size(), 3u);    // 0: the default (MaxHResItems)
  EXPECT_EQ(pick(100).size(), 5u);  // N > pool size: the whole pool
  auto all = pick(100);
  EXPECT_EQ(std::set<PeId>(all.begin(), all.end()).size(), 5u);  // never duplicates
  Config config;
  config.max_items = 2;
  Handlespace small(config);
  for (PeId id = 1; id <= 5; ++id) ASSERT_TRUE(small.registerPe("p", pe(id, policy(PolicyType::Random)), {}, {}).ok());
  EXPECT_EQ(resolve(small, "p", 0xFFFFFFFF, rng_).size(), 2u);
}

TEST_F(PolicyTest, UnknownAndEmptiedPoolsAreUnknownPoolHandle) {
  std::vector<PeRef> out{PeRef{7}};
  auto r = hs_.select("nope", 3, rng_, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, wire::Cause::UnknownPoolHandle);
  EXPECT_TRUE(out.empty());
  add(1, policy(PolicyType::LeastUsed, {0}));
  ASSERT_TRUE(hs_.deregisterPe("pool", 1));
  r = hs_.select("pool", 3, rng_, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, wire::Cause::UnknownPoolHandle);
}

TEST_F(PolicyTest, EveryPolicyReturnsDistinctMembersOfItsPool) {
  Random words(99);
  for (const auto& info : wire::allPolicies()) {
    const std::string pool(info.name);
    for (PeId id = 1; id <= 12; ++id) {
      wire::Policy p = wire::Policy::make(info.type);
      for (std::size_t i = 0; i < info.fields.size(); ++i) p.words[i] = static_cast<std::uint32_t>(1 + words.below(1000));
      auto r = hs_.registerPe(pool, pe(id, p), {}, {});
      ASSERT_TRUE(r.ok()) << pool;
    }
    for (std::size_t n : {1u, 3u, 12u, 20u}) {
      for (int round = 0; round < 20; ++round) {
        auto got = resolve(hs_, pool, n, rng_);
        EXPECT_EQ(got.size(), std::min<std::size_t>(n, 12)) << pool;
        EXPECT_EQ(std::set<PeId>(got.begin(), got.end()).size(), got.size()) << pool;
        for (PeId id : got) EXPECT_TRUE(id >= 1 && id <= 12);
      }
    }
  }
}

}  // namespace
}  // namespace vnfpool::handlespace
