#include "params.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace vnfpool::wire::detail {
namespace {

constexpr std::uint16_t code(ParamType t) { return static_cast<std::uint16_t>(t); }

std::string hex16(std::uint16_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s.push_back(kDigits[(v >> shift) & 0xF]);
  return s;
}

bool isAddress(std::uint16_t type) {
  return type == code(ParamType::Ipv4Address) || type == code(ParamType::Ipv6Address);
}

}  // namespace

Error makeError(Cause cause, std::size_t offset, std::span<const std::byte> offending, std::string detail,
                bool report) {
  return Error{cause, offset, Bytes(offending.begin(), offending.end()), report, std::move(detail)};
}

Error invalid(const Tlv& tlv, std::string detail) {
  return makeError(Cause::InvalidValues, tlv.offset, tlv.whole, std::move(detail));
}

const Tlv* ParamReader::slowNext() {
  while (pos_ < end_) {
    if (end_ - pos_ < 4) {
      error_ = makeError(Cause::InvalidValues, pos_, message_.subspan(pos_, end_ - pos_), "truncated parameter header");
      return nullptr;
    }
    const std::byte* header = message_.data() + pos_;
    const std::uint16_t type = load16(header);
    const std::uint16_t length = load16(header + 2);
    if (length < 4) {
      error_ = makeError(Cause::InvalidValues, pos_, message_.subspan(pos_, 4),
                         "parameter " + hex16(type) + " has length " + std::to_string(length) + " < 4");
      return nullptr;
    }
    if (length > end_ - pos_) {
      error_ = makeError(Cause::InvalidValues, pos_, message_.subspan(pos_, end_ - pos_),
                         "parameter " + hex16(type) + " runs past the end of its container");
      return nullptr;
    }
    accept(type, length);
    if (recognised(type, dialect_)) return &next_;
    have_ = false;
    switch (unknownAction(type)) {
      case UnknownAction::Stop:
        error_ = makeError(Cause::UnrecognizedParameter, next_.offset, next_.whole,
                           "unrecognised parameter " + hex16(type) + " (action: discard silently)", false);
        return nullptr;
      case UnknownAction::StopAndReport:
        error_ = makeError(Cause::UnrecognizedParameter, next_.offset, next_.whole,
                           "unrecognised parameter " + hex16(type) + " (action: discard and report)");
        return nullptr;
      case UnknownAction::SkipAndReport:
        if (report_ != nullptr) report_->skipped_to_report.emplace_back(next_.whole.begin(), next_.whole.end());
        break;
      case UnknownAction::Skip:
        break;
    }
  }
  return nullptr;
}

Result<const Tlv*> ParamReader::peek() {
  const Tlv* t = next();
  if (failed()) return error();
  return t;
}

// The Result forms read through next() directly rather than through peek(), so a call builds only the one
// Result it returns: they run for nearly every message (pool handles, PE identifiers, optional parameters).
Result<std::optional<Tlv>> ParamReader::optional(ParamType type) {
  const Tlv* t = next();
  if (failed()) return error();
  if (t == nullptr || t->type != code(type)) return std::optional<Tlv>{};
  consume();
  return std::optional<Tlv>{*t};
}

Result<Tlv> ParamReader::expect(ParamType type, std::string_view what) {
  const Tlv* t = next();
  if (failed()) return error();
  if (t == nullptr) return makeError(Cause::InvalidValues, end_, {}, "missing " + std::string(what) + " parameter");
  if (t->type != code(type)) return invalid(*t, "expected " + std::string(what) + " parameter, found " + hex16(t->type));
  consume();
  return *t;
}

std::optional<Error> ParamReader::expectEnd() {
  // The pointer form: this runs once per decoded Pool Element, so a table page runs it thousands of times.
  const Tlv* t = next();
  if (failed()) return error();
  if (t != nullptr) return invalid(*t, "unexpected parameter " + hex16(t->type));
  return std::nullopt;
}

ParamType peIdType(Dialect d) { return d == Dialect::Classic ? ParamType::PeIdentifier : ParamType::PeIdentifier64; }
ParamType poolElementType(Dialect d) { return d == Dialect::Classic ? ParamType::PoolElement : ParamType::PoolElement64; }
ParamType serverInformationType(Dialect d) {
  return d == Dialect::Classic ? ParamType::ServerInformation : ParamType::ServerInformation64;
}
ParamType checksumType(Dialect d) { return d == Dialect::Classic ? ParamType::PeChecksum : ParamType::PeChecksum32; }

// ---------------------------------------------------------------------------------------------------------
// Decoders

std::optional<Error> decodeAddress(const Tlv& tlv, IpAddress& out) {
  if (tlv.type == code(ParamType::Ipv4Address) && tlv.value.size() == 4) {
    out.family = IpAddress::Family::V4;
  } else if (tlv.type == code(ParamType::Ipv6Address) && tlv.value.size() == 16) {
    out.family = IpAddress::Family::V6;
  } else {
    return invalid(tlv, "address parameter of wrong type or length");
  }
  if (out.family == IpAddress::Family::V4) {
    std::memcpy(out.bytes.data(), tlv.value.data(), 4);
  } else {
    std::memcpy(out.bytes.data(), tlv.value.data(), 16);
  }
  return std::nullopt;
}

std::optional<Error> decodeTransport(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect,
                                     Transport& t) {
  if (!isTransportType(tlv.type) || (tlv.type == code(ParamType::MptcpTransport) && dialect == Dialect::Classic)) {
    return invalid(tlv, "expected a transport parameter");
  }
  t.kind = static_cast<TransportKind>(tlv.type);
  Reader r(tlv.value);
  auto port = r.u16();
  auto use = r.u16();
  if (!port || !use) return invalid(tlv, "transport parameter too short");
  t.port = *port;
  t.use = *use;
  std::size_t fixed = 4;
  if (t.kind == TransportKind::Dccp) {
    auto service = r.u32();
    if (!service) return invalid(tlv, "DCCP transport parameter too short");
    t.service_code = *service;
    fixed = 8;
  }
  // Well-formed IPv4 and IPv6 address parameters (nearly every one) are read straight from the bytes;
  // from the first other one on, the parameter reader takes over and gives its usual errors.
  std::size_t pos = tlv.offset + 4 + fixed;
  const std::size_t end = tlv.offset + tlv.whole.size();
  const std::byte* bytes = message.data();
  while (end - pos >= 8) {
    const std::uint16_t type = load16(bytes + pos);
    const std::uint16_t length = load16(bytes + pos + 2);
    if (type == code(ParamType::Ipv4Address) && length == 8) {
      std::memcpy(t.addresses.emplace_back().bytes.data(), bytes + pos + 4, 4);
      pos += 8;
    } else if (type == code(ParamType::Ipv6Address) && length == 20 && end - pos >= 20) {
      IpAddress& a = t.addresses.emplace_back();
      a.family = IpAddress::Family::V6;
      std::memcpy(a.bytes.data(), bytes + pos + 4, 16);
      pos += 20;
    } else {
      break;
    }
  }
  if (pos < end) {
    ParamReader addresses(message, pos, end, dialect, nullptr);
    while (const Tlv* a = addresses.next()) {
      if (!isAddress(a->type)) return invalid(*a, "transport parameter holds a non-address");
      if (auto e = decodeAddress(*a, t.addresses.emplace_back())) return e;
      addresses.consume();
    }
    if (addresses.failed()) return addresses.error();
  }
  if (t.addresses.empty()) return invalid(tlv, "transport parameter without an address");
  return std::nullopt;
}

std::optional<Error> decodePolicy(const Tlv& tlv, Policy& policy) {
  if (tlv.value.size() < 4 || tlv.value.size() % 4 != 0) return invalid(tlv, "policy parameter of bad length");
  Reader r(tlv.value);
  policy.type = *r.u32();
  const std::size_t words = tlv.value.size() / 4 - 1;
  if (words > Policy::kMaxWords) return invalid(tlv, "policy parameter with too many value words");
  const std::size_t needed = policyWordCount(policy.type);
  if (words < needed) {
    return invalid(tlv, "policy " + std::string(policyInfo(policy.type)->name) + " needs " + std::to_string(needed) +
                            " value words");
  }
  policy.word_count = static_cast<std::uint8_t>(words);
  for (std::size_t i = 0; i < words; ++i) policy.words[i] = *r.u32();
  return std::nullopt;
}

Result<std::string_view> decodePoolHandleView(const Tlv& tlv) {
  if (tlv.value.empty()) return invalid(tlv, "empty pool handle");
  return std::string_view(reinterpret_cast<const char*>(tlv.value.data()), tlv.value.size());
}

Result<PoolHandle> decodePoolHandle(const Tlv& tlv) {
  auto view = decodePoolHandleView(tlv);
  if (!view.ok()) return view.error();
  return PoolHandle(view.value());
}

std::optional<Error> decodePoolElement(std::span<const std::byte> message, const Tlv& tlv, Dialect dialect,
                                       PoolElement& pe) {
  const std::size_t fixed = dialect == Dialect::Classic ? 12 : 20;
  if (tlv.value.size() < fixed) return invalid(tlv, "pool element parameter too short");
  const std::byte* v = tlv.value.data();
  if (dialect == Dialect::Classic) {
    pe.id = load32(v);
    pe.home_pr = load32(v + 4);
    pe.registration_life_ms = load32(v + 8);
  } else {
    pe.id = load64(v);
    pe.home_pr = load64(v + 8);
    pe.registration_life_ms = load32(v + 16);
  }
  // User transport, policy, [ASAP transport]: in this order, nothing else.
  ParamReader nested(message, tlv.offset + 4 + fixed, tlv.offset + tlv.whole.size(), dialect, nullptr);
  const Tlv* user = nested.next();
  if (user == nullptr) return nested.failed() ? nested.error() : invalid(tlv, "pool element without user transport");
  if (auto e = decodeTransport(message, *user, dialect, pe.user_transport)) return e;
  nested.consume();

  const Tlv* policy = nested.take(ParamType::SelectionPolicy);
  if (policy == nullptr) return nested.expect(ParamType::SelectionPolicy, "selection policy").error();
  if (auto e = decodePolicy(*policy, pe.policy)) return e;

  if (const Tlv* asap = nested.next()) {
    if (auto e = decodeTransport(message, *asap, dialect, pe.asap_transport.emplace())) return e;
    nested.consume();
  }
  return nested.expectEnd();
}

void resetForDecoding(PoolElement& pe) {
  // Field by field: assigning a whole fresh PoolElement (232 bytes with its optional transport)
  // made reading a table page a quarter slower. The size checks make a new field fail the build here
  // instead of being left stale.
  static_assert(sizeof(PoolElement) == 232 && sizeof(Transport) == 80 && sizeof(Policy) == 40,
                "PoolElement, Transport or Policy changed: reset the new fields here");
  pe.id = 0;
  pe.home_pr = 0;
  pe.registration_life_ms = 0;
  pe.user_transport.kind = TransportKind::Sctp;
  pe.user_transport.port = 0;
  pe.user_transport.use = 0;
  pe.user_transport.service_code = 0;
  pe.user_transport.addresses.clear();
  pe.policy = Policy{};
  pe.asap_transport.reset();
}

std::size_t countParams(std::span<const std::byte> message, std::size_t begin, std::size_t end, ParamType type) {
  std::size_t count = 0;
  while (begin + 4 <= end) {
    const std::uint16_t t = load16(message.data() + begin);
    const std::uint16_t length = load16(message.data() + begin + 2);
    if (length < 4) break;
    // Only the run that starts here: the PEs of one pool are contiguous, and counting further would make
    // a Handle Table Response with many pools quadratic.
    if (t != code(type)) break;
    ++count;
    begin += padded(length);
  }
  return count;
}

std::optional<Error> poolElementList(std::span<const std::byte> message, ParamReader& params, Dialect dialect,
                                     std::vector<PoolElement>& out) {
  const ParamType type = poolElementType(dialect);
  out.reserve(out.size() + countParams(message, params.position(), params.end(), type));
  while (const Tlv* t = params.take(type)) {
    if (auto e = decodePoolElement(message, *t, dialect, out.emplace_back())) return e;
  }
  if (params.failed()) return params.error();
  return std::nullopt;
}

Result<ServerInformation> decodeServerInformation(std::span<const std::byte> message, const Tlv& tlv,
                                                  Dialect dialect) {
  ServerInformation info;
  Reader r(tlv.value);
  std::size_t fixed = 0;
  if (dialect == Dialect::Classic) {
    auto id = r.u32();
    if (!id) return invalid(tlv, "server information too short");
    info.id = *id;
    fixed = 4;
  } else {
    auto id = r.u64();
    if (!id) return invalid(tlv, "server information too short");
    info.id = *id;
    fixed = 8;
  }
  ParamReader nested(message, tlv.offset + 4 + fixed, tlv.offset + tlv.whole.size(), dialect, nullptr);
  for (;;) {
    auto next = nested.peek();
    if (!next.ok()) return next.error();
    if (next.value() == nullptr) break;
    if (auto e = decodeTransport(message, *next.value(), dialect, info.transports.emplace_back())) return *e;
    nested.consume();
  }
  const std::size_t max = dialect == Dialect::Classic ? 1 : 3;
  if (info.transports.empty() || info.transports.size() > max) {
    return invalid(tlv, "server information needs 1.." + std::to_string(max) + " transport parameters");
  }
  return info;
}

Result<OperationalError> decodeOperationalError(const Tlv& tlv) {
  OperationalError error;
  std::size_t pos = 0;
  const auto value = tlv.value;
  while (pos < value.size()) {
    if (value.size() - pos < 4) return invalid(tlv, "truncated error cause");
    Reader r(value.subspan(pos, 4));
    const std::uint16_t cause = *r.u16();
    const std::uint16_t length = *r.u16();
    if (length < 4 || length > value.size() - pos) return invalid(tlv, "error cause of bad length");
    const auto info = value.subspan(pos + 4, length - 4u);
    error.causes.push_back(ErrorCause{cause, Bytes(info.begin(), info.end())});
    pos = std::min(pos + padded(length), value.size());
  }
  return error;
}

Result<Bytes> decodeCookie(const Tlv& tlv) { return Bytes(tlv.value.begin(), tlv.value.end()); }

Result<PeId> decodePeId(const Tlv& tlv) {
  Reader r(tlv.value);
  if (tlv.type == code(ParamType::PeIdentifier) && tlv.value.size() == 4) return PeId{*r.u32()};
  if (tlv.type == code(ParamType::PeIdentifier64) && tlv.value.size() == 8) return PeId{*r.u64()};
  return invalid(tlv, "PE identifier of bad length");
}

Result<std::uint32_t> decodeChecksum(const Tlv& tlv) {
  Reader r(tlv.value);
  if (tlv.type == code(ParamType::PeChecksum) && tlv.value.size() == 2) return std::uint32_t{*r.u16()};
  if (tlv.type == code(ParamType::PeChecksum32) && tlv.value.size() == 4) return *r.u32();
  return invalid(tlv, "PE checksum of bad length");
}

Result<std::uint32_t> decodeHandleResolutionOption(const Tlv& tlv) {
  if (tlv.value.size() != 4) return invalid(tlv, "handle resolution option of bad length");
  Reader r(tlv.value);
  return *r.u32();
}

std::optional<Error> decodeNgCapabilities(std::span<const std::byte> message, const Tlv& tlv, NgCapabilities& caps) {
  Reader r(tlv.value);
  auto version = r.u8();
  auto reserved = r.u8();
  auto features = r.u16();
  auto id = r.u64();
  if (!id) return invalid(tlv, "NG capabilities too short");
  caps.version = *version;
  caps.reserved = *reserved;
  caps.features = *features;
  caps.sender_id = *id;
  caps.endpoints.clear();
  if (tlv.whole.size() <= 16) return std::nullopt;  // no endpoints (a PU's, for one)
  // Endpoints may be ng transports (MPTCP) even inside a classic-format message.
  ParamReader nested(message, tlv.offset + 16, tlv.offset + tlv.whole.size(), Dialect::Ng, nullptr);
  while (const Tlv* next = nested.next()) {
    if (auto e = decodeTransport(message, *next, Dialect::Ng, caps.endpoints.emplace_back())) return e;
    nested.consume();
  }
  if (nested.failed()) return nested.error();
  return std::nullopt;
}

std::optional<Error> optionalNgCapabilities(std::span<const std::byte> message, ParamReader& params,
                                            std::optional<NgCapabilities>& out) {
  out.reset();
  const Tlv* tlv = params.take(ParamType::NgCapabilities);
  if (params.failed()) return params.error();
  if (tlv == nullptr) return std::nullopt;
  return decodeNgCapabilities(message, *tlv, out.emplace());
}

Result<PoolHandle> expectPoolHandle(ParamReader& params) {
  auto tlv = params.expect(ParamType::PoolHandle, "pool handle");
  if (!tlv.ok()) return tlv.error();
  return decodePoolHandle(tlv.value());
}

Result<PeId> expectPeId(ParamReader& params, Dialect dialect) {
  auto tlv = params.expect(peIdType(dialect), "PE identifier");
  if (!tlv.ok()) return tlv.error();
  return decodePeId(tlv.value());
}

std::optional<Error> expectPoolElement(std::span<const std::byte> message, ParamReader& params, Dialect dialect,
                                       PoolElement& out) {
  auto tlv = params.expect(poolElementType(dialect), "pool element");
  if (!tlv.ok()) return tlv.error();
  return decodePoolElement(message, tlv.value(), dialect, out);
}

Result<std::size_t> checkFrame(std::span<const std::byte> bytes, std::size_t min_length) {
  if (bytes.size() < kHeaderSize) return makeError(Cause::InvalidValues, 0, bytes, "shorter than a message header");
  Reader r(bytes.subspan(2, 2));
  const std::size_t length = *r.u16();
  if (length < min_length) {
    return makeError(Cause::InvalidValues, 0, bytes.first(std::min(bytes.size(), min_length)),
                     "message length " + std::to_string(length) + " below the minimum " + std::to_string(min_length));
  }
  if (length > bytes.size()) {
    return makeError(Cause::InvalidValues, bytes.size(), bytes,
                     "truncated: length says " + std::to_string(length) + ", got " + std::to_string(bytes.size()));
  }
  if (bytes.size() > padded(length)) {
    return makeError(Cause::InvalidValues, padded(length), bytes, "bytes after the end of the message");
  }
  return length;
}

// ---------------------------------------------------------------------------------------------------------
// Encoders

std::optional<Error> encodeId(Writer& w, std::uint64_t id, Dialect dialect, std::string_view what) {
  if (dialect == Dialect::Ng) {
    w.u64(id);
    return std::nullopt;
  }
  if (!fitsClassic(id)) {
    return makeError(Cause::InvalidValues, w.size(), {}, std::string(what) + " does not fit in 32 bits (classic)");
  }
  w.u32(static_cast<std::uint32_t>(id));
  return std::nullopt;
}

std::optional<Error> encodeTransport(Writer& w, const Transport& t, Dialect dialect) {
  if (t.kind == TransportKind::Mptcp && dialect == Dialect::Classic) {
    return makeError(Cause::InvalidValues, w.size(), {}, "MPTCP transport exists only in the ng dialect");
  }
  if (!isTransportType(static_cast<std::uint16_t>(t.kind))) {
    return makeError(Cause::InvalidValues, w.size(), {}, "unknown transport kind");
  }
  const std::size_t at = w.begin(static_cast<std::uint16_t>(t.kind));
  w.u16(t.port);
  w.u16(t.use);
  if (t.kind == TransportKind::Dccp) w.u32(t.service_code);
  for (const auto& a : t.addresses) {
    const std::size_t address = w.begin(a.isV4() ? code(ParamType::Ipv4Address) : code(ParamType::Ipv6Address));
    w.raw(std::as_bytes(std::span(a.bytes.data(), a.isV4() ? 4 : 16)));
    w.end(address);
  }
  w.end(at);
  return std::nullopt;
}

void encodePolicy(Writer& w, const Policy& policy) {
  const std::size_t at = w.begin(code(ParamType::SelectionPolicy));
  w.u32(policy.type);
  for (std::size_t i = 0; i < policy.word_count && i < Policy::kMaxWords; ++i) w.u32(policy.words[i]);
  w.end(at);
}

void encodePoolHandle(Writer& w, std::string_view handle) {
  const std::size_t at = w.begin(code(ParamType::PoolHandle));
  w.raw(handle);
  w.end(at);
}

std::optional<Error> encodePoolElement(Writer& w, const PoolElement& pe, Dialect dialect) {
  const std::size_t at = w.begin(code(poolElementType(dialect)));
  if (auto e = encodeId(w, pe.id, dialect, "PE identifier")) return e;
  if (auto e = encodeId(w, pe.home_pr, dialect, "home PR identifier")) return e;
  w.u32(pe.registration_life_ms);
  if (auto e = encodeTransport(w, pe.user_transport, dialect)) return e;
  encodePolicy(w, pe.policy);
  if (pe.asap_transport) {
    if (auto e = encodeTransport(w, *pe.asap_transport, dialect)) return e;
  }
  w.end(at);
  return std::nullopt;
}

std::optional<Error> encodeServerInformation(Writer& w, const ServerInformation& info, Dialect dialect) {
  const std::size_t max = dialect == Dialect::Classic ? 1 : 3;
  if (info.transports.empty() || info.transports.size() > max) {
    return makeError(Cause::InvalidValues, w.size(), {},
                     "server information needs 1.." + std::to_string(max) + " transport parameters");
  }
  const std::size_t at = w.begin(code(serverInformationType(dialect)));
  if (auto e = encodeId(w, info.id, dialect, "PR identifier")) return e;
  for (const auto& t : info.transports) {
    if (auto e = encodeTransport(w, t, dialect)) return e;
  }
  w.end(at);
  return std::nullopt;
}

void encodeOperationalError(Writer& w, const OperationalError& error) {
  const std::size_t at = w.begin(code(ParamType::OperationalError));
  for (const auto& cause : error.causes) {
    const std::size_t c = w.begin(cause.code);
    w.raw(cause.info);
    w.end(c);
  }
  w.end(at);
}

void encodeCookie(Writer& w, const Bytes& cookie) {
  const std::size_t at = w.begin(code(ParamType::Cookie));
  w.raw(cookie);
  w.end(at);
}

std::optional<Error> encodePeId(Writer& w, PeId id, Dialect dialect) {
  const std::size_t at = w.begin(code(peIdType(dialect)));
  if (auto e = encodeId(w, id, dialect, "PE identifier")) return e;
  w.end(at);
  return std::nullopt;
}

std::optional<Error> encodeChecksum(Writer& w, std::uint32_t checksum, Dialect dialect) {
  const std::size_t at = w.begin(code(checksumType(dialect)));
  if (dialect == Dialect::Classic) {
    if (checksum > 0xFFFF) return makeError(Cause::InvalidValues, w.size(), {}, "classic checksums have 16 bits");
    w.u16(static_cast<std::uint16_t>(checksum));
  } else {
    w.u32(checksum);
  }
  w.end(at);
  return std::nullopt;
}

void encodeHandleResolutionOption(Writer& w, std::uint32_t items) {
  const std::size_t at = w.begin(code(ParamType::HandleResolutionOption));
  w.u32(items);
  w.end(at);
}

std::optional<Error> encodeNgCapabilities(Writer& w, const NgCapabilities& caps, Dialect /*dialect*/) {
  const std::size_t at = w.begin(code(ParamType::NgCapabilities));
  w.u8(caps.version);
  w.u8(caps.reserved);
  w.u16(caps.features);
  w.u64(caps.sender_id);
  for (const auto& t : caps.endpoints) {
    if (auto e = encodeTransport(w, t, Dialect::Ng)) return e;
  }
  w.end(at);
  return std::nullopt;
}

}  // namespace vnfpool::wire::detail

namespace vnfpool::wire {

Bytes encodePolicyParameter(const Policy& policy) {
  Bytes out;
  detail::Writer w(out);
  detail::encodePolicy(w, policy);
  w.finish();
  return out;
}

Result<Bytes> encodeTransportParameter(const Transport& transport, Dialect dialect) {
  Bytes out;
  detail::Writer w(out);
  if (auto e = detail::encodeTransport(w, transport, dialect)) return *e;
  w.finish();
  return out;
}

Result<Bytes> encodePoolElementParameter(const PoolElement& pe, Dialect dialect) {
  Bytes out;
  detail::Writer w(out);
  if (auto e = detail::encodePoolElement(w, pe, dialect)) return *e;
  w.finish();
  if (w.overflowed()) return detail::makeError(Cause::LackOfResources, 0, {}, "parameter longer than 65535 bytes");
  return out;
}

}  // namespace vnfpool::wire
