// Helpers for the transport tests: run the loop until a condition holds (with a deadline, never a sleep),
// build frames, and a plain blocking socket to play a misbehaving peer.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "vnfpool/transport/endpoint.h"

namespace vnfpool::transport::test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

inline constexpr int kMptcp = 262;

/// Runs `loop` until `done()` holds; false when `limit` passes first.
inline bool runUntil(boost::asio::io_context& loop, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.restart();
    loop.run_for(2ms);
  }
  return true;
}

/// Runs what is already queued in the loop: a marker posted now runs after every handler queued before it.
inline void drainPosted(boost::asio::io_context& loop) {
  bool ran = false;
  boost::asio::post(loop, [&ran] { ran = true; });
  runUntil(loop, [&ran] { return ran; }, 5s);
}

/// A message of `length` bytes (header included) and its padding: type, flags 0, length, then a counting
/// pattern starting at `seed`.
inline Bytes frame(std::size_t length, std::uint8_t type = 1, std::uint8_t seed = 0) {
  Bytes out((length + 3) & ~std::size_t{3}, std::byte{0});
  out[0] = std::byte{type};
  out[2] = std::byte(static_cast<std::uint8_t>(length >> 8));
  out[3] = std::byte(static_cast<std::uint8_t>(length & 0xff));
  for (std::size_t i = 4; i < length; ++i) out[i] = std::byte(static_cast<std::uint8_t>(seed + i));
  return out;
}

inline bool mptcpAvailable() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, kMptcp);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

/// A blocking socket with 10 s timeouts, for peers the transport must survive.
class RawSocket {
 public:
  RawSocket() = default;
  explicit RawSocket(int fd) : fd_(fd) { setTimeouts(); }
  RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RawSocket& operator=(RawSocket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~RawSocket() { reset(); }

  static RawSocket open(const Endpoint& family_of, int protocol = IPPROTO_TCP) {
    return RawSocket(::socket(family_of.address.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM, protocol));
  }

  /// Connects (blocking; the handshake completes in the kernel even while the loop is not running).
  static RawSocket connectTo(const Endpoint& to, int protocol = IPPROTO_TCP) {
    RawSocket s = open(to, protocol);
    if (!s.connect(to)) s.reset();
    return s;
  }

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool connect(const Endpoint& to) {
    const auto ep = to.toAsio();
    return ::connect(fd_, reinterpret_cast<const sockaddr*>(ep.data()), static_cast<socklen_t>(ep.size())) == 0;
  }
  bool bindListen(const Endpoint& at, int backlog) {
    const auto ep = at.toAsio();
    return ::bind(fd_, reinterpret_cast<const sockaddr*>(ep.data()), static_cast<socklen_t>(ep.size())) == 0 &&
           (backlog < 0 || ::listen(fd_, backlog) == 0);
  }
  Endpoint localEndpoint() const {
    boost::asio::ip::tcp::endpoint ep;
    socklen_t length = static_cast<socklen_t>(ep.capacity());
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(ep.data()), &length);
    ep.resize(length);
    return Endpoint::fromAsio(ep);
  }
  RawSocket accept() const { return RawSocket(::accept(fd_, nullptr, nullptr)); }

  void setInt(int level, int option, int value) { ::setsockopt(fd_, level, option, &value, sizeof value); }

  bool writeAll(std::span<const std::byte> bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// Exactly `n` bytes, or nullopt on end of stream, error or timeout.
  std::optional<Bytes> readExact(std::size_t n) {
    Bytes out(n);
    std::size_t done = 0;
    while (done < n) {
      const auto got = ::recv(fd_, out.data() + done, n - done, 0);
      if (got <= 0) return std::nullopt;
      done += static_cast<std::size_t>(got);
    }
    return out;
  }
  /// True when the peer ended the stream (FIN or RST) within the timeout, after any bytes still queued.
  bool readsEndOfStream() {
    std::byte buffer[4096];
    for (;;) {
      const auto got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got == 0) return true;
      if (got < 0) return errno == ECONNRESET;
    }
  }

 private:
  void setTimeouts() {
    if (fd_ < 0) return;
    timeval tv{};
    tv.tv_sec = 10;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  int fd_ = -1;
};

}  // namespace vnfpool::transport::test
