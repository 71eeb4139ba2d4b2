#include "vnfpool/observe/http_server.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "vnfpool/observe/log.h"

namespace vnfpool::observe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool HttpRequest::hasQueryParam(std::string_view key) const {
  std::string_view q = query;
  while (!q.empty()) {
    const auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    if (part.substr(0, part.find('=')) == key) return true;
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return false;
}

class Session;

namespace detail {
struct HttpServerState : std::enable_shared_from_this<HttpServerState> {
  HttpServerState(asio::io_context& io_, HttpServerOptions options_) : io(io_), options(std::move(options_)), acceptor(io_) {}

  asio::io_context& io;
  HttpServerOptions options;
  // path -> method -> handler
  std::map<std::string, std::map<std::string, HttpHandler>, std::less<>> routes;
  tcp::acceptor acceptor;
  std::set<Session*> sessions;  // io thread only
  std::size_t serving = 0;      // sessions not being refused; io thread only
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint16_t> port{0};
  bool started = false;
  bool stopped = false;  // io thread only after start()

  void accept();
  void stopNow();
  void debug(std::string_view msg, std::initializer_list<Field> fields) const {
    if (options.logger != nullptr) options.logger->debug(msg, fields);
  }
};
}  // namespace detail
using detail::HttpServerState;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<HttpServerState> state, tcp::socket socket, bool refuse)
      : state_(std::move(state)), stream_(std::move(socket)), refuse_(refuse), counted_(!refuse) {
    state_->sessions.insert(this);
    state_->open.fetch_add(1);
    if (counted_) ++state_->serving;
  }
  ~Session() {
    state_->sessions.erase(this);
    state_->open.fetch_sub(1);
    if (counted_) --state_->serving;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    if (refuse_) {
      HttpResponse r{503, "text/plain; charset=utf-8", "too many connections\n", {{"Retry-After", "1"}}};
      send(std::move(r), 11, false);
      return;
    }
    waitForRequest();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  // Wait up to idle_timeout for the first byte of the next request, then give the whole request
  // request_timeout: an idle keep-alive connection and a slow sender are told apart.
  void waitForRequest() {
    if (buffer_.size() > 0) {
      readRequest();
      return;
    }
    stream_.expires_after(state_->options.idle_timeout);
    auto self = shared_from_this();
    stream_.async_read_some(buffer_.prepare(1024), [self](beast::error_code ec, std::size_t n) {
      if (ec) return;  // closed by the peer, idle timeout, or stop(): nothing to answer
      self->buffer_.commit(n);
      self->readRequest();
    });
  }

  void readRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(state_->options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(state_->options.max_body_bytes);
    stream_.expires_after(state_->options.request_timeout);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset)
      return;
    if (ec == http::error::header_limit) return reject(431, "request header too large\n");
    if (ec == http::error::body_limit) return reject(413, "request body too large\n");
    if (ec) {
      state_->debug("http: bad request", {{"error", ec.message()}});
      return reject(400, "bad request\n");
    }
    auto req = parser_->release();
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    send(dispatch(req), version, keep_alive);
  }

  HttpResponse dispatch(http::request<http::string_body>& req) {
    HttpRequest r;
    r.method = std::string(req.method_string());
    const std::string_view target(req.target().data(), req.target().size());
    if (target.empty() || target.front() != '/') {
      failed_ = true;  // a client this confused gets no second request on the connection
      return {400, "text/plain; charset=utf-8", "bad request target\n"};
    }
    const auto q = target.find('?');
    r.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
    for (const auto& field : req) r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    r.body = std::move(req.body());

    auto path_it = state_->routes.find(r.path);
    if (path_it == state_->routes.end()) return {404, "text/plain; charset=utf-8", "not found\n"};
    const auto& methods = path_it->second;
    auto it = methods.find(r.method);
    if (it == methods.end() && r.method == "HEAD") it = methods.find("GET");
    if (it == methods.end()) {
      std::string allow;
      for (const auto& [m, h] : methods) {
        if (!allow.empty()) allow += ", ";
        allow += m;
        if (m == "GET") allow += ", HEAD";
      }
      return {405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", allow}}};
    }
    try {
      return it->second(r);
    } catch (const std::exception& e) {
      state_->debug("http: handler failed", {{"path", r.path}, {"error", e.what()}});
    } catch (...) {
      state_->debug("http: handler failed", {{"path", r.path}});
    }
    failed_ = true;
    return {500, "text/plain; charset=utf-8", "internal error\n"};
  }

  void reject(unsigned status, std::string body) {
    send({status, "text/plain; charset=utf-8", std::move(body)}, 11, false);
  }

  void send(HttpResponse r, unsigned version, bool keep_alive) {
    const bool head = parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head;
    keep_alive = keep_alive && !failed_ && !state_->stopped;
    response_.emplace();
    auto& res = *response_;
    res.version(version == 10 ? 10 : 11);
    res.result(r.status);
    res.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    const auto length = r.body.size();
    if (!head) res.body() = std::move(r.body);
    res.content_length(length);  // HEAD: the length the GET body would have, and no body
    stream_.expires_after(state_->options.write_timeout);
    auto self = shared_from_this();
    http::async_write(stream_, res, [self, keep_alive](beast::error_code ec, std::size_t) {
      self->response_.reset();
      if (ec) return;
      if (!keep_alive) return self->lingeringClose();
      self->waitForRequest();
    });
  }

  // Closing a socket with unread request bytes makes the kernel send RST, which can destroy the response
  // before the client reads it. So: send FIN, read and discard until the client closes (bounded), close.
  void lingeringClose() {
    if (counted_) {  // the response is out: the slot is free for the next client
      counted_ = false;
      --state_->serving;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    discard();
  }

  void discard() {
    auto self = shared_from_this();
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(4096), [self](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->discard();
    });
  }

  std::shared_ptr<HttpServerState> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool refuse_ = false;
  bool counted_ = false;  // holds one of max_connections slots
  bool failed_ = false;
};

void HttpServerState::accept() {
  auto self = shared_from_this();
  acceptor.async_accept([self](beast::error_code ec, tcp::socket socket) {
    if (self->stopped || ec == asio::error::operation_aborted) return;
    if (!ec) {
      const bool refuse = self->serving >= self->options.max_connections;
      if (refuse) self->debug("http: connection limit reached, answering 503", {});
      std::make_shared<Session>(self, std::move(socket), refuse)->start();
    } else {
      // EMFILE and friends: keep accepting; the next attempt may succeed once descriptors free up.
      self->debug("http: accept failed", {{"error", ec.message()}});
    }
    self->accept();
  });
}

void HttpServerState::stopNow() {
  if (stopped) return;
  stopped = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  // close() makes pending operations complete with operation_aborted; the sessions then go away.
  for (Session* s : std::vector<Session*>(sessions.begin(), sessions.end())) s->close();
}

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options)
    : state_(std::make_shared<HttpServerState>(io, std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string path, HttpHandler handler) {
  if (state_->started) throw std::invalid_argument("HttpServer::route after start()");
  if (path.empty() || path.front() != '/') throw std::invalid_argument("HttpServer::route: path must start with /");
  if (method.empty() || !handler) throw std::invalid_argument("HttpServer::route: method and handler required");
  auto& methods = state_->routes[path];
  if (methods.count(method) != 0) throw std::invalid_argument("HttpServer::route: duplicate " + method + " " + path);
  methods.emplace(std::move(method), std::move(handler));
}

boost::system::error_code HttpServer::start() {
  if (state_->started) return asio::error::make_error_code(asio::error::already_started);
  beast::error_code ec;
  const auto address = asio::ip::make_address(state_->options.address, ec);
  if (ec) return ec;
  const tcp::endpoint endpoint(address, state_->options.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return ec;
  }
  state_->port.store(acceptor.local_endpoint(ec).port());
  state_->started = true;
  state_->accept();
  return {};
}

std::uint16_t HttpServer::port() const { return state_->port.load(); }

void HttpServer::stop() {
  auto state = state_;
  asio::dispatch(state->io, [state] { state->stopNow(); });
}

std::size_t HttpServer::connections() const { return state_->open.load(); }

}  // namespace vnfpool::observe
