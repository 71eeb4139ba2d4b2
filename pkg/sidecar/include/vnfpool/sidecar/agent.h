// The sidecar's core: decides when the VNF's Pool Element is registered, deregistered (or reported at full
// load), and when the sidecar exits. Sans-I/O: health probe results, registrar news and drain requests come
// in as events; what to do goes out as actions; time comes from an injected Clock. The adapter
// (sidecar::Sidecar) runs the probes, the ASAP PE engine and the timers.
//
//   starting --healthy x success_threshold--> registering --registrar accepted--> registered
//   registered --registrar connection lost--> failing_over --accepted elsewhere--> registered
//   any of those --unhealthy x failure_threshold (or connection refused)--> unhealthy
//   unhealthy --healthy x success_threshold--> registering
//   any --drain (SIGTERM, POST /drain)--> draining --drain.grace--> stopped (exit 0)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vnfpool/handlespace/time.h"

namespace vnfpool::sidecar {

using handlespace::Clock;
using handlespace::Duration;
using handlespace::TimePoint;

enum class State : std::uint8_t { Starting, Registering, Registered, FailingOver, Unhealthy, Draining, Stopped };
std::string_view stateName(State state);

enum class UnhealthyAction : std::uint8_t { Deregister, FullLoad };

struct AgentConfig {
  /// false: no health check (health.type none); the PE is registered at once and stays registered.
  bool health_checks = true;
  Duration health_period = std::chrono::seconds(1);
  std::uint32_t failure_threshold = 3;
  std::uint32_t success_threshold = 1;
  UnhealthyAction unhealthy_action = UnhealthyAction::Deregister;
  Duration drain_grace = std::chrono::seconds(5);
};

using TimerKey = std::uint64_t;

// ---------------------------------------------------------------- events

/// The outcome of one health probe started by a Probe action.
struct ProbeResult {
  bool healthy = false;
  /// The VNF's port refused the connection: the process is gone, so the failure threshold is not waited for.
  bool refused = false;
  std::string detail{};
};
/// The registrar accepted the PE's registration (first time, re-registration after a failover).
struct PeAccepted {};
/// The registrar refused the registration (bad handle, policy...): not retried until the values change.
struct PeRefused {
  std::string detail{};
};
/// The connection to the home registrar is gone; the PE engine hunts for another.
struct RegistrarLost {};
/// SIGTERM, SIGINT or POST /drain. Repeated requests are ignored (the first grace period runs on).
struct DrainRequested {
  std::string reason{};
};
struct TimerFired {
  TimerKey timer = 0;
};

// ---------------------------------------------------------------- actions

/// Register the PE (or re-register it with new values). full_load: with its load at 100 % (the
/// unhealthy_action full_load), which keeps it in the pool but last in load-based selections.
struct Register {
  bool full_load = false;
};
/// Deregister the PE and stop re-registering it.
struct Deregister {};
/// Start one health probe; its result comes back as ProbeResult.
struct Probe {};
struct ArmTimer {
  TimerKey timer = 0;
  TimePoint at{};
};
struct StateChanged {
  State from = State::Starting;
  State to = State::Starting;
  std::string reason{};
};
/// Leave the process with this code (after the drain).
struct Exit {
  int code = 0;
};

using Action = std::variant<Register, Deregister, Probe, ArmTimer, StateChanged, Exit>;

struct AgentStats {
  std::uint64_t probes = 0;
  std::uint64_t probe_failures = 0;
  std::uint64_t deregistrations = 0;  // for health reasons (not the drain)
  std::uint64_t failovers = 0;
};

class Agent {
 public:
  static constexpr TimerKey kProbeTimer = 1;
  static constexpr TimerKey kGraceTimer = 2;

  Agent(const AgentConfig& config, const Clock& clock);

  /// Begins: the first probe (or, without health checks, the registration).
  void start(std::vector<Action>& out);

  void handle(const ProbeResult& event, std::vector<Action>& out);
  void handle(const PeAccepted& event, std::vector<Action>& out);
  void handle(const PeRefused& event, std::vector<Action>& out);
  void handle(const RegistrarLost& event, std::vector<Action>& out);
  void handle(const DrainRequested& event, std::vector<Action>& out);
  void handle(const TimerFired& event, std::vector<Action>& out);

  template <typename E>
  std::vector<Action> handle(const E& event) {
    std::vector<Action> out;
    handle(event, out);
    return out;
  }

  State state() const { return state_; }
  /// Ready = the PE is registered (and not merely at full load for being unhealthy).
  bool ready() const { return state_ == State::Registered; }
  /// The VNF passed its last health decision (true without health checks).
  bool healthy() const { return healthy_; }
  const AgentStats& stats() const { return stats_; }

 private:
  void moveTo(State next, std::string reason, std::vector<Action>& out);
  void becomeUnhealthy(const std::string& reason, std::vector<Action>& out);
  void becomeHealthy(std::vector<Action>& out);

  AgentConfig config_;
  const Clock& clock_;
  State state_ = State::Starting;
  bool healthy_ = false;
  bool probing_ = false;  // a Probe is out and its result not back
  bool started_ = false;
  std::uint32_t successes_ = 0;  // consecutive
  std::uint32_t failures_ = 0;   // consecutive
  TimePoint probe_started_{};
  AgentStats stats_;
};

}  // namespace vnfpool::sidecar
