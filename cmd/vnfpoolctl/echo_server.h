// A TCP echo server on the event loop: what `vnfpoolctl register` and the demo serve as the Pool
// Element's application, so a resolution can be followed by real traffic.
#pragma once

#include <memory>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace vnfpool::ctl {

class EchoServer {
 public:
  /// Listens on `at` (port 0: the OS picks); throws boost::system::system_error if it cannot.
  EchoServer(boost::asio::io_context& loop, const boost::asio::ip::tcp::endpoint& at)
      : acceptor_(loop, at), alive_(std::make_shared<bool>(true)) {
    accept();
  }
  ~EchoServer() { stop(); }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::uint64_t connections() const { return connections_; }
  /// Stops listening and drops every connection (a crashed VNF, as seen from outside).
  void stop() {
    *alive_ = false;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* s : sessions_) s->close(ignored);
    sessions_.clear();
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    explicit Session(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
    boost::asio::ip::tcp::socket socket;
    std::array<char, 4096> buffer{};
  };

  void accept() {
    acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (!*alive || ec == boost::asio::error::operation_aborted) return;
      if (!ec) {
        ++connections_;
        auto session = std::make_shared<Session>(std::move(socket));
        sessions_.insert(&session->socket);
        read(session);
      }
      accept();
    });
  }

  void read(std::shared_ptr<Session> s) {
    s->socket.async_read_some(boost::asio::buffer(s->buffer),
                              [this, s, alive = alive_](boost::system::error_code ec, std::size_t n) {
                                if (!*alive) return;
                                if (ec) {
                                  sessions_.erase(&s->socket);
                                  return;
                                }
                                boost::asio::async_write(s->socket, boost::asio::buffer(s->buffer.data(), n),
                                                         [this, s, alive](boost::system::error_code wec, std::size_t) {
                                                           if (!*alive) return;
                                                           if (wec) {
                                                             sessions_.erase(&s->socket);
                                                             return;
                                                           }
                                                           read(s);
                                                         });
                              });
  }

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_;
  std::set<boost::asio::ip::tcp::socket*> sessions_;
  std::uint64_t connections_ = 0;
};

}  // namespace vnfpool::ctl
