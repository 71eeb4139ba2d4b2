// Time as the sans-I/O cores see it. The handlespace is the lowest library that deals in time, so the
// ASAP and ENRP cores take these types from here. Nothing in a core reads a clock by itself: time is an
// argument (`hs.registerPe(..., now)`, `hs.expire(now)`) or comes from an injected Clock.
#pragma once

#include <chrono>

namespace vnfpool::handlespace {

using Duration = std::chrono::microseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

/// "No deadline": an entry with this expiry never expires.
inline constexpr TimePoint kNever = TimePoint::max();

/// Where a component that needs "now" gets it. Implementations must be monotonic.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

/// A clock moved by hand: tests and the simulator use it so that time-dependent behaviour is exact.
struct ManualClock final : Clock {
  TimePoint t{};
  TimePoint now() const override { return t; }
  void advance(Duration d) { t += d; }
};

}  // namespace vnfpool::handlespace
