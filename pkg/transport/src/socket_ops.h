// Socket set-up below Asio: opening TCP or MPTCP sockets and asking the kernel whether MPTCP really runs.
#pragma once

#include <functional>
#include <system_error>

#include "vnfpool/transport/endpoint.h"
#include "vnfpool/transport/message_transport.h"

namespace vnfpool::transport::detail {

/// Linux's protocol number for MPTCP (IPPROTO_MPTCP, 262); older libc headers lack the name.
inline constexpr int kIpprotoMptcp = 262;

using SocketOpener = std::function<int(int domain, int type, int protocol)>;

struct OpenedSocket {
  int fd = -1;
  bool mptcp = false;      ///< opened with IPPROTO_MPTCP
  bool fell_back = false;  ///< MPTCP was asked for and the kernel refused it
  std::error_code refusal{};  ///< why, when fell_back
};

/// Opens a non-blocking, close-on-exec stream socket of `family` (AF_INET/AF_INET6). For Mptcp, tries
/// IPPROTO_MPTCP first unless `mptcp_refused` (an earlier refusal, remembered by the caller); where the kernel
/// refuses it with EPROTONOSUPPORT, EINVAL or ENOPROTOOPT, opens plain TCP and says so. Other errors
/// (EMFILE, ENOBUFS, ...) are returned as they are.
OpenedSocket openStreamSocket(int family, Protocol p, bool mptcp_refused, const SocketOpener& opener,
                              std::error_code& error);

/// True when `fd` is an MPTCP socket that has not fallen back to TCP (MPTCP_INFO answers and its fallback
/// flag is clear).
bool mptcpActive(int fd);

/// Applies `k` to a connected socket, ignoring refusals (best effort).
void setKeepAlive(int fd, const KeepAlive& k);

/// Whether `error` is one of the answers by which a kernel refuses IPPROTO_MPTCP.
bool isMptcpRefusal(const std::error_code& error);

}  // namespace vnfpool::transport::detail
