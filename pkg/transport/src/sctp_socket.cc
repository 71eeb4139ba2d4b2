#include "sctp_socket.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <vector>

#include <linux/sctp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace vnfpool::transport::detail {

int openSctpSocket(int family, const SocketOpener& opener, std::error_code& error) {
  error.clear();
  const int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  const int fd = opener ? opener(family, type, IPPROTO_SCTP) : ::socket(family, type, IPPROTO_SCTP);
  if (fd < 0) error = std::error_code(errno, std::system_category());
  return fd;
}

bool isSctpRefusal(const std::error_code& error) {
  return error.category() == std::system_category() &&
         (error.value() == EPROTONOSUPPORT || error.value() == ESOCKTNOSUPPORT || error.value() == EAFNOSUPPORT ||
          error.value() == EINVAL);
}

std::error_code sctpBindx(int fd, std::span<const boost::asio::ip::address> addresses, std::uint16_t port) {
  if (addresses.empty()) return {};
  // The kernel takes a packed array of sockaddr_in / sockaddr_in6.
  std::vector<unsigned char> packed;
  for (const auto& a : addresses) {
    if (a.is_v4()) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(port);
      const auto bytes = a.to_v4().to_bytes();
      std::memcpy(&sin.sin_addr, bytes.data(), bytes.size());
      const auto at = packed.size();
      packed.resize(at + sizeof sin);
      std::memcpy(packed.data() + at, &sin, sizeof sin);
    } else {
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      sin6.sin6_port = htons(port);
      const auto bytes = a.to_v6().to_bytes();
      std::memcpy(&sin6.sin6_addr, bytes.data(), bytes.size());
      sin6.sin6_scope_id = static_cast<std::uint32_t>(a.to_v6().scope_id());
      const auto at = packed.size();
      packed.resize(at + sizeof sin6);
      std::memcpy(packed.data() + at, &sin6, sizeof sin6);
    }
  }
  if (::setsockopt(fd, IPPROTO_SCTP, SCTP_SOCKOPT_BINDX_ADD, packed.data(), static_cast<socklen_t>(packed.size())) != 0) {
    return {errno, std::system_category()};
  }
  return {};
}

void sctpConfigure(int fd, std::uint32_t ppid) {
  const int on = 1;
  (void)::setsockopt(fd, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);
  (void)::setsockopt(fd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on);
  sctp_sndinfo info{};
  info.snd_sid = 0;
  info.snd_ppid = htonl(ppid);  // the kernel copies the field to the wire as it is
  (void)::setsockopt(fd, IPPROTO_SCTP, SCTP_DEFAULT_SNDINFO, &info, sizeof info);
}

void sctpNoDelayedSack(int fd) {
  sctp_sack_info sack{};
  sack.sack_assoc_id = 0;
  sack.sack_delay = 0;
  sack.sack_freq = 1;
  (void)::setsockopt(fd, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, sizeof sack);
}

}  // namespace vnfpool::transport::detail
