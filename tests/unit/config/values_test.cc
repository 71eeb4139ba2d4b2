#include <chrono>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "vnfpool/config/config.h"

namespace vnfpool::config {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesUnitsSequencesAndFractions) {
  EXPECT_EQ(parseDuration("0"), Duration::zero());
  EXPECT_EQ(parseDuration("500ms"), 500ms);
  EXPECT_EQ(parseDuration("5s"), 5s);
  EXPECT_EQ(parseDuration("1m"), 1min);
  EXPECT_EQ(parseDuration("2h"), 2h);
  EXPECT_EQ(parseDuration("250us"), 250us);
  EXPECT_EQ(parseDuration("250\xC2\xB5s"), 250us);
  EXPECT_EQ(parseDuration("1h30m"), 90min);
  EXPECT_EQ(parseDuration("1m30s500ms"), 90500ms);
  EXPECT_EQ(parseDuration("1.5s"), 1500ms);
  EXPECT_EQ(parseDuration("0.25ms"), 250us);
  EXPECT_EQ(parseDuration("1.000s"), 1s);
  EXPECT_EQ(parseDuration("0s"), Duration::zero());
}

TEST(Duration, RefusesEverythingElse) {
  for (const char* bad : {"", "5", "5x", "s", "-5s", "+5s", "5 s", "5S", "1.s", ".5s", "1.5", "1.0001ms", "0.5us",
                          "5s ", "5ss", "1e3s", "99999999999999999999s", "9999999999999h", "5sec", "1d"})
    EXPECT_EQ(parseDuration(bad), std::nullopt) << bad;
}

TEST(Duration, FormatsInTheLargestExactUnitAndRoundTrips) {
  EXPECT_EQ(formatDuration(Duration::zero()), "0s");
  EXPECT_EQ(formatDuration(90s), "90s");
  EXPECT_EQ(formatDuration(2min), "2m");
  EXPECT_EQ(formatDuration(3h), "3h");
  EXPECT_EQ(formatDuration(1500ms), "1500ms");
  EXPECT_EQ(formatDuration(250us), "250us");
  for (auto d : {Duration(1), Duration(999'999), Duration(61'000'000), Duration(3'600'000'001)})
    EXPECT_EQ(parseDuration(formatDuration(d)), d);
}

TEST(Duration, RandomValuesRoundTripAndRandomTextNeverCrashes) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 10'000; ++i) {
    const Duration d(static_cast<std::int64_t>(rng() >> (1 + rng() % 63)));  // 0 .. INT64_MAX
    EXPECT_EQ(parseDuration(formatDuration(d)), d) << d.count();
  }
  const std::string alphabet = "0123456789.hmsu\xC2\xB5 -+e";
  for (int i = 0; i < 10'000; ++i) {
    std::string text;
    for (auto n = rng() % 12; n > 0; --n) text += alphabet[rng() % alphabet.size()];
    if (auto d = parseDuration(text)) {
      EXPECT_GE(d->count(), 0) << text;
      EXPECT_EQ(parseDuration(formatDuration(*d)), d) << text;
    }
  }
}

}  // namespace
}  // namespace vnfpool::config
