#include "vnfpool/transport/resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include <netdb.h>

#include "test_util.h"

namespace vnfpool::transport {
namespace {

using namespace test;

// What getaddrinfo itself says, as the oracle.
std::vector<boost::asio::ip::address> systemAddresses(const char* name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::vector<boost::asio::ip::address> out;
  if (::getaddrinfo(name, nullptr, &hints, &list) != 0) return out;
  for (auto* ai = list; ai != nullptr; ai = ai->ai_next) {
    boost::asio::ip::tcp::endpoint ep;
    std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
    if (std::find(out.begin(), out.end(), ep.address()) == out.end()) out.push_back(ep.address());
  }
  ::freeaddrinfo(list);
  return out;
}

class ResolverTest : public ::testing::Test {
 protected:
  boost::asio::io_context loop_;
  Resolver resolver_{loop_};
  std::optional<Result<std::vector<Endpoint>>> result_;
  Resolver::Callback record() {
    return [this](Result<std::vector<Endpoint>> r) { result_.emplace(std::move(r)); };
  }
};

TEST_F(ResolverTest, LocalhostGivesEveryAddress) {
  resolver_.resolve("localhost", 3863, record());
  EXPECT_FALSE(result_);  // never inside resolve()
  ASSERT_TRUE(runUntil(loop_, [&] { return result_.has_value(); }, 20s));
  ASSERT_TRUE(result_->ok()) << result_->error().message();
  const auto want = systemAddresses("localhost");
  ASSERT_FALSE(want.empty());
  std::vector<boost::asio::ip::address> got;
  for (const auto& e : result_->value()) {
    EXPECT_EQ(e.port, 3863);
    got.push_back(e.address);
  }
  EXPECT_EQ(got, want);
  EXPECT_NE(std::find(got.begin(), got.end(), boost::asio::ip::make_address("127.0.0.1")), got.end());
  EXPECT_EQ(resolver_.pending(), 0U);
}

TEST_F(ResolverTest, LiteralsAreNotLookedUp) {
  for (const char* literal : {"127.0.0.1", "::1", "[::1]", "2001:db8::5"}) {
    result_.reset();
    resolver_.resolve(literal, 9901, record());
    EXPECT_FALSE(result_);
    ASSERT_TRUE(runUntil(loop_, [&] { return result_.has_value(); }));
    ASSERT_TRUE(result_->ok());
    ASSERT_EQ(result_->value().size(), 1U);
    EXPECT_EQ(result_->value()[0].port, 9901);
  }
  EXPECT_EQ(result_->value()[0].address, boost::asio::ip::make_address("2001:db8::5"));
}

TEST_F(ResolverTest, TakesAHostPort) {
  resolver_.resolve(*HostPort::parse("localhost:3863"), record());
  ASSERT_TRUE(runUntil(loop_, [&] { return result_.has_value(); }, 20s));
  ASSERT_TRUE(result_->ok());
  ASSERT_FALSE(result_->value().empty());
  EXPECT_EQ(result_->value()[0].port, 3863);
}

TEST_F(ResolverTest, UnknownNameIsAnError) {
  resolver_.resolve("no-such-host.invalid", 1, record());
  ASSERT_TRUE(runUntil(loop_, [&] { return result_.has_value(); }, 30s));
  EXPECT_FALSE(result_->ok());
}

TEST_F(ResolverTest, CancelledRequestsNeverCallBack) {
  const auto a = resolver_.resolve("localhost", 1, record());
  const auto b = resolver_.resolve("127.0.0.1", 1, record());
  EXPECT_EQ(resolver_.pending(), 2U);
  resolver_.cancel(a);
  resolver_.cancel(b);
  resolver_.cancel(12345);
  EXPECT_EQ(resolver_.pending(), 0U);
  bool later = false;
  resolver_.resolve("localhost", 2, [&](Result<std::vector<Endpoint>>) { later = true; });
  ASSERT_TRUE(runUntil(loop_, [&] { return later; }, 20s));
  drainPosted(loop_);
  EXPECT_FALSE(result_);
}

TEST(ResolverLifetime, DestroyedResolverNeverCallsBack) {
  boost::asio::io_context loop;
  bool called = false;
  {
    Resolver resolver(loop);
    resolver.resolve("localhost", 1, [&](Result<std::vector<Endpoint>>) { called = true; });
    resolver.resolve("::1", 1, [&](Result<std::vector<Endpoint>>) { called = true; });
  }
  bool marker = false;
  boost::asio::steady_timer later(loop, 50ms);
  later.async_wait([&](const boost::system::error_code&) { marker = true; });
  ASSERT_TRUE(runUntil(loop, [&] { return marker; }));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace vnfpool::transport
