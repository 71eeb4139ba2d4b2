#include "vnfpool/asap/pool_element_side.h"

#include "sim.h"

namespace vnfpool::asap {
namespace {

using namespace std::chrono_literals;
using test::only;
using test::sentMessages;
using Action = PoolElementSide::Action;

wire::PoolElement element(wire::PeId id, std::uint32_t life_ms = 3000) {
  wire::PoolElement pe;
  pe.id = id;
  pe.registration_life_ms = life_ms;
  pe.user_transport = test::tcpAt("10.0.0.1", 5060);
  pe.policy = wire::Policy::make(wire::PolicyType::LeastUsed, {0});
  return pe;
}

class PoolElementSideTest : public ::testing::Test {
 protected:
  PoolElementSideTest() : pe_(config_, clock_) {}

  // Hunt, connect as `conn`, register "pool"/7; returns the actions of the Connected event.
  std::vector<Action> connectAndRegister(ConnId conn = 1) {
    std::vector<Action> out;
    pe_.add("pool", element(7), out);
    EXPECT_EQ(only<StartHunt>(out).size(), 1u);
    return pe_.handle(Connected{test::outbound(conn)});
  }

  PoolElementConfig config_;
  handlespace::ManualClock clock_;
  PoolElementSide pe_;
};

TEST_F(PoolElementSideTest, HuntsRegistersAndReportsIt) {
  auto out = connectAndRegister();
  auto registrations = sentMessages<wire::asap::Registration>(out);
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].pool_handle, "pool");
  EXPECT_EQ(registrations[0].pe.id, 7u);
  EXPECT_TRUE(registrations[0].ng_caps.has_value());
  out = pe_.handle(Received{1, test::throughWire(wire::asap::RegistrationResponse{
                                   false, wire::NgCapabilities{1, 0, 0xf, 0x11111111, {}}, "pool", 7, std::nullopt})});
  auto done = only<PeRegistered>(out);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].home, 0x11111111u);
  EXPECT_TRUE(pe_.registered("pool", 7));
  EXPECT_EQ(pe_.homeConnection(), 1u);
}

TEST_F(PoolElementSideTest, AnnouncesItsAsapEndpointWithEachRegistration) {
  wire::Transport listening = test::tcpAt("0.0.0.0", 7000);
  pe_.setAsapEndpoint(listening);
  auto registrations = sentMessages<wire::asap::Registration>(connectAndRegister());
  ASSERT_EQ(registrations.size(), 1u);
  ASSERT_TRUE(registrations[0].ng_caps.has_value());
  ASSERT_EQ(registrations[0].ng_caps->endpoints.size(), 1u);
  EXPECT_EQ(registrations[0].ng_caps->endpoints[0], listening);
  // It survives the wire (a transport inside NG Capabilities).
  auto back = test::throughWire(wire::asap::Registration(registrations[0]));
  EXPECT_EQ(std::get<wire::asap::Registration>(back).ng_caps->endpoints, registrations[0].ng_caps->endpoints);

  pe_.setAsapEndpoint(std::nullopt);
  pe_.handle(Disconnected{1});
  auto again = pe_.handle(Connected{test::outbound(2)});
  registrations = sentMessages<wire::asap::Registration>(again);
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_TRUE(registrations[0].ng_caps->endpoints.empty());
}

TEST_F(PoolElementSideTest, AnEndpointIsAnnouncedOnlyWhileAllPesShareOneId) {
  pe_.setAsapEndpoint(test::tcpAt("0.0.0.0", 7000));
  connectAndRegister();
  std::vector<Action> out;
  pe_.add("other", element(8), out);  // a second PE ID on the same connection
  auto registrations = sentMessages<wire::asap::Registration>(out);
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_TRUE(registrations[0].ng_caps->endpoints.empty());
}

TEST_F(PoolElementSideTest, InboundConnectionsMoveTheHomeOnlyForOwnPes) {
  connectAndRegister();
  pe_.handle(Received{1, wire::asap::RegistrationResponse{false, std::nullopt, "pool", 7, std::nullopt}});
  pe_.handle(Connected{test::inbound(2)});
  // H=1 for a PE we do not hold: the connection is closed, the home stays.
  auto out = pe_.handle(Received{2, wire::asap::EndpointKeepAlive{true, 0x22222222, "pool", 99u}});
  EXPECT_TRUE(only<HomeChanged>(out).empty());
  ASSERT_EQ(only<Close>(out).size(), 1u);
  EXPECT_EQ(only<Close>(out)[0].conn, 2u);
  EXPECT_EQ(pe_.homeConnection(), 1u);
  // Its end is not a failed hunt attempt and starts nothing.
  out = pe_.handle(Disconnected{2});
  EXPECT_TRUE(out.empty());
  // Past a few open inbound connections, more are closed at once.
  for (ConnId c = 10; c < 18; ++c) EXPECT_TRUE(only<Close>(pe_.handle(Connected{test::inbound(c)})).empty());
  EXPECT_EQ(only<Close>(pe_.handle(Connected{test::inbound(18)})).size(), 1u);
}

TEST_F(PoolElementSideTest, ReregistersEveryThirdOfTheLife) {
  auto out = connectAndRegister();
  pe_.handle(Received{1, wire::asap::RegistrationResponse{false, std::nullopt, "pool", 7, std::nullopt}});
  std::optional<Arm> rereg;
  for (const auto& a : only<Arm>(out))
    if (a.timer == PoolElementSide::kReregisterTimer) rereg = a;
  ASSERT_TRUE(rereg);
  EXPECT_EQ(rereg->at, clock_.now() + 1000ms);
  clock_.t = rereg->at;
  out = pe_.handle(Expired{PoolElementSide::kReregisterTimer});
  EXPECT_EQ(sentMessages<wire::asap::Registration>(out).size(), 1u);
}

TEST_F(PoolElementSideTest, AnswersKeepAlivesForItsPes) {
  connectAndRegister();
  pe_.handle(Received{1, wire::asap::RegistrationResponse{false, std::nullopt, "pool", 7, std::nullopt}});
  auto out = pe_.handle(Received{1, wire::asap::EndpointKeepAlive{false, 0x11111111, "pool", 7u}});
  auto acks = sentMessages<wire::asap::EndpointKeepAliveAck>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].pe_id, 7u);
  // Without a PE ID (RFC form): every PE of that pool; another pool's keep-alive: nothing.
  EXPECT_EQ(sentMessages<wire::asap::EndpointKeepAliveAck>(
                pe_.handle(Received{1, wire::asap::EndpointKeepAlive{false, 1, "pool", std::nullopt}}))
                .size(),
            1u);
  EXPECT_TRUE(sentMessages<wire::asap::EndpointKeepAliveAck>(
                  pe_.handle(Received{1, wire::asap::EndpointKeepAlive{false, 1, "other", std::nullopt}}))
                  .empty());
}

TEST_F(PoolElementSideTest, FollowsATakeoverToTheNewRegistrar) {
  connectAndRegister();
  pe_.handle(Received{1, wire::asap::RegistrationResponse{false, std::nullopt, "pool", 7, std::nullopt}});
  pe_.handle(Connected{test::inbound(2)});  // another registrar connects to us
  auto out = pe_.handle(Received{2, wire::asap::EndpointKeepAlive{true, 0x22222222, "pool", 7u}});
  ASSERT_EQ(only<HomeChanged>(out).size(), 1u);
  EXPECT_EQ(pe_.homeConnection(), 2u);
  EXPECT_EQ(pe_.homeRegistrar(), 0x22222222u);
  auto closes = only<Close>(out);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].conn, 1u);
  EXPECT_EQ(sentMessages<wire::asap::EndpointKeepAliveAck>(out).size(), 1u);
  // The old connection's end is no loss any more.
  EXPECT_TRUE(only<StartHunt>(pe_.handle(Disconnected{1})).empty());
}

TEST_F(PoolElementSideTest, LosingTheRegistrarStartsANewHuntAndReregisters) {
  connectAndRegister();
  pe_.handle(Received{1, wire::asap::RegistrationResponse{false, std::nullopt, "pool", 7, std::nullopt}});
  auto out = pe_.handle(Disconnected{1});
  EXPECT_EQ(only<StartHunt>(out).size(), 1u);
  EXPECT_FALSE(pe_.registered("pool", 7));
  out = pe_.handle(Connected{test::outbound(3)});
  EXPECT_EQ(sentMessages<wire::asap::Registration>(out).size(), 1u);
}

TEST_F(PoolElementSideTest, FailedHuntsBackOff) {
  std::vector<Action> out;
  pe_.add("pool", element(7), out);
  out = pe_.handle(Disconnected{11});  // the attempt failed
  auto arm = only<Arm>(out);
  ASSERT_EQ(arm.size(), 1u);
  EXPECT_EQ(arm[0].at, clock_.now() + 100ms);
  clock_.t = arm[0].at;
  EXPECT_EQ(only<StartHunt>(pe_.handle(Expired{PoolElementSide::kHuntTimer})).size(), 1u);
  out = pe_.handle(Disconnected{12});
  EXPECT_EQ(only<Arm>(out)[0].at, clock_.now() + 200ms);
  EXPECT_EQ(pe_.stats().hunts, 2u);
}

TEST_F(PoolElementSideTest, UnansweredRegistrationDropsTheRegistrar) {
  auto out = connectAndRegister();
  std::optional<Arm> timeout;
  for (const auto& a : only<Arm>(out))
    if (a.timer == PoolElementSide::kRequestTimer) timeout = a;
  ASSERT_TRUE(timeout);
  clock_.t = timeout->at;
  out = pe_.handle(Expired{PoolElementSide::kRequestTimer});
  EXPECT_EQ(only<Close>(out).size(), 1u);
  EXPECT_EQ(only<StartHunt>(out).size(), 1u);
  EXPECT_EQ(pe_.stats().request_timeouts, 1u);
}

TEST_F(PoolElementSideTest, RefusalIsReported) {
  connectAndRegister();
  auto out = pe_.handle(Received{1, wire::asap::RegistrationResponse{
                                        true, std::nullopt, "pool", 7,
                                        wire::OperationalError::of(wire::Cause::PolicyInconsistent)}});
  auto refused = only<PeRefused>(out);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].cause, 0x5);
  EXPECT_EQ(pe_.size(), 0u);
}

TEST_F(PoolElementSideTest, RemoveDeregisters) {
  connectAndRegister();
  pe_.handle(Received{1, wire::asap::RegistrationResponse{false, std::nullopt, "pool", 7, std::nullopt}});
  std::vector<Action> out;
  EXPECT_TRUE(pe_.remove("pool", 7, out));
  EXPECT_EQ(sentMessages<wire::asap::Deregistration>(out).size(), 1u);
  EXPECT_FALSE(pe_.remove("pool", 7, out));
}

}  // namespace
}  // namespace vnfpool::asap
