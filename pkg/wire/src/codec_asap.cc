// ASAP message codec. Each message is a fixed sequence of parameters (digest sections 4 and 11.4); NG
// Capabilities, where allowed, is always the first parameter.
#include <string>

#include "params.h"

namespace vnfpool::wire {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): private building blocks

constexpr std::uint8_t kind(AsapType t) { return static_cast<std::uint8_t>(t); }

// ------------------------------------------------------------------ decoding

struct AsapDecoder {
  std::span<const std::byte> bytes;
  Dialect dialect;
  ParamReader& params;

  template <typename T>
  Result<AsapMessage> finish(T&& message) {
    if (auto error = params.expectEnd()) return *error;
    return AsapMessage{std::forward<T>(message)};
  }

#define VNFPOOL_TRY(var, expr)          \
  auto var##_result = (expr);           \
  if (!var##_result.ok()) return var##_result.error(); \
  auto var = std::move(var##_result).value()

  Result<AsapMessage> registration() {
    asap::Registration m;
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    if (auto e = expectPoolElement(bytes, params, dialect, m.pe)) return *e;
    return finish(std::move(m));
  }

  template <typename T>
  Result<AsapMessage> handleAndPeId() {
    T m;
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    VNFPOOL_TRY(id, expectPeId(params, dialect));
    m.pe_id = id;
    return finish(std::move(m));
  }

  Result<std::optional<OperationalError>> optionalError() {
    VNFPOOL_TRY(tlv, params.optional(ParamType::OperationalError));
    if (!tlv) return std::optional<OperationalError>{};
    VNFPOOL_TRY(error, decodeOperationalError(*tlv));
    return std::optional<OperationalError>{std::move(error)};
  }

  Result<AsapMessage> registrationResponse(std::uint8_t flags) {
    asap::RegistrationResponse m;
    m.reject = (flags & flags::kRegistrationReject) != 0;
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    VNFPOOL_TRY(id, expectPeId(params, dialect));
    m.pe_id = id;
    VNFPOOL_TRY(error, optionalError());
    m.error = std::move(error);
    return finish(std::move(m));
  }

  Result<AsapMessage> deregistrationResponse() {
    asap::DeregistrationResponse m;
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    VNFPOOL_TRY(id, expectPeId(params, dialect));
    m.pe_id = id;
    VNFPOOL_TRY(error, optionalError());
    m.error = std::move(error);
    return finish(std::move(m));
  }

  // Both forms of a Handle Resolution come from this one reading.
  std::optional<Error> handleResolutionView(std::uint8_t flags, asap::HandleResolutionView& m) {
    m.subscribe = (flags & flags::kHandleResolutionSubscribe) != 0;
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    VNFPOOL_TRY(tlv, params.expect(ParamType::PoolHandle, "pool handle"));
    VNFPOOL_TRY(handle, decodePoolHandleView(tlv));
    m.pool_handle = handle;
    const Tlv* option = params.take(ParamType::HandleResolutionOption);
    if (params.failed()) return params.error();
    if (option != nullptr) {
      VNFPOOL_TRY(items, decodeHandleResolutionOption(*option));
      m.items = items;
    }
    return params.expectEnd();
  }

  Result<AsapMessage> handleResolution(std::uint8_t flags) {
    asap::HandleResolutionView view;
    if (auto e = handleResolutionView(flags, view)) return *e;
    asap::HandleResolution m;
    m.subscribe = view.subscribe;
    m.ng_caps = std::move(view.ng_caps);
    m.pool_handle.assign(view.pool_handle);
    m.items = view.items;
    return AsapMessage{std::move(m)};
  }

  // Pool Elements until the end, as in Handle Resolution Response and Business Card.
  std::optional<Error> poolElements(std::vector<PoolElement>& out) { return poolElementList(bytes, params, dialect, out); }

  Result<std::optional<Policy>> optionalPolicy() {
    const Tlv* tlv = params.take(ParamType::SelectionPolicy);
    if (params.failed()) return params.error();
    if (tlv == nullptr) return std::optional<Policy>{};
    Policy policy;
    if (auto e = decodePolicy(*tlv, policy)) return *e;
    return std::optional<Policy>{policy};
  }

  Result<AsapMessage> handleResolutionResponse(std::uint8_t flags) {
    asap::HandleResolutionResponse m;
    m.accepted = (flags & flags::kHandleResolutionAccepted) != 0;
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    VNFPOOL_TRY(error, optionalError());
    if (error) {
      m.error = std::move(error);
      return finish(std::move(m));
    }
    VNFPOOL_TRY(policy, optionalPolicy());
    m.overall_policy = policy;
    if (auto e = poolElements(m.pes)) return *e;
    return finish(std::move(m));
  }

  Result<AsapMessage> keepAlive(std::uint8_t flags) {
    asap::EndpointKeepAlive m;
    m.home = (flags & flags::kKeepAliveHome) != 0;
    Reader r(bytes.subspan(4));
    m.server_id = dialect == Dialect::Classic ? PrId{*r.u32()} : PrId{*r.u64()};
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    VNFPOOL_TRY(tlv, params.optional(peIdType(dialect)));
    if (tlv) {
      VNFPOOL_TRY(id, decodePeId(*tlv));
      m.pe_id = id;
    }
    return finish(std::move(m));
  }

  Result<AsapMessage> serverAnnounce() {
    asap::ServerAnnounce m;
    Reader r(bytes.subspan(4));
    m.server_id = *r.u32();
    if (auto e = optionalNgCapabilities(bytes, params, m.ng_caps)) return *e;
    for (;;) {
      VNFPOOL_TRY(next, params.peek());
      if (next == nullptr || !isTransportType(next->type)) break;
      if (auto e = decodeTransport(bytes, *next, dialect, m.transports.emplace_back())) return *e;
      params.consume();
    }
    return finish(std::move(m));
  }

  template <typename T>
  Result<AsapMessage> cookie() {
    T m;
    VNFPOOL_TRY(tlv, params.expect(ParamType::Cookie, "cookie"));
    VNFPOOL_TRY(cookie, decodeCookie(tlv));
    m.cookie = std::move(cookie);
    return finish(std::move(m));
  }

  Result<AsapMessage> businessCard() {
    asap::BusinessCard m;
    VNFPOOL_TRY(handle, expectPoolHandle(params));
    m.pool_handle = std::move(handle);
    VNFPOOL_TRY(policy, optionalPolicy());
    m.overall_policy = policy;
    if (auto e = poolElements(m.pes)) return *e;
    return finish(std::move(m));
  }

  Result<AsapMessage> error() {
    asap::Error m;
    VNFPOOL_TRY(tlv, params.expect(ParamType::OperationalError, "operational error"));
    VNFPOOL_TRY(error, decodeOperationalError(tlv));
    m.error = std::move(error);
    return finish(std::move(m));
  }
#undef VNFPOOL_TRY
};

std::size_t fixedSize(std::uint8_t type, Dialect dialect) {
  if (type == kind(AsapType::EndpointKeepAlive)) return dialect == Dialect::Classic ? 4 : 8;
  if (type == kind(AsapType::ServerAnnounce)) return 4;  // classic layout in both dialects
  return 0;
}

}  // namespace

Result<AsapMessage> decodeAsap(std::span<const std::byte> bytes, Dialect dialect, DecodeReport* report) {
  auto header = peekHeader(bytes);
  if (!header) return makeError(Cause::InvalidValues, 0, bytes, "shorter than a message header");
  if (header->type < kind(AsapType::Registration) || header->type > kind(AsapType::Error)) {
    auto frame = checkFrame(bytes, kHeaderSize);
    auto whole = frame.ok() ? bytes.first(frame.value()) : bytes;
    return makeError(Cause::UnrecognizedMessage, 0, whole,
                     "unrecognised ASAP message type " + std::to_string(header->type));
  }
  const std::size_t fixed = fixedSize(header->type, dialect);
  auto length = checkFrame(bytes, kHeaderSize + fixed);
  if (!length.ok()) return length.error();
  ParamReader params(bytes, kHeaderSize + fixed, length.value(), dialect, report);
  AsapDecoder d{bytes, dialect, params};
  const std::uint8_t f = header->flags;
  switch (static_cast<AsapType>(header->type)) {
    case AsapType::Registration: return d.registration();
    case AsapType::Deregistration: return d.handleAndPeId<asap::Deregistration>();
    case AsapType::RegistrationResponse: return d.registrationResponse(f);
    case AsapType::DeregistrationResponse: return d.deregistrationResponse();
    case AsapType::HandleResolution: return d.handleResolution(f);
    case AsapType::HandleResolutionResponse: return d.handleResolutionResponse(f);
    case AsapType::EndpointKeepAlive: return d.keepAlive(f);
    case AsapType::EndpointKeepAliveAck: return d.handleAndPeId<asap::EndpointKeepAliveAck>();
    case AsapType::EndpointUnreachable: return d.handleAndPeId<asap::EndpointUnreachable>();
    case AsapType::ServerAnnounce: return d.serverAnnounce();
    case AsapType::Cookie: return d.cookie<asap::Cookie>();
    case AsapType::CookieEcho: return d.cookie<asap::CookieEcho>();
    case AsapType::BusinessCard: return d.businessCard();
    case AsapType::Error: return d.error();
  }
  return makeError(Cause::UnrecognizedMessage, 0, bytes, "unrecognised ASAP message type");
}

Result<asap::HandleResolutionView> decodeHandleResolution(std::span<const std::byte> bytes, Dialect dialect,
                                                          DecodeReport* report) {
  auto header = peekHeader(bytes);
  if (!header) return makeError(Cause::InvalidValues, 0, bytes, "shorter than a message header");
  if (header->type != kind(AsapType::HandleResolution))
    return makeError(Cause::InvalidValues, 0, {}, "not a Handle Resolution: type " + std::to_string(header->type));
  auto length = checkFrame(bytes, kHeaderSize);
  if (!length.ok()) return length.error();
  ParamReader params(bytes, kHeaderSize, length.value(), dialect, report);
  AsapDecoder d{bytes, dialect, params};
  asap::HandleResolutionView view;
  if (auto e = d.handleResolutionView(header->flags, view)) return *e;
  return view;
}

// ------------------------------------------------------------------ encoding

namespace {

struct AsapEncoder {
  Bytes& out;
  Dialect dialect;

  static std::optional<Error> caps(Writer& w, const std::optional<NgCapabilities>& caps, Dialect d) {
    return caps ? encodeNgCapabilities(w, *caps, d) : std::nullopt;
  }
  // The tail of Handle Resolution Response and Business Card: [policy], Pool Element x n.
  static std::optional<Error> policyAndElements(Writer& w, const std::optional<Policy>& policy,
                                                const std::vector<PoolElement>& pes, Dialect d) {
    if (policy) encodePolicy(w, *policy);
    for (const auto& pe : pes) {
      if (auto e = encodePoolElement(w, pe, d)) return e;
    }
    return std::nullopt;
  }

  Result<std::size_t> operator()(const asap::Registration& m) {
    return encodeMessage(out, kind(AsapType::Registration), 0, [&](Writer& w) -> std::optional<Error> {
      if (auto e = caps(w, m.ng_caps, dialect)) return e;
      encodePoolHandle(w, m.pool_handle);
      return encodePoolElement(w, m.pe, dialect);
    });
  }
  Result<std::size_t> handleAndId(AsapType type, const PoolHandle& handle, PeId id) {
    return encodeMessage(out, kind(type), 0, [&](Writer& w) {
      encodePoolHandle(w, handle);
      return encodePeId(w, id, dialect);
    });
  }
  Result<std::size_t> operator()(const asap::Deregistration& m) {
    return handleAndId(AsapType::Deregistration, m.pool_handle, m.pe_id);
  }
  Result<std::size_t> operator()(const asap::RegistrationResponse& m) {
    const std::uint8_t f = m.reject ? flags::kRegistrationReject : 0;
    return encodeMessage(out, kind(AsapType::RegistrationResponse), f, [&](Writer& w) -> std::optional<Error> {
      if (auto e = caps(w, m.ng_caps, dialect)) return e;
      encodePoolHandle(w, m.pool_handle);
      if (auto e = encodePeId(w, m.pe_id, dialect)) return e;
      if (m.error) encodeOperationalError(w, *m.error);
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const asap::DeregistrationResponse& m) {
    return encodeMessage(out, kind(AsapType::DeregistrationResponse), 0, [&](Writer& w) -> std::optional<Error> {
      encodePoolHandle(w, m.pool_handle);
      if (auto e = encodePeId(w, m.pe_id, dialect)) return e;
      if (m.error) encodeOperationalError(w, *m.error);
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const asap::HandleResolution& m) {
    const std::uint8_t f = m.subscribe ? flags::kHandleResolutionSubscribe : 0;
    return encodeMessage(out, kind(AsapType::HandleResolution), f, [&](Writer& w) -> std::optional<Error> {
      if (auto e = caps(w, m.ng_caps, dialect)) return e;
      encodePoolHandle(w, m.pool_handle);
      if (m.items) encodeHandleResolutionOption(w, *m.items);
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const asap::HandleResolutionResponse& m) {
    const std::uint8_t f = m.accepted ? flags::kHandleResolutionAccepted : 0;
    return encodeMessage(out, kind(AsapType::HandleResolutionResponse), f, [&](Writer& w) -> std::optional<Error> {
      if (auto e = caps(w, m.ng_caps, dialect)) return e;
      encodePoolHandle(w, m.pool_handle);
      if (m.error) {
        encodeOperationalError(w, *m.error);
        return std::nullopt;  // a failed resolution carries no PEs
      }
      return policyAndElements(w, m.overall_policy, m.pes, dialect);
    });
  }
  Result<std::size_t> operator()(const asap::EndpointKeepAlive& m) {
    const std::uint8_t f = m.home ? flags::kKeepAliveHome : 0;
    return encodeMessage(out, kind(AsapType::EndpointKeepAlive), f, [&](Writer& w) -> std::optional<Error> {
      if (auto e = encodeId(w, m.server_id, dialect, "server identifier")) return e;
      encodePoolHandle(w, m.pool_handle);
      if (m.pe_id) return encodePeId(w, *m.pe_id, dialect);
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const asap::EndpointKeepAliveAck& m) {
    return handleAndId(AsapType::EndpointKeepAliveAck, m.pool_handle, m.pe_id);
  }
  Result<std::size_t> operator()(const asap::EndpointUnreachable& m) {
    return handleAndId(AsapType::EndpointUnreachable, m.pool_handle, m.pe_id);
  }
  Result<std::size_t> operator()(const asap::ServerAnnounce& m) {
    return encodeMessage(out, kind(AsapType::ServerAnnounce), 0, [&](Writer& w) -> std::optional<Error> {
      // Announcements keep the classic layout in both dialects (digest 11.4). A PR ID that does not fit
      // travels in NG Capabilities, with its low 32 bits here as an alias; without NG Capabilities it is
      // refused rather than silently cut.
      if (!fitsClassic(m.server_id) && !m.ng_caps) {
        return makeError(Cause::InvalidValues, w.size(), {}, "server identifier does not fit in 32 bits");
      }
      w.u32(static_cast<std::uint32_t>(m.server_id));
      if (auto e = caps(w, m.ng_caps, dialect)) return e;
      for (const auto& t : m.transports) {
        if (auto e = encodeTransport(w, t, dialect)) return e;
      }
      return std::nullopt;
    });
  }
  Result<std::size_t> cookie(AsapType type, const Bytes& cookie) {
    return encodeMessage(out, kind(type), 0, [&](Writer& w) -> std::optional<Error> {
      encodeCookie(w, cookie);
      return std::nullopt;
    });
  }
  Result<std::size_t> operator()(const asap::Cookie& m) { return cookie(AsapType::Cookie, m.cookie); }
  Result<std::size_t> operator()(const asap::CookieEcho& m) { return cookie(AsapType::CookieEcho, m.cookie); }
  Result<std::size_t> operator()(const asap::BusinessCard& m) {
    return encodeMessage(out, kind(AsapType::BusinessCard), 0, [&](Writer& w) -> std::optional<Error> {
      encodePoolHandle(w, m.pool_handle);
      return policyAndElements(w, m.overall_policy, m.pes, dialect);
    });
  }
  Result<std::size_t> operator()(const asap::Error& m) {
    return encodeMessage(out, kind(AsapType::Error), 0, [&](Writer& w) -> std::optional<Error> {
      encodeOperationalError(w, m.error);
      return std::nullopt;
    });
  }
};

}  // namespace

Result<std::size_t> encodeTo(const AsapMessage& message, Dialect dialect, Bytes& out) {
  return std::visit(AsapEncoder{out, dialect}, message);
}

Result<Bytes> encode(const AsapMessage& message, Dialect dialect) {
  Bytes out;
  out.reserve(256);
  auto n = encodeTo(message, dialect, out);
  if (!n.ok()) return n.error();
  return out;
}

std::optional<Header> peekHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kHeaderSize) return std::nullopt;
  detail::Reader r(bytes);
  Header h;
  h.type = *r.u8();
  h.flags = *r.u8();
  h.length = *r.u16();
  return h;
}

}  // namespace vnfpool::wire
