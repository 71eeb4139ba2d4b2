// The admission webhook's HTTPS server (cpprestsdk http_listener). The serving certificate can be
// replaced at any time: every TLS handshake picks the current one (OpenSSL's certificate callback), so
// a rotated certificate is served without restarting the listener.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "vnfpool/kube/result.h"
#include "vnfpool/operator/certs.h"

namespace vnfpool::op {

struct WebhookReply {
  unsigned status = 200;
  std::string body{};   // JSON
};

/// Called for every POST to the webhook path, on a cpprestsdk thread, concurrently: must be thread-safe.
using WebhookHandler = std::function<WebhookReply(const std::string& body)>;

class WebhookServer {
 public:
  /// `listen` is "address:port" (port must not be 0: cpprestsdk cannot report an OS-chosen port).
  WebhookServer(std::string listen, std::string path, WebhookHandler handler);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  /// Installs (or replaces) the certificate and key served from the next handshake on.
  kube::Status setCertificate(const KeyPair& serving);
  bool hasCertificate() const;

  /// Opens the listener (TLS handshakes fail until a certificate is set).
  kube::Status start();
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::string listen_, path_;
  WebhookHandler handler_;
  struct Listener;
  std::unique_ptr<Listener> listener_;
};

}  // namespace vnfpool::op
