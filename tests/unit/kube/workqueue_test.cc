#include "vnfpool/kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace vnfpool::kube {
namespace {

using std::chrono::milliseconds;

TEST(ItemBackoffTest, DoublesPerFailureUpToTheCapAndForgets) {
  ItemBackoff b(milliseconds(5), milliseconds(100));
  EXPECT_EQ(b.next("a"), milliseconds(5));
  EXPECT_EQ(b.next("a"), milliseconds(10));
  EXPECT_EQ(b.next("a"), milliseconds(20));
  EXPECT_EQ(b.next("b"), milliseconds(5));   // per item
  EXPECT_EQ(b.next("a"), milliseconds(40));
  EXPECT_EQ(b.next("a"), milliseconds(80));
  EXPECT_EQ(b.next("a"), milliseconds(100));
  for (int i = 0; i < 100; ++i) (void)b.next("a");   // no overflow however long it fails
  EXPECT_EQ(b.next("a"), milliseconds(100));
  b.forget("a");
  EXPECT_EQ(b.failures("a"), 0);
  EXPECT_EQ(b.next("a"), milliseconds(5));
}

TEST(BucketLimiterTest, BurstThenSteadyRate) {
  BucketLimiter bucket(10.0, 2);
  const SteadyTime t0{};
  EXPECT_EQ(bucket.reserve(t0), SteadyDuration::zero());
  EXPECT_EQ(bucket.reserve(t0), SteadyDuration::zero());
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.reserve(t0)), milliseconds(100));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.reserve(t0)), milliseconds(200));
  // One second later the debt is repaid and the bucket is full again.
  EXPECT_EQ(bucket.reserve(t0 + std::chrono::seconds(1)), SteadyDuration::zero());
}

TEST(WorkQueueTest, CoalescesKeysAndRequeuesWhatChangedDuringProcessing) {
  WorkQueue q;
  q.add("ns/a");
  q.add("ns/a");
  q.add("ns/b");
  EXPECT_EQ(q.length(), 2u);
  auto a = q.get();
  ASSERT_EQ(a, "ns/a");
  q.add("ns/a");                 // changed while being reconciled: not handed to a second worker
  EXPECT_EQ(q.length(), 1u);
  EXPECT_EQ(q.get(), "ns/b");
  EXPECT_EQ(q.length(), 0u);
  q.done("ns/a");                // ... but queued again once the first reconcile is done
  EXPECT_EQ(q.length(), 1u);
  EXPECT_EQ(q.get(), "ns/a");
  q.done("ns/a");
  q.done("ns/b");
  EXPECT_EQ(q.length(), 0u);
}

TEST(WorkQueueTest, DelayedKeysComeAfterReadyOnes) {
  WorkQueue q;
  q.addAfter("late", milliseconds(30));
  q.add("now");
  EXPECT_EQ(q.get(), "now");
  EXPECT_EQ(q.get(), "late");    // get() blocks until the delay has passed
  q.addAfter("x", milliseconds(20));
  q.add("x");                    // an immediate add supersedes the delayed one
  EXPECT_EQ(q.get(), "x");
  q.done("x");
  q.shutDown();
  EXPECT_EQ(q.get(), std::nullopt);   // the superseded delayed add does not come back
}

TEST(WorkQueueTest, RateLimitedAddsBackOffPerItem) {
  WorkQueue q(ItemBackoff(milliseconds(1), milliseconds(1000)), BucketLimiter(1000.0, 1000));
  for (int i = 0; i < 3; ++i) {
    q.addRateLimited("k");
    EXPECT_EQ(q.get(), "k");
    q.done("k");
  }
  EXPECT_EQ(q.failures("k"), 3);
  q.forget("k");
  EXPECT_EQ(q.failures("k"), 0);
}

TEST(WorkQueueTest, ShutDownWakesBlockedWorkers) {
  WorkQueue q;
  std::atomic<int> finished{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back([&] {
      while (q.get()) {
      }
      ++finished;
    });
  }
  q.shutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(finished.load(), 3);
  q.add("ignored");
  EXPECT_EQ(q.length(), 0u);
}

TEST(WorkQueueTest, NoKeyIsProcessedByTwoWorkersAtOnce) {
  WorkQueue q;
  std::mutex mu;
  std::set<std::string> in_flight;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard lock(mu);
          if (!in_flight.insert(*key).second) overlap = true;
        }
        std::this_thread::yield();
        {
          std::lock_guard lock(mu);
          in_flight.erase(*key);
        }
        ++processed;
        q.done(*key);
      }
    });
  }
  for (int round = 0; round < 2000; ++round) q.add("key" + std::to_string(round % 7));
  q.add("last");
  while (q.length() > 0) std::this_thread::yield();
  q.shutDown();
  for (auto& w : workers) w.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(processed.load(), 8);   // every distinct key at least once
}

}  // namespace
}  // namespace vnfpool::kube
