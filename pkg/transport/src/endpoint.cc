#include "vnfpool/transport/endpoint.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace vnfpool::transport {

std::string_view protocolName(Protocol p) {
  switch (p) {
    case Protocol::Tcp: return "tcp";
    case Protocol::Mptcp: return "mptcp";
    case Protocol::Sctp: return "sctp";
  }
  return "tcp";
}

std::optional<Protocol> parseProtocol(std::string_view text) {
  if (text == "tcp") return Protocol::Tcp;
  if (text == "mptcp") return Protocol::Mptcp;
  if (text == "sctp") return Protocol::Sctp;
  return std::nullopt;
}

namespace {

std::optional<boost::asio::ip::address> parseAddress(std::string_view text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return address;
}

std::optional<std::uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<Endpoint> Endpoint::parse(std::string_view text, std::optional<std::uint16_t> default_port) {
  std::string_view host;
  std::optional<std::uint16_t> port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty()) {
      port = default_port;
    } else if (rest.front() == ':') {
      port = parsePort(rest.substr(1));
      if (!port) return std::nullopt;
    } else {
      return std::nullopt;
    }
    // Brackets are for IPv6 only.
    auto address = parseAddress(host);
    if (!address || !address->is_v6() || !port) return std::nullopt;
    return Endpoint{*address, *port};
  }
  const auto colons = std::count(text.begin(), text.end(), ':');
  if (colons == 1) {  // IPv4 (or junk) with a port
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    port = parsePort(text.substr(colon + 1));
    if (!port) return std::nullopt;
    auto address = parseAddress(host);
    if (!address || !address->is_v4()) return std::nullopt;
    return Endpoint{*address, *port};
  }
  // No port: a bare IPv4 or IPv6 address.
  auto address = parseAddress(text);
  if (!address || !default_port) return std::nullopt;
  return Endpoint{*address, *default_port};
}

std::optional<HostPort> HostPort::parse(std::string_view text, std::optional<std::uint16_t> default_port) {
  if (text.empty()) return std::nullopt;
  // Address literals (bracketed or not) follow Endpoint's rules.
  if (text.front() == '[' || std::count(text.begin(), text.end(), ':') > 1 || parseAddress(text)) {
    auto e = Endpoint::parse(text, default_port);
    if (!e) return std::nullopt;
    auto host = e->address.to_string();
    return HostPort{std::move(host), e->port};
  }
  std::string_view host = text;
  std::optional<std::uint16_t> port = default_port;
  if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = parsePort(text.substr(colon + 1));
  }
  if (host.empty() || !port) return std::nullopt;
  const bool name_shaped = std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
  if (!name_shaped) return std::nullopt;
  if (auto literal = parseAddress(host)) return HostPort{literal->to_string(), *port};
  return HostPort{std::string(host), *port};
}

std::string Endpoint::toString() const {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

wire::IpAddress toWireAddress(const boost::asio::ip::address& a) {
  wire::IpAddress out;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else if (a.to_v6().is_v4_mapped()) {
    const auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else {
    out.family = wire::IpAddress::Family::V6;
    const auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  }
  return out;
}

}  // namespace vnfpool::transport
