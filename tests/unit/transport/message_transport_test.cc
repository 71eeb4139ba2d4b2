#include "vnfpool/transport/message_transport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include <sys/socket.h>

#include <boost/asio/steady_timer.hpp>

#include "test_util.h"

namespace vnfpool::transport {
namespace {

using namespace test;

struct Closed {
  ConnId id = 0;
  CloseReason reason = CloseReason::LocalClose;
  std::error_code error{};
  std::optional<wire::Error> framing{};
};

// One MessageTransport and everything its handlers reported.
struct Side {
  std::vector<ConnectionInfo> accepted;
  std::vector<ConnectionInfo> connected;
  std::map<ConnId, std::vector<Bytes>> messages;
  std::vector<Closed> closed;
  std::function<void(ConnId, std::span<const std::byte>)> on_message;  // extra behaviour (echo, close, throw)
  std::vector<std::string> log;
  std::vector<Bytes> written;  // owned buffers handed back (take_written)
  std::unique_ptr<MessageTransport> transport;

  Side(boost::asio::io_context& loop, Limits limits = {}, std::function<int(int, int, int)> opener = {},
       bool take_written = false) {
    Handlers h;
    if (take_written) h.written = [this](Bytes&& b) { written.push_back(std::move(b)); };
    h.accepted = [this](const ConnectionInfo& i) { accepted.push_back(i); };
    h.connected = [this](const ConnectionInfo& i) { connected.push_back(i); };
    h.message = [this](ConnId id, std::span<const std::byte> m) {
      messages[id].emplace_back(m.begin(), m.end());
      if (on_message) on_message(id, m);
    };
    h.closed = [this](ConnId id, CloseReason r, std::error_code e, const wire::Error* f) {
      closed.push_back(Closed{id, r, e, f ? std::optional<wire::Error>(*f) : std::nullopt});
    };
    Options o;
    o.limits = limits;
    o.name = "test";
    o.log = [this](std::string_view line) { log.emplace_back(line); };
    o.open_socket = std::move(opener);
    transport = std::make_unique<MessageTransport>(loop, std::move(h), std::move(o));
  }
  MessageTransport* operator->() { return transport.get(); }
  std::size_t closedCount(ConnId id) const {
    return static_cast<std::size_t>(std::count_if(closed.begin(), closed.end(), [id](const Closed& c) { return c.id == id; }));
  }
  const Closed* closedOf(ConnId id) const {
    auto it = std::find_if(closed.begin(), closed.end(), [id](const Closed& c) { return c.id == id; });
    return it == closed.end() ? nullptr : &*it;
  }
};

Endpoint loopback4() { return *Endpoint::parse("127.0.0.1:0"); }
Endpoint loopback6() { return *Endpoint::parse("[::1]:0"); }

class MessageTransportTest : public ::testing::Test {
 protected:
  boost::asio::io_context loop_;

  // Server listens, client connects; returns {client id, server id}.
  std::pair<ConnId, ConnId> connectPair(Side& server, Side& client, const Endpoint& at, Protocol listen_with,
                                        Protocol connect_with) {
    auto listening = server->listen(at, listen_with);
    EXPECT_TRUE(listening.ok()) << (listening.ok() ? "" : listening.error().message());
    if (!listening.ok()) return {0, 0};
    EXPECT_NE(listening.value().local.port, 0);
    const auto before = server.accepted.size();
    const ConnId c = client->connect(listening.value().local, connect_with, 5s);
    EXPECT_NE(c, 0U);
    EXPECT_TRUE(runUntil(loop_, [&] { return !client.connected.empty() && server.accepted.size() > before; }));
    if (client.connected.empty() || server.accepted.size() <= before) return {c, 0};
    return {c, server.accepted.back().id};
  }

  void exchange(Side& server, Side& client, ConnId c, ConnId s) {
    const std::vector<Bytes> up = {frame(4), frame(5, 2, 7), frame(1000, 3, 1), frame(65535, 4, 9)};
    for (const auto& m : up) ASSERT_TRUE(client->send(c, m));
    ASSERT_TRUE(runUntil(loop_, [&] { return server.messages[s].size() == up.size(); }));
    EXPECT_EQ(server.messages[s], up);
    const std::vector<Bytes> down = {frame(8, 5), frame(12, 6)};
    for (const auto& m : down) ASSERT_TRUE(server->send(s, m));
    ASSERT_TRUE(runUntil(loop_, [&] { return client.messages[c].size() == down.size(); }));
    EXPECT_EQ(client.messages[c], down);
  }
};

TEST_F(MessageTransportTest, TcpMessagesBothWays) {
  Side server(loop_), client(loop_);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  exchange(server, client, c, s);
  const auto ci = client->info(c);
  const auto si = server->info(s);
  ASSERT_TRUE(ci && si);
  EXPECT_EQ(ci->peer, si->local);
  EXPECT_EQ(ci->local, si->peer);
  EXPECT_EQ(ci->listener, 0U);
  EXPECT_NE(si->listener, 0U);
  EXPECT_FALSE(ci->mptcp_active);
  EXPECT_FALSE(si->mptcp_active);
  EXPECT_EQ(server->connectionCount(), 1U);
  EXPECT_EQ(client->stats(c)->messages_out, 4U);
  EXPECT_EQ(server->stats(s)->messages_in, 4U);
  EXPECT_TRUE(server.closed.empty());
  EXPECT_TRUE(client.closed.empty());
}

TEST_F(MessageTransportTest, MptcpMessagesBothWaysAndMptcpIsActive) {
  if (!mptcpAvailable()) GTEST_SKIP() << "kernel without MPTCP";
  Side server(loop_), client(loop_);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Mptcp, Protocol::Mptcp);
  ASSERT_NE(s, 0U);
  exchange(server, client, c, s);
  EXPECT_TRUE(client->info(c)->mptcp_active);
  EXPECT_TRUE(server->info(s)->mptcp_active);
  EXPECT_EQ(server->info(s)->protocol, Protocol::Mptcp);
  EXPECT_TRUE(server.log.empty());
  EXPECT_EQ(server->transportStats().mptcp_fallbacks, 0U);
}

TEST_F(MessageTransportTest, MptcpMeetsPlainTcpAndFallsBackPerConnection) {
  if (!mptcpAvailable()) GTEST_SKIP() << "kernel without MPTCP";
  Side server(loop_), client(loop_);
  // MPTCP listener, TCP client: the accepted connection runs plain TCP.
  auto [c1, s1] = connectPair(server, client, loopback4(), Protocol::Mptcp, Protocol::Tcp);
  ASSERT_NE(s1, 0U);
  EXPECT_FALSE(server->info(s1)->mptcp_active);
  exchange(server, client, c1, s1);
  // TCP listener, MPTCP client: the client's connection falls back during the handshake.
  auto [c2, s2] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Mptcp);
  ASSERT_NE(s2, 0U);
  EXPECT_FALSE(client->info(c2)->mptcp_active);
  exchange(server, client, c2, s2);
}

TEST_F(MessageTransportTest, Ipv6TcpAndMptcp) {
  Side server(loop_), client(loop_);
  auto [c, s] = connectPair(server, client, loopback6(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  EXPECT_TRUE(server->info(s)->peer.address.is_v6());
  EXPECT_EQ(server->info(s)->peer.address, boost::asio::ip::make_address("::1"));
  exchange(server, client, c, s);
  if (!mptcpAvailable()) return;
  auto [mc, ms] = connectPair(server, client, loopback6(), Protocol::Mptcp, Protocol::Mptcp);
  ASSERT_NE(ms, 0U);
  EXPECT_TRUE(server->info(ms)->mptcp_active);
  exchange(server, client, mc, ms);
}

TEST_F(MessageTransportTest, ManyMessagesStayInOrderThroughAnEchoServer) {
  Side server(loop_), client(loop_);
  server.on_message = [&](ConnId id, std::span<const std::byte> m) { EXPECT_TRUE(server->send(id, m)); };
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  std::vector<Bytes> sent;
  for (int i = 0; i < 5000; ++i) {
    sent.push_back(frame(static_cast<std::size_t>(4 + i % 300), 1, static_cast<std::uint8_t>(i)));
    ASSERT_TRUE(client->send(c, sent.back()));
  }
  ASSERT_TRUE(runUntil(loop_, [&] { return client.messages[c].size() == sent.size(); }));
  EXPECT_EQ(client.messages[c], sent);
  // Writes are batched: the 5000 sends made before the loop ran went out in one write, and the server
  // answered each read's messages with one write.
  const auto cs = *client->stats(c);
  const auto ss = *server->stats(s);
  EXPECT_EQ(cs.writes, 1U);
  EXPECT_LE(ss.writes, ss.reads);
  EXPECT_LT(ss.writes, sent.size() / 4);
  EXPECT_EQ(ss.messages_out, sent.size());
  EXPECT_EQ(ss.bytes_out, cs.bytes_out);
  EXPECT_EQ(ss.queued_out, 0U);
}

TEST_F(MessageTransportTest, SendEncodedWritesStraightIntoTheQueue) {
  Limits limits;
  limits.max_buffered_out = 64 * 1024;
  Side server(loop_, limits), client(loop_);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  int calls = 0;
  EXPECT_TRUE(server->sendEncoded(s, [&](std::vector<std::byte>& out) {
    ++calls;
    const Bytes m = frame(20, 9);
    out.insert(out.end(), m.begin(), m.end());
    return true;
  }));
  // An encoder that fails after appending half a message: nothing is sent, the connection stays.
  EXPECT_FALSE(server->sendEncoded(s, [&](std::vector<std::byte>& out) {
    ++calls;
    out.push_back(std::byte{1});
    return false;
  }));
  const auto tail = [](std::vector<std::byte>& out) {
    const Bytes m = frame(8, 10);
    out.insert(out.end(), m.begin(), m.end());
    return true;
  };
  EXPECT_TRUE(server->sendEncoded(s, tail));  // an lvalue encoder works as well
  ASSERT_TRUE(runUntil(loop_, [&] { return client.messages[c].size() == 2; }));
  EXPECT_EQ(client.messages[c][0], frame(20, 9));
  EXPECT_EQ(client.messages[c][1], frame(8, 10));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(server->stats(s)->messages_out, 2U);
  EXPECT_FALSE(server->sendEncoded(9999999, tail));
  // Over the outgoing limit: refused and closed, like send().
  EXPECT_FALSE(server->sendEncoded(s, [](std::vector<std::byte>& out) {
    out.resize(out.size() + 65 * 1024);
    return true;
  }));
  ASSERT_TRUE(runUntil(loop_, [&] { return server.closed.size() == 1; }));
  EXPECT_EQ(server.closed[0].reason, CloseReason::TooMuchBuffered);
  EXPECT_FALSE(server->sendEncoded(s, tail));
}

TEST_F(MessageTransportTest, OneByteAtATimeIsReassembled) {
  Side server(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(peer.valid());
  peer.setInt(IPPROTO_TCP, TCP_NODELAY, 1);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  Bytes stream = frame(13, 1, 3);
  const Bytes second = frame(8, 2, 5);
  stream.insert(stream.end(), second.begin(), second.end());
  for (std::size_t i = 0; i < stream.size(); ++i) {
    ASSERT_TRUE(peer.writeAll(std::span(&stream[i], 1)));
    // Wait until the transport has read this byte, so every read really gets one byte.
    ASSERT_TRUE(runUntil(loop_, [&] { return server->stats(s)->bytes_in == i + 1; })) << i;
    const std::size_t expect = i + 1 >= stream.size() ? 2 : (i + 1 >= 16 ? 1 : 0);
    EXPECT_EQ(server.messages[s].size(), expect) << i;
  }
  ASSERT_EQ(server.messages[s].size(), 2U);
  EXPECT_EQ(server.messages[s][0], frame(13, 1, 3));
  EXPECT_EQ(server.messages[s][1], second);
}

TEST_F(MessageTransportTest, FramingErrorClosesAfterTheGoodMessages) {
  Side server(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  Bytes bytes = frame(8);
  const Bytes bad = {std::byte{1}, std::byte{0}, std::byte{0}, std::byte{2}};  // length 2 < header
  bytes.insert(bytes.end(), bad.begin(), bad.end());
  const Bytes after = frame(8);
  bytes.insert(bytes.end(), after.begin(), after.end());
  ASSERT_TRUE(peer.writeAll(bytes));
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_EQ(server.messages[s].size(), 1U);
  ASSERT_EQ(server.closed.size(), 1U);
  EXPECT_EQ(server.closed[0].reason, CloseReason::FramingError);
  ASSERT_TRUE(server.closed[0].framing);
  EXPECT_EQ(server.closed[0].framing->cause, wire::Cause::InvalidValues);
  EXPECT_EQ(server->transportStats().framing_errors, 1U);
  EXPECT_FALSE(server->info(s));
  EXPECT_EQ(server->connectionCount(), 0U);
  EXPECT_TRUE(peer.readsEndOfStream());
}

TEST_F(MessageTransportTest, OversizeMessageCloses) {
  Limits limits;
  limits.max_message = 1024;
  Side server(loop_, limits);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  ASSERT_TRUE(peer.writeAll(frame(1024)));  // exactly the limit: fine
  ASSERT_TRUE(runUntil(loop_, [&] { return server.messages[s].size() == 1; }));
  ASSERT_TRUE(peer.writeAll(frame(1025)));
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_EQ(server.messages[s].size(), 1U);
  EXPECT_EQ(server.closed[0].reason, CloseReason::FramingError);
  ASSERT_TRUE(server.closed[0].framing);
  EXPECT_EQ(server.closed[0].framing->cause, wire::Cause::LackOfResources);
  EXPECT_TRUE(peer.readsEndOfStream());
}

// Messages handed over with their buffers (send(id, Bytes&&)) keep their place among copied ones: a large
// one is written from its own buffer after what was queued before it; a small one is copied as by send().
TEST_F(MessageTransportTest, OwnedMessagesKeepTheirPlaceAmongCopiedOnes) {
  Limits limits;
  limits.max_buffered_out = 256 * 1024;
  Side server(loop_), client(loop_, limits);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  std::vector<Bytes> sent{frame(40, 1, 1), frame(60000, 2, 2), frame(24, 3, 3), frame(20000, 4, 4),
                          frame(1000, 5, 5), frame(16 * 1024, 6, 6), frame(8, 7, 7)};
  std::size_t queued = 0;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    queued += sent[i].size();
    if (i % 2 == 0) {
      ASSERT_TRUE(client->send(c, sent[i]));
    } else {
      Bytes owned = sent[i];
      ASSERT_TRUE(client->send(c, std::move(owned)));
    }
    EXPECT_EQ(client->stats(c)->queued_out, queued);
  }
  ASSERT_TRUE(runUntil(loop_, [&] { return server.messages[s].size() == sent.size(); }));
  EXPECT_EQ(server.messages[s], sent);
  const auto cs = *client->stats(c);
  EXPECT_EQ(cs.messages_out, sent.size());
  EXPECT_EQ(cs.queued_out, 0U);
  // Seven buffers: each owned message, and before each what was copied since the last one (40; 24; 1000),
  // then the last copied one (8). All were queued before the loop ran: one write each.
  EXPECT_EQ(cs.writes, 7U);
  // Over the outgoing limit: refused and closed, as by send().
  Bytes too_big = frame(300 * 1024, 8);
  EXPECT_FALSE(client->send(c, std::move(too_big)));
  ASSERT_TRUE(runUntil(loop_, [&] { return client.closed.size() == 1; }));
  EXPECT_EQ(client.closed[0].reason, CloseReason::TooMuchBuffered);
  Bytes after = frame(20000, 9);
  EXPECT_FALSE(client->send(c, std::move(after)));
  Bytes unknown = frame(20000, 9);
  EXPECT_FALSE(client->send(9999999, std::move(unknown)));
}

// With Handlers::written, each owned buffer comes back once written: empty, its capacity kept, so that a
// bulk sender can build its next message in it. Copied messages' buffers do not.
TEST_F(MessageTransportTest, WrittenOwnedBuffersComeBackForReuse) {
  Side server(loop_), client(loop_, {}, {}, true);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  std::vector<Bytes> sent{frame(60000, 1, 1), frame(40, 2, 2), frame(30000, 3, 3), frame(20000, 4, 4)};
  std::vector<const std::byte*> data;
  for (const Bytes& m : sent) {
    Bytes owned = m;
    owned.reserve(64 * 1024);
    data.push_back(owned.data());
    ASSERT_TRUE(client->send(c, std::move(owned)));
  }
  ASSERT_TRUE(runUntil(loop_, [&] { return server.messages[s].size() == sent.size(); }));
  ASSERT_TRUE(runUntil(loop_, [&] { return client.written.size() == 3; }, 2s)) << client.written.size();  // the 40 bytes were copied
  for (std::size_t i = 0; i < client.written.size(); ++i) {
    EXPECT_TRUE(client.written[i].empty());
    EXPECT_GE(client.written[i].capacity(), 64u * 1024);
  }
  // The very buffers, in the order written.
  EXPECT_EQ(client.written[0].data(), data[0]);
  EXPECT_EQ(client.written[1].data(), data[2]);
  EXPECT_EQ(client.written[2].data(), data[3]);
  EXPECT_EQ(server.messages[s], sent);
}

// A graceful close with owned buffers still queued writes them all, in order, before the end of stream.
TEST_F(MessageTransportTest, GracefulCloseFlushesOwnedBuffersFirst) {
  Side server(loop_), client(loop_);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  std::vector<Bytes> sent{frame(60000, 1, 1), frame(12, 2, 2), frame(50000, 3, 3), frame(40000, 4, 4)};
  for (const Bytes& m : sent) {
    Bytes owned = m;
    ASSERT_TRUE(client->send(c, std::move(owned)));
  }
  client->close(c);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.closed.size() == 1 && client.closed.size() == 1; }));
  EXPECT_EQ(server.messages[s], sent);
  EXPECT_EQ(server.closed[0].reason, CloseReason::PeerClosed);
  EXPECT_EQ(client.closed[0].reason, CloseReason::LocalClose);
}

TEST_F(MessageTransportTest, OutgoingLimitClosesAPeerThatDoesNotRead) {
  Limits limits;
  limits.max_buffered_out = 64 * 1024;
  Side client(loop_, limits);
  RawSocket listener = RawSocket::open(loopback4());
  listener.setInt(SOL_SOCKET, SO_RCVBUF, 4096);  // inherited by the accepted socket: little kernel slack
  ASSERT_TRUE(listener.bindListen(loopback4(), 4));
  const ConnId c = client->connect(listener.localEndpoint(), Protocol::Tcp, 5s);
  ASSERT_TRUE(runUntil(loop_, [&] { return client.connected.size() == 1; }));
  RawSocket peer = listener.accept();  // never reads
  const Bytes m = frame(4096);
  std::size_t accepted_sends = 0;
  bool refused = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    if (client->send(c, m)) {
      ++accepted_sends;
      EXPECT_LE(client->stats(c)->queued_out, limits.max_buffered_out);
    } else {
      refused = true;
    }
    loop_.restart();
    loop_.poll();
  }
  ASSERT_TRUE(refused);
  EXPECT_GT(accepted_sends, 16U);  // the limit is what stopped us, not the first send
  ASSERT_TRUE(runUntil(loop_, [&] { return client.closed.size() == 1; }));
  EXPECT_EQ(client.closed[0].id, c);
  EXPECT_EQ(client.closed[0].reason, CloseReason::TooMuchBuffered);
  EXPECT_FALSE(client->send(c, m));
  EXPECT_EQ(client->transportStats().too_much_buffered, 1U);
  drainPosted(loop_);
  EXPECT_EQ(client.closed.size(), 1U);
}

TEST_F(MessageTransportTest, ListenerLimitRefusesExtraConnections) {
  Side server(loop_);
  ListenOptions options;
  options.max_connections = 2;
  auto listening = server->listen(loopback4(), Protocol::Tcp, options);
  ASSERT_TRUE(listening.ok());
  RawSocket a = RawSocket::connectTo(listening.value().local);
  RawSocket b = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 2; }));
  RawSocket extra = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(extra.valid());  // the kernel completes the handshake; the transport then closes it
  ASSERT_TRUE(runUntil(loop_, [&] { return server->transportStats().refused == 1; }));
  EXPECT_TRUE(extra.readsEndOfStream());
  EXPECT_EQ(server.accepted.size(), 2U);
  EXPECT_EQ(server->connectionCount(), 2U);
  // A slot frees when a connection goes.
  a.reset();
  ASSERT_TRUE(runUntil(loop_, [&] { return server.closed.size() == 1; }));
  RawSocket again = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 3; }));
  EXPECT_EQ(server->transportStats().refused, 1U);
}

TEST_F(MessageTransportTest, TotalLimitCountsOutboundConnections) {
  Limits limits;
  limits.max_connections = 1;
  Side server(loop_), client(loop_, limits);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  const ConnId first = client->connect(listening.value().local, Protocol::Tcp, 5s);
  const ConnId second = client->connect(listening.value().local, Protocol::Tcp, 5s);
  EXPECT_NE(first, second);
  ASSERT_TRUE(runUntil(loop_, [&] { return client.connected.size() == 1 && client.closed.size() == 1; }));
  EXPECT_EQ(client.connected[0].id, first);
  EXPECT_EQ(client.closed[0].id, second);
  EXPECT_EQ(client.closed[0].reason, CloseReason::ConnectFailed);
  EXPECT_EQ(client.closed[0].error, std::errc::resource_unavailable_try_again);
}

TEST_F(MessageTransportTest, PeerCloseIsReportedOnce) {
  Side server(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  ASSERT_TRUE(peer.writeAll(frame(8)));
  peer.reset();
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_EQ(server.messages[s].size(), 1U);  // what came before the FIN is delivered first
  EXPECT_EQ(server.closed[0].reason, CloseReason::PeerClosed);
  EXPECT_FALSE(server->send(s, frame(8)));
  server->close(s);
  server->abort(s);
  drainPosted(loop_);
  EXPECT_EQ(server.closedCount(s), 1U);
  EXPECT_EQ(server->connectionCount(), 0U);
}

TEST_F(MessageTransportTest, PeerResetIsReported) {
  Side server(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const linger hard{1, 0};  // close() sends RST
  ::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  peer.reset();
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_EQ(server.closed[0].reason, CloseReason::Reset);
  EXPECT_EQ(server.closed[0].error, std::errc::connection_reset);
}

TEST_F(MessageTransportTest, ConnectRefusedIsReported) {
  for (Protocol p : {Protocol::Tcp, Protocol::Mptcp}) {
    Side client(loop_);
    RawSocket holder = RawSocket::open(loopback4());  // bound, not listening: connections are refused
    ASSERT_TRUE(holder.bindListen(loopback4(), -1));
    const ConnId c = client->connect(holder.localEndpoint(), p, 5s);
    EXPECT_TRUE(client.closed.empty());  // never from inside connect()
    ASSERT_TRUE(runUntil(loop_, [&] { return !client.closed.empty(); }));
    EXPECT_EQ(client.closed[0].id, c);
    EXPECT_EQ(client.closed[0].reason, CloseReason::ConnectFailed);
    EXPECT_EQ(client.closed[0].error, std::errc::connection_refused);
    EXPECT_TRUE(client.connected.empty());
    EXPECT_EQ(client->connectionCount(), 0U);
    EXPECT_EQ(client->transportStats().connect_failed, 1U);
  }
}

TEST_F(MessageTransportTest, ConnectTimeoutIsReported) {
  Side client(loop_);
  // A listener with a full accept queue drops further SYNs, so the next connect gets no answer.
  RawSocket listener = RawSocket::open(loopback4());
  ASSERT_TRUE(listener.bindListen(loopback4(), 0));
  RawSocket filler = RawSocket::connectTo(listener.localEndpoint());
  ASSERT_TRUE(filler.valid());
  const auto start = std::chrono::steady_clock::now();
  const ConnId c = client->connect(listener.localEndpoint(), Protocol::Tcp, 300ms);
  ASSERT_TRUE(runUntil(loop_, [&] { return !client.closed.empty(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(client.closed[0].id, c);
  EXPECT_EQ(client.closed[0].reason, CloseReason::ConnectFailed);
  EXPECT_EQ(client.closed[0].error, std::errc::timed_out);
  EXPECT_TRUE(client.connected.empty());
  drainPosted(loop_);
  EXPECT_EQ(client.closed.size(), 1U);
}

TEST_F(MessageTransportTest, ClosingAPendingConnectAbandonsIt) {
  Side client(loop_);
  RawSocket listener = RawSocket::open(loopback4());
  ASSERT_TRUE(listener.bindListen(loopback4(), 0));
  RawSocket filler = RawSocket::connectTo(listener.localEndpoint());
  const ConnId c = client->connect(listener.localEndpoint(), Protocol::Tcp, 10s);
  EXPECT_TRUE(client->info(c));
  EXPECT_FALSE(client->send(c, frame(4)));  // not connected yet
  EXPECT_EQ(client->connectionCount(), 1U);
  client->close(c);
  EXPECT_TRUE(client.closed.empty());
  ASSERT_TRUE(runUntil(loop_, [&] { return !client.closed.empty(); }, 5s));
  EXPECT_EQ(client.closed[0].id, c);
  EXPECT_EQ(client.closed[0].reason, CloseReason::LocalClose);
  EXPECT_TRUE(client.connected.empty());
  EXPECT_EQ(client->connectionCount(), 0U);
}

TEST(CloseReasonNames, AreDistinct) {
  std::vector<std::string_view> names;
  for (auto r : {CloseReason::PeerClosed, CloseReason::Reset, CloseReason::FramingError, CloseReason::TooMuchBuffered,
                 CloseReason::LocalClose, CloseReason::ConnectFailed, CloseReason::Shutdown, CloseReason::Stalled}) {
    names.push_back(closeReasonName(r));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_EQ(std::count(names.begin(), names.end(), "unknown"), 0);
}

TEST_F(MessageTransportTest, GracefulCloseFlushesThenReportsOnce) {
  Side server(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  Bytes expected;
  for (int i = 0; i < 100; ++i) {
    const Bytes m = frame(200, 1, static_cast<std::uint8_t>(i));
    ASSERT_TRUE(server->send(s, m));
    expected.insert(expected.end(), m.begin(), m.end());
  }
  server->close(s);
  EXPECT_FALSE(server->send(s, frame(8)));  // closing: nothing more is accepted
  EXPECT_TRUE(server->info(s));             // but the connection is still there while it drains
  ASSERT_TRUE(runUntil(loop_, [&] { return server->stats(s) && server->stats(s)->queued_out == 0; }));
  auto got = peer.readExact(expected.size());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, expected);
  EXPECT_TRUE(peer.readsEndOfStream());  // our FIN
  EXPECT_TRUE(server.closed.empty());    // waiting for the peer's
  peer.reset();
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_EQ(server.closed[0].reason, CloseReason::LocalClose);
  drainPosted(loop_);
  EXPECT_EQ(server.closedCount(s), 1U);
}

TEST_F(MessageTransportTest, GracefulCloseGivesUpAfterTheLinger) {
  Limits limits;
  limits.close_linger = 200ms;
  Side server(loop_, limits);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);  // never closes
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  server->close(server.accepted[0].id);
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_EQ(server.closed[0].reason, CloseReason::LocalClose);
  EXPECT_EQ(server->connectionCount(), 0U);
}

TEST_F(MessageTransportTest, AbortAndCloseFromInsideHandlers) {
  Side server(loop_), client(loop_);
  server.on_message = [&](ConnId id, std::span<const std::byte> m) {
    if (m.size() == 8) server->abort(id);  // the rest of this read must not be delivered
  };
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  Bytes batch = frame(4);
  for (const auto& m : {frame(8), frame(4), frame(4)}) batch.insert(batch.end(), m.begin(), m.end());
  // One send, so the server most likely reads all four in one go; correct either way.
  ASSERT_TRUE(client->send(c, batch));
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty() && !client.closed.empty(); }));
  EXPECT_EQ(server.messages[s].size(), 2U);
  EXPECT_EQ(server.closed[0].reason, CloseReason::LocalClose);
  EXPECT_TRUE(client.closed[0].reason == CloseReason::PeerClosed || client.closed[0].reason == CloseReason::Reset);
}

TEST_F(MessageTransportTest, HandlerExceptionAbortsOnlyThatConnection) {
  Side server(loop_), client(loop_);
  server.on_message = [](ConnId, std::span<const std::byte>) { throw std::runtime_error("boom"); };
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  auto [c2, s2] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s2, 0U);
  ASSERT_TRUE(client->send(c, frame(4)));
  ASSERT_TRUE(runUntil(loop_, [&] { return server.closedCount(s) == 1; }));
  EXPECT_EQ(server->transportStats().handler_exceptions, 1U);
  ASSERT_EQ(server.log.size(), 1U);
  EXPECT_NE(server.log[0].find("boom"), std::string::npos);
  EXPECT_TRUE(server->info(s2));
  EXPECT_EQ(server.closedCount(s2), 0U);
}

TEST_F(MessageTransportTest, ShutdownClosesEverythingOnce) {
  Side server(loop_), client(loop_);
  auto [c, s] = connectPair(server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  const auto at = server.accepted[0].local;
  server->shutdown();
  server->shutdown();
  ASSERT_TRUE(runUntil(loop_, [&] { return server.closed.size() == 1 && client.closed.size() == 1; }));
  EXPECT_EQ(server.closed[0].reason, CloseReason::Shutdown);
  EXPECT_EQ(client.closed[0].reason, CloseReason::PeerClosed);
  EXPECT_FALSE(server->listen(loopback4(), Protocol::Tcp).ok());
  const ConnId late = server->connect(at, Protocol::Tcp, 1s);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.closed.size() == 2; }));
  EXPECT_EQ(server.closed[1].id, late);
  EXPECT_EQ(server.closed[1].reason, CloseReason::ConnectFailed);
  // The listener is gone: connecting to it is refused.
  const ConnId refused = client->connect(at, Protocol::Tcp, 5s);
  ASSERT_TRUE(runUntil(loop_, [&] { return client.closedCount(refused) == 1; }));
  EXPECT_EQ(client.closedOf(refused)->reason, CloseReason::ConnectFailed);
}

TEST_F(MessageTransportTest, StopListeningKeepsAcceptedConnections) {
  Side server(loop_), client(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  const ConnId c = client->connect(listening.value().local, Protocol::Tcp, 5s);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1 && client.connected.size() == 1; }));
  server->stopListening(listening.value().id);
  exchange(server, client, c, server.accepted[0].id);
  const ConnId refused = client->connect(listening.value().local, Protocol::Tcp, 5s);
  ASSERT_TRUE(runUntil(loop_, [&] { return client.closedCount(refused) == 1; }));
  EXPECT_EQ(client.closedOf(refused)->error, std::errc::connection_refused);
}

TEST_F(MessageTransportTest, DestroyingTheTransportWithWorkPendingIsQuiet) {
  auto server = std::make_unique<Side>(loop_);
  Side client(loop_);
  auto [c, s] = connectPair(*server, client, loopback4(), Protocol::Tcp, Protocol::Tcp);
  ASSERT_NE(s, 0U);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*server)->send(s, frame(1000)));
  (*server)->abort(s);  // its closed notification is queued in the loop
  server.reset();       // ... and must not run now
  ASSERT_TRUE(runUntil(loop_, [&] { return !client.closed.empty(); }));
  drainPosted(loop_);
}

// Runs the loop for `d` of wall time (a bounded wait for something that must NOT happen, not a sync point).
void runFor(boost::asio::io_context& loop, std::chrono::milliseconds d) {
  bool done = false;
  boost::asio::steady_timer t(loop, d);
  t.async_wait([&done](const boost::system::error_code&) { done = true; });
  runUntil(loop, [&done] { return done; });
}

TEST_F(MessageTransportTest, IncompleteMessageStallsAfterTheTimeout) {
  Limits limits;
  limits.message_timeout = 200ms;
  Side server(loop_, limits);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  // Slowloris: a header announcing 100 bytes, then one byte every 40 ms; bytes flow, the message never ends.
  const Bytes m = frame(100);
  const auto start = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  while (server.closed.empty() && sent < m.size() && std::chrono::steady_clock::now() - start < 5s) {
    ASSERT_TRUE(peer.writeAll(std::span(&m[sent], sent == 0 ? 4 : 1)));
    sent += sent == 0 ? 4 : 1;
    runFor(loop_, 40ms);
  }
  ASSERT_TRUE(runUntil(loop_, [&] { return !server.closed.empty(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_LT(sent, m.size());
  EXPECT_EQ(server.closed[0].id, s);
  EXPECT_EQ(server.closed[0].reason, CloseReason::Stalled);
  EXPECT_EQ(server->transportStats().stalled, 1U);
}

TEST_F(MessageTransportTest, SlowButCompleteMessagesDoNotStall) {
  Limits limits;
  limits.message_timeout = 300ms;
  Side server(loop_, limits);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  RawSocket peer = RawSocket::connectTo(listening.value().local);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1; }));
  const ConnId s = server.accepted[0].id;
  // Each message completes within the timeout, but a partial one is always pending when the deadline of the
  // previous one passes; the connection is idle (nothing partial) between the rounds.
  for (int round = 0; round < 2; ++round) {
    const Bytes a = frame(8), b = frame(8);
    ASSERT_TRUE(peer.writeAll(std::span(a).first(6)));
    runFor(loop_, 100ms);
    Bytes rest(a.begin() + 6, a.end());
    rest.insert(rest.end(), b.begin(), b.begin() + 6);
    ASSERT_TRUE(peer.writeAll(rest));
    runFor(loop_, 250ms);  // a's deadline passes with progress made: a new one for message b
    ASSERT_TRUE(peer.writeAll(std::span(b).subspan(6)));
    runFor(loop_, 400ms);  // idle, longer than the timeout
  }
  EXPECT_TRUE(server.closed.empty());
  EXPECT_EQ(server.messages[s].size(), 4U);
}

TEST_F(MessageTransportTest, DualStackListenerReportsIpv4Peers) {
  Side server(loop_), client(loop_);
  auto listening = server->listen(*Endpoint::parse("[::]:0"), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  Endpoint to = *Endpoint::parse("127.0.0.1:0");
  to.port = listening.value().local.port;
  const ConnId c = client->connect(to, Protocol::Tcp, 5s);
  ASSERT_TRUE(runUntil(loop_, [&] { return server.accepted.size() == 1 && client.connected.size() == 1; }));
  EXPECT_EQ(server.accepted[0].peer, client.connected[0].local);
  EXPECT_TRUE(server.accepted[0].peer.address.is_v4());
  EXPECT_EQ(server.accepted[0].local.address, boost::asio::ip::make_address("127.0.0.1"));
  exchange(server, client, c, server.accepted[0].id);
}

// The kernel refusing IPPROTO_MPTCP (simulated through the socket seam): TCP is used, one log line.
TEST_F(MessageTransportTest, MptcpRefusedFallsBackToTcpWithOneLogLine) {
  for (int refusal : {EPROTONOSUPPORT, EINVAL, ENOPROTOOPT}) {
    int mptcp_attempts = 0;
    auto opener = [&mptcp_attempts, refusal](int domain, int type, int protocol) {
      if (protocol == kMptcp) {
        ++mptcp_attempts;
        errno = refusal;
        return -1;
      }
      return ::socket(domain, type, protocol);
    };
    Side server(loop_, {}, opener), client(loop_, {}, opener);
    auto [c, s] = connectPair(server, client, loopback4(), Protocol::Mptcp, Protocol::Mptcp);
    ASSERT_NE(s, 0U);
    exchange(server, client, c, s);
    auto [c2, s2] = connectPair(server, client, loopback6(), Protocol::Mptcp, Protocol::Mptcp);
    ASSERT_NE(s2, 0U);
    EXPECT_FALSE(server->info(s)->mptcp_active);
    EXPECT_FALSE(client->info(c)->mptcp_active);
    EXPECT_EQ(server->info(s)->protocol, Protocol::Mptcp);
    ASSERT_EQ(server.log.size(), 1U);
    EXPECT_NE(server.log[0].find("MPTCP"), std::string::npos);
    EXPECT_EQ(client.log.size(), 1U);
    EXPECT_EQ(server->transportStats().mptcp_fallbacks, 2U);
    EXPECT_EQ(client->transportStats().mptcp_fallbacks, 2U);
    EXPECT_EQ(mptcp_attempts, 2);  // once per transport: the refusal is remembered
  }
}

TEST_F(MessageTransportTest, KeepAliveAndUserTimeoutAreSetOnConnections) {
  for (Protocol p : {Protocol::Tcp, Protocol::Mptcp}) {
    std::vector<int> fds;  // the sockets the transport opened, seen through the socket seam
    auto opener = [&fds](int domain, int type, int protocol) {
      const int fd = ::socket(domain, type, protocol);
      fds.push_back(fd);
      return fd;
    };
    Side server(loop_);
    Handlers h;
    bool up = false;
    h.connected = [&up](const ConnectionInfo&) { up = true; };
    Options o;
    o.keep_alive.idle = 7s;
    o.keep_alive.interval = 3s;
    o.keep_alive.probes = 4;
    o.keep_alive.user_timeout = 9000ms;
    o.open_socket = opener;
    MessageTransport tuned(loop_, h, o);
    auto listening = server->listen(loopback4(), p);
    ASSERT_TRUE(listening.ok());
    fds.clear();
    tuned.connect(listening.value().local, p, 5s);
    ASSERT_TRUE(runUntil(loop_, [&] { return up; }));
    ASSERT_EQ(fds.size(), 1U);
    auto get = [&](int level, int option) {
      int v = -1;
      socklen_t n = sizeof v;
      EXPECT_EQ(::getsockopt(fds[0], level, option, &v, &n), 0) << level << "/" << option;
      return v;
    };
    EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 1);
    if (p == Protocol::Tcp) {  // MPTCP sockets may not answer the TCP_* getters on every kernel
      EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPIDLE), 7);
      EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPINTVL), 3);
      EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPCNT), 4);
      EXPECT_EQ(get(IPPROTO_TCP, TCP_USER_TIMEOUT), 9000);
      EXPECT_EQ(get(IPPROTO_TCP, TCP_NODELAY), 1);
    }
  }
}

TEST_F(MessageTransportTest, KeepAliveCanBeTurnedOff) {
  std::vector<int> fds;
  Handlers h;
  bool up = false;
  h.connected = [&up](const ConnectionInfo&) { up = true; };
  Options o;
  o.keep_alive.idle = 0s;
  o.open_socket = [&fds](int domain, int type, int protocol) {
    const int fd = ::socket(domain, type, protocol);
    fds.push_back(fd);
    return fd;
  };
  MessageTransport client(loop_, h, o);
  Side server(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  client.connect(listening.value().local, Protocol::Tcp, 5s);
  ASSERT_TRUE(runUntil(loop_, [&] { return up; }));
  ASSERT_EQ(fds.size(), 1U);
  int v = -1;
  socklen_t n = sizeof v;
  ASSERT_EQ(::getsockopt(fds[0], SOL_SOCKET, SO_KEEPALIVE, &v, &n), 0);
  EXPECT_EQ(v, 0);
}

TEST_F(MessageTransportTest, OtherSocketErrorsAreNotAFallback) {
  auto opener = [](int, int, int) {
    errno = EMFILE;
    return -1;
  };
  Side side(loop_, {}, opener);
  auto listening = side->listen(loopback4(), Protocol::Mptcp);
  ASSERT_FALSE(listening.ok());
  EXPECT_EQ(listening.error().code, std::errc::too_many_files_open);
  const ConnId c = side->connect(*Endpoint::parse("127.0.0.1:9"), Protocol::Tcp, 1s);
  ASSERT_TRUE(runUntil(loop_, [&] { return !side.closed.empty(); }));
  EXPECT_EQ(side.closed[0].id, c);
  EXPECT_EQ(side.closed[0].reason, CloseReason::ConnectFailed);
  EXPECT_EQ(side.closed[0].error, std::errc::too_many_files_open);
  EXPECT_TRUE(side.log.empty());
}

TEST_F(MessageTransportTest, ListenErrorsAreReported) {
  Side a(loop_), b(loop_);
  auto first = a->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(first.ok());
  auto clash = b->listen(first.value().local, Protocol::Tcp);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, std::errc::address_in_use);
  EXPECT_NE(clash.error().message().find(first.value().local.toString()), std::string::npos);
  auto foreign = a->listen(*Endpoint::parse("192.0.2.1:0"), Protocol::Tcp);  // TEST-NET-1, not ours
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().code, std::errc::address_not_available);
}

TEST_F(MessageTransportTest, IdsAreNeverReused) {
  Side server(loop_), client(loop_);
  auto listening = server->listen(loopback4(), Protocol::Tcp);
  ASSERT_TRUE(listening.ok());
  std::vector<ConnId> ids;
  for (int i = 0; i < 5; ++i) {
    const ConnId c = client->connect(listening.value().local, Protocol::Tcp, 5s);
    ASSERT_TRUE(runUntil(loop_, [&] { return client.connected.size() == static_cast<std::size_t>(i + 1); }));
    client->abort(c);
    ASSERT_TRUE(runUntil(loop_, [&] { return client.closedCount(c) == 1; }));
    ids.push_back(c);
  }
  for (const auto& a : server.accepted) ids.push_back(a.id);
  ids.push_back(listening.value().id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), ConnId{0}), 0);
}

}  // namespace
}  // namespace vnfpool::transport
