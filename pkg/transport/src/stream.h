// The byte stream under a connection. Connection<Stream> (message_transport.cc) does all its I/O through
// the members below, so a TLS stream (boost::asio::ssl::stream<tcp::socket>) can replace PlainStream by
// providing the same five: the handshake goes into asyncStart, close_notify into asyncShutdownSend.
#pragma once

#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

namespace vnfpool::transport::detail {

class PlainStream {
 public:
  using Socket = boost::asio::ip::tcp::socket;

  explicit PlainStream(Socket socket) : socket_(std::move(socket)) {}

  /// The TCP/MPTCP socket: connect, options, addresses, close.
  Socket& lowestLayer() { return socket_; }

  /// Runs once when the connection is established, before any read or write (TLS: the handshake).
  /// Plain sockets have nothing to do and call back at once.
  template <typename Handler>
  void asyncStart(bool /*server*/, Handler&& handler) {
    std::forward<Handler>(handler)(boost::system::error_code{});
  }

  template <typename Buffers, typename Handler>
  void asyncReadSome(const Buffers& buffers, Handler&& handler) {
    socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  /// Writes all of `buffers` (one operation in flight at a time).
  template <typename Buffers, typename Handler>
  void asyncWrite(const Buffers& buffers, Handler&& handler) {
    boost::asio::async_write(socket_, buffers, std::forward<Handler>(handler));
  }

  /// Ends our direction of the stream after everything queued was written (TCP: FIN; TLS: close_notify).
  template <typename Handler>
  void asyncShutdownSend(Handler&& handler) {
    boost::system::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    std::forward<Handler>(handler)(ec);
  }

 private:
  Socket socket_;
};

}  // namespace vnfpool::transport::detail
