#include "vnfpool/observe/health.h"

#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace vnfpool::observe {
namespace {

TEST(Health, ReadyWithoutConditionsAndAliveUntilBroken) {
  Health h;
  EXPECT_TRUE(h.ready());
  EXPECT_TRUE(h.alive());
  EXPECT_EQ(h.readiness().body(false), "ok\n");
  h.markBroken("event loop stalled");
  h.markBroken("second reason is ignored");
  EXPECT_FALSE(h.alive());
  EXPECT_FALSE(h.ready());
  EXPECT_EQ(h.liveness().body(false), "[-]alive failed: event loop stalled\nfailed\n");
}

TEST(Health, ReadyOnlyWhenEveryConditionHolds) {
  Health h;
  h.setCondition("registered", false, "no PR reachable");
  h.setCondition("vnf_healthy", true);
  EXPECT_FALSE(h.ready());
  EXPECT_EQ(h.readiness().body(false), "[-]registered failed: no PR reachable\n[+]vnf_healthy ok\nfailed\n");
  h.setCondition("registered", true);
  EXPECT_TRUE(h.ready());
  EXPECT_EQ(h.readiness().body(false), "ok\n");
  EXPECT_EQ(h.readiness().body(true), "[+]registered ok\n[+]vnf_healthy ok\nok\n");
  h.setCondition("vnf_healthy", false, "connect refused");
  EXPECT_FALSE(h.ready());
  h.clearCondition("vnf_healthy");
  h.clearCondition("never_set");
  EXPECT_TRUE(h.ready());
}

TEST(Health, ChecksRunPerProbeAndExceptionsFail) {
  Health h;
  bool leader = false;
  h.addReadinessCheck("leader", [&leader] { return CheckResult{"ignored-name", leader, "not the leader"}; });
  h.addReadinessCheck("throws", []() -> CheckResult { throw std::runtime_error("kube API unreachable"); });
  auto r = h.readiness();
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.checks.size(), 2U);
  EXPECT_EQ(r.checks[0], (CheckResult{"leader", false, "not the leader"}));
  EXPECT_EQ(r.checks[1], (CheckResult{"throws", false, "kube API unreachable"}));
  leader = true;
  r = h.readiness();
  EXPECT_EQ(r.checks[0].name, "throws");
  EXPECT_TRUE(r.checks[1].ok);
}

TEST(Health, LivenessChecksFailBothProbes) {
  Health h;
  bool beating = true;
  h.addLivenessCheck("loop", [&beating] { return CheckResult{"", beating, "event loop stalled"}; });
  EXPECT_TRUE(h.alive());
  EXPECT_TRUE(h.ready());
  EXPECT_EQ(h.liveness().body(true), "[+]alive ok\n[+]loop ok\nok\n");
  beating = false;
  EXPECT_FALSE(h.alive());
  EXPECT_FALSE(h.ready());
  EXPECT_EQ(h.liveness().body(false), "[-]loop failed: event loop stalled\n[+]alive ok\nfailed\n");
  h.addLivenessCheck("throws", []() -> CheckResult { throw 42; });
  beating = true;
  EXPECT_EQ(h.liveness().body(false), "[-]throws failed: unknown exception\n[+]alive ok\n[+]loop ok\nfailed\n");
}

TEST(Health, DrainingIsNotReadyButAlive) {
  Health h;
  h.setCondition("registered", true);
  h.setDraining();
  EXPECT_FALSE(h.ready());
  EXPECT_TRUE(h.alive());
  EXPECT_NE(h.readiness().body(false).find("[-]draining failed"), std::string::npos);
}

TEST(Health, ConcurrentUpdatesAndProbes) {
  Health h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 1000; ++i) {
        h.setCondition("c" + std::to_string(t), i % 2 == 1);
        (void)h.readiness();
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_TRUE(h.ready());  // each thread's last write was true
  EXPECT_EQ(h.readiness().checks.size(), 4U);
}

}  // namespace
}  // namespace vnfpool::observe
