#include "vnfpool/transport/endpoint.h"

#include <gtest/gtest.h>

namespace vnfpool::transport {
namespace {

TEST(Endpoint, ParsesIpv4WithPort) {
  auto e = Endpoint::parse("127.0.0.1:3863");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address, boost::asio::ip::make_address("127.0.0.1"));
  EXPECT_EQ(e->port, 3863);
  EXPECT_EQ(e->toString(), "127.0.0.1:3863");
}

TEST(Endpoint, ParsesIpv6InBrackets) {
  auto e = Endpoint::parse("[::1]:9901");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->address.is_v6());
  EXPECT_EQ(e->port, 9901);
  EXPECT_EQ(e->toString(), "[::1]:9901");
  auto full = Endpoint::parse("[2001:db8::17]:0");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->port, 0);
  EXPECT_EQ(Endpoint::parse(full->toString()), full);
}

TEST(Endpoint, BareAddressNeedsDefaultPort) {
  EXPECT_FALSE(Endpoint::parse("10.0.0.1"));
  EXPECT_FALSE(Endpoint::parse("::1"));
  auto v4 = Endpoint::parse("10.0.0.1", 3863);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->toString(), "10.0.0.1:3863");
  auto v6 = Endpoint::parse("::1", 3863);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->toString(), "[::1]:3863");
  auto bracketed = Endpoint::parse("[::1]", 9901);
  ASSERT_TRUE(bracketed);
  EXPECT_EQ(bracketed->port, 9901);
}

TEST(Endpoint, RefusesJunk) {
  for (const char* text : {"", ":", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:12x", "[::1", "[::1]x",
                           "[::1]:", "[127.0.0.1]:1", "::1:80:", "localhost:3863", "1.2.3:4", "1.2.3.4:099999"}) {
    EXPECT_FALSE(Endpoint::parse(text, 1)) << text;
  }
}

TEST(HostPort, SplitsNamesAndLiterals) {
  EXPECT_EQ(HostPort::parse("registrar.vnfpool.svc:3863"), (HostPort{"registrar.vnfpool.svc", 3863}));
  EXPECT_EQ(HostPort::parse("registrar-0.registrar", 9901), (HostPort{"registrar-0.registrar", 9901}));
  EXPECT_EQ(HostPort::parse("10.0.0.5:1"), (HostPort{"10.0.0.5", 1}));
  EXPECT_EQ(HostPort::parse("10.0.0.5", 7), (HostPort{"10.0.0.5", 7}));
  EXPECT_EQ(HostPort::parse("[fd00::5]:3863"), (HostPort{"fd00::5", 3863}));
  EXPECT_EQ(HostPort::parse("fd00::5", 3863), (HostPort{"fd00::5", 3863}));
  for (const char* bad : {"", ":1", "host:", "host:70000", "ho st:1", "host:1:2", "[fd00::5", "a/b:1", "fd00::5"}) {
    EXPECT_FALSE(HostPort::parse(bad)) << bad;
  }
  EXPECT_FALSE(HostPort::parse("registrar"));  // no port and no default
}

TEST(Endpoint, ProtocolNames) {
  EXPECT_EQ(protocolName(Protocol::Tcp), "tcp");
  EXPECT_EQ(protocolName(Protocol::Mptcp), "mptcp");
  EXPECT_EQ(parseProtocol("mptcp"), Protocol::Mptcp);
  EXPECT_EQ(parseProtocol("tcp"), Protocol::Tcp);
  EXPECT_FALSE(parseProtocol("udp"));
}

}  // namespace
}  // namespace vnfpool::transport
