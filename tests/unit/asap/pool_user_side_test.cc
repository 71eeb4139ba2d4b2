#include "vnfpool/asap/pool_user_side.h"

#include "sim.h"

namespace vnfpool::asap {
namespace {

using namespace std::chrono_literals;
using test::only;
using test::sentMessages;
using Action = PoolUserSide::Action;

wire::PoolElement element(wire::PeId id) {
  wire::PoolElement pe;
  pe.id = id;
  pe.registration_life_ms = 3000;
  pe.user_transport = test::tcpAt("10.0.0.1", 5060);
  pe.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
  return pe;
}

wire::asap::HandleResolutionResponse answer(const std::string& pool, std::vector<wire::PeId> ids) {
  wire::asap::HandleResolutionResponse r;
  r.pool_handle = pool;
  r.overall_policy = wire::Policy::make(wire::PolicyType::RoundRobin);
  for (auto id : ids) r.pes.push_back(element(id));
  return r;
}

class PoolUserSideTest : public ::testing::Test {
 protected:
  PoolUserSideTest() : pu_(config_, clock_) {}
  void connect() {
    std::vector<Action> out;
    pu_.resolve(1, "pool", 2, out);
    ASSERT_EQ(only<StartHunt>(out).size(), 1u);
    out = pu_.handle(Connected{test::outbound(1)});
    auto requests = sentMessages<wire::asap::HandleResolution>(out);
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].items, 2u);
  }

  PoolUserConfig config_;
  handlespace::ManualClock clock_;
  PoolUserSide pu_;
};

TEST_F(PoolUserSideTest, ResolvesThroughTheRegistrarThenFromTheCache) {
  connect();
  auto out = pu_.handle(Received{1, test::throughWire(answer("pool", {1, 2}))});
  auto resolved = only<Resolved>(out);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].id, 1u);
  EXPECT_EQ(resolved[0].cause, 0);
  EXPECT_EQ(resolved[0].pes.size(), 2u);
  EXPECT_FALSE(resolved[0].from_cache);

  out.clear();
  pu_.resolve(2, "pool", 1, out);
  resolved = only<Resolved>(out);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_TRUE(resolved[0].from_cache);
  EXPECT_EQ(resolved[0].pes.size(), 1u);
  EXPECT_TRUE(sentMessages<wire::asap::HandleResolution>(out).empty());
  // The cache rotates, and expires.
  out.clear();
  pu_.resolve(3, "pool", 1, out);
  EXPECT_NE(only<Resolved>(out)[0].pes[0].id, resolved[0].pes[0].id);
  clock_.advance(config_.cache_lifetime);
  out.clear();
  pu_.resolve(4, "pool", 1, out);
  EXPECT_EQ(sentMessages<wire::asap::HandleResolution>(out).size(), 1u);
  EXPECT_EQ(pu_.stats().cache_hits, 2u);
}

TEST_F(PoolUserSideTest, UnknownPoolFailsWithTheCause) {
  connect();
  wire::asap::HandleResolutionResponse r;
  r.pool_handle = "pool";
  r.error = wire::OperationalError::of(wire::Cause::UnknownPoolHandle);
  auto resolved = only<Resolved>(pu_.handle(Received{1, r}));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].cause, 0x9);
}

TEST_F(PoolUserSideTest, TimeoutFailsAndDropsTheRegistrar) {
  connect();
  clock_.advance(config_.request_timeout);
  auto out = pu_.handle(Expired{PoolUserSide::kRequestTimer});
  auto resolved = only<Resolved>(out);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].cause, static_cast<std::uint16_t>(wire::Cause::LackOfResources));
  EXPECT_EQ(only<Close>(out).size(), 1u);
  EXPECT_EQ(pu_.registrarConnection(), kNoConn);
}

TEST_F(PoolUserSideTest, RegistrarLossResendsOnTheNextOne) {
  connect();
  auto out = pu_.handle(Disconnected{1});
  EXPECT_EQ(only<StartHunt>(out).size(), 1u);
  out = pu_.handle(Connected{test::outbound(2)});
  EXPECT_EQ(sentMessages<wire::asap::HandleResolution>(out).size(), 1u);
  auto resolved = only<Resolved>(pu_.handle(Received{2, answer("pool", {5})}));
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].pes[0].id, 5u);
}

TEST_F(PoolUserSideTest, UnreachableReportLeavesTheCacheAndReachesTheRegistrar) {
  connect();
  pu_.handle(Received{1, answer("pool", {1, 2})});
  std::vector<Action> out;
  pu_.reportUnreachable("pool", 1, out);
  auto reports = sentMessages<wire::asap::EndpointUnreachable>(out);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].pe_id, 1u);
  for (int i = 0; i < 3; ++i) {
    out.clear();
    pu_.resolve(10 + static_cast<RequestId>(i), "pool", 0, out);
    EXPECT_EQ(only<Resolved>(out).at(0).pes.size(), 1u);
    EXPECT_EQ(only<Resolved>(out).at(0).pes[0].id, 2u);
  }
}

TEST_F(PoolUserSideTest, WithoutCacheEveryResolutionAsks) {
  config_.cache_lifetime = Duration{0};
  PoolUserSide pu(config_, clock_);
  std::vector<Action> out;
  pu.resolve(1, "pool", 1, out);
  pu.handle(Connected{test::outbound(1)});
  pu.handle(Received{1, answer("pool", {1})});
  out.clear();
  pu.resolve(2, "pool", 1, out);
  EXPECT_EQ(sentMessages<wire::asap::HandleResolution>(out).size(), 1u);
}

}  // namespace
}  // namespace vnfpool::asap
