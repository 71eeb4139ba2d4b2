// Golden vectors: real RSPLIB 3.4.4 traffic (tests/data/rsplib, see its README.md). Every ASAP and ENRP
// message in the captures decodes in the classic dialect and re-encodes to the same bytes; selected
// frames are checked field by field against the tshark decodes next to the captures. The full
// field-by-field comparison of every frame against tshark runs in tests/wire/tshark_golden.py.
#include <gtest/gtest.h>

#include <map>

#include "pcap.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::wire {
namespace {

const std::string kData = VNFPOOL_TEST_DATA "/rsplib/";

struct Capture {
  std::string name;
  std::vector<test::CapturedMessage> messages;
};

const Capture& capture(const std::string& name) {
  static std::map<std::string, Capture> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, Capture{name, test::readCapture(kData + name + ".pcap")}).first;
  return it->second;
}

const test::CapturedMessage& frame(const std::string& name, std::size_t number) {
  for (const auto& m : capture(name).messages)
    if (m.frame == number) return m;
  throw std::runtime_error(name + ": no ASAP/ENRP message in frame " + std::to_string(number));
}

AsapMessage asapFrame(const std::string& name, std::size_t number) {
  auto decoded = decodeAsap(frame(name, number).bytes, Dialect::Classic);
  if (!decoded.ok()) throw std::runtime_error(decoded.error().detail);
  return decoded.value();
}

EnrpMessage enrpFrame(const std::string& name, std::size_t number) {
  auto decoded = decodeEnrp(frame(name, number).bytes, Dialect::Classic);
  if (!decoded.ok()) throw std::runtime_error(decoded.error().detail);
  return decoded.value();
}

class EveryCapture : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCapture, DecodesAndReencodesByteForByte) {
  const auto& c = capture(GetParam());
  ASSERT_FALSE(c.messages.empty());
  std::size_t failures = 0;
  for (const auto& m : c.messages) {
    SCOPED_TRACE("frame " + std::to_string(m.frame));
    const bool asap = m.protocol == Protocol::Asap;
    Bytes again;
    if (asap) {
      auto decoded = decodeAsap(m.bytes, Dialect::Classic);
      if (!decoded.ok()) {
        ++failures;
        continue;
      }
      again = encode(decoded.value(), Dialect::Classic).value();
    } else {
      auto decoded = decodeEnrp(m.bytes, Dialect::Classic);
      if (!decoded.ok()) {
        ++failures;
        continue;
      }
      again = encode(decoded.value(), Dialect::Classic).value();
    }
    EXPECT_EQ(toHex(again), toHex(m.bytes));
  }
  // Only errors.pcap holds messages that must not decode: checked one by one in RsplibErrors below.
  EXPECT_EQ(failures, GetParam() == "errors" ? 5u : 0u);
}

INSTANTIATE_TEST_SUITE_P(Rsplib, EveryCapture,
                         ::testing::Values("pe-lifecycle", "pu-failover", "calcapp-failover", "enrp-takeover",
                                           "policies", "hsdump-csp", "errors"),
                         [](const auto& p) {
                           std::string n = p.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// The message counts of the coverage table in tests/data/rsplib/README.md (tshark's count).
TEST(Coverage, MessageCountsMatchTsharksTable) {
  std::map<std::string, std::size_t> asap, enrp;
  for (const auto& name : {"pe-lifecycle", "pu-failover", "calcapp-failover", "enrp-takeover", "policies",
                           "hsdump-csp", "errors"}) {
    for (const auto& m : capture(name).messages) {
      const auto type = peekHeader(m.bytes)->type;
      if (m.protocol == Protocol::Asap)
        ++asap[std::string(asapTypeName(type))];
      else
        ++enrp[std::string(enrpTypeName(type))];
    }
  }
  EXPECT_EQ(asap["registration"], 3u + 2 + 2 + 4 + 15 + 2);
  EXPECT_EQ(asap["deregistration"], 1u + 1 + 2 + 2 + 15 + 2);
  EXPECT_EQ(asap["handle_resolution"], 4u + 3 + 2);
  EXPECT_EQ(asap["handle_resolution_response"], 4u + 3);
  EXPECT_EQ(asap["endpoint_keep_alive"], 3u + 7 + 11 + 5 + 77 + 2);
  EXPECT_EQ(asap["endpoint_keep_alive_ack"], 3u + 7 + 10 + 5 + 77 + 2);
  EXPECT_EQ(asap["endpoint_unreachable"], 2u);
  EXPECT_EQ(asap["server_announce"], 11u);
  EXPECT_EQ(asap["cookie"], 9u);
  EXPECT_EQ(asap["cookie_echo"], 1u);
  EXPECT_EQ(asap["error"], 2u);
  EXPECT_EQ(enrp["presence"], 5u + 84 + 6 + 2 + 1);
  EXPECT_EQ(enrp["handle_table_request"], 2u + 4 + 1);
  EXPECT_EQ(enrp["handle_table_response"], 2u + 4 + 1);
  EXPECT_EQ(enrp["handle_update"], 12u);
  EXPECT_EQ(enrp["list_request"], 6u + 5 + 2);
  EXPECT_EQ(enrp["list_response"], 6u + 4 + 1);
  EXPECT_EQ(enrp["init_takeover"], 1u);
  EXPECT_EQ(enrp["init_takeover_ack"], 1u);
  EXPECT_EQ(enrp["error"], 1u);
}

TEST(PeLifecycle, RegistrationFrame13) {
  auto m = std::get<asap::Registration>(asapFrame("pe-lifecycle", 13));
  EXPECT_EQ(m.pool_handle, "EchoPool");
  EXPECT_EQ(m.pe.id, 0xe001u);
  EXPECT_EQ(m.pe.home_pr, 0u);
  EXPECT_EQ(m.pe.registration_life_ms, 7500u);
  EXPECT_EQ(m.pe.user_transport.kind, TransportKind::Sctp);
  EXPECT_EQ(m.pe.user_transport.port, 39069);
  EXPECT_EQ(m.pe.user_transport.use, 1);
  ASSERT_EQ(m.pe.user_transport.addresses.size(), 2u);
  EXPECT_EQ(m.pe.user_transport.addresses[0].toString(), "10.255.1.1");
  EXPECT_EQ(m.pe.user_transport.addresses[1].toString(), "fd00:5c7e::1:1");
  EXPECT_EQ(m.pe.policy, Policy::make(PolicyType::RoundRobin));
}

TEST(PeLifecycle, MulticastPresenceAndAnnounce) {
  auto p = std::get<enrp::Presence>(enrpFrame("pe-lifecycle", 3));
  EXPECT_FALSE(p.reply_required);
  EXPECT_EQ(p.ids.sender, 0x11111111u);
  EXPECT_EQ(p.ids.receiver, 0u);
  EXPECT_EQ(p.checksum, 0xffffu);
  ASSERT_TRUE(p.server_info);
  EXPECT_EQ(p.server_info->id, 0x11111111u);
  EXPECT_EQ(p.server_info->transports.at(0).port, 9901);
  EXPECT_EQ(p.server_info->transports.at(0).addresses.size(), 2u);
  EXPECT_TRUE(frame("pe-lifecycle", 3).over_udp);

  auto a = std::get<asap::ServerAnnounce>(asapFrame("pe-lifecycle", 4));
  EXPECT_EQ(a.server_id, 0x11111111u);
  EXPECT_TRUE(a.transports.empty());
}

TEST(PuFailover, ResolutionResponseAndUnreachable) {
  auto hr = std::get<asap::HandleResolution>(asapFrame("pu-failover", 193));
  EXPECT_EQ(hr.items, 2u);
  auto hrr = std::get<asap::HandleResolutionResponse>(asapFrame("pu-failover", 31));
  EXPECT_EQ(hrr.pool_handle, "EchoPool");
  ASSERT_TRUE(hrr.overall_policy);
  EXPECT_EQ(hrr.overall_policy->type, static_cast<std::uint32_t>(PolicyType::RoundRobin));
  ASSERT_EQ(hrr.pes.size(), 1u);
  EXPECT_EQ(hrr.pes[0].id, 0xe001u);
  EXPECT_EQ(hrr.pes[0].home_pr, 0x11111111u);
  EXPECT_EQ(hrr.pes[0].registration_life_ms, 90000u);
  EXPECT_EQ(hrr.pes[0].user_transport.port, 54633);
  auto eu = std::get<asap::EndpointUnreachable>(asapFrame("pu-failover", 197));
  EXPECT_EQ(eu.pe_id, 0xe001u);
}

TEST(CalcappFailover, CookieEcho) {
  auto echo = std::get<asap::CookieEcho>(asapFrame("calcapp-failover", 162));
  EXPECT_EQ(toHex(echo.cookie), "0000000100000000005c32c300000000001e8c60");
}

TEST(EnrpTakeover, TakeoverSuggestionAndInitTakeover) {
  auto update = std::get<enrp::HandleUpdate>(enrpFrame("enrp-takeover", 102));
  EXPECT_TRUE(update.takeover_suggested);
  EXPECT_EQ(update.ids.sender, 0x11111111u);
  EXPECT_EQ(update.ids.receiver, 0x22222222u);
  EXPECT_EQ(update.action, 0u);
  EXPECT_EQ(update.pe.id, 0x11111111u);
  EXPECT_EQ(update.pe.registration_life_ms, 15000u);
  ASSERT_TRUE(update.pe.asap_transport);
  EXPECT_EQ(update.pe.asap_transport->port, 41247);
  EXPECT_EQ(update.pe.asap_transport->use, 0);

  auto keep_alive = std::get<asap::EndpointKeepAlive>(asapFrame("enrp-takeover", 108));
  EXPECT_TRUE(keep_alive.home);

  auto init = std::get<enrp::InitTakeover>(enrpFrame("enrp-takeover", 251));
  EXPECT_EQ(init.ids.sender, 0x11111111u);
  EXPECT_EQ(init.target, 0x33333333u);
  auto ack = std::get<enrp::InitTakeoverAck>(enrpFrame("enrp-takeover", 252));
  EXPECT_EQ(ack.target, 0x33333333u);
}

TEST(Policies, RejectedRegistrationAndPagedHandleTable) {
  auto rejected = std::get<asap::RegistrationResponse>(asapFrame("policies", 595));
  EXPECT_TRUE(rejected.reject);
  EXPECT_EQ(rejected.pool_handle, "RoundRobin");
  EXPECT_EQ(rejected.pe_id, 0xe0ffu);
  ASSERT_TRUE(rejected.error);
  EXPECT_EQ(rejected.error->firstCode(), static_cast<std::uint16_t>(Cause::PolicyInconsistent));
  EXPECT_TRUE(rejected.error->causes[0].info.empty());  // RSPLIB sends the bare cause

  auto table = std::get<enrp::HandleTableResponse>(enrpFrame("policies", 686));
  EXPECT_TRUE(table.more);
  EXPECT_FALSE(table.reject);
  EXPECT_EQ(table.ids.receiver, 0x5b8dbdf4u);
  ASSERT_FALSE(table.pools.empty());
  EXPECT_EQ(table.pools[0].pool_handle, "Random");
  EXPECT_EQ(table.pools[0].pes.at(0).id, 0xe002u);
  std::size_t pes = 0;
  for (const auto& p : table.pools) pes += p.pes.size();
  EXPECT_EQ(pes, 4u);  // -maxelementsperhtrequest=4
}

TEST(Policies, EveryPolicyTypeDecodesWithItsValues) {
  std::map<std::uint32_t, Policy> seen;
  for (const auto& m : capture("policies").messages) {
    if (m.protocol != Protocol::Asap || peekHeader(m.bytes)->type != 0x01) continue;
    auto r = std::get<asap::Registration>(decodeAsap(m.bytes, Dialect::Classic).value());
    seen[r.pe.policy.type] = r.pe.policy;
  }
  EXPECT_EQ(seen.size(), 14u);
  for (const auto& [type, policy] : seen) {
    const auto* info = policyInfo(type);
    ASSERT_NE(info, nullptr) << std::hex << type;
    EXPECT_EQ(policy.word_count, info->fields.size()) << info->name;
  }
}

TEST(RsplibErrors, MalformedProbesFailWithRsplibsCauses) {
  std::vector<std::pair<std::size_t, Error>> errors;
  for (const auto& m : capture("errors").messages) {
    if (m.protocol == Protocol::Asap) {
      auto decoded = decodeAsap(m.bytes, Dialect::Classic);
      if (!decoded.ok()) errors.emplace_back(m.frame, decoded.error());
    } else {
      auto decoded = decodeEnrp(m.bytes, Dialect::Classic);
      if (!decoded.ok()) errors.emplace_back(m.frame, decoded.error());
    }
  }
  ASSERT_EQ(errors.size(), 5u);
  // ASAP type 0x7f, HR with 0x4123 (stop and report), HR with an empty handle, ENRP type 0x7f, Presence
  // with 0x4123. RSPLIB answered the second, third and fifth with the Error messages of frames 18, 29, 55.
  std::map<Cause, int> causes;
  for (const auto& [f, e] : errors) ++causes[e.cause];
  EXPECT_EQ(causes[Cause::UnrecognizedMessage], 2);
  EXPECT_EQ(causes[Cause::UnrecognizedParameter], 2);
  EXPECT_EQ(causes[Cause::InvalidValues], 1);

  // What we would answer equals what RSPLIB answered: the offending TLV inside the cause.
  auto reply18 = std::get<asap::Error>(asapFrame("errors", 18));
  auto reply29 = std::get<asap::Error>(asapFrame("errors", 29));
  auto reply55 = std::get<enrp::Error>(enrpFrame("errors", 55));
  std::vector<Bytes> offending;
  for (const auto& [f, e] : errors)
    if (e.cause != Cause::UnrecognizedMessage) offending.push_back(e.offending);
  ASSERT_EQ(offending.size(), 3u);
  EXPECT_EQ(offending[0], reply18.error.causes.at(0).info);
  EXPECT_EQ(offending[1], reply29.error.causes.at(0).info);
  EXPECT_EQ(offending[2], reply55.error.causes.at(0).info);
  EXPECT_EQ(reply55.ids.sender, 0x0badbad0u);
}

}  // namespace
}  // namespace vnfpool::wire
