// The HTTP layer under the client. The production implementation uses cpprestsdk; keeping it behind
// this interface leaves room for another (Boost.Beast) without touching the client.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "vnfpool/kube/config.h"
#include "vnfpool/kube/result.h"

namespace vnfpool::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string target{};          // path and query, already escaped: "/api/v1/namespaces/x/pods?limit=5"
  std::string body{};
  std::string content_type{};    // empty when there is no body
  std::string accept = "application/json";
};

struct HttpResponse {
  int status = 0;
  std::string body{};
  std::string content_type{};
  std::optional<std::chrono::seconds> retry_after{};
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends one request and reads the whole response. Any HTTP status is a response; only failures to
  /// get one (connection, TLS, timeout) are errors (Transport). `authorization` may be empty.
  /// Thread-safe.
  virtual Result<HttpResponse> send(const HttpRequest& request, const std::string& authorization) = 0;

  /// Sends a request whose 200 answer is a stream of newline-delimited records (a watch) and calls
  /// `on_line` for each non-empty line as it arrives; `on_line` returns false to stop reading. Waits at
  /// most `idle_timeout` for data. Returns the response (with the body only when the status is not
  /// 200). A stop request through `stop` ends the stream with a Cancelled error. Thread-safe.
  virtual Result<HttpResponse> stream(const HttpRequest& request, const std::string& authorization,
                                      std::chrono::seconds idle_timeout,
                                      const std::function<bool(std::string_view)>& on_line,
                                      std::stop_token stop) = 0;
};

/// The cpprestsdk transport for `config` (server URL, TLS material, timeouts). Errors (Config) on an
/// unusable URL or TLS material, and on settings this transport cannot honour (tls-server-name).
Result<std::unique_ptr<Transport>> makeCpprestTransport(const Config& config);

}  // namespace vnfpool::kube
