// SCTP in MessageTransport (docs/sctp.md). The fallback tests run everywhere; the tests on real SCTP
// associations need kernel SCTP and skip without it: the VM lane (tests/sctp) runs them with SCTP loaded.
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <linux/sctp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "samples.h"
#include "test_util.h"
#include "vnfpool/transport/message_transport.h"
#include "vnfpool/wire/codec.h"
#include "vnfpool/wire/constants.h"

namespace vnfpool::transport {
namespace {

using namespace test;

bool sctpAvailable() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

#define REQUIRE_SCTP() \
  if (!sctpAvailable()) GTEST_SKIP() << "no kernel SCTP here (the VM lane tests/sctp runs this)"

struct Side {
  Side(boost::asio::io_context& loop, Options o = {}) {
    o.log = [this](std::string_view line) { log.emplace_back(line); };
    Handlers h;
    h.accepted = [this](const ConnectionInfo& i) { accepted.push_back(i); };
    h.connected = [this](const ConnectionInfo& i) { connected.push_back(i); };
    h.message = [this](ConnId id, std::span<const std::byte> m) { messages.push_back({id, Bytes(m.begin(), m.end())}); };
    h.closed = [this](ConnId id, CloseReason r, std::error_code, const wire::Error*) { closed.push_back({id, r}); };
    transport = std::make_unique<MessageTransport>(loop, h, std::move(o));
  }
  MessageTransport* operator->() { return transport.get(); }
  std::unique_ptr<MessageTransport> transport;
  std::vector<ConnectionInfo> accepted, connected;
  std::vector<std::pair<ConnId, Bytes>> messages;
  std::vector<std::pair<ConnId, CloseReason>> closed;
  std::vector<std::string> log;
};

Endpoint loopback4() { return *Endpoint::parse("127.0.0.1:0"); }

TEST(SctpProtocol, NamesRoundTrip) {
  EXPECT_EQ(protocolName(Protocol::Sctp), "sctp");
  EXPECT_EQ(parseProtocol("sctp"), Protocol::Sctp);
  EXPECT_FALSE(parseProtocol("SCTP").has_value());
}

// Without kernel SCTP (simulated through the socket seam, with each errno a kernel may give): the
// configured fallback is used, said once per transport, and messages flow.
TEST(SctpFallback, KernelWithoutSctpUsesTheFallbackWithOneLogLine) {
  for (int refusal : {EPROTONOSUPPORT, ESOCKTNOSUPPORT, EAFNOSUPPORT, EINVAL}) {
    boost::asio::io_context loop;
    int sctp_attempts = 0;
    Options o;
    o.sctp.fallback = Protocol::Tcp;
    o.open_socket = [&sctp_attempts, refusal](int domain, int type, int protocol) {
      if (protocol == IPPROTO_SCTP) {
        ++sctp_attempts;
        errno = refusal;
        return -1;
      }
      return ::socket(domain, type, protocol);
    };
    Side server(loop, o), client(loop, o);
    auto l = server->listen(loopback4(), Protocol::Sctp);
    ASSERT_TRUE(l.ok()) << l.error().message();
    EXPECT_FALSE(l.value().sctp_active);
    EXPECT_EQ(l.value().protocol, Protocol::Sctp);
    const ConnId c = client->connect(l.value().local, Protocol::Sctp, 5s);
    ASSERT_TRUE(runUntil(loop, [&] { return !client.connected.empty() && !server.accepted.empty(); }));
    EXPECT_FALSE(client.connected[0].sctp_active);
    EXPECT_EQ(client.connected[0].protocol, Protocol::Sctp);
    const auto m = frame(20);
    ASSERT_TRUE(client->send(c, m));
    ASSERT_TRUE(runUntil(loop, [&] { return server.messages.size() == 1; }));
    EXPECT_EQ(server.messages[0].second, m);
    ASSERT_EQ(server.log.size(), 1U);
    EXPECT_NE(server.log[0].find("SCTP not available"), std::string::npos);
    EXPECT_NE(server.log[0].find("using tcp"), std::string::npos);
    EXPECT_EQ(client.log.size(), 1U);
    client->connect(l.value().local, Protocol::Sctp, 5s);  // remembered: no second attempt, no second line
    EXPECT_EQ(client.log.size(), 1U);
    EXPECT_EQ(sctp_attempts, 2);
    EXPECT_EQ(client->transportStats().sctp_fallbacks, 2U);
  }
}

TEST(SctpFallback, OtherSocketErrorsAreErrors) {
  boost::asio::io_context loop;
  Options o;
  o.open_socket = [](int domain, int type, int protocol) {
    if (protocol == IPPROTO_SCTP) {
      errno = EMFILE;
      return -1;
    }
    return ::socket(domain, type, protocol);
  };
  Side server(loop, o);
  auto l = server->listen(loopback4(), Protocol::Sctp);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code, std::error_code(EMFILE, std::system_category()));
  EXPECT_TRUE(server.log.empty());
}

// --- real SCTP associations (skipped without kernel SCTP) ---

// A plain blocking SCTP peer that sees PPIDs and message boundaries.
class RawSctp {
 public:
  explicit RawSctp(const Endpoint& to) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    const int on = 1;
    ::setsockopt(fd_, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(to.port);
    const auto b = to.address.to_v4().to_bytes();
    std::memcpy(&sin.sin_addr, b.data(), b.size());
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0;
  }
  ~RawSctp() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(const Bytes& m, std::uint32_t ppid) {
    alignas(cmsghdr) std::array<unsigned char, CMSG_SPACE(sizeof(sctp_sndinfo))> control{};
    iovec iov{const_cast<std::byte*>(m.data()), m.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_SCTP;
    c->cmsg_type = SCTP_SNDINFO;
    c->cmsg_len = CMSG_LEN(sizeof(sctp_sndinfo));
    sctp_sndinfo info{};
    info.snd_ppid = htonl(ppid);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return ::sendmsg(fd_, &msg, 0) == static_cast<ssize_t>(m.size());
  }
  struct Received {
    Bytes bytes;
    std::uint32_t ppid = 0;
    std::uint16_t stream = 0;
    bool whole = false;  // MSG_EOR: one SCTP message, read completely
  };
  std::optional<Received> receive() {
    Received r;
    r.bytes.resize(70000);
    alignas(cmsghdr) std::array<unsigned char, CMSG_SPACE(sizeof(sctp_rcvinfo))> control{};
    iovec iov{r.bytes.data(), r.bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd_, &msg, 0);
    if (n <= 0) return std::nullopt;
    r.bytes.resize(static_cast<std::size_t>(n));
    r.whole = (msg.msg_flags & MSG_EOR) != 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_RCVINFO) {
        sctp_rcvinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        r.ppid = ntohl(info.rcv_ppid);
        r.stream = info.rcv_sid;
      }
    }
    return r;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST(SctpTransport, MessagesBothWaysEachOneSctpMessageWithThePpid) {
  REQUIRE_SCTP();
  boost::asio::io_context loop;
  Side server(loop);
  ListenOptions lo;
  lo.sctp_ppid = wire::kPpidNgAsap;
  auto l = server->listen(loopback4(), Protocol::Sctp, lo);
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_TRUE(l.value().sctp_active);
  RawSctp peer(l.value().local);
  ASSERT_TRUE(peer.connected());
  ASSERT_TRUE(runUntil(loop, [&] { return !server.accepted.empty(); }));
  EXPECT_TRUE(server.accepted[0].sctp_active);
  EXPECT_FALSE(server.accepted[0].mptcp_active);
  const ConnId s = server.accepted[0].id;
  // Three messages queued together (one write for the transport) arrive as three SCTP messages.
  const std::vector<Bytes> out = {frame(8, 1, 1), frame(21, 2, 2), frame(3000, 3, 3)};
  for (const auto& m : out) ASSERT_TRUE(server->send(s, m));
  ASSERT_TRUE(runUntil(loop, [&] { return server->stats(s)->writes == 1 && server->stats(s)->queued_out == 0; }));
  for (const auto& m : out) {
    auto r = peer.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->whole);
    EXPECT_EQ(r->ppid, wire::kPpidNgAsap);
    EXPECT_EQ(r->stream, 0);
    EXPECT_EQ(r->bytes, m);
  }
  // The other way: a foreign PPID is dropped and counted, ours delivered; a message larger than the first
  // read chunk is reassembled.
  ASSERT_TRUE(peer.send(frame(12, 9, 9), wire::kPpidAsap));
  ASSERT_TRUE(peer.send(frame(16, 4, 4), wire::kPpidNgAsap));
  ASSERT_TRUE(peer.send(frame(20000, 5, 5), wire::kPpidNgAsap));
  ASSERT_TRUE(runUntil(loop, [&] { return server.messages.size() == 2; }));
  EXPECT_EQ(server.messages[0].second, frame(16, 4, 4));
  EXPECT_EQ(server.messages[1].second, frame(20000, 5, 5));
  EXPECT_EQ(server->transportStats().sctp_foreign_ppid, 1U);
}

TEST(SctpTransport, ConnectCloseAndPeerClose) {
  REQUIRE_SCTP();
  boost::asio::io_context loop;
  Side server(loop), client(loop);
  auto l = server->listen(loopback4(), Protocol::Sctp);
  ASSERT_TRUE(l.ok());
  const ConnId c = client->connect(l.value().local, Protocol::Sctp, 5s);
  ASSERT_TRUE(runUntil(loop, [&] { return !client.connected.empty() && !server.accepted.empty(); }));
  EXPECT_TRUE(client.connected[0].sctp_active);
  EXPECT_EQ(client.connected[0].peer.port, l.value().local.port);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(client->send(c, frame(40, 1, static_cast<std::uint8_t>(i))));
  ASSERT_TRUE(runUntil(loop, [&] { return server.messages.size() == 200; }));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(server.messages[static_cast<std::size_t>(i)].second, frame(40, 1, static_cast<std::uint8_t>(i)));
  // A graceful close: queued messages arrive, the server sees the end, the client its LocalClose.
  ASSERT_TRUE(client->send(c, frame(8, 7)));
  client->close(c);
  ASSERT_TRUE(runUntil(loop, [&] { return !server.closed.empty() && !client.closed.empty(); }));
  EXPECT_EQ(server.messages.back().second, frame(8, 7));
  EXPECT_EQ(server.closed[0].second, CloseReason::PeerClosed);
  EXPECT_EQ(client.closed[0].second, CloseReason::LocalClose);
  // Nobody listening: the connect fails.
  const auto port = l.value().local.port;
  server->stopListening(l.value().id);
  client->connect(Endpoint{boost::asio::ip::make_address("127.0.0.1"), port}, Protocol::Sctp, 5s);
  ASSERT_TRUE(runUntil(loop, [&] { return client.closed.size() == 2; }));
  EXPECT_EQ(client.closed[1].second, CloseReason::ConnectFailed);
}

TEST(SctpTransport, ConnectCanSetItsOwnPpid) {
  // One transport reaching peers of both dialects (a registrar adopting a classic and an ng PE): the
  // PPID given to connect() wins over SctpOptions::ppid for that association only.
  REQUIRE_SCTP();
  boost::asio::io_context loop;
  Side server(loop), client(loop);
  ListenOptions lo;
  lo.sctp_ppid = wire::kPpidNgAsap;  // what this listener accepts
  auto l = server->listen(loopback4(), Protocol::Sctp, lo);
  ASSERT_TRUE(l.ok());
  const ConnId plain = client->connect(l.value().local, Protocol::Sctp, 5s);  // the transport's PPID 11
  const ConnId ng = client->connect(l.value().local, Protocol::Sctp, 5s, wire::kPpidNgAsap);
  ASSERT_TRUE(runUntil(loop, [&] { return client.connected.size() == 2 && server.accepted.size() == 2; }));
  ASSERT_TRUE(client->send(plain, frame(8, 1)));
  ASSERT_TRUE(client->send(ng, frame(12, 2)));
  ASSERT_TRUE(runUntil(loop, [&] { return server.messages.size() == 1 && server->transportStats().sctp_foreign_ppid == 1; }));
  EXPECT_EQ(server.messages[0].second, frame(12, 2));
}

TEST(SctpTransport, ListenerMultiHomedWithBindx) {
  REQUIRE_SCTP();
  boost::asio::io_context loop;
  Side server(loop), client(loop);
  ListenOptions lo;
  lo.sctp_extra_addresses = {boost::asio::ip::make_address("127.0.0.2"), boost::asio::ip::make_address("127.0.0.3")};
  auto l = server->listen(loopback4(), Protocol::Sctp, lo);
  ASSERT_TRUE(l.ok()) << l.error().message();
  // Each bound address accepts associations on the listener's port.
  for (const char* a : {"127.0.0.1", "127.0.0.2", "127.0.0.3"}) {
    client->connect(Endpoint{boost::asio::ip::make_address(a), l.value().local.port}, Protocol::Sctp, 5s);
  }
  ASSERT_TRUE(runUntil(loop, [&] { return client.connected.size() == 3 && server.accepted.size() == 3; }));
  // A client bound to two local addresses.
  Options o;
  o.sctp.local_addresses = {boost::asio::ip::make_address("127.0.0.4"), boost::asio::ip::make_address("127.0.0.5")};
  Side homed(loop, o);
  homed->connect(l.value().local, Protocol::Sctp, 5s);
  ASSERT_TRUE(runUntil(loop, [&] { return homed.connected.size() == 1 && server.accepted.size() == 4; }));
  const auto peer = server.accepted[3].peer.address.to_string();
  EXPECT_TRUE(peer == "127.0.0.4" || peer == "127.0.0.5") << peer;
  // An address that is not local is refused at listen time.
  ListenOptions bad;
  bad.sctp_extra_addresses = {boost::asio::ip::make_address("192.0.2.1")};
  EXPECT_FALSE(server->listen(loopback4(), Protocol::Sctp, bad).ok());
}

template <typename Message, typename Decode>
void roundTrip(wire::Dialect dialect, std::uint32_t ppid, const std::vector<Message>& samples, Decode decode) {
  boost::asio::io_context loop;
  Options o;
  o.sctp.ppid = ppid;
  Side server(loop, o), client(loop, o);
  auto l = server->listen(*Endpoint::parse("[::1]:0"), Protocol::Sctp);
  ASSERT_TRUE(l.ok());
  const ConnId c = client->connect(l.value().local, Protocol::Sctp, 5s);
  ASSERT_TRUE(runUntil(loop, [&] { return !client.connected.empty() && !server.accepted.empty(); }));
  for (const auto& m : samples) {
    ASSERT_TRUE(client->sendEncoded(c, [&](std::vector<std::byte>& out) { return wire::encodeTo(m, dialect, out).ok(); }));
  }
  ASSERT_TRUE(runUntil(loop, [&] { return server.messages.size() == samples.size(); }));
  for (std::size_t i = 0; i < samples.size(); ++i) {
    auto decoded = decode(server.messages[i].second, dialect);
    ASSERT_TRUE(decoded.ok()) << vnfpool::test::label(samples[i], i) << ": " << decoded.error().detail;
    EXPECT_EQ(decoded.value(), samples[i]) << vnfpool::test::label(samples[i], i);
  }
}

TEST(SctpTransport, EveryWireSampleOverSctpWithItsPpid) {
  REQUIRE_SCTP();
  const auto asap = [](std::span<const std::byte> b, wire::Dialect d) { return wire::decodeAsap(b, d); };
  const auto enrp = [](std::span<const std::byte> b, wire::Dialect d) { return wire::decodeEnrp(b, d); };
  roundTrip(wire::Dialect::Classic, wire::kPpidAsap, vnfpool::test::sampleAsapMessages(wire::Dialect::Classic), asap);
  roundTrip(wire::Dialect::Ng, wire::kPpidNgAsap, vnfpool::test::sampleAsapMessages(wire::Dialect::Ng), asap);
  roundTrip(wire::Dialect::Classic, wire::kPpidEnrp, vnfpool::test::sampleEnrpMessages(wire::Dialect::Classic), enrp);
  roundTrip(wire::Dialect::Ng, wire::kPpidNgEnrp, vnfpool::test::sampleEnrpMessages(wire::Dialect::Ng), enrp);
}

}  // namespace
}  // namespace vnfpool::transport
