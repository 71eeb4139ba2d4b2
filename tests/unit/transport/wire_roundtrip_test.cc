// The transport and the codec together: every sample ASAP and ENRP message, encoded straight into the
// write queue, arrives as one framed message that decodes to the original.
#include <gtest/gtest.h>

#include "samples.h"
#include "test_util.h"
#include "vnfpool/transport/message_transport.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::transport {
namespace {

using namespace test;

template <typename Message, typename Decode>
void roundTrip(Protocol p, wire::Dialect dialect, const std::vector<Message>& samples, Decode decode) {
  boost::asio::io_context loop;
  std::vector<Bytes> received;
  ConnId server_conn = 0;
  Handlers sh;
  sh.accepted = [&](const ConnectionInfo& i) { server_conn = i.id; };
  sh.message = [&](ConnId, std::span<const std::byte> m) { received.emplace_back(m.begin(), m.end()); };
  MessageTransport server(loop, sh);
  bool up = false;
  Handlers ch;
  ch.connected = [&](const ConnectionInfo&) { up = true; };
  MessageTransport client(loop, ch);
  auto listening = server.listen(*Endpoint::parse("[::1]:0"), p);
  ASSERT_TRUE(listening.ok());
  const ConnId c = client.connect(listening.value().local, p, 5s);
  ASSERT_TRUE(runUntil(loop, [&] { return up && server_conn != 0; }));
  for (const auto& m : samples) {
    ASSERT_TRUE(client.sendEncoded(c, [&](std::vector<std::byte>& out) { return wire::encodeTo(m, dialect, out).ok(); }));
  }
  ASSERT_TRUE(runUntil(loop, [&] { return received.size() == samples.size(); }));
  for (std::size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(received[i].size() % 4, 0U) << vnfpool::test::label(samples[i], i);
    auto decoded = decode(received[i], dialect);
    ASSERT_TRUE(decoded.ok()) << vnfpool::test::label(samples[i], i) << ": " << decoded.error().detail;
    EXPECT_EQ(decoded.value(), samples[i]) << vnfpool::test::label(samples[i], i);
  }
}

TEST(WireRoundTrip, AsapAndEnrpSamplesOverTcpAndMptcp) {
  for (Protocol p : {Protocol::Tcp, Protocol::Mptcp}) {
    for (auto dialect : {wire::Dialect::Ng, wire::Dialect::Classic}) {
      roundTrip(p, dialect, vnfpool::test::sampleAsapMessages(dialect),
                [](std::span<const std::byte> b, wire::Dialect d) { return wire::decodeAsap(b, d); });
      roundTrip(p, dialect, vnfpool::test::sampleEnrpMessages(dialect),
                [](std::span<const std::byte> b, wire::Dialect d) { return wire::decodeEnrp(b, d); });
    }
  }
}

}  // namespace
}  // namespace vnfpool::transport
