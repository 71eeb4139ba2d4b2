// Tests of the handlespace's private structures (pkg/handlespace/src): the order tree against std::set,
// and the renumbering of sequence numbers before their 32 bits run out.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "backed_memory.h"
#include "impl.h"
#include "order_tree.h"
#include "test_util.h"

namespace vnfpool::handlespace {
namespace {

using detail::OrderItem;
using detail::OrderTree;

std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> contents(const OrderTree& tree) {
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> out;
  tree.forEach([&](const OrderItem& item) {
    out.emplace_back(item.key, item.seq, item.slot);
    return true;
  });
  return out;
}

// The node search's count, with and without AVX2, against counting one by one: every length a node can
// have, places on both sides of the top bit (AVX2 compares signed lanes), x equal to a place.
TEST(OrderTreeTest, CountingPlacesBelowMatchesAPlainCount) {
  Random rng(5);
  std::uint64_t places[40];
  for (int round = 0; round < 2000; ++round) {
    const int n = static_cast<int>(rng.below(41));
    for (int i = 0; i < n; ++i) {
      const std::uint64_t top = rng.below(2) << 63;
      places[i] = top | rng.below(64);
    }
    std::uint64_t x = (rng.below(2) << 63) | rng.below(64);
    if (n > 0 && rng.below(2) == 0) x = places[rng.below(static_cast<std::uint64_t>(n))];
    const auto expected =
        static_cast<int>(std::count_if(places, places + n, [&](std::uint64_t p) { return p < x; }));
    ASSERT_EQ(detail::countPlacesBelow(places, n, x), expected) << "n " << n;
    ASSERT_EQ(detail::countPlacesBelowPortable(places, n, x), expected) << "n " << n;
  }
}

// Random insertions and removals (few keys, so many ties broken by seq; removals of absent items too)
// against a std::set, checking the tree's invariants and contents as it grows to several levels and
// shrinks back to nothing.
TEST(OrderTreeTest, AgreesWithAnOrderedSetThroughGrowthAndShrinkage) {
  OrderTree::Slabs slabs;
  OrderTree tree(slabs);
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> model;  // (key, seq, slot)
  Random rng(7);
  std::uint32_t next_seq = 1;
  auto check = [&] {
    ASSERT_TRUE(tree.valid());
    ASSERT_EQ(tree.size(), model.size());
    ASSERT_EQ(contents(tree), std::vector(model.begin(), model.end()));
  };
  for (int phase = 0; phase < 2; ++phase) {
    const bool growing = phase == 0;
    for (int op = 0; op < 40000; ++op) {
      const bool add = growing ? rng.below(10) < 7 : rng.below(10) < 3;
      if (add || model.empty()) {
        const auto key = static_cast<std::uint32_t>(rng.below(16));
        const OrderItem item{key, next_seq++, static_cast<std::uint32_t>(rng.below(1u << 20))};
        tree.insert(item, rng.below(2) == 0);
        model.emplace(item.key, item.seq, item.slot);
      } else if (rng.below(8) == 0) {
        // Absent: a seq never handed out.
        EXPECT_FALSE(tree.erase(OrderItem{static_cast<std::uint32_t>(rng.below(16)), next_seq + 1, 0}));
      } else {
        auto it = model.begin();
        std::advance(it, rng.below(model.size()));
        EXPECT_TRUE(tree.erase(OrderItem{std::get<0>(*it), std::get<1>(*it), std::get<2>(*it)}));
        model.erase(it);
      }
      if (op % 997 == 0) check();
    }
    check();
  }
  while (!model.empty()) {
    auto it = model.begin();
    EXPECT_TRUE(tree.erase(OrderItem{std::get<0>(*it), std::get<1>(*it), std::get<2>(*it)}));
    model.erase(it);
  }
  check();
  EXPECT_FALSE(tree.first().has_value());
}

TEST(OrderTreeTest, MapKeysKeepsTheTreeValid) {
  OrderTree::Slabs slabs;
  OrderTree tree(slabs);
  for (std::uint32_t i = 0; i < 5000; ++i) tree.insert(OrderItem{1000 + i / 7, i + 1, i}, true);
  tree.mapKeys([](std::uint32_t key) { return key - 1000; });
  ASSERT_TRUE(tree.valid());
  EXPECT_EQ(tree.first()->key, 0u);
  // Searches still find every item by its new key.
  for (std::uint32_t i = 0; i < 5000; i += 3) EXPECT_TRUE(tree.erase(OrderItem{i / 7, i + 1, i}));
  EXPECT_TRUE(tree.valid());
}

// prefault() makes the whole pages of a range resident before anything writes them; short ranges are
// left alone.
TEST(PrefaultTest, FaultsInTheWholePagesOfARange) {
#ifndef MADV_POPULATE_WRITE
  GTEST_SKIP() << "built against C library headers without MADV_POPULATE_WRITE: prefault does nothing";
#else
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = 64 * page;
  void* raw = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(raw, MAP_FAILED);
  auto resident = [&] {
    std::vector<unsigned char> pages(length / page);
    EXPECT_EQ(::mincore(raw, length, pages.data()), 0);
    return static_cast<std::size_t>(
        std::count_if(pages.begin(), pages.end(), [](unsigned char p) { return (p & 1) != 0; }));
  };
  ASSERT_EQ(resident(), 0u);
  detail::prefault(raw, std::size_t{8} << 10);  // under 16 KiB: nothing
  EXPECT_EQ(resident(), 0u);
  // From the middle of page 1 to the middle of page 40: pages 2-39 are whole.
  detail::prefault(static_cast<char*>(raw) + page + page / 2, 39 * page);
  const std::size_t after = resident();
  // Whether this kernel populates on request at all (Linux 5.14): ask it directly for the last page.
  const bool kernel_can = ::madvise(static_cast<char*>(raw) + length - page, page, MADV_POPULATE_WRITE) == 0;
  ::munmap(raw, length);
  if (!kernel_can) GTEST_SKIP() << "this kernel does not populate on request (MADV_POPULATE_WRITE)";
  EXPECT_EQ(after, 38u);
#endif
}

// A pool whose sequence counter is about to pass 32 bits renumbers, and selects exactly as a pool that
// has a long way to go: same PEs, same updates, same resolutions. Pools of 8 (inline) and 300 PEs (order
// tree); round robin (order by seq alone), weighted round robin, Least Used (ties broken by seq) and
// Least Used with Degradation. The counter starts 40 before the limit (a selection passes it) or at it
// (the registration that comes first passes it).
class SequenceWrapTest
    : public ::testing::TestWithParam<std::tuple<std::size_t, wire::PolicyType, std::uint64_t>> {};

TEST_P(SequenceWrapTest, RenumberingKeepsEverySelection) {
  const auto [pes, type, gap] = GetParam();
  detail::Impl near_wrap(Config{});
  detail::Impl far_from_it(Config{});
  Random updates(11);
  auto registerAll = [&](detail::Impl& hs, PeId id, std::uint32_t value) {
    // value 0-3: a load of 0-75 % (LU, LUD with a 1 % step), a weight of 1-4 (WRR); RR takes none.
    wire::Policy policy = test::policy(type);
    if (type == wire::PolicyType::LeastUsed) policy = test::policy(type, {test::load(25.0 * value)});
    if (type == wire::PolicyType::LeastUsedDegradation)
      policy = test::policy(type, {test::load(25.0 * value), test::load(1)});
    if (type == wire::PolicyType::WeightedRoundRobin) policy = test::policy(type, {value + 1});
    auto r = hs.registerPe("p", test::pe(id, policy), {}, TimePoint{});
    ASSERT_TRUE(r.ok()) << r.error().detail;
  };
  for (PeId id = 1; id <= pes; ++id) {
    registerAll(near_wrap, id, 0);
    registerAll(far_from_it, id, 0);
  }
  // Few operations before the counter passes the limit, then many after.
  near_wrap.pools_[near_wrap.findPool("p")].seq = detail::kSeqLimit - gap;
  Random rng_a(3), rng_b(3);
  std::vector<PeRef> a, b;
  for (int round = 0; round < 3000; ++round) {
    if (round % 7 == 0) {  // a PE leaves and comes back: a new entry, with a new sequence number
      const PeId id = 1 + updates.below(pes);
      ASSERT_TRUE(near_wrap.deregister("p", id));
      ASSERT_TRUE(far_from_it.deregister("p", id));
      registerAll(near_wrap, id, 1);
      registerAll(far_from_it, id, 1);
    }
    if (round % 5 == 0) {
      const PeId id = 1 + updates.below(pes);
      const auto load = static_cast<std::uint32_t>(updates.below(4));
      registerAll(near_wrap, id, load);
      registerAll(far_from_it, id, load);
    }
    a.clear();
    b.clear();
    ASSERT_TRUE(near_wrap.select("p", 3, rng_a, a).ok());
    ASSERT_TRUE(far_from_it.select("p", 3, rng_b, b).ok());
    std::vector<PeId> ids_a, ids_b;
    for (PeRef r : a) ids_a.push_back(near_wrap.view(r.slot).id());
    for (PeRef r : b) ids_b.push_back(far_from_it.view(r.slot).id());
    ASSERT_EQ(ids_a, ids_b) << "round " << round;
  }
  EXPECT_LT(near_wrap.pools_[near_wrap.findPool("p")].seq, 100000u);  // it did renumber
}

INSTANTIATE_TEST_SUITE_P(Pools, SequenceWrapTest,
                         ::testing::Combine(::testing::Values(std::size_t{8}, std::size_t{300}),
                                            ::testing::Values(wire::PolicyType::RoundRobin,
                                                              wire::PolicyType::WeightedRoundRobin,
                                                              wire::PolicyType::LeastUsed,
                                                              wire::PolicyType::LeastUsedDegradation),
                                            ::testing::Values(std::uint64_t{40}, std::uint64_t{0})));

}  // namespace
}  // namespace vnfpool::handlespace
