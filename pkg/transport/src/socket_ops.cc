#include "socket_ops.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

namespace vnfpool::transport::detail {

bool isMptcpRefusal(const std::error_code& error) {
  return error.category() == std::system_category() &&
         (error.value() == EPROTONOSUPPORT || error.value() == EINVAL || error.value() == ENOPROTOOPT);
}

OpenedSocket openStreamSocket(int family, Protocol p, bool mptcp_refused, const SocketOpener& opener,
                              std::error_code& error) {
  error.clear();
  auto open = [&](int protocol) {
    const int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
    const int fd = opener ? opener(family, type, protocol) : ::socket(family, type, protocol);
    return fd;
  };
  OpenedSocket out;
  if (p == Protocol::Mptcp && !mptcp_refused) {
    const int fd = open(kIpprotoMptcp);
    if (fd >= 0) {
      out.fd = fd;
      out.mptcp = true;
      return out;
    }
    const std::error_code why(errno, std::system_category());
    if (!isMptcpRefusal(why)) {
      error = why;
      return out;
    }
    out.fell_back = true;
    out.refusal = why;
  } else if (p == Protocol::Mptcp) {
    out.fell_back = true;
  }
  const int fd = open(IPPROTO_TCP);
  if (fd < 0) {
    error = std::error_code(errno, std::system_category());
    return out;
  }
  out.fd = fd;
  return out;
}

void setKeepAlive(int fd, const KeepAlive& k) {
  auto set = [fd](int level, int option, long long value) {
    const int v = static_cast<int>(std::clamp<long long>(value, 0, 0x7fffffff));
    (void)::setsockopt(fd, level, option, &v, sizeof v);
  };
  if (k.idle.count() > 0) {
    set(SOL_SOCKET, SO_KEEPALIVE, 1);
    set(IPPROTO_TCP, TCP_KEEPIDLE, k.idle.count());
    set(IPPROTO_TCP, TCP_KEEPINTVL, std::max<long long>(k.interval.count(), 1));
    set(IPPROTO_TCP, TCP_KEEPCNT, std::max(k.probes, 1));
  }
  if (k.user_timeout.count() > 0) set(IPPROTO_TCP, TCP_USER_TIMEOUT, k.user_timeout.count());
}

bool mptcpActive(int fd) {
  // On a fallen-back socket the kernel passes SOL_MPTCP options to TCP, which refuses them.
  struct mptcp_info info;
  std::memset(&info, 0, sizeof info);
  socklen_t length = sizeof info;
  if (::getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &length) != 0) return false;
  if (length >= offsetof(struct mptcp_info, mptcpi_flags) + sizeof info.mptcpi_flags &&
      (info.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK) != 0) {
    return false;
  }
  return true;
}

}  // namespace vnfpool::transport::detail
