// ASAP messages (RFC 5352 with the Handle Resolution Option draft and the ng dialect), as values.
// Parameter order and presence follow the digest's sections 4 and 11.4; docs/protocol.md has the layouts.
#pragma once

#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "vnfpool/wire/types.h"

namespace vnfpool::wire::asap {

/// PE -> PR: register or re-register `pe` in `pool_handle`.
struct Registration {
  std::optional<NgCapabilities> ng_caps{};  // first parameter when present
  PoolHandle pool_handle{};
  PoolElement pe{};
  friend bool operator==(const Registration&, const Registration&) = default;
};

/// PE -> PR: remove `pe_id` from `pool_handle`.
struct Deregistration {
  PoolHandle pool_handle{};
  PeId pe_id = 0;
  friend bool operator==(const Deregistration&, const Deregistration&) = default;
};

/// PR -> PE. `reject` is the R flag; `error` says why.
struct RegistrationResponse {
  bool reject = false;
  std::optional<NgCapabilities> ng_caps{};
  PoolHandle pool_handle{};
  PeId pe_id = 0;
  std::optional<OperationalError> error{};
  friend bool operator==(const RegistrationResponse&, const RegistrationResponse&) = default;
};

struct DeregistrationResponse {
  PoolHandle pool_handle{};
  PeId pe_id = 0;
  std::optional<OperationalError> error{};
  friend bool operator==(const DeregistrationResponse&, const DeregistrationResponse&) = default;
};

/// PU -> PR. `items` is the Handle Resolution Option (0 = the PR's default, 0xFFFFFFFF = all).
struct HandleResolution {
  bool subscribe = false;  // S flag (RFC 5352); RSPLIB neither sets nor honours it
  std::optional<NgCapabilities> ng_caps{};
  PoolHandle pool_handle{};
  std::optional<std::uint32_t> items{};
  friend bool operator==(const HandleResolution&, const HandleResolution&) = default;
};
inline constexpr std::uint32_t kAllItems = 0xFFFFFFFFu;

/// A Handle Resolution read in place (decodeHandleResolution): the same fields, but the pool handle points
/// into the message's bytes and is valid only as long as they are. A registrar answers most of its
/// requests from this form without building a message.
struct HandleResolutionView {
  bool subscribe = false;
  std::optional<NgCapabilities> ng_caps{};
  std::string_view pool_handle{};
  std::optional<std::uint32_t> items{};
  HandleResolutionView() = default;
  explicit HandleResolutionView(const HandleResolution& m)
      : subscribe(m.subscribe), ng_caps(m.ng_caps), pool_handle(m.pool_handle), items(m.items) {}
};

/// PR -> PU: either the selected PEs (with the pool's policy first) or an Operational Error.
struct HandleResolutionResponse {
  bool accepted = false;  // A flag: subscription accepted
  std::optional<NgCapabilities> ng_caps{};
  PoolHandle pool_handle{};
  std::optional<Policy> overall_policy{};
  std::vector<PoolElement> pes{};
  std::optional<OperationalError> error{};
  friend bool operator==(const HandleResolutionResponse&, const HandleResolutionResponse&) = default;
};

/// PR -> PE. `home` is the H flag: "I am your home PR now". RSPLIB always adds the PE Identifier.
struct EndpointKeepAlive {
  bool home = false;
  PrId server_id = 0;
  PoolHandle pool_handle{};
  std::optional<PeId> pe_id{};
  friend bool operator==(const EndpointKeepAlive&, const EndpointKeepAlive&) = default;
};

struct EndpointKeepAliveAck {
  PoolHandle pool_handle{};
  PeId pe_id = 0;
  friend bool operator==(const EndpointKeepAliveAck&, const EndpointKeepAliveAck&) = default;
};

/// PU -> PR: the PU could not reach `pe_id`.
struct EndpointUnreachable {
  PoolHandle pool_handle{};
  PeId pe_id = 0;
  friend bool operator==(const EndpointUnreachable&, const EndpointUnreachable&) = default;
};

/// PR -> multicast. Always the classic layout (32-bit server ID), in both dialects.
struct ServerAnnounce {
  PrId server_id = 0;
  std::optional<NgCapabilities> ng_caps{};
  std::vector<Transport> transports{};
  friend bool operator==(const ServerAnnounce&, const ServerAnnounce&) = default;
};

/// PE -> PU: opaque session state.
struct Cookie {
  Bytes cookie{};
  friend bool operator==(const Cookie&, const Cookie&) = default;
};

/// PU -> new PE after failover: the last Cookie.
struct CookieEcho {
  Bytes cookie{};
  friend bool operator==(const CookieEcho&, const CookieEcho&) = default;
};

/// PU <-> PE: which pool (and PEs) to fail over to. RSPLIB's variant has the overall policy.
struct BusinessCard {
  PoolHandle pool_handle{};
  std::optional<Policy> overall_policy{};
  std::vector<PoolElement> pes{};
  friend bool operator==(const BusinessCard&, const BusinessCard&) = default;
};

struct Error {
  OperationalError error{};
  friend bool operator==(const Error&, const Error&) = default;
};

}  // namespace vnfpool::wire::asap

namespace vnfpool::wire {

using AsapMessage =
    std::variant<asap::Registration, asap::Deregistration, asap::RegistrationResponse, asap::DeregistrationResponse,
                 asap::HandleResolution, asap::HandleResolutionResponse, asap::EndpointKeepAlive,
                 asap::EndpointKeepAliveAck, asap::EndpointUnreachable, asap::ServerAnnounce, asap::Cookie,
                 asap::CookieEcho, asap::BusinessCard, asap::Error>;

/// The wire type code of a message.
AsapType typeOf(const AsapMessage& message);
/// "registration", "handle_resolution_response", ...; "unknown" for other codes.
std::string_view asapTypeName(std::uint8_t type);

}  // namespace vnfpool::wire
