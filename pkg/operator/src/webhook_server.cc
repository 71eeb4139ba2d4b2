#include "vnfpool/operator/webhook_server.h"

#include <cpprest/http_listener.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>

namespace vnfpool::op {
namespace {

kube::Error serverError(std::string message) {
  kube::Error e;
  e.kind = kube::ErrorKind::Transport;
  e.message = "webhook server: " + std::move(message);
  return e;
}

}  // namespace

struct WebhookServer::State {
  mutable std::mutex mu;
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;
  EVP_PKEY* key = nullptr;

  ~State() { clear(); }
  void clear() {
    if (cert) X509_free(cert);
    if (chain) sk_X509_pop_free(chain, X509_free);
    if (key) EVP_PKEY_free(key);
    cert = nullptr;
    chain = nullptr;
    key = nullptr;
  }

  // OpenSSL certificate callback: runs in every handshake, before the server certificate is sent.
  static int select(SSL* ssl, void* arg) {
    auto* self = static_cast<State*>(arg);
    std::lock_guard lock(self->mu);
    if (self->cert == nullptr || self->key == nullptr) return 0;   // no certificate yet: fail the handshake
    if (SSL_use_certificate(ssl, self->cert) != 1 || SSL_use_PrivateKey(ssl, self->key) != 1) return 0;
    if (self->chain != nullptr && SSL_set1_chain(ssl, self->chain) != 1) return 0;
    return 1;
  }
};

struct WebhookServer::Listener {
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
};

WebhookServer::WebhookServer(std::string listen, std::string path, WebhookHandler handler)
    : state_(std::make_shared<State>()), listen_(std::move(listen)), path_(std::move(path)), handler_(std::move(handler)) {}

WebhookServer::~WebhookServer() { stop(); }

kube::Status WebhookServer::setCertificate(const KeyPair& serving) {
  BIO* cbio = BIO_new_mem_buf(serving.cert_pem.data(), static_cast<int>(serving.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr);
  STACK_OF(X509)* chain = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr)) sk_X509_push(chain, extra);
  BIO_free(cbio);
  BIO* kbio = BIO_new_mem_buf(serving.key_pem.data(), static_cast<int>(serving.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
  BIO_free(kbio);
  if (cert == nullptr || key == nullptr || X509_check_private_key(cert, key) != 1) {
    if (cert) X509_free(cert);
    if (key) EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return serverError("certificate and key unreadable or not a pair");
  }
  std::lock_guard lock(state_->mu);
  state_->clear();
  state_->cert = cert;
  state_->chain = chain;
  state_->key = key;
  return kube::Done{};
}

bool WebhookServer::hasCertificate() const {
  std::lock_guard lock(state_->mu);
  return state_->cert != nullptr;
}

kube::Status WebhookServer::start() {
  using namespace web::http;   // NOLINT(google-build-using-namespace)
  const auto colon = listen_.rfind(':');
  if (colon == std::string::npos) return serverError("listen \"" + listen_ + "\" is not address:port");
  std::string host = listen_.substr(0, colon);
  const std::string port = listen_.substr(colon + 1);
  if (port.empty() || port == "0") return serverError("listen \"" + listen_ + "\" needs a fixed port");
  if (host.empty()) host = "0.0.0.0";
  experimental::listener::http_listener_config config;
  auto state = state_;
  config.set_ssl_context_callback([state](boost::asio::ssl::context& ctx) {
    ctx.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                    boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                    boost::asio::ssl::context::no_tlsv1_1);
    SSL_CTX_set_cert_cb(ctx.native_handle(), &State::select, state.get());
  });
  config.set_timeout(std::chrono::seconds(30));
  try {
    auto l = std::make_unique<experimental::listener::http_listener>(
        web::uri(utility::conversions::to_string_t("https://" + host + ":" + port + path_)), config);
    auto handler = handler_;
    l->support(methods::POST, [handler](http_request request) {
      request.extract_string(true)
          .then([handler, request](pplx::task<std::string> body_task) {
            WebhookReply reply;
            try {
              reply = handler(body_task.get());
            } catch (const std::exception& e) {
              reply = {400, std::string("{\"message\":\"unreadable request\"}")};
            }
            http_response response(static_cast<status_code>(reply.status));
            response.set_body(reply.body, "application/json");
            return request.reply(response);
          })
          .then([](pplx::task<void> t) {
            try {
              t.get();
            } catch (...) {   // the client went away; nothing to do
            }
          });
    });
    l->support([](http_request request) {
      request.reply(status_codes::MethodNotAllowed).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (...) {
        }
      });
    });
    l->open().wait();
    listener_ = std::make_unique<Listener>();
    listener_->listener = std::move(l);
  } catch (const std::exception& e) {
    return serverError(std::string("cannot listen on ") + listen_ + ": " + e.what());
  }
  return kube::Done{};
}

void WebhookServer::stop() {
  if (!listener_) return;
  try {
    listener_->listener->close().wait();
  } catch (...) {
  }
  listener_.reset();
}

}  // namespace vnfpool::op
