// The sidecar's Agent on a manual clock: registration after the first passed probe, thresholds, refused
// connections, full load instead of deregistration, failover, and the drain.
#include "vnfpool/sidecar/agent.h"

#include <gtest/gtest.h>

namespace vnfpool::sidecar {
namespace {

using namespace std::chrono_literals;

template <typename T>
std::size_t count(const std::vector<Action>& actions) {
  std::size_t n = 0;
  for (const auto& a : actions) n += std::holds_alternative<T>(a) ? 1u : 0u;
  return n;
}

template <typename T>
const T* find(const std::vector<Action>& actions) {
  for (const auto& a : actions)
    if (const auto* t = std::get_if<T>(&a)) return t;
  return nullptr;
}

class AgentTest : public ::testing::Test {
 protected:
  AgentConfig config() {
    AgentConfig c;
    c.health_period = 250ms;
    c.failure_threshold = 3;
    c.success_threshold = 2;
    c.drain_grace = 2s;
    return c;
  }
  /// Fires the probe timer at its deadline; expects a Probe.
  void nextProbe(Agent& agent) {
    clock_.advance(250ms);
    auto out = agent.handle(TimerFired{Agent::kProbeTimer});
    ASSERT_EQ(count<Probe>(out), 1u);
  }
  /// Runs probes with the given outcome until the agent emits something other than timers; returns that.
  std::vector<Action> probe(Agent& agent, bool healthy, bool refused = false) {
    auto out = agent.handle(ProbeResult{healthy, refused, healthy ? "ok" : "down"});
    const auto* arm = find<ArmTimer>(out);
    EXPECT_NE(arm, nullptr);
    if (arm != nullptr) {
      EXPECT_EQ(arm->timer, Agent::kProbeTimer);
    }
    return out;
  }
  /// From a fresh agent to Registered.
  void registerHealthy(Agent& agent) {
    std::vector<Action> out;
    agent.start(out);
    ASSERT_EQ(count<Probe>(out), 1u);
    EXPECT_EQ(count<Register>(probe(agent, true)), 0u);  // 1 of 2 successes
    nextProbe(agent);
    auto second = probe(agent, true);
    ASSERT_EQ(count<Register>(second), 1u);
    EXPECT_FALSE(find<Register>(second)->full_load);
    EXPECT_EQ(agent.state(), State::Registering);
    agent.handle(PeAccepted{});
    ASSERT_EQ(agent.state(), State::Registered);
  }

  handlespace::ManualClock clock_;
};

TEST_F(AgentTest, RegistersOnlyAfterSuccessThresholdAndIsReadyWhenAccepted) {
  Agent agent(config(), clock_);
  EXPECT_EQ(agent.state(), State::Starting);
  EXPECT_FALSE(agent.ready());
  registerHealthy(agent);
  EXPECT_TRUE(agent.ready());
  EXPECT_TRUE(agent.healthy());
}

TEST_F(AgentTest, WithoutHealthChecksRegistersAtOnceAndNeverProbes) {
  auto c = config();
  c.health_checks = false;
  Agent agent(c, clock_);
  std::vector<Action> out;
  agent.start(out);
  EXPECT_EQ(count<Register>(out), 1u);
  EXPECT_EQ(count<Probe>(out), 0u);
  clock_.advance(1s);
  EXPECT_EQ(count<Probe>(agent.handle(TimerFired{Agent::kProbeTimer})), 0u);
  agent.handle(PeAccepted{});
  EXPECT_TRUE(agent.ready());
}

TEST_F(AgentTest, DeregistersAfterFailureThresholdNotBefore) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  for (int i = 0; i < 2; ++i) {
    nextProbe(agent);
    auto out = probe(agent, false);
    EXPECT_EQ(count<Deregister>(out), 0u) << "failure " << i + 1;
    EXPECT_EQ(agent.state(), State::Registered);
  }
  nextProbe(agent);
  auto out = probe(agent, false);
  EXPECT_EQ(count<Deregister>(out), 1u);
  EXPECT_EQ(agent.state(), State::Unhealthy);
  EXPECT_FALSE(agent.ready());
  // Further failures do not deregister again.
  nextProbe(agent);
  EXPECT_EQ(count<Deregister>(probe(agent, false)), 0u);
  EXPECT_EQ(agent.stats().deregistrations, 1u);
}

TEST_F(AgentTest, AFailureBetweenSuccessesResetsTheCount) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  for (bool healthy : {false, false, true, false, false, true}) {
    nextProbe(agent);
    EXPECT_EQ(count<Deregister>(probe(agent, healthy)), 0u);
  }
  EXPECT_EQ(agent.state(), State::Registered);
}

TEST_F(AgentTest, RefusedConnectionDeregistersAtOnce) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  nextProbe(agent);
  auto out = probe(agent, false, /*refused=*/true);
  EXPECT_EQ(count<Deregister>(out), 1u);
  EXPECT_EQ(agent.state(), State::Unhealthy);
}

TEST_F(AgentTest, HealthyAgainRegistersAgainAfterSuccessThreshold) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  nextProbe(agent);
  probe(agent, false, true);
  nextProbe(agent);
  EXPECT_EQ(count<Register>(probe(agent, true)), 0u);
  nextProbe(agent);
  EXPECT_EQ(count<Register>(probe(agent, true)), 1u);
  EXPECT_EQ(agent.state(), State::Registering);
  agent.handle(PeAccepted{});
  EXPECT_TRUE(agent.ready());
}

TEST_F(AgentTest, FullLoadActionKeepsThePeRegisteredAtFullLoadAndNotReady) {
  auto c = config();
  c.unhealthy_action = UnhealthyAction::FullLoad;
  Agent agent(c, clock_);
  registerHealthy(agent);
  nextProbe(agent);
  auto out = probe(agent, false, true);
  EXPECT_EQ(count<Deregister>(out), 0u);
  ASSERT_EQ(count<Register>(out), 1u);
  EXPECT_TRUE(find<Register>(out)->full_load);
  agent.handle(PeAccepted{});
  EXPECT_EQ(agent.state(), State::Unhealthy);  // registered, but at full load: not ready
  EXPECT_FALSE(agent.ready());
  for (int i = 0; i < 2; ++i) {
    nextProbe(agent);
    out = probe(agent, true);
  }
  ASSERT_EQ(count<Register>(out), 1u);
  EXPECT_FALSE(find<Register>(out)->full_load);  // the configured load again
}

TEST_F(AgentTest, ProbesArePacedByThePeriodFromTheirStart) {
  Agent agent(config(), clock_);
  std::vector<Action> out;
  agent.start(out);
  clock_.advance(100ms);  // the probe took 100 ms
  out = agent.handle(ProbeResult{true, false, ""});
  const auto* arm = find<ArmTimer>(out);
  ASSERT_NE(arm, nullptr);
  EXPECT_EQ(arm->at, TimePoint{} + 250ms);
  // A timer firing early re-arms instead of probing.
  clock_.advance(50ms);
  out = agent.handle(TimerFired{Agent::kProbeTimer});
  EXPECT_EQ(count<Probe>(out), 0u);
  ASSERT_NE(find<ArmTimer>(out), nullptr);
  // A slow probe (longer than the period): the next one starts at once.
  clock_.advance(100ms);
  EXPECT_EQ(count<Probe>(agent.handle(TimerFired{Agent::kProbeTimer})), 1u);
  clock_.advance(400ms);
  out = agent.handle(ProbeResult{true, false, ""});
  EXPECT_EQ(find<ArmTimer>(out)->at, clock_.now());
  // A result nobody asked for is ignored.
  EXPECT_TRUE(agent.handle(ProbeResult{false, true, ""}).empty());
}

TEST_F(AgentTest, RegistrarLostMeansFailingOverUntilAcceptedElsewhere) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  auto out = agent.handle(RegistrarLost{});
  ASSERT_NE(find<StateChanged>(out), nullptr);
  EXPECT_EQ(agent.state(), State::FailingOver);
  EXPECT_FALSE(agent.ready());
  EXPECT_EQ(count<Register>(out), 0u);  // the PE engine registers again by itself
  agent.handle(PeAccepted{});
  EXPECT_EQ(agent.state(), State::Registered);
  EXPECT_EQ(agent.stats().failovers, 1u);
  // While still registering the first time, a lost connection is no failover.
  Agent fresh(config(), clock_);
  std::vector<Action> ignored;
  fresh.start(ignored);
  fresh.handle(ProbeResult{true, false, ""});
  fresh.handle(RegistrarLost{});
  EXPECT_EQ(fresh.state(), State::Starting);
}

TEST_F(AgentTest, RefusedRegistrationIsUnhealthyUntilTheVnfPassesAgain) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  agent.handle(PeRefused{"invalid values"});
  EXPECT_EQ(agent.state(), State::Unhealthy);
  nextProbe(agent);
  probe(agent, true);
  nextProbe(agent);
  EXPECT_EQ(count<Register>(probe(agent, true)), 1u);
}

TEST_F(AgentTest, DrainDeregistersFirstThenExitsZeroAfterGrace) {
  Agent agent(config(), clock_);
  registerHealthy(agent);
  auto out = agent.handle(DrainRequested{"SIGTERM"});
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(std::holds_alternative<Deregister>(out.front())) << "the deregistration goes out first";
  EXPECT_EQ(agent.state(), State::Draining);
  const auto* grace = find<ArmTimer>(out);
  ASSERT_NE(grace, nullptr);
  EXPECT_EQ(grace->timer, Agent::kGraceTimer);
  EXPECT_EQ(grace->at, clock_.now() + 2s);
  // No probes, no re-registration while draining; a second request changes nothing.
  clock_.advance(250ms);
  EXPECT_TRUE(agent.handle(TimerFired{Agent::kProbeTimer}).empty());
  EXPECT_TRUE(agent.handle(DrainRequested{"POST /drain"}).empty());
  EXPECT_TRUE(agent.handle(ProbeResult{true, false, ""}).empty());
  EXPECT_TRUE(agent.handle(PeAccepted{}).empty());
  clock_.advance(1750ms);
  out = agent.handle(TimerFired{Agent::kGraceTimer});
  ASSERT_NE(find<Exit>(out), nullptr);
  EXPECT_EQ(find<Exit>(out)->code, 0);
  EXPECT_EQ(agent.state(), State::Stopped);
}

TEST_F(AgentTest, DrainAfterTheVnfDiedStillDeregistersAndExits) {
  // The app container stops first (preStop hook, then SIGTERM to the sidecar last): both orders end with
  // no PE registered and exit 0.
  Agent agent(config(), clock_);
  registerHealthy(agent);
  nextProbe(agent);
  EXPECT_EQ(count<Deregister>(probe(agent, false, true)), 1u);
  auto out = agent.handle(DrainRequested{"SIGTERM"});
  EXPECT_EQ(count<Deregister>(out), 1u);  // harmless when already gone
  clock_.advance(2s);
  EXPECT_NE(find<Exit>(agent.handle(TimerFired{Agent::kGraceTimer})), nullptr);
}

TEST_F(AgentTest, StartingVnfThatRefusesIsReportedUnhealthyWithoutDeregistering) {
  Agent agent(config(), clock_);
  std::vector<Action> out;
  agent.start(out);
  out = agent.handle(ProbeResult{false, true, "refused"});
  EXPECT_EQ(count<Deregister>(out), 0u);
  EXPECT_EQ(count<Register>(out), 0u);
  EXPECT_EQ(agent.state(), State::Unhealthy);
  EXPECT_EQ(agent.stats().deregistrations, 0u);
}

TEST(StateName, EveryStateHasAName) {
  for (State s : {State::Starting, State::Registering, State::Registered, State::FailingOver, State::Unhealthy,
                  State::Draining, State::Stopped}) {
    EXPECT_NE(stateName(s), "unknown");
  }
}

}  // namespace
}  // namespace vnfpool::sidecar
