#include "vnfpool/asap/registrar_side.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "vnfpool/wire/codec.h"

namespace vnfpool::asap {
namespace {

using namespace std::chrono_literals;
using wire::Cause;
using Action = RegistrarSide::Action;

wire::Transport tcp(const char* address, std::uint16_t port) {
  wire::Transport t;
  t.kind = wire::TransportKind::Tcp;
  t.port = port;
  t.addresses.push_back(*wire::IpAddress::parse(address));
  return t;
}

wire::asap::Registration registration(const std::string& pool, wire::PeId id,
                                      wire::Policy policy = wire::Policy::make(wire::PolicyType::RoundRobin),
                                      const char* address = "10.0.0.1") {
  wire::asap::Registration m;
  m.pool_handle = pool;
  m.pe.id = id;
  m.pe.registration_life_ms = 30000;
  m.pe.user_transport = tcp(address, 5060);
  m.pe.policy = policy;
  return m;
}

template <typename T>
std::vector<T> sent(const std::vector<Action>& actions, ConnId* to = nullptr) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const auto* s = std::get_if<Send>(&a)) {
      if (const auto* m = std::get_if<T>(&s->message)) {
        out.push_back(*m);
        if (to != nullptr) *to = s->to;
      }
    }
  }
  return out;
}

std::optional<Arm> armed(const std::vector<Action>& actions) {
  std::optional<Arm> last;
  for (const auto& a : actions)
    if (const auto* arm = std::get_if<Arm>(&a)) last = *arm;
  return last;
}

class RegistrarSideTest : public ::testing::Test {
 protected:
  RegistrarSideTest() { makeEngine(); }

  void makeEngine() {
    config_.pr_id = 0x11111111;
    config_.keep_alive_interval = 500ms;
    config_.keep_alive_timeout = 200ms;
    pr_ = std::make_unique<RegistrarSide>(config_, hs_, clock_);
  }

  void connect(ConnId id, wire::Dialect dialect = wire::Dialect::Ng) {
    ConnectionInfo info;
    info.id = id;
    info.dialect = dialect;
    info.peer = tcp("10.0.0.1", static_cast<std::uint16_t>(40000 + id));
    pr_->handle(Connected{info});
  }

  wire::asap::RegistrationResponse registerPe(ConnId conn, const wire::asap::Registration& m) {
    auto out = pr_->handle(Received{conn, m});
    auto responses = sent<wire::asap::RegistrationResponse>(out);
    EXPECT_EQ(responses.size(), 1u);
    return responses.empty() ? wire::asap::RegistrationResponse{} : responses.front();
  }

  // Runs the keep-alive timer at its deadline; returns the actions.
  std::vector<Action> fire(const Arm& arm) {
    clock_.t = arm.at;
    return pr_->handle(Expired{arm.timer});
  }

  RegistrarConfig config_;
  handlespace::ManualClock clock_;
  handlespace::Handlespace hs_;
  std::unique_ptr<RegistrarSide> pr_;
};

TEST_F(RegistrarSideTest, RegistrationIsAcceptedAndOwned) {
  connect(1);
  auto response = registerPe(1, registration("sip-proxy", 42));
  EXPECT_FALSE(response.reject);
  EXPECT_EQ(response.pe_id, 42u);
  ASSERT_TRUE(hs_.contains("sip-proxy", 42));
  auto view = hs_.view(*hs_.find("sip-proxy", 42));
  EXPECT_EQ(view.homePr(), 0x11111111u);
  EXPECT_EQ(view.connection(), 1u);
  ASSERT_TRUE(view.asapTransport().has_value());
  EXPECT_EQ(view.asapTransport()->port, 40001);  // where the registration came from
  EXPECT_EQ(pr_->stats().registrations, 1u);
}

// A PE that listens for registrars announces the port in its NG Capabilities; a takeover PR connects
// there. Only the protocol and port are taken: the address is the registration's own.
TEST_F(RegistrarSideTest, AnAnnouncedListeningPortBecomesThePesAsapEndpointAtItsSourceAddress) {
  connect(1);
  auto m = registration("sip-proxy", 42);
  m.ng_caps = wire::NgCapabilities{};
  m.ng_caps->sender_id = 42;
  wire::Transport listening = tcp("0.0.0.0", 7000);
  listening.kind = wire::TransportKind::Mptcp;
  m.ng_caps->endpoints = {tcp("10.0.0.9", 0), listening};  // a port-0 entry is no endpoint
  EXPECT_FALSE(registerPe(1, m).reject);
  auto at = hs_.view(*hs_.find("sip-proxy", 42)).asapTransport();
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->kind, wire::TransportKind::Mptcp);
  EXPECT_EQ(at->port, 7000);
  ASSERT_EQ(at->addresses.size(), 1u);
  EXPECT_EQ(at->addresses[0].toString(), "10.0.0.1");  // where the registration came from

  // Another host's address in the announcement is not used.
  m.ng_caps->endpoints = {tcp("192.0.2.9", 7001)};
  EXPECT_FALSE(registerPe(1, m).reject);
  at = hs_.view(*hs_.find("sip-proxy", 42)).asapTransport();
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->port, 7001);
  EXPECT_EQ(at->addresses[0].toString(), "10.0.0.1");

  // Nothing announced: the registration's own address and port, as before.
  m.ng_caps->endpoints.clear();
  EXPECT_FALSE(registerPe(1, m).reject);
  EXPECT_EQ(hs_.view(*hs_.find("sip-proxy", 42)).asapTransport()->port, 40001);
}

TEST_F(RegistrarSideTest, ReregistrationUpdatesValuesInPlace) {
  connect(1);
  registerPe(1, registration("lu", 1, wire::Policy::make(wire::PolicyType::LeastUsed, {100})));
  auto response = registerPe(1, registration("lu", 1, wire::Policy::make(wire::PolicyType::LeastUsed, {900})));
  EXPECT_FALSE(response.reject);
  EXPECT_EQ(hs_.size(), 1u);
  EXPECT_EQ(hs_.view(*hs_.find("lu", 1)).policy().words[0], 900u);
  EXPECT_EQ(pr_->stats().reregistrations, 1u);
}

TEST_F(RegistrarSideTest, InconsistentPolicyIsRejectedWithThePolicy) {
  connect(1);
  registerPe(1, registration("pool", 1));
  const auto wrand = wire::Policy::make(wire::PolicyType::WeightedRandom, {5});
  auto response = registerPe(1, registration("pool", 2, wrand));
  EXPECT_TRUE(response.reject);
  ASSERT_TRUE(response.error);
  EXPECT_EQ(response.error->firstCode(), static_cast<std::uint16_t>(Cause::PolicyInconsistent));
  EXPECT_EQ(response.error->causes[0].info, wire::encodePolicyParameter(wrand));
  EXPECT_FALSE(hs_.contains("pool", 2));
  EXPECT_EQ(pr_->stats().rejections_by_cause.at(0x5), 1u);
}

TEST_F(RegistrarSideTest, InconsistentTransportIsRejected) {
  connect(1);
  registerPe(1, registration("pool", 1));
  auto other = registration("pool", 2);
  other.pe.user_transport.kind = wire::TransportKind::Udp;
  auto response = registerPe(1, other);
  EXPECT_TRUE(response.reject);
  EXPECT_EQ(response.error->firstCode(), static_cast<std::uint16_t>(Cause::InconsistentTransportType));
  EXPECT_FALSE(response.error->causes[0].info.empty());
}

TEST_F(RegistrarSideTest, BadValuesAreRejected) {
  connect(1);
  auto zero_id = registration("pool", 0);
  EXPECT_EQ(registerPe(1, zero_id).error->firstCode(), static_cast<std::uint16_t>(Cause::InvalidValues));
  auto long_handle = registration(std::string(33, 'x'), 1);
  EXPECT_TRUE(registerPe(1, long_handle).reject);
  auto port_zero = registration("pool", 1);
  port_zero.pe.user_transport.port = 0;
  EXPECT_TRUE(registerPe(1, port_zero).reject);
  EXPECT_TRUE(registerPe(1, registration("pool", 1, wire::Policy::make(wire::PolicyType::RoundRobin), "0.0.0.0")).reject);
  EXPECT_TRUE(registerPe(1, registration("pool", 1, wire::Policy::make(wire::PolicyType::RoundRobin), "224.0.0.1")).reject);
  EXPECT_TRUE(registerPe(1, registration("pool", 1, wire::Policy::make(wire::PolicyType::RoundRobin), "ff02::1")).reject);
  EXPECT_EQ(hs_.size(), 0u);
}

TEST_F(RegistrarSideTest, MinimumAddressScope) {
  config_.min_address_scope = AddressScope::SiteLocal;
  makeEngine();
  connect(1);
  EXPECT_TRUE(registerPe(1, registration("p", 1, wire::Policy::make(wire::PolicyType::RoundRobin), "127.0.0.1")).reject);
  EXPECT_TRUE(registerPe(1, registration("p", 1, wire::Policy::make(wire::PolicyType::RoundRobin), "fe80::1")).reject);
  EXPECT_FALSE(registerPe(1, registration("p", 1, wire::Policy::make(wire::PolicyType::RoundRobin), "10.1.2.3")).reject);
  EXPECT_FALSE(registerPe(1, registration("p", 2, wire::Policy::make(wire::PolicyType::RoundRobin), "fd00::5")).reject);
}

TEST_F(RegistrarSideTest, PeIdInUseOnAnotherLiveConnectionIsNonUnique) {
  connect(1);
  connect(2);
  registerPe(1, registration("pool", 7));
  auto response = registerPe(2, registration("pool", 7));
  EXPECT_TRUE(response.reject);
  EXPECT_EQ(response.error->firstCode(), static_cast<std::uint16_t>(Cause::NonUniquePeIdentifier));
  // Once the first connection is gone, the ID is free again.
  pr_->handle(Disconnected{1});
  EXPECT_FALSE(registerPe(2, registration("pool", 7)).reject);
}

TEST_F(RegistrarSideTest, DeregistrationAnswersEvenForUnknownPes) {
  connect(1);
  registerPe(1, registration("pool", 7));
  auto out = pr_->handle(Received{1, wire::asap::Deregistration{"pool", 7}});
  ASSERT_EQ(sent<wire::asap::DeregistrationResponse>(out).size(), 1u);
  EXPECT_FALSE(hs_.contains("pool", 7));
  out = pr_->handle(Received{1, wire::asap::Deregistration{"pool", 99}});
  auto responses = sent<wire::asap::DeregistrationResponse>(out);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].error.has_value());
}

TEST_F(RegistrarSideTest, ResolutionHonoursTheOptionAndSendsThePolicyFirst) {
  connect(1);
  for (wire::PeId id = 1; id <= 5; ++id) registerPe(1, registration("pool", id));
  connect(2);
  auto out = pr_->handle(Received{2, wire::asap::HandleResolution{false, std::nullopt, "pool", 2u}});
  auto responses = sent<wire::asap::HandleResolutionResponse>(out);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].pes.size(), 2u);
  ASSERT_TRUE(responses[0].overall_policy);
  EXPECT_EQ(responses[0].overall_policy->type, static_cast<std::uint32_t>(wire::PolicyType::RoundRobin));
  for (const auto& pe : responses[0].pes) {
    EXPECT_FALSE(pe.asap_transport.has_value());
    EXPECT_EQ(pe.home_pr, 0x11111111u);
  }
  // No option: the default (3); "all": the whole pool.
  out = pr_->handle(Received{2, wire::asap::HandleResolution{false, std::nullopt, "pool", std::nullopt}});
  EXPECT_EQ(sent<wire::asap::HandleResolutionResponse>(out)[0].pes.size(), 3u);
  out = pr_->handle(Received{2, wire::asap::HandleResolution{false, std::nullopt, "pool", wire::asap::kAllItems}});
  EXPECT_EQ(sent<wire::asap::HandleResolutionResponse>(out)[0].pes.size(), 5u);
  EXPECT_EQ(pr_->stats().resolutions, 3u);
}

TEST_F(RegistrarSideTest, RoundRobinResolutionsRotate) {
  connect(1);
  for (wire::PeId id = 1; id <= 4; ++id) registerPe(1, registration("rr", id));
  std::vector<wire::PeId> firsts;
  for (int i = 0; i < 4; ++i) {
    auto out = pr_->handle(Received{1, wire::asap::HandleResolution{false, std::nullopt, "rr", 3u}});
    firsts.push_back(sent<wire::asap::HandleResolutionResponse>(out)[0].pes[0].id);
  }
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(firsts, (std::vector<wire::PeId>{1, 2, 3, 4}));
}

TEST_F(RegistrarSideTest, UnknownPoolIsAnOperationalError) {
  connect(1);
  auto out = pr_->handle(Received{1, wire::asap::HandleResolution{false, std::nullopt, "nope", 1u}});
  auto responses = sent<wire::asap::HandleResolutionResponse>(out);
  ASSERT_EQ(responses.size(), 1u);
  ASSERT_TRUE(responses[0].error);
  EXPECT_EQ(responses[0].error->firstCode(), static_cast<std::uint16_t>(Cause::UnknownPoolHandle));
  EXPECT_TRUE(responses[0].pes.empty());
}

TEST_F(RegistrarSideTest, ResolutionRateLimitPerPu) {
  config_.max_handle_resolution_rate = 2;
  makeEngine();
  connect(1);
  registerPe(1, registration("pool", 1));
  connect(2);
  connect(3);
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    auto out = pr_->handle(Received{2, wire::asap::HandleResolution{false, std::nullopt, "pool", 1u}});
    if (sent<wire::asap::HandleResolutionResponse>(out)[0].error) ++refused;
  }
  EXPECT_EQ(refused, 3);  // a bucket of one second's worth: 2
  // Another PU is not affected, and the first recovers as time passes.
  auto other = pr_->handle(Received{3, wire::asap::HandleResolution{false, std::nullopt, "pool", 1u}});
  EXPECT_FALSE(sent<wire::asap::HandleResolutionResponse>(other)[0].error);
  clock_.advance(1s);
  auto later = pr_->handle(Received{2, wire::asap::HandleResolution{false, std::nullopt, "pool", 1u}});
  EXPECT_FALSE(sent<wire::asap::HandleResolutionResponse>(later)[0].error);
  EXPECT_EQ(pr_->stats().resolutions_rate_limited, 3u);
}

TEST_F(RegistrarSideTest, SilentPeIsDroppedAfterKeepAliveTimeout) {
  connect(1);
  auto out = pr_->handle(Received{1, registration("sip-proxy", 42)});
  auto arm = armed(out);
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->at, clock_.now() + 500ms);
  out = fire(*arm);  // sends the keep-alive, arms the timeout
  ConnId to = 0;
  auto keep_alives = sent<wire::asap::EndpointKeepAlive>(out, &to);
  ASSERT_EQ(keep_alives.size(), 1u);
  EXPECT_EQ(to, 1u);
  EXPECT_FALSE(keep_alives[0].home);
  EXPECT_EQ(keep_alives[0].server_id, 0x11111111u);
  EXPECT_EQ(keep_alives[0].pe_id, 42u);
  auto timeout = armed(out);
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->at, clock_.now() + 200ms);
  out = fire(*timeout);
  EXPECT_FALSE(hs_.contains("sip-proxy", 42));
  EXPECT_EQ(pr_->stats().keep_alive_timeouts, 1u);
}

TEST_F(RegistrarSideTest, AckKeepsThePeAndRestartsTheCycle) {
  connect(1);
  auto out = pr_->handle(Received{1, registration("sip-proxy", 42)});
  out = fire(*armed(out));
  ASSERT_EQ(sent<wire::asap::EndpointKeepAlive>(out).size(), 1u);
  clock_.advance(50ms);
  out = pr_->handle(Received{1, wire::asap::EndpointKeepAliveAck{"sip-proxy", 42}});
  auto next = armed(out);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->at, clock_.now() + 500ms);
  // The old timeout deadline passes harmlessly (a stale wake-up is a hint only).
  clock_.advance(200ms);
  pr_->handle(Expired{RegistrarSide::kKeepAliveTimer});
  EXPECT_TRUE(hs_.contains("sip-proxy", 42));
  out = fire(*next);
  EXPECT_EQ(sent<wire::asap::EndpointKeepAlive>(out).size(), 1u);
  EXPECT_EQ(pr_->stats().keep_alive_acks, 1u);
}

TEST_F(RegistrarSideTest, AcksForUnknownPesAreIgnored) {
  connect(1);
  auto out = pr_->handle(Received{1, wire::asap::EndpointKeepAliveAck{"other", 5}});
  EXPECT_TRUE(out.empty());
}

TEST_F(RegistrarSideTest, ConnectionLossRemovesItsPesAtOnce) {
  connect(1);
  connect(2);
  registerPe(1, registration("pool", 1));
  registerPe(1, registration("pool", 2));
  registerPe(2, registration("pool", 3));
  pr_->handle(Disconnected{1});
  EXPECT_FALSE(hs_.contains("pool", 1));
  EXPECT_FALSE(hs_.contains("pool", 2));
  EXPECT_TRUE(hs_.contains("pool", 3));
  EXPECT_EQ(pr_->stats().pes_removed_by_connection_loss, 2u);
}

TEST_F(RegistrarSideTest, UnreachableReportsRemoveAtTheThreshold) {
  connect(1);
  registerPe(1, registration("pool", 1));
  connect(2);
  for (int i = 0; i < 2; ++i) pr_->handle(Received{2, wire::asap::EndpointUnreachable{"pool", 1}});
  EXPECT_TRUE(hs_.contains("pool", 1));
  pr_->handle(Received{2, wire::asap::EndpointUnreachable{"pool", 1}});
  EXPECT_FALSE(hs_.contains("pool", 1));
  EXPECT_EQ(pr_->stats().unreachable_removals, 1u);
  // A re-registration starts with a clean slate.
  registerPe(1, registration("pool", 1));
  pr_->handle(Received{2, wire::asap::EndpointUnreachable{"pool", 1}});
  EXPECT_TRUE(hs_.contains("pool", 1));
}

TEST_F(RegistrarSideTest, UnreachableRateLimitDropsReports) {
  config_.max_endpoint_unreachable_rate = 1;
  makeEngine();
  connect(1);
  registerPe(1, registration("pool", 1));
  connect(2);
  for (int i = 0; i < 5; ++i) pr_->handle(Received{2, wire::asap::EndpointUnreachable{"pool", 1}});
  EXPECT_TRUE(hs_.contains("pool", 1));
  EXPECT_EQ(pr_->stats().unreachable_rate_limited, 4u);
}

TEST_F(RegistrarSideTest, MalformedInputIsAnsweredByItsActionBits) {
  connect(1);
  wire::Error report{Cause::UnrecognizedParameter, 16, {std::byte{0x41}, std::byte{0x23}, std::byte{0}, std::byte{4}}};
  auto out = pr_->handle(Malformed{1, report, 0x05});
  auto errors = sent<wire::asap::Error>(out);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].error.firstCode(), 0x1u);
  EXPECT_EQ(errors[0].error.causes[0].info, report.offending);

  wire::Error silent = report;
  silent.report = false;
  EXPECT_TRUE(pr_->handle(Malformed{1, silent, 0x05}).empty());

  wire::Error unknown{Cause::UnrecognizedMessage, 0, {std::byte{0x7f}}};
  EXPECT_EQ(sent<wire::asap::Error>(pr_->handle(Malformed{1, unknown, 0x7f})).size(), 1u);
  config_.report_unrecognized_messages = false;
  makeEngine();
  connect(1);
  EXPECT_TRUE(pr_->handle(Malformed{1, unknown, 0x7f}).empty());
}

TEST_F(RegistrarSideTest, MessagesNotForARegistrarAreIgnored) {
  connect(1);
  EXPECT_TRUE(pr_->handle(Received{1, wire::asap::Cookie{{std::byte{1}}}}).empty());
  EXPECT_TRUE(pr_->handle(Received{1, wire::asap::RegistrationResponse{}}).empty());
  EXPECT_EQ(pr_->stats().ignored_messages, 2u);
  // And nothing at all from a connection we never saw.
  EXPECT_TRUE(pr_->handle(Received{99, registration("pool", 1)}).empty());
}

TEST_F(RegistrarSideTest, NgCapabilitiesAreAnsweredWithOurs) {
  connect(1);
  auto m = registration("pool", 1);
  m.ng_caps = wire::NgCapabilities{};
  auto response = registerPe(1, m);
  ASSERT_TRUE(response.ng_caps);
  EXPECT_EQ(response.ng_caps->sender_id, 0x11111111u);
  EXPECT_TRUE(response.ng_caps->has(wire::features::kNgFormat));
}

TEST_F(RegistrarSideTest, RemovePeOnRequestStopsMonitoring) {
  connect(1);
  auto out = pr_->handle(Received{1, registration("pool", 1)});
  std::vector<Action> actions;
  EXPECT_TRUE(pr_->removePe("pool", 1, actions));
  EXPECT_FALSE(hs_.contains("pool", 1));
  bool disarmed = false;
  for (const auto& a : actions) disarmed |= std::holds_alternative<Disarm>(a);
  EXPECT_TRUE(disarmed);
  EXPECT_FALSE(pr_->removePe("pool", 1, actions));
}

TEST_F(RegistrarSideTest, AdoptedPeGetsHomeKeepAlive) {
  // A PE known from ENRP (foreign owner) that this PR takes over.
  wire::PoolElement foreign;
  foreign.id = 9;
  foreign.home_pr = 0x33333333;
  foreign.registration_life_ms = 30000;
  foreign.user_transport = tcp("10.0.0.9", 5060);
  foreign.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
  ASSERT_TRUE(hs_.registerPe("pool", foreign, {handlespace::kNoConnection, clock_.now() + 30s}, clock_.now()).ok());
  connect(5);
  std::vector<Action> out;
  pr_->adoptPe("pool", 9, 5, out);
  auto keep_alives = sent<wire::asap::EndpointKeepAlive>(out);
  ASSERT_EQ(keep_alives.size(), 1u);
  EXPECT_TRUE(keep_alives[0].home);
  EXPECT_EQ(hs_.view(*hs_.find("pool", 9)).homePr(), 0x11111111u);
  // No ack: dropped after the timeout.
  fire(*armed(out));
  EXPECT_FALSE(hs_.contains("pool", 9));
}

// Two registrars fed the same events, one answering resolutions with SendBytes (cached, pre-encoded PE
// parameters), the other with the structured Send: every answer must be the same bytes, through
// re-registrations (new loads), deregistrations and adoption, in both dialects, with and without the ng
// capabilities, for every item count; errors stay structured Sends in both. Half the resolutions reach the
// fast side read in place (ReceivedResolution, the registrar's path for them).
TEST(RegistrarSideEncodedAnswers, AreTheBytesOfTheStructuredAnswer) {
  handlespace::ManualClock clock;
  RegistrarConfig config;
  config.pr_id = 0x11111111;
  handlespace::Handlespace hs_plain, hs_fast;
  RegistrarSide plain(config, hs_plain, clock);
  config.encode_resolution_answers = true;
  RegistrarSide fast(config, hs_fast, clock);
  std::map<ConnId, wire::Dialect> dialects;
  std::size_t compared = 0, bytes_answers = 0, in_place = 0;

  auto compare = [&](const std::vector<RegistrarSide::Action>& a, const std::vector<RegistrarSide::Action>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (const auto* s = std::get_if<Send>(&a[i])) {
        ASSERT_NE(dialects.count(s->to), 0u);
        auto expected = wire::encode(s->message, dialects[s->to]);
        ASSERT_TRUE(expected.ok());
        std::span<const std::byte> got;
        wire::Bytes structured;
        if (const auto* raw = std::get_if<SendBytes>(&b[i])) {
          EXPECT_EQ(raw->to, s->to);
          got = raw->bytes;
          ++bytes_answers;
        } else {
          const auto* t = std::get_if<Send>(&b[i]);
          ASSERT_NE(t, nullptr);
          auto e = wire::encode(t->message, dialects[s->to]);
          ASSERT_TRUE(e.ok());
          structured = e.value();
          got = structured;
        }
        EXPECT_TRUE(std::ranges::equal(got, expected.value())) << "action " << i << " to " << s->to;
        ++compared;
      }
    }
  };
  auto both = [&](const auto& event) { compare(plain.handle(event), fast.handle(event)); };
  // Resolutions reach the fast side as the registrar feeds them, read in place (ReceivedResolution).
  auto resolveBoth = [&](ConnId pu, const wire::asap::HandleResolution& m) {
    compare(plain.handle(Received{pu, m}), fast.handle(ReceivedResolution{pu, wire::asap::HandleResolutionView(m)}));
    ++in_place;
  };
  auto connectBoth = [&](ConnId id, wire::Dialect dialect) {
    ConnectionInfo info;
    info.id = id;
    info.dialect = dialect;
    info.peer = tcp("10.0.0.1", static_cast<std::uint16_t>(40000 + id));
    dialects[id] = dialect;
    both(Connected{info});
  };
  connectBoth(1, wire::Dialect::Ng);
  connectBoth(2, wire::Dialect::Classic);
  connectBoth(3, wire::Dialect::Ng);
  connectBoth(4, wire::Dialect::Classic);
  auto lu = [](std::uint32_t load) { return wire::Policy::make(wire::PolicyType::LeastUsed, {load}); };
  for (wire::PeId id = 1; id <= 6; ++id) {
    both(Received{1, registration("rr", id)});
    auto m = registration("lu", id, lu(static_cast<std::uint32_t>(id * 1000)), "10.0.1.1");
    m.pe.user_transport.addresses.push_back(*wire::IpAddress::parse("2001:db8::5"));
    both(Received{2, m});
  }
  for (int round = 0; round < 40; ++round) {
    const ConnId pu = round % 2 == 0 ? 3 : 4;
    const std::optional<std::uint32_t> items =
        round % 4 == 0 ? std::nullopt : std::optional<std::uint32_t>(static_cast<std::uint32_t>(round % 8));
    wire::asap::HandleResolution rr{false, std::nullopt, "rr", items};
    if (round % 3 == 0) rr.ng_caps = wire::NgCapabilities{};
    both(Received{pu, rr});
    // The same request again (the fast side reuses its encoded head), then with the capabilities flipped
    // (it must not), twice.
    resolveBoth(pu, rr);
    rr.ng_caps = rr.ng_caps ? std::nullopt : std::optional<wire::NgCapabilities>(wire::NgCapabilities{});
    both(Received{pu, rr});
    resolveBoth(pu, rr);
    both(Received{pu, wire::asap::HandleResolution{false, std::nullopt, "lu", items}});
    resolveBoth(pu, wire::asap::HandleResolution{false, std::nullopt, "lu", items});
    // Changes between answers: a new load (re-registration), a PE leaving and coming back.
    const auto id = static_cast<wire::PeId>(1 + round % 6);
    both(Received{2, registration("lu", id, lu(static_cast<std::uint32_t>((round * 7919) % 10000)), "10.0.1.1")});
    if (round % 5 == 0) both(Received{1, wire::asap::Deregistration{"rr", id}});
    if (round % 5 == 2) both(Received{1, registration("rr", id, wire::Policy::make(wire::PolicyType::RoundRobin), "10.0.2.2")});
  }
  both(Received{3, wire::asap::HandleResolution{false, std::nullopt, "unknown", 1u}});
  resolveBoth(4, wire::asap::HandleResolution{false, std::nullopt, "unknown", 1u});
  EXPECT_EQ(in_place, 121u);
  EXPECT_GT(bytes_answers, 200u);
  EXPECT_GT(compared, bytes_answers);
}

}  // namespace
}  // namespace vnfpool::asap
