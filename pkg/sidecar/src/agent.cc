#include "vnfpool/sidecar/agent.h"

#include <algorithm>

namespace vnfpool::sidecar {

std::string_view stateName(State state) {
  switch (state) {
    case State::Starting: return "starting";
    case State::Registering: return "registering";
    case State::Registered: return "registered";
    case State::FailingOver: return "failing_over";
    case State::Unhealthy: return "unhealthy";
    case State::Draining: return "draining";
    case State::Stopped: return "stopped";
  }
  return "unknown";
}

Agent::Agent(const AgentConfig& config, const Clock& clock) : config_(config), clock_(clock) {
  config_.failure_threshold = std::max<std::uint32_t>(config_.failure_threshold, 1);
  config_.success_threshold = std::max<std::uint32_t>(config_.success_threshold, 1);
}

void Agent::start(std::vector<Action>& out) {
  if (started_) return;
  started_ = true;
  if (!config_.health_checks) {
    healthy_ = true;
    out.emplace_back(Register{});
    moveTo(State::Registering, "no health check configured", out);
    return;
  }
  probing_ = true;
  probe_started_ = clock_.now();
  ++stats_.probes;
  out.emplace_back(Probe{});
}

void Agent::moveTo(State next, std::string reason, std::vector<Action>& out) {
  if (next == state_) return;
  out.emplace_back(StateChanged{state_, next, std::move(reason)});
  state_ = next;
}

void Agent::handle(const ProbeResult& event, std::vector<Action>& out) {
  if (!probing_) return;
  probing_ = false;
  if (state_ == State::Draining || state_ == State::Stopped) return;
  if (event.healthy) {
    failures_ = 0;
    ++successes_;
    if (!healthy_ && successes_ >= config_.success_threshold) becomeHealthy(out);
  } else {
    ++stats_.probe_failures;
    successes_ = 0;
    ++failures_;
    const bool decided_unhealthy = !healthy_ && state_ != State::Starting;
    if (!decided_unhealthy && (event.refused || failures_ >= config_.failure_threshold)) {
      becomeUnhealthy(event.detail, out);
    }
  }
  const TimePoint next = std::max(probe_started_ + config_.health_period, clock_.now());
  out.emplace_back(ArmTimer{kProbeTimer, next});
}

void Agent::becomeHealthy(std::vector<Action>& out) {
  healthy_ = true;
  out.emplace_back(Register{});  // also replaces a full-load registration with the configured values
  moveTo(State::Registering, "health check passed", out);
}

void Agent::becomeUnhealthy(const std::string& reason, std::vector<Action>& out) {
  const bool was_starting = state_ == State::Starting && !healthy_;
  healthy_ = false;
  if (was_starting) {
    // Never registered: nothing to withdraw (with full_load, the PE joins at full load).
    moveTo(State::Unhealthy, reason.empty() ? "health check failed" : reason, out);
    if (config_.unhealthy_action == UnhealthyAction::FullLoad) out.emplace_back(Register{true});
    return;
  }
  ++stats_.deregistrations;
  if (config_.unhealthy_action == UnhealthyAction::FullLoad) {
    out.emplace_back(Register{true});
  } else {
    out.emplace_back(Deregister{});
  }
  moveTo(State::Unhealthy, reason.empty() ? "health check failed" : reason, out);
}

void Agent::handle(const PeAccepted&, std::vector<Action>& out) {
  if (state_ == State::Registering || state_ == State::FailingOver) moveTo(State::Registered, "registrar accepted", out);
}

void Agent::handle(const PeRefused& event, std::vector<Action>& out) {
  if (state_ == State::Registering || state_ == State::FailingOver || state_ == State::Registered) {
    // The PE engine has dropped the PE; the next healthy transition (or a change of values) tries again.
    healthy_ = false;
    successes_ = 0;
    moveTo(State::Unhealthy, "registration refused: " + event.detail, out);
  }
}

void Agent::handle(const RegistrarLost&, std::vector<Action>& out) {
  if (state_ == State::Registered) {
    ++stats_.failovers;
    moveTo(State::FailingOver, "registrar connection lost", out);
  }
}

void Agent::handle(const DrainRequested& event, std::vector<Action>& out) {
  if (state_ == State::Draining || state_ == State::Stopped) return;
  // Withdraw first, then keep serving for the grace period (connections in flight finish).
  out.emplace_back(Deregister{});
  moveTo(State::Draining, event.reason, out);
  out.emplace_back(ArmTimer{kGraceTimer, clock_.now() + config_.drain_grace});
}

void Agent::handle(const TimerFired& event, std::vector<Action>& out) {
  if (event.timer == kGraceTimer) {
    if (state_ != State::Draining) return;
    moveTo(State::Stopped, "drain grace period over", out);
    out.emplace_back(Exit{0});
  } else if (event.timer == kProbeTimer) {
    if (!config_.health_checks || probing_ || state_ == State::Draining || state_ == State::Stopped) return;
    if (clock_.now() < probe_started_ + config_.health_period) {
      out.emplace_back(ArmTimer{kProbeTimer, probe_started_ + config_.health_period});  // early (re-armed) firing
      return;
    }
    probing_ = true;
    probe_started_ = clock_.now();
    ++stats_.probes;
    out.emplace_back(Probe{});
  }
}

}  // namespace vnfpool::sidecar
