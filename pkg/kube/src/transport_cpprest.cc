// cpprestsdk implementation of Transport.
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <pplx/pplxtasks.h>

#include <string>

#include "vnfpool/kube/transport.h"

namespace vnfpool::kube {

namespace {

namespace http = web::http;
namespace client = web::http::client;

Error transportError(const std::string& what) { return Error{ErrorKind::Transport, 0, "", what}; }

class CpprestTransport final : public Transport {
 public:
  CpprestTransport(const Config& config, web::uri base) : config_(config), base_(std::move(base)) {
    client_ = std::make_unique<client::http_client>(base_, clientConfig(config_.request_timeout));
  }

  Result<HttpResponse> send(const HttpRequest& request, const std::string& authorization) override {
    try {
      auto response = client_->request(build(request, authorization)).get();
      HttpResponse out;
      out.status = response.status_code();
      out.content_type = response.headers().content_type();
      out.retry_after = retryAfter(response);
      out.body = response.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      return transportError(std::string(request.method) + " " + pathOnly(request.target) + ": " + e.what());
    }
  }

  Result<HttpResponse> stream(const HttpRequest& request, const std::string& authorization,
                              std::chrono::seconds idle_timeout, const std::function<bool(std::string_view)>& on_line,
                              std::stop_token stop) override {
    pplx::cancellation_token_source cancel;
    std::stop_callback on_stop(stop, [&cancel] { cancel.cancel(); });
    try {
      // A client of its own: its timeout must exceed the watch's server-side timeout, or quiet streams
      // are cut (cpprestsdk's default of 30 s applies to every read).
      client::http_client watch_client(base_, clientConfig(idle_timeout));
      auto response = watch_client.request(build(request, authorization), cancel.get_token()).get();
      HttpResponse out;
      out.status = response.status_code();
      out.content_type = response.headers().content_type();
      out.retry_after = retryAfter(response);
      if (out.status != http::status_codes::OK) {
        out.body = response.extract_utf8string(true).get();
        return out;
      }
      auto body = response.body();
      while (!stop.stop_requested()) {
        concurrency::streams::container_buffer<std::string> line;
        const auto n = body.read_line(line).get();
        if (n == 0 && body.is_eof()) break;
        if (line.collection().empty()) continue;
        if (!on_line(line.collection())) break;
      }
      if (stop.stop_requested()) return Error{ErrorKind::Cancelled, 0, "", "watch stopped"};
      cancel.cancel();   // closes the connection when we stopped reading early
      return out;
    } catch (const pplx::task_canceled&) {
      return Error{ErrorKind::Cancelled, 0, "", "watch stopped"};
    } catch (const std::exception& e) {
      if (stop.stop_requested()) return Error{ErrorKind::Cancelled, 0, "", "watch stopped"};
      return transportError("watch " + pathOnly(request.target) + ": " + e.what());
    }
  }

 private:
  client::http_client_config clientConfig(std::chrono::seconds timeout) const {
    client::http_client_config cfg;
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
    const std::string ca = config_.ca_pem;
    const std::string cert = config_.client_certificate_pem;
    const std::string key = config_.client_key_pem;
    cfg.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
      boost::system::error_code ec;
      if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca), ec);
      if (!cert.empty()) ctx.use_certificate_chain(boost::asio::buffer(cert), ec);
      if (!key.empty()) ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem, ec);
      // Errors surface as handshake failures; the TLS material was validated when the transport was made.
    });
    return cfg;
  }

  http::http_request build(const HttpRequest& request, const std::string& authorization) const {
    http::http_request req(http::method(request.method));
    req.set_request_uri(web::uri(request.target));
    auto& h = req.headers();
    h.add("Accept", request.accept);
    h.add("User-Agent", config_.user_agent);
    if (!authorization.empty()) h.add("Authorization", authorization);
    if (!request.content_type.empty()) req.set_body(request.body, request.content_type);
    return req;
  }

  static std::optional<std::chrono::seconds> retryAfter(const http::http_response& response) {
    const auto& h = response.headers();
    auto it = h.find("Retry-After");
    if (it == h.end()) return std::nullopt;
    try {
      const long v = std::stol(it->second);
      if (v >= 0) return std::chrono::seconds(v);
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }

  static std::string pathOnly(const std::string& target) { return target.substr(0, target.find('?')); }

  Config config_;
  web::uri base_;
  std::unique_ptr<client::http_client> client_;
};

Result<bool> checkTls(const Config& config) {
  try {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    if (!config.ca_pem.empty()) ctx.add_certificate_authority(boost::asio::buffer(config.ca_pem));
    if (!config.client_certificate_pem.empty()) ctx.use_certificate_chain(boost::asio::buffer(config.client_certificate_pem));
    if (!config.client_key_pem.empty()) {
      ctx.use_private_key(boost::asio::buffer(config.client_key_pem), boost::asio::ssl::context::pem);
    }
  } catch (const std::exception& e) {
    return Error{ErrorKind::Config, 0, "", std::string("unusable TLS material (CA, client certificate or key): ") + e.what()};
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<Transport>> makeCpprestTransport(const Config& config) {
  if (!config.tls_server_name.empty()) {
    return Error{ErrorKind::Config, 0, "", "tls-server-name is not supported by the cpprestsdk transport"};
  }
  if (!web::uri::validate(config.server)) return Error{ErrorKind::Config, 0, "", "invalid server URL " + config.server};
  web::uri base(config.server);
  if (base.scheme() != "https" && base.scheme() != "http") {
    return Error{ErrorKind::Config, 0, "", "server URL must use http or https: " + config.server};
  }
  if (auto tls = checkTls(config); !tls.ok()) return tls.error();
  return std::unique_ptr<Transport>(std::make_unique<CpprestTransport>(config, std::move(base)));
}

}  // namespace vnfpool::kube
