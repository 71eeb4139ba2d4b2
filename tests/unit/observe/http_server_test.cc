#include "vnfpool/observe/http_server.h"

#include <chrono>
#include <future>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exposition.h"
#include "vnfpool/observe/endpoints.h"
#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"

namespace vnfpool::observe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr auto kDeadline = 5s;  // every client operation; a hang fails the test instead of blocking it

/// A blocking-looking client on its own io_context: each call runs that context until the operation
/// completes or kDeadline passes. Speaks raw bytes so tests can send anything.
class Client {
 public:
  Client() = default;
  explicit Client(std::uint16_t port) { EXPECT_TRUE(connect(port)) << "connect to 127.0.0.1:" << port; }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connect(std::uint16_t port) {
    bool ok = false;
    stream_.expires_after(kDeadline);
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [&ok](beast::error_code ec) { ok = !ec; });
    run();
    return ok;
  }

  bool send(const std::string& raw) {
    bool ok = false;
    stream_.expires_after(kDeadline);
    asio::async_write(stream_, asio::buffer(raw), [&ok](beast::error_code ec, std::size_t) { ok = !ec; });
    run();
    return ok;
  }

  /// The next response, or nullopt if the connection closed, failed or timed out first.
  std::optional<http::response<http::string_body>> read(bool head_request = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head_request);
    parser.body_limit(16 * 1024 * 1024);
    beast::error_code result = asio::error::timed_out;
    stream_.expires_after(kDeadline);
    http::async_read(stream_, buffer_, parser, [&result](beast::error_code ec, std::size_t) { result = ec; });
    run();
    if (result) return std::nullopt;
    return parser.release();
  }

  std::optional<http::response<http::string_body>> request(const std::string& method, const std::string& target,
                                                          const std::string& body = {}) {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: test\r\n";
    if (!body.empty()) raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n" + body;
    if (!send(raw)) return std::nullopt;
    return read(method == "HEAD");
  }

  /// True once the server has closed the connection (EOF or reset), false on timeout or data.
  bool closedByServer() {
    beast::error_code result = asio::error::timed_out;
    char byte = 0;
    stream_.expires_after(kDeadline);
    stream_.async_read_some(asio::buffer(&byte, 1), [&result](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  asio::io_context io_;
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.logger = &log_;
    server_.emplace(io_, options);
    serveMetrics(*server_, metrics_);
    serveProbes(*server_, health_);
    server_->route("POST", "/drain", [this](const HttpRequest& req) {
      drain_body_ = req.body;
      drain_header_ = std::string(req.header("x-reason"));
      return HttpResponse{202, "application/json", R"({"draining":true})"};
    });
    server_->route("GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    ASSERT_FALSE(server_->start());
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] {
      io_.run();
      stopped_.set_value();
    });
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    server_->stop();
    if (stopped_.get_future().wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "io_context::run() did not return after stop()";
      io_.stop();
    }
    thread_.join();
  }

  std::uint16_t port() const { return server_->port(); }

  asio::io_context io_;
  Metrics metrics_;
  Health health_;
  std::shared_ptr<MemorySink> sink_ = std::make_shared<MemorySink>();
  Logger log_{"test", LoggerOptions{Level::Debug, sink_, {}}};
  std::optional<HttpServer> server_;
  std::thread thread_;
  std::promise<void> stopped_;
  std::string drain_body_;
  std::string drain_header_;
};

TEST_F(HttpServerTest, MetricsAreValidExpositionAndLiveOverKeepAlive) {
  start();
  auto& c = metrics_.counter("vnfpool_test_requests_total", "Requests seen by the test.", {{"pool", "p"}});
  c.Increment();
  Client client(port());
  auto r = client.request("GET", "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ((*r)[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  auto e = test::parseExposition(r->body());
  EXPECT_THAT(e.errors, ::testing::IsEmpty()) << r->body();
  EXPECT_EQ(e.value("vnfpool_test_requests_total", {{"pool", "p"}}), 1);
  EXPECT_TRUE(e.families.count("vnfpool_build_info"));
  EXPECT_TRUE(r->keep_alive());

  c.Increment(2);
  r = client.request("GET", "/metrics");  // same connection
  ASSERT_TRUE(r);
  EXPECT_EQ(test::parseExposition(r->body()).value("vnfpool_test_requests_total", {{"pool", "p"}}), 3);
}

TEST_F(HttpServerTest, LivenessFollowsMarkBroken) {
  start();
  Client client(port());
  auto r = client.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body(), "ok\n");
  health_.markBroken("event loop stalled");
  r = client.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503U);
  EXPECT_THAT(r->body(), HasSubstr("event loop stalled"));
}

TEST_F(HttpServerTest, ReadinessFollowsConditionsAndChecks) {
  health_.setCondition("registered", false, "no PR reachable");
  bool leader = true;
  std::mutex mutex;
  health_.addReadinessCheck("leader", [&] {
    std::lock_guard lock(mutex);
    return CheckResult{"", leader, "not leader"};
  });
  start();
  Client client(port());
  auto r = client.request("GET", "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503U);
  EXPECT_EQ(r->body(), "[-]registered failed: no PR reachable\n[+]leader ok\nfailed\n");
  health_.setCondition("registered", true);
  r = client.request("GET", "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body(), "ok\n");
  r = client.request("GET", "/readyz?verbose");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "[+]leader ok\n[+]registered ok\nok\n");
  {
    std::lock_guard lock(mutex);
    leader = false;
  }
  r = client.request("GET", "/readyz?x=1&verbose=true");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503U);
  EXPECT_THAT(r->body(), HasSubstr("[-]leader failed: not leader"));
}

TEST_F(HttpServerTest, ExtraRoutesGetBodyAndHeaders) {
  start();
  Client client(port());
  ASSERT_TRUE(client.send("POST /drain HTTP/1.1\r\nHost: x\r\nX-Reason: preStop\r\nContent-Length: 5\r\n\r\nhello"));
  auto r = client.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 202U);
  EXPECT_EQ((*r)[http::field::content_type], "application/json");
  EXPECT_EQ(r->body(), R"({"draining":true})");
  EXPECT_EQ(drain_body_, "hello");  // the handler ran before the response was written
  EXPECT_EQ(drain_header_, "preStop");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  start();
  Client client(port());
  auto r = client.request("GET", "/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 404U);
  r = client.request("POST", "/metrics", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 405U);
  EXPECT_EQ((*r)[http::field::allow], "GET, HEAD");
  r = client.request("GET", "/drain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 405U);
  EXPECT_EQ((*r)[http::field::allow], "POST");
  r = client.request("GET", "/healthz");  // the connection survived all of that
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
}

TEST_F(HttpServerTest, HeadHasTheLengthButNoBody) {
  start();
  Client client(port());
  auto r = client.request("HEAD", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ((*r)[http::field::content_length], "3");
  EXPECT_EQ(r->body(), "");
  // Had a body followed the HEAD response, this read would see it instead of the next response.
  r = client.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "ok\n");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Client client(port());
  ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (unsigned expected : {200U, 404U, 200U}) {
    auto r = client.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), expected);
  }
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10AreHonoured) {
  start();
  {
    Client client(port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    auto r = client.read();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->keep_alive());
    EXPECT_TRUE(client.closedByServer());
  }
  {
    Client client(port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.0\r\n\r\n"));
    auto r = client.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->version(), 10U);
    EXPECT_EQ(r->body(), "ok\n");
    EXPECT_TRUE(client.closedByServer());
  }
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndTheServerCarriesOn) {
  start();
  for (const std::string& garbage : std::vector<std::string>{"GARBAGE\r\n\r\n", "GET /healthz HTTP/9.9\r\n\r\n", "GET /healthz\r\n\r\n",
                              "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                              "POST /drain HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                              std::string("GET /\0 HTTP/1.1\r\n\r\n", 19), "GET healthz HTTP/1.1\r\n\r\n"}) {
    Client client(port());
    ASSERT_TRUE(client.send(garbage));
    auto r = client.read();
    ASSERT_TRUE(r) << garbage;
    EXPECT_EQ(r->result_int(), 400U) << garbage;
    EXPECT_TRUE(client.closedByServer()) << garbage;
  }
  Client client(port());
  auto r = client.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
}

TEST_F(HttpServerTest, OversizedHeadersAndBodiesAreRefused) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  options.max_body_bytes = 100;
  start(options);
  {
    Client client(port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n"));
    auto r = client.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 431U);
    EXPECT_TRUE(client.closedByServer());
  }
  {
    Client client(port());
    // Announced too large: refused before the body is read.
    ASSERT_TRUE(client.send("POST /drain HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\n"));
    auto r = client.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 413U);
  }
  {
    Client client(port());
    auto r = client.request("POST", "/drain", std::string(100, 'b'));  // exactly the limit
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 202U);
    EXPECT_EQ(drain_body_.size(), 100U);
  }
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndLogged) {
  start();
  Client client(port());
  auto r = client.request("GET", "/boom");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 500U);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(client.closedByServer());
  Client again(port());
  r = again.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
  bool logged = false;
  for (const auto& line : sink_->lines()) logged = logged || line.find("\"error\":\"boom\"") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(HttpServerTest, ConnectionsAboveTheLimitGet503) {
  HttpServerOptions options;
  options.max_connections = 2;
  start(options);
  Client a(port());
  Client b(port());
  // A completed request proves the server has accepted (and counted) each connection.
  ASSERT_TRUE(a.request("GET", "/healthz"));
  ASSERT_TRUE(b.request("GET", "/healthz"));
  Client c(port());
  auto r = c.read();  // answered without sending anything
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503U);
  EXPECT_EQ((*r)[http::field::retry_after], "1");
  EXPECT_TRUE(c.closedByServer());
  ASSERT_TRUE(a.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(a.read());
  EXPECT_TRUE(a.closedByServer());
  // The server frees the slot when it sees the close; poll (bounded) until a new connection is served.
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  unsigned status = 0;
  while (std::chrono::steady_clock::now() < until) {
    Client d(port());
    auto rd = d.request("GET", "/healthz");
    if (rd && rd->result_int() == 200U) {
      status = 200;
      break;
    }
  }
  EXPECT_EQ(status, 200U);
}

TEST_F(HttpServerTest, IdleAndSlowConnectionsAreClosed) {
  HttpServerOptions options;
  options.idle_timeout = 100ms;
  options.request_timeout = 100ms;
  start(options);
  Client idle(port());
  EXPECT_TRUE(idle.closedByServer());
  Client slow(port());
  ASSERT_TRUE(slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // never finishes its header
  EXPECT_TRUE(slow.closedByServer());
  Client fine(port());
  EXPECT_TRUE(fine.request("GET", "/healthz"));
}

TEST_F(HttpServerTest, StopClosesOpenConnectionsAndRunReturns) {
  start();
  Client a(port());
  ASSERT_TRUE(a.request("GET", "/healthz"));
  Client b(port());
  ASSERT_TRUE(b.send("GET /healthz HTTP/1.1\r\n"));  // half a request in flight
  server_->stop();
  EXPECT_EQ(stopped_.get_future().wait_for(kDeadline), std::future_status::ready);
  thread_.join();
  EXPECT_TRUE(a.closedByServer());
  EXPECT_TRUE(b.closedByServer());
  EXPECT_EQ(server_->connections(), 0U);
  Client c;
  EXPECT_FALSE(c.connect(server_->port()));
}

TEST_F(HttpServerTest, RandomBytesNeverTakeItDown) {
  start();
  std::mt19937 rng(7);
  const std::string alphabet = "GETPOS /HTP1.0\r\n:abcdefghijklmnopqrstuvwxyz-0123456789";
  for (int i = 0; i < 100; ++i) {
    std::string junk;
    const auto n = std::uniform_int_distribution<std::size_t>(1, 300)(rng);
    for (std::size_t k = 0; k < n; ++k)
      junk += (i % 2 == 0) ? static_cast<char>(rng() & 0xFFU)
                           : alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    Client client(port());
    client.send(junk + "\r\n\r\n");
  }
  Client client(port());
  auto r = client.request("GET", "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200U);
}

TEST(HttpServer, ReportsBindErrorsInsteadOfThrowing) {
  asio::io_context io;
  HttpServer first(io);
  ASSERT_FALSE(first.start());
  HttpServerOptions same;
  same.port = first.port();
  HttpServer second(io, same);
  EXPECT_EQ(second.start(), asio::error::address_in_use);
  EXPECT_EQ(second.port(), 0);
  HttpServerOptions bad;
  bad.address = "not-an-address";
  HttpServer third(io, bad);
  EXPECT_TRUE(third.start());
  EXPECT_EQ(first.start(), asio::error::already_started);
}

TEST(HttpServer, RouteRulesAreEnforced) {
  asio::io_context io;
  HttpServer s(io);
  auto ok = [](const HttpRequest&) { return HttpResponse{}; };
  s.route("GET", "/a", ok);
  EXPECT_THROW(s.route("GET", "/a", ok), std::invalid_argument);
  EXPECT_THROW(s.route("GET", "a", ok), std::invalid_argument);
  ASSERT_FALSE(s.start());
  EXPECT_THROW(s.route("POST", "/a", ok), std::invalid_argument);
}

TEST(HttpServer, ListensOnIpv6Loopback) {
  asio::io_context io;
  HttpServerOptions options;
  options.address = "::1";
  HttpServer s(io, options);
  if (auto ec = s.start()) GTEST_SKIP() << "no IPv6 loopback here: " << ec.message();
  EXPECT_NE(s.port(), 0);
}

}  // namespace
}  // namespace vnfpool::observe
