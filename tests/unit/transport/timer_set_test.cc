#include "vnfpool/transport/timer_set.h"

#include <gtest/gtest.h>

#include <vector>

#include "test_util.h"

namespace vnfpool::transport {
namespace {

using namespace test;
using Clock = TimerSet::Clock;

class TimerSetTest : public ::testing::Test {
 protected:
  boost::asio::io_context loop_;
  std::vector<TimerKey> fired_;
  std::function<void(TimerKey)> also_;
  TimerSet timers_{loop_, [this](TimerKey k) {
                     fired_.push_back(k);
                     if (also_) also_(k);
                   }};
};

TEST_F(TimerSetTest, FiresInDeadlineOrder) {
  const auto now = Clock::now();
  timers_.arm(3, now + 60ms);
  timers_.arm(1, now + 20ms);
  timers_.arm(2, now + 40ms);
  EXPECT_EQ(timers_.size(), 3U);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 3; }));
  EXPECT_EQ(fired_, (std::vector<TimerKey>{1, 2, 3}));
  EXPECT_GE(Clock::now(), now + 60ms);
  EXPECT_EQ(timers_.size(), 0U);
}

TEST_F(TimerSetTest, DueTogetherFireInDeadlineThenArmingOrder) {
  const auto base = Clock::now() - 1s;  // all in the past: one batch
  timers_.arm(7, base + 3ms);
  timers_.arm(5, base + 1ms);
  timers_.arm(9, base + 1ms);
  timers_.arm(4, base + 2ms);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 4; }));
  EXPECT_EQ(fired_, (std::vector<TimerKey>{5, 9, 4, 7}));
}

TEST_F(TimerSetTest, RearmingReplacesTheDeadline) {
  const auto now = Clock::now();
  timers_.arm(1, now + 10ms);
  timers_.arm(2, now + 30ms);
  timers_.arm(1, now + 50ms);  // later than 2 now
  EXPECT_EQ(timers_.deadline(1), now + 50ms);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 2; }));
  EXPECT_EQ(fired_, (std::vector<TimerKey>{2, 1}));
  drainPosted(loop_);
  EXPECT_EQ(fired_.size(), 2U);  // key 1 fired once, for its last arming
}

TEST_F(TimerSetTest, RearmingEarlierMovesItForward) {
  const auto now = Clock::now();
  timers_.arm(1, now + 10s);
  timers_.arm(2, now + 40ms);
  timers_.arm(1, now + 10ms);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 2; }, 5s));
  EXPECT_EQ(fired_, (std::vector<TimerKey>{1, 2}));
}

TEST_F(TimerSetTest, DisarmedTimersDoNotFire) {
  const auto now = Clock::now();
  timers_.arm(1, now + 10ms);
  timers_.arm(2, now + 30ms);
  EXPECT_TRUE(timers_.disarm(1));
  EXPECT_FALSE(timers_.disarm(1));
  EXPECT_FALSE(timers_.disarm(42));
  EXPECT_FALSE(timers_.armed(1));
  EXPECT_TRUE(timers_.armed(2));
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 1; }));
  EXPECT_EQ(fired_, (std::vector<TimerKey>{2}));
  timers_.arm(3, Clock::now() + 10ms);
  timers_.clear();
  timers_.arm(4, Clock::now() + 20ms);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 2; }));
  EXPECT_EQ(fired_, (std::vector<TimerKey>{2, 4}));
}

TEST_F(TimerSetTest, CallbackMayRearmItselfWithoutSpinning) {
  int turns = 0;
  also_ = [&](TimerKey k) {
    if (++turns < 3) timers_.arm(k, Clock::now() - 1s);  // already due: next loop turn, not this batch
  };
  timers_.arm(1, Clock::now());
  timers_.arm(2, Clock::now() + 20ms);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 4; }));
  EXPECT_EQ(turns, 4);
  EXPECT_EQ(std::count(fired_.begin(), fired_.end(), TimerKey{1}), 3);
}

TEST_F(TimerSetTest, MicrosecondTimePointsAreAccepted) {
  using Micro = std::chrono::time_point<Clock, std::chrono::microseconds>;
  const Micro at = std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now()) + std::chrono::microseconds(5000);
  timers_.arm(11, at);
  ASSERT_TRUE(runUntil(loop_, [&] { return fired_.size() == 1; }));
}

TEST(TimerSetLifetime, DestroyedSetFiresNothing) {
  boost::asio::io_context loop;
  bool fired = false;
  {
    TimerSet timers(loop, [&](TimerKey) { fired = true; });
    timers.arm(1, TimerSet::Clock::now() - 1s);  // due at once: its completion is queued on the next run
  }
  bool marker = false;
  boost::asio::steady_timer later(loop, 30ms);
  later.async_wait([&](const boost::system::error_code&) { marker = true; });
  ASSERT_TRUE(runUntil(loop, [&] { return marker; }));
  EXPECT_FALSE(fired);
}

}  // namespace
}  // namespace vnfpool::transport
