// A work queue for reconcilers: keys (namespace/name), not events. Duplicate keys coalesce, a key is
// never handed to two workers at once, and failed keys come back after a per-item exponential backoff
// bounded by an overall rate limit (controller-runtime's default: 5 ms .. 1000 s per item, 10 qps with
// a burst of 100).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <deque>

namespace vnfpool::kube {

using SteadyTime = std::chrono::steady_clock::time_point;
using SteadyDuration = std::chrono::steady_clock::duration;

/// Per-item exponential backoff: base * 2^failures, capped. Pure: time is not read here. Not thread-safe
/// on its own (the queue serialises calls).
class ItemBackoff {
 public:
  explicit ItemBackoff(SteadyDuration base = std::chrono::milliseconds(5),
                       SteadyDuration cap = std::chrono::seconds(1000))
      : base_(base), cap_(cap) {}
  /// The delay before `key`'s next attempt; counts one more failure.
  SteadyDuration next(const std::string& key);
  void forget(const std::string& key) { failures_.erase(key); }
  int failures(const std::string& key) const;

 private:
  SteadyDuration base_, cap_;
  std::map<std::string, int> failures_;
};

/// Token bucket over all items: returns how long to wait from `now` for the next token.
class BucketLimiter {
 public:
  BucketLimiter(double qps = 10.0, int burst = 100) : qps_(qps), burst_(burst), tokens_(burst) {}
  SteadyDuration reserve(SteadyTime now);

 private:
  double qps_;
  int burst_;
  double tokens_;
  std::optional<SteadyTime> last_{};
};

/// Thread-safe. Any number of producers and workers; `shutDown()` wakes every blocked `get()`.
class WorkQueue {
 public:
  explicit WorkQueue(ItemBackoff backoff = ItemBackoff(), BucketLimiter bucket = BucketLimiter());

  /// Queues `key` unless it is already waiting; a key being processed is queued again when done().
  void add(const std::string& key);
  /// Queues `key` after `delay` (an earlier pending delay for the same key wins).
  void addAfter(const std::string& key, SteadyDuration delay);
  /// Queues `key` after max(item backoff, bucket delay): for failed reconciles.
  void addRateLimited(const std::string& key);
  /// Resets `key`'s backoff (after a successful reconcile).
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  /// Blocks until a key is ready (returned, and marked processing) or the queue shuts down (nullopt).
  std::optional<std::string> get();
  /// Marks `key` as processed; re-queues it if it was added meanwhile.
  void done(const std::string& key);
  void shutDown();
  bool shuttingDown() const;
  /// Keys ready now (not counting delayed or processing ones).
  std::size_t length() const;

 private:
  void promoteDueLocked(SteadyTime now);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;        // queued (or to be queued again after processing)
  std::set<std::string> processing_;
  std::multimap<SteadyTime, std::string> delayed_;
  std::map<std::string, SteadyTime> delayed_at_;
  ItemBackoff backoff_;
  BucketLimiter bucket_;
  bool shutting_down_ = false;
};

}  // namespace vnfpool::kube
