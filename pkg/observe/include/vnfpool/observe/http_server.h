// A small HTTP/1.1 server (Boost.Beast) for /metrics, the probes and a few local admin routes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

namespace vnfpool::observe {

class Logger;
namespace detail {
struct HttpServerState;
}

struct HttpRequest {
  std::string method{};  // "GET", "POST", ...; HEAD requests are given to the GET handler as "HEAD"
  std::string path{};    // the target up to '?', not percent-decoded ("/readyz")
  std::string query{};   // after '?', not decoded ("verbose"); empty if none
  std::vector<std::pair<std::string, std::string>> headers{};  // as received, in order
  std::string body{};

  /// The first header named `name` (case-insensitive), or "" if absent.
  std::string_view header(std::string_view name) const;
  /// True if the query has `key` as a parameter ("verbose", "verbose=1", "a=b&verbose").
  bool hasQueryParam(std::string_view key) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body{};
  std::vector<std::pair<std::string, std::string>> headers{};  // extra headers, e.g. {"Retry-After", "5"}
};

/// A route's handler. Runs on the thread running the server's io_context, one request at a time per
/// connection; must not block (it stalls every connection and, on the daemon's loop, the daemon). An
/// exception becomes 500 and the connection is closed.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal; "0.0.0.0" or "::" for every interface
  std::uint16_t port = 0;             // 0: the OS picks; read it back with HttpServer::port()
  std::size_t max_connections = 64;   // more concurrent connections are answered 503 and closed
  std::size_t max_header_bytes = 8 * 1024;    // larger request headers: 431, then close
  std::size_t max_body_bytes = 64 * 1024;     // larger request bodies: 413, then close
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive connection with no request: closed
  std::chrono::milliseconds request_timeout{10'000};  // first byte to complete request (slow clients)
  std::chrono::milliseconds write_timeout{10'000};    // a client that does not read its response
  const Logger* logger = nullptr;  // optional; not owned; must outlive the server's io activity
};

/// HTTP/1.1 with keep-alive (and HTTP/1.0). Answers 404 for unknown paths, 405 (with Allow) for a known
/// path with another method, 400 for malformed requests, 413/431 above the limits; HEAD works on every
/// GET route. Nothing a client sends can crash it or make it allocate beyond the limits per connection.
///
/// Threads: the server runs on the given io_context, which must be run by exactly one thread (no strands
/// are used). Either hand it the daemon's loop — handlers may then read loop-owned state directly — or a
/// dedicated io_context on its own thread, in which case handlers must only touch thread-safe state
/// (Metrics, Health and Logger are). route() and start() are called before the io_context runs or on its
/// thread; stop() may be called from any thread.
///
/// Shutdown: stop() closes the listener and every connection (in-flight responses are abandoned); after
/// it, io_context::run() returns once nothing else is pending. Destroy the server, and whatever its
/// handlers reference, only after that, or on the io_context's thread. The destructor calls stop().
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Registers `handler` for `method` (upper case, e.g. "POST") on the exact `path` ("/drain"). Throws
  /// std::invalid_argument if the route exists, the path does not start with '/', or after start().
  void route(std::string method, std::string path, HttpHandler handler);

  /// Binds and listens. Returns an error (e.g. address in use, bad address literal) instead of throwing;
  /// calling it again after a successful start returns boost::asio::error::already_started.
  boost::system::error_code start();
  /// The bound port (the OS's choice when the options said 0); 0 before a successful start().
  std::uint16_t port() const;

  /// Stops accepting and closes every connection. Idempotent; any thread.
  void stop();

  /// Connections currently open (including those being refused with 503). For tests and a gauge.
  std::size_t connections() const;

 private:
  std::shared_ptr<detail::HttpServerState> state_;
};

}  // namespace vnfpool::observe
