#include "vnfpool/handlespace/random.h"

#include <gtest/gtest.h>

#include <array>

namespace vnfpool::handlespace {
namespace {

TEST(RandomTest, SameSeedSameSequenceOtherSeedOther) {
  Random a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, BelowStaysInRangeAndIsUniform) {
  Random rng(1);
  EXPECT_EQ(rng.below(0), 0u);
  EXPECT_EQ(rng.below(1), 0u);
  std::array<int, 6> count{};
  for (int i = 0; i < 60000; ++i) {
    const auto v = rng.below(6);
    ASSERT_LT(v, 6u);
    ++count[v];
  }
  for (int n : count) EXPECT_NEAR(n, 10000, 500);
  // A bound just over half the range is where a modulo would be most biased.
  const std::uint64_t big = (std::uint64_t{1} << 63) + 12345;
  int low = 0;
  for (int i = 0; i < 20000; ++i) low += rng.below(big) < big / 2 ? 1 : 0;
  EXPECT_NEAR(low, 10000, 500);
}

}  // namespace
}  // namespace vnfpool::handlespace
