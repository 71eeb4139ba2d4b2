// SCTP socket set-up below Asio: opening one-to-one style sockets, multi-homing (sctp_bindx), and the
// options every RSerPool association gets. Linux UAPI only (no libsctp needed). docs/sctp.md.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

#include <boost/asio/ip/address.hpp>

#include "socket_ops.h"

namespace vnfpool::transport::detail {

/// Opens a non-blocking, close-on-exec one-to-one style SCTP socket (SOCK_STREAM, IPPROTO_SCTP) of
/// `family`. Returns the fd, or -1 with `error` set.
int openSctpSocket(int family, const SocketOpener& opener, std::error_code& error);

/// Whether `error` is one of the answers by which a kernel without SCTP refuses such a socket
/// (EPROTONOSUPPORT, ESOCKTNOSUPPORT, EAFNOSUPPORT, EINVAL).
bool isSctpRefusal(const std::error_code& error);

/// Adds `addresses` with `port` to the socket's local addresses (SCTP_SOCKOPT_BINDX_ADD, what sctp_bindx
/// does). IPv4 addresses on an IPv6 socket are passed as IPv4. Empty: nothing to do.
std::error_code sctpBindx(int fd, std::span<const boost::asio::ip::address> addresses, std::uint16_t port);

/// The options of an RSerPool association (best effort, as RSPLIB does): SCTP_NODELAY, the receive info
/// (PPID) with every message (SCTP_RECVRCVINFO), and `ppid` on stream 0 as default for plain send().
void sctpConfigure(int fd, std::uint32_t ppid);

/// Delayed SACK off (sack_delay 0, sack_freq 1), which RSPLIB sets on its registrar's ASAP socket.
/// Best effort.
void sctpNoDelayedSack(int fd);

}  // namespace vnfpool::transport::detail
