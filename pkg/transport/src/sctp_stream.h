// SctpStream: the stream seam of Connection<Stream> (stream.h) over a one-to-one style SCTP socket.
//
// SCTP keeps message boundaries and carries a PPID with each message; the connection above still sees a
// byte stream that its framer cuts at the RSerPool length field. So:
//  - writes split the queued bytes at the RSerPool header lengths and send each message as one SCTP
//    message (the socket's default send info gives stream 0 and the PPID, sctpConfigure);
//  - reads take one SCTP message (or a part of a large one) at a time with recvmsg and hand on only those
//    whose PPID is the connection's; others are dropped and counted, as RSPLIB ignores unknown PPIDs.
// Every completion is asynchronous (after an async_wait), as Connection expects of its stream.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include <arpa/inet.h>
#include <linux/sctp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace vnfpool::transport::detail {

class SctpStream {
 public:
  // Asio's stream socket works for any SOCK_STREAM descriptor: connect, accept, addresses, close.
  using Socket = boost::asio::ip::tcp::socket;

  /// `foreign_ppid` counts dropped messages; it belongs to the transport, which closes every socket
  /// before it goes, so it is touched only while the socket is open.
  SctpStream(Socket socket, std::uint32_t ppid, std::uint64_t* foreign_ppid)
      : socket_(std::move(socket)), ppid_(ppid), foreign_ppid_(foreign_ppid) {}

  Socket& lowestLayer() { return socket_; }

  template <typename Handler>
  void asyncStart(bool /*server*/, Handler&& handler) {
    std::forward<Handler>(handler)(boost::system::error_code{});
  }

  template <typename Buffers, typename Handler>
  void asyncReadSome(const Buffers& buffers, Handler&& handler) {
    const boost::asio::mutable_buffer space(buffers);
    socket_.async_wait(Socket::wait_read, [this, space, h = std::forward<Handler>(handler)](
                                              const boost::system::error_code& ec) mutable {
      if (ec) return h(ec, std::size_t{0});
      readNow(space, std::move(h));
    });
  }

  template <typename Buffers, typename Handler>
  void asyncWrite(const Buffers& buffers, Handler&& handler) {
    const boost::asio::const_buffer data(buffers);
    writeFrom(data, 0, std::forward<Handler>(handler));
  }

  /// SHUT_WR on a one-to-one socket starts the association's graceful SHUTDOWN once everything is sent;
  /// the peer reads end of stream.
  template <typename Handler>
  void asyncShutdownSend(Handler&& handler) {
    boost::system::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    std::forward<Handler>(handler)(ec);
  }

 private:
  template <typename Handler>
  void readNow(boost::asio::mutable_buffer space, Handler&& h) {
    for (;;) {
      if (!socket_.is_open()) return h(boost::asio::error::make_error_code(boost::asio::error::bad_descriptor), std::size_t{0});
      iovec iov{space.data(), space.size()};
      alignas(cmsghdr) std::array<unsigned char, CMSG_SPACE(sizeof(sctp_rcvinfo))> control{};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          asyncReadSome(space, std::forward<Handler>(h));
          return;
        }
        return h(boost::system::error_code(errno, boost::system::system_category()), std::size_t{0});
      }
      if (n == 0) return h(boost::asio::error::make_error_code(boost::asio::error::eof), std::size_t{0});
      const bool last_part = (msg.msg_flags & MSG_EOR) != 0;
      if ((msg.msg_flags & MSG_NOTIFICATION) != 0) continue;  // none are subscribed; skip any that come
      if (!in_message_) accept_ = ppidOf(msg) == ppid_;  // the PPID of a message's first part decides
      in_message_ = !last_part;
      if (!accept_) {
        if (last_part && foreign_ppid_ != nullptr) ++*foreign_ppid_;
        continue;
      }
      return h(boost::system::error_code{}, static_cast<std::size_t>(n));
    }
  }

  static std::uint32_t ppidOf(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_RCVINFO && c->cmsg_len >= CMSG_LEN(sizeof(sctp_rcvinfo))) {
        sctp_rcvinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        return ntohl(info.rcv_ppid);
      }
    }
    return 0;  // no receive info: treated as PPID 0 (unspecified), which no RSerPool message uses
  }

  // Sends the messages in `data` from `offset` on, one SCTP message each; waits for room when the socket
  // is full. The handler gets the bytes sent.
  template <typename Handler>
  void writeFrom(boost::asio::const_buffer data, std::size_t offset, Handler&& h) {
    socket_.async_wait(Socket::wait_write, [this, data, offset, h = std::forward<Handler>(h)](
                                               const boost::system::error_code& ec) mutable {
      if (ec) return h(ec, offset);
      const auto* bytes = static_cast<const unsigned char*>(data.data());
      std::size_t at = offset;
      while (at < data.size()) {
        if (!socket_.is_open()) return h(boost::asio::error::make_error_code(boost::asio::error::bad_descriptor), at);
        const std::size_t left = data.size() - at;
        // One RSerPool message with its padding; a queue that does not hold whole messages (send() does
        // not check) goes out as it is, in one SCTP message.
        std::size_t size = left;
        if (left >= 4) {
          const std::size_t length = (std::size_t{bytes[at + 2]} << 8) | bytes[at + 3];
          const std::size_t padded = (length + 3) & ~std::size_t{3};
          if (length >= 4 && padded <= left) size = padded;
        }
        const ssize_t n = ::send(socket_.native_handle(), bytes + at, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            writeFrom(data, at, std::move(h));
            return;
          }
          return h(boost::system::error_code(errno, boost::system::system_category()), at);
        }
        at += static_cast<std::size_t>(n);
      }
      h(boost::system::error_code{}, at);
    });
  }

  Socket socket_;
  std::uint32_t ppid_;
  std::uint64_t* foreign_ppid_;
  bool in_message_ = false;    // the last read ended inside an SCTP message
  bool accept_ = false;        // that message's PPID is ours
};

}  // namespace vnfpool::transport::detail
