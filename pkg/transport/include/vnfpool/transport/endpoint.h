// Endpoint: an IP address (v4 or v6) and a port, with the textual forms used in configuration and logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "vnfpool/wire/types.h"

namespace vnfpool::transport {

/// Which transport a listener or connector asks for. Mptcp falls back to Tcp where the kernel refuses
/// IPPROTO_MPTCP (see MessageTransport); ConnectionInfo::mptcp_active says what a connection really runs.
/// Sctp (one-to-one style sockets, one message per SCTP message, docs/sctp.md) falls back to
/// Options::sctp.fallback where the kernel has no SCTP; ConnectionInfo::sctp_active says which it got.
enum class Protocol : std::uint8_t { Tcp, Mptcp, Sctp };

/// "tcp", "mptcp" or "sctp".
std::string_view protocolName(Protocol p);
/// Accepts "tcp", "mptcp" and "sctp" (lower case); nullopt otherwise.
std::optional<Protocol> parseProtocol(std::string_view text);

struct Endpoint {
  boost::asio::ip::address address{};
  std::uint16_t port = 0;

  /// Parses "127.0.0.1:3863", "[::1]:3863", "[fe80::1%eth0]:3863". A bare address ("10.0.0.1", "::1",
  /// "[::1]") takes `default_port` when one is given, and is refused otherwise. Names are not resolved
  /// here (use Resolver). Returns nullopt on anything else: empty text, a port outside 0..65535, junk.
  static std::optional<Endpoint> parse(std::string_view text, std::optional<std::uint16_t> default_port = {});

  /// "127.0.0.1:3863", "[::1]:3863" (IPv6 always in brackets, so parse(toString()) round-trips).
  std::string toString() const;

  boost::asio::ip::tcp::endpoint toAsio() const { return {address, port}; }
  static Endpoint fromAsio(const boost::asio::ip::tcp::endpoint& e) { return {e.address(), e.port()}; }

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// A host (DNS name or address literal, IPv6 without brackets) and a port, as configuration gives them
/// before resolution ("registrar.vnfpool.svc:3863", "10.0.0.5", "[fd00::5]:3863"). Resolver takes it.
struct HostPort {
  std::string host{};
  std::uint16_t port = 0;

  /// Splits "host:port", "[v6]:port", or a bare host / IPv6 literal (which take `default_port`, and are
  /// refused without one). Names are checked only for shape: letters, digits, '-', '.', '_'. Returns nullopt
  /// for empty hosts, bad ports and anything else.
  static std::optional<HostPort> parse(std::string_view text, std::optional<std::uint16_t> default_port = {});

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

/// An address as the wire codec carries it; IPv4-mapped IPv6 addresses become IPv4 (as RSPLIB sends
/// them, digest 2.6).
wire::IpAddress toWireAddress(const boost::asio::ip::address& a);

}  // namespace vnfpool::transport
