// TimerSet: the timers of a sans-I/O protocol engine, on the event loop. Engines emit Arm{key, deadline} and
// Disarm{key}; the adapter forwards them here and feeds each firing back as an Expired{key} event.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace vnfpool::transport {

/// Names one timer of an engine; the engine chooses the numbering.
using TimerKey = std::uint64_t;

/// A set of one-shot timers keyed by TimerKey, all served by one boost::asio::steady_timer (so re-arming a
/// thousand keep-alive timers costs map operations, not a thousand cancelled waits).
///
/// Contract: at most one deadline per key; arm() on an armed key replaces its deadline. `fired(key)` is
/// called on the loop thread once per arming whose deadline passed, then the key is disarmed (the callback
/// may arm it again). Timers that are due together fire in deadline order, equal deadlines in arming order.
/// A callback never runs inside arm()/disarm(). Deadlines in the past fire on the next loop turn. A key
/// re-armed from inside a callback fires at the earliest on the next loop turn (no busy loops).
/// Loop thread only. The callback must not destroy the TimerSet; if it throws, the exception is written to
/// stderr and the other timers go on.
class TimerSet {
 public:
  using Clock = std::chrono::steady_clock;

  TimerSet(boost::asio::io_context& loop, std::function<void(TimerKey)> fired);
  /// Cancels everything; no callback runs afterwards, even one already queued in the loop.
  ~TimerSet();
  TimerSet(const TimerSet&) = delete;
  TimerSet& operator=(const TimerSet&) = delete;

  /// Arms (or re-arms) `key` for `deadline`. Accepts any steady_clock time_point (e.g. microsecond ones).
  void arm(TimerKey key, Clock::time_point deadline);
  void armAfter(TimerKey key, Clock::duration delay) { arm(key, Clock::now() + delay); }
  /// Disarms `key`; returns whether it was armed. Its callback will not run for the old arming.
  bool disarm(TimerKey key);
  void clear();

  bool armed(TimerKey key) const { return index_.count(key) != 0; }
  std::optional<Clock::time_point> deadline(TimerKey key) const;
  std::size_t size() const { return index_.size(); }

 private:
  using Queue = std::map<std::pair<Clock::time_point, std::uint64_t>, TimerKey>;

  void schedule();
  void onTimer(std::uint64_t generation);

  boost::asio::steady_timer timer_;
  std::function<void(TimerKey)> fired_;
  Queue queue_;                                        // (deadline, arming sequence) -> key
  std::unordered_map<TimerKey, Queue::iterator> index_;
  std::uint64_t next_seq_ = 0;
  std::optional<Clock::time_point> waiting_for_;       // what the asio timer is set to, when a wait is pending
  std::uint64_t generation_ = 0;                       // of the current asio wait; stale completions are ignored
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // completions check it before touching `this`
};

}  // namespace vnfpool::transport
