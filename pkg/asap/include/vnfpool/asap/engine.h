// What every ASAP engine (registrar side, pool element side, pool user side) shares: the events an
// adapter feeds in and the actions it carries out. The engines are sans-I/O: no sockets, no Asio, no
// clock reads; time comes from an injected Clock and every deadline is an Arm action.
#pragma once

#include <algorithm>
#include <cstdint>
#include <variant>
#include <vector>

#include "vnfpool/handlespace/time.h"
#include "vnfpool/wire/asap.h"
#include "vnfpool/wire/types.h"

namespace vnfpool::asap {

using handlespace::Clock;
using handlespace::Duration;
using handlespace::TimePoint;

/// A transport connection (SCTP association, TCP or MPTCP connection) as the adapter numbers them;
/// never reused, 0 = none.
using ConnId = std::uint64_t;
inline constexpr ConnId kNoConn = 0;

/// A timer the engine asked for. The engine owns the meaning; the adapter owns one timer per key.
using TimerKey = std::uint64_t;

/// What the adapter knows about a connection when it comes up.
struct ConnectionInfo {
  ConnId id = kNoConn;
  wire::Dialect dialect = wire::Dialect::Ng;
  /// The peer's transport endpoint as seen on this connection (protocol, address, port). The registrar
  /// records it as a PE's ASAP transport.
  wire::Transport peer{};
  bool inbound = true;  // accepted (true) or opened by us (false)
};

// ---------------------------------------------------------------- events

struct Connected {
  ConnectionInfo info{};
};
/// The connection is gone (closed, reset, failed to connect, framing error): association loss.
struct Disconnected {
  ConnId conn = kNoConn;
};
struct Received {
  ConnId from = kNoConn;
  wire::AsapMessage message{};
};
/// A Handle Resolution read in place; its pool handle points into the received bytes, so the event is
/// handled before they are released. Only the registrar side takes it.
struct ReceivedResolution {
  ConnId from = kNoConn;
  wire::asap::HandleResolutionView message{};
};
/// A message that did not decode; `type` is its header's type byte (0 if not even a header arrived).
struct Malformed {
  ConnId from = kNoConn;
  wire::Error error{};
  std::uint8_t type = 0;
};
/// A timer armed earlier fired. It is a hint: engines compare with their own deadlines, since a timer can
/// fire just after it was re-armed.
struct Expired {
  TimerKey timer = 0;
};

// ---------------------------------------------------------------- actions

/// Encode `message` in the connection's dialect and send it.
struct Send {
  ConnId to = kNoConn;
  wire::AsapMessage message{};
};
struct Arm {
  TimerKey timer = 0;
  TimePoint at{};
};
struct Disarm {
  TimerKey timer = 0;
};
/// Close the connection (after sending what is queued).
struct Close {
  ConnId conn = kNoConn;
};

/// The registrar hunt of the client engines (PE and PU sides): at most one connection attempt at a time,
/// and a pause that doubles after each failed attempt, from `backoff` up to `backoff_max`; a success
/// resets it.
class Hunt {
 public:
  Hunt(Duration backoff, Duration backoff_max) : min_(backoff), max_(backoff_max) {}
  /// True when an attempt must start now (none is outstanding); the caller emits StartHunt.
  bool begin() {
    if (requested_) return false;
    requested_ = true;
    return true;
  }
  /// The attempt produced a connection.
  void succeeded() {
    requested_ = false;
    backoff_ = Duration{0};
  }
  /// The attempt failed: returns the pause before the next one.
  Duration failed() {
    requested_ = false;
    backoff_ = std::min(std::max(backoff_ * 2, min_), max_);
    return backoff_;
  }
  /// No attempt is wanted any more (a registrar reached us first).
  void cancel() { requested_ = false; }
  bool requested() const { return requested_; }

 private:
  Duration min_;
  Duration max_;
  Duration backoff_{0};
  bool requested_ = false;
};

}  // namespace vnfpool::asap
