#include "vnfpool/wire/codec.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "samples.h"

namespace vnfpool::wire {
namespace {

Bytes hex(std::string_view text) { return *fromHex(text); }

/// A PR ID other than the receiver's that fits `d` (classic IDs are 32-bit), and a sample PE it is home of.
PrId otherPr(Dialect d) { return d == Dialect::Ng ? 0x1122334455667788ull : 0x11223344u; }
PoolElement foreignPe(Dialect d, PeId id, Policy policy, bool asap) {
  PoolElement p = test::samplePoolElement(id, policy, asap);
  p.home_pr = otherPr(d);
  return p;
}

template <typename T>
const T& as(const AsapMessage& m) {
  return std::get<T>(m);
}

// ---------------------------------------------------------------- worked encodings (digest section 10)

TEST(WorkedEncodings, HandleResolutionWithOption) {
  const Bytes bytes = hex("05000018 0009000c 4563686f 506f6f6c 803f0008 00000003");
  auto decoded = decodeAsap(bytes, Dialect::Classic);
  ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
  const auto& m = as<asap::HandleResolution>(decoded.value());
  EXPECT_EQ(m.pool_handle, "EchoPool");
  EXPECT_EQ(m.items, 3u);
  EXPECT_FALSE(m.subscribe);
  EXPECT_EQ(encode(decoded.value(), Dialect::Classic).value(), bytes);
}

TEST(WorkedEncodings, Registration) {
  const Bytes bytes = hex(
      "01000038 0009000c 4563686f 506f6f6c 000a0028 12345678 00000000 00015f90"
      "00040010 13880001 00010008 c000020a 00080008 00000001");
  auto decoded = decodeAsap(bytes, Dialect::Classic);
  ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
  const auto& m = as<asap::Registration>(decoded.value());
  EXPECT_EQ(m.pe.id, 0x12345678u);
  EXPECT_EQ(m.pe.registration_life_ms, 90000u);
  EXPECT_EQ(m.pe.user_transport.kind, TransportKind::Sctp);
  EXPECT_EQ(m.pe.user_transport.port, 5000);
  EXPECT_EQ(m.pe.user_transport.use, static_cast<std::uint16_t>(TransportUse::DataPlusControl));
  ASSERT_EQ(m.pe.user_transport.addresses.size(), 1u);
  EXPECT_EQ(m.pe.user_transport.addresses[0].toString(), "192.0.2.10");
  EXPECT_EQ(m.pe.policy.type, static_cast<std::uint32_t>(PolicyType::RoundRobin));
  EXPECT_FALSE(m.pe.asap_transport.has_value());
  EXPECT_EQ(encode(decoded.value(), Dialect::Classic).value(), bytes);
}

TEST(WorkedEncodings, PresenceWithReplyRequired) {
  const Bytes bytes = hex(
      "0101002c 11111111 22222222 000f0006 29a50000 000b0018 11111111 00040010"
      "26ad0000 00010008 c0000201");
  auto decoded = decodeEnrp(bytes, Dialect::Classic);
  ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
  const auto& m = std::get<enrp::Presence>(decoded.value());
  EXPECT_TRUE(m.reply_required);
  EXPECT_EQ(m.ids.sender, 0x11111111u);
  EXPECT_EQ(m.ids.receiver, 0x22222222u);
  EXPECT_EQ(m.checksum, 0x29a5u);
  ASSERT_TRUE(m.server_info.has_value());
  EXPECT_EQ(m.server_info->transports.at(0).port, kEnrpPort);
  EXPECT_EQ(encode(decoded.value(), Dialect::Classic).value(), bytes);
}

TEST(WorkedEncodings, HandleUpdateWithTakeoverSuggestion) {
  const Bytes bytes = hex(
      "04010054 11111111 22222222 00000000 0009000c 4563686f 506f6f6c 000a0038"
      "12345678 11111111 00015f90 00040010 13880001 00010008 c000020a 00080008"
      "00000001 00040010 a0280000 00010008 c000020a");
  auto decoded = decodeEnrp(bytes, Dialect::Classic);
  ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
  const auto& m = std::get<enrp::HandleUpdate>(decoded.value());
  EXPECT_TRUE(m.takeover_suggested);
  EXPECT_EQ(m.action, static_cast<std::uint16_t>(UpdateAction::AddPe));
  ASSERT_TRUE(m.pe.asap_transport.has_value());
  EXPECT_EQ(m.pe.asap_transport->port, 41000);
  EXPECT_EQ(m.pe.home_pr, 0x11111111u);
  EXPECT_EQ(encode(decoded.value(), Dialect::Classic).value(), bytes);
}

TEST(WorkedEncodings, KeepAliveHomeWithRsplibPeId) {
  const Bytes bytes = hex("0701001c 11111111 0009000c 4563686f 506f6f6c 000e0008 12345678");
  auto decoded = decodeAsap(bytes, Dialect::Classic);
  ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
  const auto& m = as<asap::EndpointKeepAlive>(decoded.value());
  EXPECT_TRUE(m.home);
  EXPECT_EQ(m.server_id, 0x11111111u);
  EXPECT_EQ(m.pe_id, 0x12345678u);
  EXPECT_EQ(encode(decoded.value(), Dialect::Classic).value(), bytes);
}

TEST(WorkedEncodings, NgCapabilitiesAndChecksum32) {
  asap::HandleResolution m{false, NgCapabilities{1, 0, features::kMandatory, 0x0123456789ABCDEF, {}}, "EchoPool", 3u};
  auto bytes = encode(AsapMessage{m}, Dialect::Classic).value();
  // NG Capabilities comes first, then the pool handle and the option.
  EXPECT_EQ(toHex(bytes), "05000028" "80400010" "0100000f" "0123456789abcdef" "0009000c4563686f506f6f6c" "803f000800000003");

  enrp::Presence p{false, {1, 2}, std::nullopt, 0x919176fc, std::nullopt};
  auto ng = encode(EnrpMessage{p}, Dialect::Ng).value();
  EXPECT_EQ(toHex(ng), "0100001c" "0000000000000001" "0000000000000002" "40440008919176fc");
}

// ---------------------------------------------------------------- round trips

class RoundTrip : public ::testing::TestWithParam<Dialect> {};

TEST_P(RoundTrip, EveryAsapSample) {
  const Dialect d = GetParam();
  const auto samples = test::sampleAsapMessages(d);
  std::set<std::size_t> types;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    SCOPED_TRACE(test::label(samples[i], i));
    auto bytes = encode(samples[i], d);
    ASSERT_TRUE(bytes.ok()) << bytes.error().detail;
    EXPECT_EQ(bytes.value().size() % 4, 0u);
    EXPECT_EQ(peekHeader(bytes.value())->length, bytes.value().size());
    auto back = decodeAsap(bytes.value(), d);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(back.value(), samples[i]);
    types.insert(samples[i].index());
  }
  EXPECT_EQ(types.size(), std::variant_size_v<AsapMessage>) << "a message type has no sample";
}

TEST_P(RoundTrip, EveryEnrpSample) {
  const Dialect d = GetParam();
  const auto samples = test::sampleEnrpMessages(d);
  std::set<std::size_t> types;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    SCOPED_TRACE(test::label(samples[i], i));
    auto bytes = encode(samples[i], d);
    ASSERT_TRUE(bytes.ok()) << bytes.error().detail;
    auto back = decodeEnrp(bytes.value(), d);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(back.value(), samples[i]);
    types.insert(samples[i].index());
  }
  EXPECT_EQ(types.size(), std::variant_size_v<EnrpMessage>) << "a message type has no sample";
}

INSTANTIATE_TEST_SUITE_P(Dialects, RoundTrip, ::testing::Values(Dialect::Classic, Dialect::Ng),
                         [](const auto& p) { return p.param == Dialect::Classic ? "Classic" : "Ng"; });

TEST(Dialects, NgUsesWideIdsAndNgParameterTypes) {
  asap::Deregistration m{"EchoPool", 0x0123456789abcdef};
  EXPECT_EQ(toHex(encode(AsapMessage{m}, Dialect::Ng).value()),
            "0200001c" "0009000c4563686f506f6f6c" "4041000c0123456789abcdef");
  enrp::InitTakeover t{{1, 2}, 3};
  EXPECT_EQ(encode(EnrpMessage{t}, Dialect::Ng).value().size(), 28u);
  EXPECT_EQ(encode(EnrpMessage{t}, Dialect::Classic).value().size(), 16u);
  EXPECT_EQ(encode(EnrpMessage{enrp::ListRequest{{1, 2}}}, Dialect::Ng).value().size(), 20u);
}

TEST(Dialects, ClassicRefusesWhatItCannotCarry) {
  auto wide = encode(AsapMessage{asap::Deregistration{"EchoPool", 0x100000000}}, Dialect::Classic);
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.error().cause, Cause::InvalidValues);

  asap::Registration r;
  r.pool_handle = "p";
  r.pe = test::samplePoolElement(1, Policy::make(PolicyType::RoundRobin), false);
  r.pe.user_transport.kind = TransportKind::Mptcp;
  EXPECT_FALSE(encode(AsapMessage{r}, Dialect::Classic).ok());
  EXPECT_TRUE(encode(AsapMessage{r}, Dialect::Ng).ok());

  enrp::Presence p{false, {1, 2}, std::nullopt, 0x10000, std::nullopt};
  EXPECT_FALSE(encode(EnrpMessage{p}, Dialect::Classic).ok());
}

TEST(Dialects, NgParameterInClassicIsUnrecognisedAndReported) {
  // An ng Deregistration read as classic: 0x4041 has action bits 01, "stop and report".
  auto ng = encode(AsapMessage{asap::Deregistration{"EchoPool", 7}}, Dialect::Ng).value();
  auto decoded = decodeAsap(ng, Dialect::Classic);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().cause, Cause::UnrecognizedParameter);
  EXPECT_TRUE(decoded.error().report);
  EXPECT_EQ(decoded.error().offset, 16u);
  EXPECT_EQ(toHex(decoded.error().offending), "4041000c0000000000000007");
}

TEST(Encoding, OversizeMessageIsRefusedAndLeavesBufferAlone) {
  asap::Cookie m{Bytes(70000, std::byte{1})};
  Bytes out = {std::byte{9}};
  auto n = encodeTo(AsapMessage{m}, Dialect::Classic, out);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().cause, Cause::LackOfResources);
  EXPECT_EQ(out, Bytes{std::byte{9}});
  // The length includes the padding, so the largest message is 65532 bytes.
  EXPECT_TRUE(encode(AsapMessage{asap::Cookie{Bytes(65532 - 8, std::byte{1})}}, Dialect::Classic).ok());
  EXPECT_FALSE(encode(AsapMessage{asap::Cookie{Bytes(65532 - 7, std::byte{1})}}, Dialect::Classic).ok());
}

// ---------------------------------------------------------------- bad input, one test per cause

TEST(BadInput, UnknownMessageTypeIsUnrecognizedMessage) {
  const Bytes bytes = hex("7f000010 0009000c 4563686f 506f6f6c");
  auto decoded = decodeAsap(bytes, Dialect::Classic);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().cause, Cause::UnrecognizedMessage);
  EXPECT_EQ(decoded.error().offending, bytes);
  auto enrp = decodeEnrp(hex("7f00000c 0badbad0 00000000"), Dialect::Classic);
  ASSERT_FALSE(enrp.ok());
  EXPECT_EQ(enrp.error().cause, Cause::UnrecognizedMessage);
}

TEST(BadInput, UnknownParameterFollowsItsActionBits) {
  // 0x0123: action 00, discard silently.
  auto stop = decodeAsap(hex("05000018 0009000c 4563686f 506f6f6c 01230008 01020304"), Dialect::Classic);
  ASSERT_FALSE(stop.ok());
  EXPECT_EQ(stop.error().cause, Cause::UnrecognizedParameter);
  EXPECT_FALSE(stop.error().report);
  // 0x4123: action 01, discard and report with the parameter.
  auto report = decodeAsap(hex("05000018 0009000c 4563686f 506f6f6c 41230008 01020304"), Dialect::Classic);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(report.error().report);
  EXPECT_EQ(toHex(report.error().offending), "4123000801020304");
  // 0x8123: action 10, skip. Anywhere, also between expected parameters.
  auto skip = decodeAsap(hex("05000018 81230008 01020304 0009000c 4563686f 506f6f6c"), Dialect::Classic);
  ASSERT_TRUE(skip.ok()) << skip.error().detail;
  EXPECT_EQ(as<asap::HandleResolution>(skip.value()).pool_handle, "EchoPool");
  // 0xc123: action 11, skip and report.
  DecodeReport r;
  auto skip_report = decodeAsap(hex("05000018 0009000c 4563686f 506f6f6c c1230008 01020304"), Dialect::Classic, &r);
  ASSERT_TRUE(skip_report.ok());
  ASSERT_EQ(r.skipped_to_report.size(), 1u);
  EXPECT_EQ(toHex(r.skipped_to_report[0]), "c123000801020304");
}

// decodeHandleResolution reads a Handle Resolution in place; it must say exactly what decodeAsap says about
// the same bytes: the same fields, the same error (cause, offset, offending bytes, detail), the same
// report. Compared on well-formed requests (both dialects, with and without capabilities and option,
// unknown parameters of every action) and on every truncation and many single-byte changes of them.
TEST(InPlaceDecoding, HandleResolutionAgreesWithTheFullDecoderOnAnyBytes) {
  std::size_t compared = 0, accepted = 0;
  auto agree = [&](std::span<const std::byte> bytes, Dialect d) {
    DecodeReport full_report, view_report;
    auto full = decodeAsap(bytes, d, &full_report);
    auto view = decodeHandleResolution(bytes, d, &view_report);
    ++compared;
    if (full.ok() && std::holds_alternative<asap::HandleResolution>(full.value())) {
      ASSERT_TRUE(view.ok()) << view.error().detail << " for " << toHex(bytes);
      const auto& m = std::get<asap::HandleResolution>(full.value());
      EXPECT_EQ(view.value().subscribe, m.subscribe);
      EXPECT_EQ(view.value().ng_caps, m.ng_caps);
      EXPECT_EQ(view.value().pool_handle, m.pool_handle);
      EXPECT_EQ(view.value().items, m.items);
      EXPECT_EQ(view_report.skipped_to_report, full_report.skipped_to_report);
      ++accepted;
    } else if (!full.ok() && !bytes.empty() && bytes[0] == std::byte{0x05}) {
      ASSERT_FALSE(view.ok()) << "accepted what decodeAsap refuses: " << toHex(bytes);
      EXPECT_EQ(view.error(), full.error()) << toHex(bytes);
    } else {
      EXPECT_FALSE(view.ok()) << "not a Handle Resolution, yet accepted: " << toHex(bytes);
    }
  };
  for (Dialect d : {Dialect::Classic, Dialect::Ng}) {
    std::vector<Bytes> requests;
    for (bool caps : {false, true}) {
      for (std::optional<std::uint32_t> items : {std::optional<std::uint32_t>{}, std::optional<std::uint32_t>{3u},
                                                 std::optional<std::uint32_t>{asap::kAllItems}}) {
        asap::HandleResolution m{false, std::nullopt, "EchoPool", items};
        if (caps) m.ng_caps = NgCapabilities{};
        if (caps && d == Dialect::Classic) continue;  // ng only
        requests.push_back(encode(AsapMessage{m}, d).value());
      }
    }
    // Unknown parameters of each action after the handle, and the S flag.
    for (const char* unknown : {"01230008 01020304", "41230008 01020304", "81230008 01020304", "c1230008 01020304"}) {
      Bytes b = hex(std::string("05000018 0009000c 4563686f 506f6f6c ") + unknown);
      requests.push_back(b);
    }
    requests.push_back(hex("05010010 00090009 4563686f 50000000"));
    for (const auto& request : requests) {
      agree(request, d);
      for (std::size_t n = 0; n < request.size(); ++n) agree(std::span(request).first(n), d);
      for (std::size_t at = 0; at < request.size(); ++at) {
        for (unsigned value : {0x00u, 0x01u, 0x05u, 0x06u, 0x40u, 0x80u, 0xffu}) {
          Bytes changed = request;
          changed[at] = static_cast<std::byte>(value);
          agree(changed, d);
        }
      }
    }
  }
  EXPECT_GT(accepted, 20u);
  EXPECT_GT(compared, 1000u);
  // Another message type is refused, not misread.
  auto registration = encode(AsapMessage{asap::Deregistration{"EchoPool", 7}}, Dialect::Ng).value();
  EXPECT_FALSE(decodeHandleResolution(registration, Dialect::Ng).ok());
}

// The table page reader against the full decoder on the same bytes: a message decodeEnrp accepts is read
// as the same entries (pool, PE) in the same order with the same flags, IDs and report; a message it
// refuses makes the reader (or the header decode) fail with the same error. Compared on pages with
// several pools, PEs whose policies, transports and address counts differ from the PE before (so the
// reused entry must not keep anything), a pool without PEs, unknown parameters of every action, and on
// every truncation and many single-byte changes of them.
TEST(InPlaceDecoding, TablePageReaderAgreesWithTheFullDecoderOnAnyBytes) {
  std::size_t compared = 0, accepted = 0, failed_after_entries = 0;
  auto agree = [&](std::span<const std::byte> bytes, Dialect d) {
    DecodeReport full_report, view_report;
    auto full = decodeEnrp(bytes, d, &full_report);
    auto view = decodeHandleTableResponse(bytes, d);
    std::vector<std::pair<std::string, PoolElement>> read;
    std::optional<Error> read_error;
    if (view.ok()) {
      TableEntryReader reader(view.value(), &view_report);
      TableEntry entry;
      for (;;) {
        auto more = reader.next(entry);
        if (!more.ok()) {
          read_error = more.error();
          break;
        }
        if (!more.value()) break;
        read.emplace_back(std::string(entry.pool), entry.pe);
      }
      auto after = reader.next(entry);  // an ended reader stays ended
      EXPECT_TRUE(after.ok() && !after.value());
    }
    ++compared;
    if (full.ok() && std::holds_alternative<enrp::HandleTableResponse>(full.value())) {
      const auto& m = std::get<enrp::HandleTableResponse>(full.value());
      ASSERT_TRUE(view.ok()) << view.error().detail << " for " << toHex(bytes);
      ASSERT_FALSE(read_error.has_value()) << read_error->detail << " for " << toHex(bytes);
      EXPECT_EQ(view.value().reject, m.reject);
      EXPECT_EQ(view.value().more, m.more);
      EXPECT_EQ(view.value().ids, m.ids);
      std::vector<std::pair<std::string, PoolElement>> expected;
      for (const auto& pool : m.pools)
        for (const auto& pe : pool.pes) expected.emplace_back(pool.pool_handle, pe);
      EXPECT_EQ(read, expected) << toHex(bytes);
      EXPECT_EQ(view_report.skipped_to_report, full_report.skipped_to_report);
      ++accepted;
    } else if (!full.ok() && !bytes.empty() && bytes[0] == std::byte{0x03}) {
      if (view.ok()) {
        ASSERT_TRUE(read_error.has_value()) << "read what decodeEnrp refuses: " << toHex(bytes);
        EXPECT_EQ(*read_error, full.error()) << toHex(bytes);
        if (!read.empty()) ++failed_after_entries;
      } else {
        EXPECT_EQ(view.error(), full.error()) << toHex(bytes);
      }
    } else {
      EXPECT_FALSE(view.ok()) << "not a Handle Table Response, yet accepted: " << toHex(bytes);
    }
  };
  for (Dialect d : {Dialect::Classic, Dialect::Ng}) {
    const PrId other = otherPr(d);
    auto pe = [&](PeId id, Policy policy, bool asap) { return foreignPe(d, id, policy, asap); };
    enrp::HandleTableResponse page;
    page.more = true;
    page.ids = {other, 7};
    page.pools.push_back({"EchoPool", {pe(1, Policy::make(PolicyType::WeightedRandom, {5}), true),
                                       pe(2, Policy::make(PolicyType::RoundRobin), false)}});
    PoolElement dccp = pe(3, Policy::make(PolicyType::PriorityLeastUsed, {1, 2}), true);
    dccp.user_transport = Transport{TransportKind::Dccp, 9, 0, 77, {IpAddress::v4(127, 0, 0, 1)}};
    page.pools.push_back({"B", {dccp, pe(4, Policy::make(PolicyType::LeastUsed, {3}), false)}});
    page.pools.push_back({"Empty", {}});
    page.pools.push_back({"Last", {pe(5, Policy::make(PolicyType::Random), true)}});
    std::vector<Bytes> messages{encode(EnrpMessage{page}, d).value()};
    enrp::HandleTableResponse rejected;
    rejected.reject = true;
    rejected.ids = {other, 7};
    messages.push_back(encode(EnrpMessage{rejected}, d).value());
    // Unknown parameters of each action between two PEs and after the last one.
    for (const char* unknown : {"01230008", "41230008", "81230008", "c1230008"}) {
      enrp::HandleTableResponse small;
      small.ids = {other, 7};
      small.pools.push_back({"EchoPool", {pe(1, Policy::make(PolicyType::RoundRobin), true)}});
      Bytes head = encode(EnrpMessage{small}, d).value();
      small.pools[0].pes.push_back(pe(2, Policy::make(PolicyType::RoundRobin), true));
      Bytes both = encode(EnrpMessage{small}, d).value();
      const Bytes extra = hex(std::string(unknown) + " 01020304");
      Bytes between(both.begin(), both.begin() + static_cast<std::ptrdiff_t>(head.size()));
      between.insert(between.end(), extra.begin(), extra.end());
      between.insert(between.end(), both.begin() + static_cast<std::ptrdiff_t>(head.size()), both.end());
      Bytes after = both;
      after.insert(after.end(), extra.begin(), extra.end());
      for (Bytes* b : {&between, &after}) {
        const auto length = static_cast<std::uint16_t>(b->size());
        (*b)[2] = static_cast<std::byte>(length >> 8);
        (*b)[3] = static_cast<std::byte>(length & 0xff);
        messages.push_back(*b);
      }
    }
    for (const auto& message : messages) {
      agree(message, d);
      for (std::size_t n = 0; n < message.size(); ++n) agree(std::span(message).first(n), d);
      for (std::size_t at = 0; at < message.size(); ++at) {
        for (unsigned value : {0x00u, 0x01u, 0x03u, 0x05u, 0x0au, 0x40u, 0x80u, 0xffu}) {
          Bytes changed = message;
          changed[at] = static_cast<std::byte>(value);
          agree(changed, d);
        }
      }
    }
  }
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(compared, 5000u);
  EXPECT_GT(failed_after_entries, 10u);  // errors past the first entries were compared too
  // Another message type is refused, not misread.
  auto request = encode(EnrpMessage{enrp::HandleTableRequest{false, {1, 2}}}, Dialect::Ng).value();
  EXPECT_FALSE(decodeHandleTableResponse(request, Dialect::Ng).ok());
}

// Addresses inside a transport are read straight from the bytes while they are well-formed IPv4/IPv6
// parameters; from the first other parameter on, the general reader decides. A classic Registration
// whose user transport holds an IPv4 address (at offset 40) and then `after` (at offset 48).
Bytes registrationWithAddressThen(std::string_view after) {
  const Bytes rest = hex(after);
  const std::size_t transport = 4 + 4 + 8 + rest.size();
  const std::size_t pe = 4 + 12 + transport + 8;
  const std::size_t message = 4 + 12 + pe;
  auto u16 = [](std::size_t v) {
    char text[5];
    std::snprintf(text, sizeof text, "%04x", static_cast<unsigned>(v));
    return std::string(text);
  };
  Bytes b = hex("0100" + u16(message) + " 0009000c 4563686f 506f6f6c 000a" + u16(pe) +
                " 12345678 00000000 00015f90 0005" + u16(transport) + " 13880000 00010008 c000020a");
  b.insert(b.end(), rest.begin(), rest.end());
  const Bytes policy = hex("00080008 00000001");
  b.insert(b.end(), policy.begin(), policy.end());
  return b;
}

TEST(BadInput, AddressesAfterTheFirstOddParameterGetTheGeneralReadersChecks) {
  // A second IPv4 and an IPv6 address: both read.
  auto ok = decodeAsap(registrationWithAddressThen("00010008 c000020b 00020014 20010db8 00000000 00000000 00000001"),
                       Dialect::Classic);
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(as<asap::Registration>(ok.value()).pe.user_transport.addresses.size(), 3u);
  // An unknown parameter marked "skip" between addresses is skipped, the address after it read.
  ok = decodeAsap(registrationWithAddressThen("81230008 01020304 00010008 c000020b"), Dialect::Classic);
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(as<asap::Registration>(ok.value()).pe.user_transport.addresses.size(), 2u);
  // A known parameter that is not an address.
  auto bad = decodeAsap(registrationWithAddressThen("00080008 00000001"), Dialect::Classic);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().cause, Cause::InvalidValues);
  EXPECT_EQ(bad.error().offset, 48u);
  EXPECT_EQ(bad.error().offending, hex("00080008 00000001"));
  // An IPv6 address whose length runs past the end of its transport.
  bad = decodeAsap(registrationWithAddressThen("00020014 20010db8 00000000"), Dialect::Classic);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().cause, Cause::InvalidValues);
  EXPECT_EQ(bad.error().offset, 48u);
  EXPECT_NE(bad.error().detail.find("past the end"), std::string::npos) << bad.error().detail;
  // An IPv4 parameter of the wrong length.
  bad = decodeAsap(registrationWithAddressThen("0001000c c000020b 00000000"), Dialect::Classic);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().offset, 48u);
  EXPECT_EQ(bad.error().offending, hex("0001000c c000020b 00000000"));
}

TEST(BadInput, EmptyPoolHandleIsInvalidValuesWithTheParameter) {
  // RSPLIB answers this with cause 0x3 carrying the parameter (errors.pcap); so do we.
  auto decoded = decodeAsap(hex("05000008 00090004"), Dialect::Classic);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().cause, Cause::InvalidValues);
  EXPECT_EQ(toHex(decoded.error().offending), "00090004");
  EXPECT_EQ(decoded.error().offset, 4u);
}

TEST(BadInput, MissingAndMisplacedParameters) {
  auto missing = decodeAsap(hex("02000010 0009000c 4563686f 506f6f6c"), Dialect::Classic);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().cause, Cause::InvalidValues);
  // A known parameter out of order (PE ID before pool handle).
  auto misplaced = decodeAsap(hex("02000018 000e0008 00000001 0009000c 4563686f 506f6f6c"), Dialect::Classic);
  ASSERT_FALSE(misplaced.ok());
  EXPECT_EQ(toHex(misplaced.error().offending), "000e000800000001");
  // A known parameter after the last expected one.
  auto trailing = decodeAsap(hex("09000020 0009000c 4563686f 506f6f6c 000e0008 00000001 000e0008 00000002"),
                             Dialect::Classic);
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error().offset, 24u);
}

TEST(BadInput, LengthsThatLie) {
  const Bytes good = hex("09000018 0009000c 4563686f 506f6f6c 000e0008 00000001");
  ASSERT_TRUE(decodeAsap(good, Dialect::Classic).ok());

  EXPECT_FALSE(decodeAsap({}, Dialect::Classic).ok()) << "zero-length input";
  EXPECT_FALSE(decodeAsap(Bytes(good.begin(), good.begin() + 3), Dialect::Classic).ok()) << "partial header";
  for (std::size_t n = 4; n < good.size(); ++n) {
    EXPECT_FALSE(decodeAsap(Bytes(good.begin(), good.begin() + static_cast<long>(n)), Dialect::Classic).ok())
        << "truncated to " << n;
  }
  Bytes longer = good;
  longer.resize(good.size() + 4);
  EXPECT_FALSE(decodeAsap(longer, Dialect::Classic).ok()) << "bytes past the message";

  Bytes header_too_long = good;
  header_too_long[3] = std::byte{0x1c};
  EXPECT_FALSE(decodeAsap(header_too_long, Dialect::Classic).ok()) << "header length beyond the buffer";

  Bytes header_too_short = good;
  header_too_short[3] = std::byte{0x02};
  EXPECT_FALSE(decodeAsap(header_too_short, Dialect::Classic).ok()) << "header length below 4";

  Bytes tlv_too_long = good;
  tlv_too_long[7] = std::byte{0x40};  // pool handle claims 64 bytes
  auto e = decodeAsap(tlv_too_long, Dialect::Classic);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().cause, Cause::InvalidValues);

  Bytes tlv_zero = good;
  tlv_zero[7] = std::byte{0x00};
  EXPECT_FALSE(decodeAsap(tlv_zero, Dialect::Classic).ok()) << "parameter length 0 must not loop";

  Bytes id_short = good;
  id_short[19] = std::byte{0x06};  // PE identifier with 2 value bytes
  EXPECT_FALSE(decodeAsap(id_short, Dialect::Classic).ok());
}

TEST(BadInput, PaddingRules) {
  // Odd-length handle "CalcAppPool": TLV length 15, padded to 16; message length may include the final
  // padding or not, as long as the padding bytes are there.
  const Bytes padded = hex("05000014 0009000f 43616c63 41707050 6f6f6c00");
  ASSERT_TRUE(decodeAsap(padded, Dialect::Classic).ok());
  Bytes unpadded_length = padded;
  unpadded_length[3] = std::byte{0x13};
  auto d = decodeAsap(unpadded_length, Dialect::Classic);
  ASSERT_TRUE(d.ok()) << d.error().detail;
  EXPECT_EQ(as<asap::HandleResolution>(d.value()).pool_handle, "CalcAppPool");
  // Padding content is not checked (RFC 5354 says receivers ignore it).
  Bytes dirty = padded;
  dirty.back() = std::byte{0xff};
  EXPECT_TRUE(decodeAsap(dirty, Dialect::Classic).ok());
  // A mis-padded parameter: the next TLV starts before the padding boundary.
  auto mispadded = decodeAsap(hex("0900001c 0009000f 43616c63 41707050 6f6f6c 000e0008 00000001 00"), Dialect::Classic);
  EXPECT_FALSE(mispadded.ok());
}

TEST(BadInput, PolicyAndTransportValues) {
  // LU needs its load word.
  auto pe = hex(
      "01000038 0009000c 4563686f 506f6f6c 000a0028 12345678 00000000 00015f90"
      "00040010 13880001 00010008 c000020a 00080008 40000001");
  auto d = decodeAsap(pe, Dialect::Classic);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().cause, Cause::InvalidValues);
  EXPECT_EQ(toHex(d.error().offending), "0008000840000001");
  // A transport without an address.
  auto no_address = hex(
      "01000030 0009000c 4563686f 506f6f6c 000a0020 12345678 00000000 00015f90"
      "00040008 13880001 00080008 00000001");
  EXPECT_FALSE(decodeAsap(no_address, Dialect::Classic).ok());
  // An IPv4 address parameter of the wrong length.
  auto bad_address = hex(
      "01000038 0009000c 4563686f 506f6f6c 000a0028 12345678 00000000 00015f90"
      "00040010 13880001 00010008 c000020a 00080008 00000001");
  bad_address[43] = std::byte{0x0c};  // IPv4 address parameter claiming 12 bytes
  EXPECT_FALSE(decodeAsap(bad_address, Dialect::Classic).ok());
}

TEST(BadInput, OperationalErrorCausesOfBadLength) {
  auto good = decodeAsap(hex("0e000010 000c000c 00010008 01020304"), Dialect::Classic);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(as<asap::Error>(good.value()).error.firstCode(), 1u);
  EXPECT_FALSE(decodeAsap(hex("0e000010 000c000c 00010010 01020304"), Dialect::Classic).ok());
  EXPECT_FALSE(decodeAsap(hex("0e000010 000c000c 00010002 01020304"), Dialect::Classic).ok());
}

TEST(BadInput, EveryRfcCauseRoundTripsInAnErrorMessage) {
  for (std::uint16_t code = 0x1; code <= 0xa; ++code) {
    asap::Error m{OperationalError::of(static_cast<Cause>(code))};
    auto back = decodeAsap(encode(AsapMessage{m}, Dialect::Classic).value(), Dialect::Classic);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(as<asap::Error>(back.value()).error.firstCode(), code);
    EXPECT_NE(causeName(code), "unknown");
  }
  EXPECT_EQ(causeName(0xf002), "unknown");  // an RSPLIB code: kept as a number
}

TEST(Hex, ParsesWithSpacesAndPrefixes) {
  EXPECT_EQ(fromHex("0x0102 03"), hex("010203"));
  EXPECT_FALSE(fromHex("abc").has_value());
  EXPECT_FALSE(fromHex("zz").has_value());
}

}  // namespace
}  // namespace vnfpool::wire

namespace vnfpool::wire {
namespace {
TEST(Policies, WordCountAgreesWithTheTable) {
  for (const auto& p : allPolicies()) {
    EXPECT_EQ(policyWordCount(static_cast<std::uint32_t>(p.type)), p.fields.size()) << p.name;
    EXPECT_EQ(policyByName(p.name), &p);
  }
  EXPECT_EQ(policyWordCount(0x12345678), 0u);
  EXPECT_EQ(policyInfo(0x12345678), nullptr);
}
}  // namespace
}  // namespace vnfpool::wire

namespace vnfpool::wire {
namespace {

// A Handle Table Response written piece by piece (the responder's way: each PE encoded as it is read from
// the handlespace) is the same bytes as the message encoded whole, in both dialects, with any flags; a PE
// that its dialect cannot carry is refused and leaves the body as it was.
TEST(PiecewiseEncoding, TablePageIsTheSameBytesAsTheWholeMessage) {
  for (Dialect d : {Dialect::Classic, Dialect::Ng}) {
    SCOPED_TRACE(d == Dialect::Ng ? "ng" : "classic");
    const PrId other = otherPr(d);
    auto pe = [&](PeId id, Policy policy, bool asap) { return foreignPe(d, id, policy, asap); };
    enrp::HandleTableResponse page;
    page.ids = {other, 7};
    page.pools.push_back({"EchoPool", {pe(1, Policy::make(PolicyType::WeightedRandom, {5}), true),
                                       pe(2, Policy::make(PolicyType::RoundRobin), false)}});
    page.pools.push_back({"a-pool-handle-of-odd-length", {pe(3, Policy::make(PolicyType::LeastUsed, {3}), true)}});
    for (const bool more : {false, true}) {
      for (const bool reject : {false, true}) {
        page.more = more;
        page.reject = reject;
        Bytes body;
        for (const auto& pool : page.pools) {
          appendPoolHandleParameter(pool.pool_handle, body);
          for (const auto& p : pool.pes) ASSERT_TRUE(appendPoolElementParameter(p, d, body).ok());
        }
        Bytes piecewise = hex("ffffffff");  // appended to what is there (a message before it)
        auto n = encodeHandleTableResponseTo(reject, more, page.ids, body, d, piecewise);
        ASSERT_TRUE(n.ok()) << n.error().detail;
        const Bytes whole = encode(EnrpMessage{page}, d).value();
        EXPECT_EQ(n.value(), whole.size());
        EXPECT_EQ(Bytes(piecewise.begin() + 4, piecewise.end()), whole);
      }
    }
    const Bytes before = hex("01020304");
    Bytes body = before;
    PoolElement wide = pe(0x1'0000'0001ull, Policy::make(PolicyType::RoundRobin), true);
    auto refused = appendPoolElementParameter(wide, d, body);
    EXPECT_EQ(refused.ok(), d == Dialect::Ng);  // classic carries 32-bit PE IDs only
    if (!refused.ok()) {
      EXPECT_EQ(body, before);
    }
  }
}

}  // namespace
}  // namespace vnfpool::wire
